/**
 * The context a request runs in: an OpenTelemetry `Context` whose baggage is read from the
 * request's mutable scope instead of being frozen into the context. That is what lets baggage
 * added half-way through a request (`req.setBaggage(...)`) be seen by everything that runs after
 * it, including code that captured the context earlier: callbacks of the request stream, the rest
 * of an Express middleware chain after `next()`, continuations after `await`
 * (opentelemetry-js-contrib #3357, #3527 lose it because each `context.with` makes a new,
 * immutable context that only the callback it wraps can see).
 *
 * The active span is the scope's server span, when it has one (so the parent context need not be
 * copied once more to hold it). Every other value (RPC metadata, user keys) is an ordinary
 * immutable context value. A context derived from this one (`trace.setSpan(ctx, span)` for a
 * client span) still reads the scope's baggage. One that sets baggage itself (a hook running the
 * rest of the request in `propagation.setBaggage(ctx, ...)`) keeps its changes for that branch only,
 * and still follows the scope under them: it reads the scope's current baggage with the entries it
 * added, changed or removed applied on top, so baggage the request adds later reaches that branch
 * too. One that deletes the baggage has none. The span set on a derived context wins for that
 * branch only. Every derived context keeps the holder, so the request's scope can be found from
 * any context of the request (`scopeHolderOf`): adapters need no per-request property on the
 * framework's request object.
 */
import { createContextKey, type Baggage, type BaggageEntry, type Context, type Span } from '@opentelemetry/api';

// The API stores baggage and the active span under `createContextKey(...)` keys, which are
// `Symbol.for(...)`: the same keys in every copy of the API (api/src/baggage/context-helpers.ts,
// api/src/trace/context-utils.ts).
const BAGGAGE_KEY = createContextKey('OpenTelemetry Baggage Key');
const SPAN_KEY = createContextKey('OpenTelemetry Context Key SPAN');

/**
 * The brand of a {@link ScopedBaggageContext}, on its prototype: how {@link scopeHolderOf} knows
 * one made by another copy of ctxprop in the process (the ESM and the CJS build both loaded), which
 * `instanceof` does not; the wrapped `setInterval` and Express's wrapped `Layer` methods are
 * installed once per process, by whichever copy came first. The name is a contract between
 * copies: a context with it has a readable `holder` (a {@link BaggageHolder}). Bump the version if
 * that changes.
 */
const SCOPED_CONTEXT_BRAND = Symbol.for('ctxprop.inbound.scoped-context.v1');

const BAGGAGE_OVERRIDDEN = 1;
const SPAN_OVERRIDDEN = 2;

/**
 * The baggage a derived context set: `set` as it was given, and `base`, the baggage of the context
 * it was derived from at that moment (whose own branch, if it had one, is `parent`). Its baggage is
 * `set`'s changes to `base` applied to what the parent reads now, a function of the request's
 * current baggage only: kept for that input, so reading is one comparison while the request's
 * baggage stays as it is, and computed once along the chain (without recursion: code that derives
 * context after context in a loop makes long chains) when it changed. Shared by the contexts
 * derived from this one for other keys.
 */
class BaggageBranch {
  /** The request's baggage the cached answer is for. */
  #input: Baggage | undefined;
  #output: Baggage | undefined;

  constructor(
    readonly holder: BaggageHolder,
    readonly parent: BaggageBranch | undefined,
    readonly base: Baggage | undefined,
    readonly set: Baggage | undefined,
    readonly deleted: boolean,
  ) {
    this.#input = holder.baggage;
    this.#output = deleted ? undefined : set;
  }

  read(): Baggage | undefined {
    const input = this.holder.baggage;
    if (this.#input === input) return this.#output;
    // The branches up to the nearest one whose answer is current (or the scope itself).
    const stale: BaggageBranch[] = [];
    let branch: BaggageBranch | undefined = this;
    while (branch !== undefined && branch.#input !== input) {
      stale.push(branch);
      branch = branch.parent;
    }
    let current = branch === undefined ? input : branch.#output;
    for (let i = stale.length - 1; i >= 0; i--) {
      const next = stale[i]!;
      current = next.deleted ? undefined : current === next.base ? next.set : rebase(current, next.base, next.set);
      next.#input = input;
      next.#output = current;
    }
    return current;
  }
}

function sameEntry(a: BaggageEntry, b: BaggageEntry): boolean {
  return a === b || (a.value === b.value && a.metadata?.toString() === b.metadata?.toString());
}

/** `current` with the entries `set` added, changed or removed relative to `base`. */
function rebase(current: Baggage | undefined, base: Baggage | undefined, set: Baggage | undefined): Baggage | undefined {
  if (set === undefined) return current;
  let result = current ?? set.removeEntries(...set.getAllEntries().map(([key]) => key));
  for (const [key, entry] of set.getAllEntries()) {
    const before = base?.getEntry(key);
    if (before === undefined || !sameEntry(before, entry)) result = result.setEntry(key, entry);
  }
  if (base !== undefined) {
    for (const [key] of base.getAllEntries()) if (set.getEntry(key) === undefined) result = result.removeEntry(key);
  }
  return result;
}

/**
 * Where a {@link ScopedBaggageContext} reads its baggage (and server span): a request's scope.
 *
 * @example
 * ```ts
 * const holder: BaggageHolder = { baggage: propagation.createBaggage({ tenant: { value: 'acme' } }) };
 * ```
 */
export interface BaggageHolder {
  /** The request's current baggage; `undefined` when it has none. */
  readonly baggage: Baggage | undefined;
  /**
   * The request's server span, when it has one: the context's active span (saves copying the
   * parent context once more to set it).
   */
  readonly span?: Span | undefined;
  /**
   * For intervals started in this unit of work (`enableIntervalDetachment`): true once they must
   * leave its context (the work has ended: a request's response was sent or abandoned), false
   * while they keep it, undefined to leave them as they are.
   */
  readonly detachIntervals?: boolean | undefined;
}

/**
 * A `Context` that delegates the baggage key to a {@link BaggageHolder} and everything else to an
 * ordinary parent context. A few fields, no copying: cheap to make once per request.
 *
 * @example
 * ```ts
 * const scope = { baggage: undefined as Baggage | undefined };
 * const ctx = new ScopedBaggageContext(scope, context.active());
 * context.with(ctx, () => {
 *   scope.baggage = propagation.createBaggage({ tenant: { value: 'acme' } });
 *   propagation.getActiveBaggage()?.getEntry('tenant')?.value; // 'acme'
 * });
 * ```
 */
export class ScopedBaggageContext implements Context {
  /** The request scope the baggage is read from. */
  readonly holder: BaggageHolder;
  /** Every value but baggage. */
  readonly parent: Context;
  /** Which keys this branch set (or deleted) itself: the span no longer follows the holder, the baggage follows it under the branch's changes. */
  readonly #overrides: number;
  readonly #branch: BaggageBranch | undefined;

  constructor(holder: BaggageHolder, parent: Context, overrides = 0, branch?: BaggageBranch) {
    this.holder = holder;
    this.parent = parent;
    this.#overrides = overrides;
    this.#branch = branch;
  }

  getValue(key: symbol): unknown {
    if (key === BAGGAGE_KEY) return (this.#overrides & BAGGAGE_OVERRIDDEN) !== 0 ? this.#branch!.read() : this.holder.baggage;
    if (key === SPAN_KEY && (this.#overrides & SPAN_OVERRIDDEN) === 0) {
      const span = this.holder.span;
      if (span !== undefined) return span;
    }
    return this.parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    // Baggage set on a derived context is that branch's: its changes stay on top of the scope's.
    if (key === BAGGAGE_KEY) return this.#withBranch(value as Baggage | undefined, false);
    const overrides = key === SPAN_KEY ? this.#overrides | SPAN_OVERRIDDEN : this.#overrides;
    return new ScopedBaggageContext(this.holder, this.parent.setValue(key, value), overrides, this.#branch);
  }

  deleteValue(key: symbol): Context {
    if (key === BAGGAGE_KEY) return this.#withBranch(undefined, true);
    const overrides = key === SPAN_KEY ? this.#overrides | SPAN_OVERRIDDEN : this.#overrides;
    return new ScopedBaggageContext(this.holder, this.parent.deleteValue(key), overrides, this.#branch);
  }

  #withBranch(baggage: Baggage | undefined, deleted: boolean): Context {
    const parent = (this.#overrides & BAGGAGE_OVERRIDDEN) !== 0 ? this.#branch : undefined;
    const branch = new BaggageBranch(this.holder, parent, this.getValue(BAGGAGE_KEY) as Baggage | undefined, baggage, deleted);
    return new ScopedBaggageContext(this.holder, this.parent, this.#overrides | BAGGAGE_OVERRIDDEN, branch);
  }
}

// A data property on the prototype: one property read per check, as cheap as `instanceof`.
Object.defineProperty(ScopedBaggageContext.prototype, SCOPED_CONTEXT_BRAND, { value: true });

/**
 * The holder of a context made by (or derived from) a {@link ScopedBaggageContext}, of this copy
 * of ctxprop or of another one in the process; undefined for any other context.
 *
 * @example
 * ```ts
 * scopeHolderOf(context.active()); // the request's scope inside a request, else undefined
 * ```
 */
export function scopeHolderOf(ctx: Context): BaggageHolder | undefined {
  // The brand, not `instanceof`: a context of another copy only has its own `holder` read, never
  // this copy's private fields.
  const branded = ctx as { readonly [SCOPED_CONTEXT_BRAND]?: unknown; readonly holder?: BaggageHolder } | undefined;
  return branded?.[SCOPED_CONTEXT_BRAND] === true ? branded.holder : undefined;
}
