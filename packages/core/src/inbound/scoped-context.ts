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
 * client span) still reads the scope's baggage, unless the derived context sets baggage itself,
 * which then wins for that branch only; likewise for the span. Every derived context keeps the holder, so the request's scope can be found from
 * any context of the request (`scopeHolderOf`): adapters need no per-request property on the
 * framework's request object.
 */
import { createContextKey, type Baggage, type Context, type Span } from '@opentelemetry/api';

// The API stores baggage and the active span under `createContextKey(...)` keys, which are
// `Symbol.for(...)`: the same keys in every copy of the API (api/src/baggage/context-helpers.ts,
// api/src/trace/context-utils.ts).
const BAGGAGE_KEY = createContextKey('OpenTelemetry Baggage Key');
const SPAN_KEY = createContextKey('OpenTelemetry Context Key SPAN');

const BAGGAGE_OVERRIDDEN = 1;
const SPAN_OVERRIDDEN = 2;

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
  /** Which keys this branch set (or deleted) itself, no longer following the holder. */
  readonly #overrides: number;
  readonly #baggage: unknown;

  constructor(holder: BaggageHolder, parent: Context, overrides = 0, baggage?: unknown) {
    this.holder = holder;
    this.parent = parent;
    this.#overrides = overrides;
    this.#baggage = baggage;
  }

  getValue(key: symbol): unknown {
    if (key === BAGGAGE_KEY) return (this.#overrides & BAGGAGE_OVERRIDDEN) !== 0 ? this.#baggage : this.holder.baggage;
    if (key === SPAN_KEY && (this.#overrides & SPAN_OVERRIDDEN) === 0) {
      const span = this.holder.span;
      if (span !== undefined) return span;
    }
    return this.parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    // Baggage set explicitly on a derived context wins for that branch: it no longer follows the scope.
    if (key === BAGGAGE_KEY) return new ScopedBaggageContext(this.holder, this.parent, this.#overrides | BAGGAGE_OVERRIDDEN, value);
    const overrides = key === SPAN_KEY ? this.#overrides | SPAN_OVERRIDDEN : this.#overrides;
    return new ScopedBaggageContext(this.holder, this.parent.setValue(key, value), overrides, this.#baggage);
  }

  deleteValue(key: symbol): Context {
    if (key === BAGGAGE_KEY) return new ScopedBaggageContext(this.holder, this.parent, this.#overrides | BAGGAGE_OVERRIDDEN, undefined);
    const overrides = key === SPAN_KEY ? this.#overrides | SPAN_OVERRIDDEN : this.#overrides;
    return new ScopedBaggageContext(this.holder, this.parent.deleteValue(key), overrides, this.#baggage);
  }
}

/**
 * The holder of a context made by (or derived from) a {@link ScopedBaggageContext}; undefined for
 * any other context.
 *
 * @example
 * ```ts
 * scopeHolderOf(context.active()); // the request's scope inside a request, else undefined
 * ```
 */
export function scopeHolderOf(ctx: Context): BaggageHolder | undefined {
  return ctx instanceof ScopedBaggageContext ? ctx.holder : undefined;
}
