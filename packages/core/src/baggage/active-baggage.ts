/**
 * Baggage on the active context: read it as a view, add entries to a context, run a function
 * with more baggage. Keys must be tokens (W3C Baggage §3.3.1.2); values are any text and are
 * percent-encoded when written.
 */
import { context, propagation, type Context } from '@opentelemetry/api';
import { ensureContextManager } from '../context/runtime.js';
import { countDiagnostic, warnOnce } from '../diagnostics/diagnostics.js';
import { CtxpropError, describe } from '../errors.js';
import { defaultSensitiveDataGuard, type SensitiveDataGuard } from '../policy/sensitive-data.js';
import { frozenProperties, hasControlCharacter, isBaggageKey } from '../wire/baggage.js';
import { createBaggageView, type BaggageView } from './baggage-view.js';
import type { BaggageMember, BaggageProperty } from './types.js';
import { mergeBaggageMembers } from './wire-baggage.js';

/**
 * Entries for {@link setBaggage} and {@link withBaggage}: a value, or a value with properties.
 *
 * @example
 * ```ts
 * const entries: BaggageEntries = { tenant: 'acme', plan: { value: 'gold', properties: [{ key: 'ttl', value: '60' }] } };
 * ```
 */
export type BaggageEntries = Readonly<Record<string, string | { value: string; properties?: readonly BaggageProperty[] }>>;

/**
 * The baggage of a context (the active one by default) as a read-only view; the empty view when
 * there is none.
 *
 * @example
 * ```ts
 * const tenant = getActiveBaggage().get('tenant');
 * ```
 */
export function getActiveBaggage(ctx: Context = context.active()): BaggageView {
  return createBaggageView(propagation.getBaggage(ctx));
}

function memberOf(key: string, entry: unknown): BaggageMember | undefined {
  if (!isBaggageKey(key)) return undefined;
  if (typeof entry === 'string') return { key, value: entry, properties: frozenProperties([]) };
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { value, properties } = entry as { value?: unknown; properties?: unknown };
  if (typeof value !== 'string') return undefined;
  if (properties === undefined) return { key, value, properties: frozenProperties([]) };
  if (!Array.isArray(properties)) return undefined;
  const list: BaggageProperty[] = [];
  for (const property of properties as unknown[]) {
    if (typeof property !== 'object' || property === null) return undefined;
    const { key: propertyKey, value: propertyValue } = property as { key?: unknown; value?: unknown };
    if (typeof propertyKey !== 'string' || !isBaggageKey(propertyKey)) return undefined;
    // A control character could not go out (inject drops such a member): refused now, where it is counted.
    if (propertyValue !== undefined && (typeof propertyValue !== 'string' || hasControlCharacter(propertyValue))) return undefined;
    list.push(propertyValue === undefined ? { key: propertyKey } : { key: propertyKey, value: propertyValue });
  }
  return { key, value, properties: frozenProperties(list) };
}

/**
 * Options of {@link setBaggage}.
 *
 * @example
 * ```ts
 * const options: SetBaggageOptions = { sensitiveDataGuard: createSensitiveDataGuard({ allowKeys: ['session.region'] }) };
 * ```
 */
export interface SetBaggageOptions {
  /**
   * Refuses entries that look like secrets or personal data (the reason is counted as
   * `baggage.sensitive.refused` and warned about once). `false` turns the check off.
   * @default defaultSensitiveDataGuard
   */
  readonly sensitiveDataGuard?: SensitiveDataGuard | false;
}

/**
 * Returns `ctx` with `entries` added to its baggage (an entry replaces one of the same key).
 * An entry whose key is not a token, or whose value or properties are malformed, is skipped and
 * counted as `baggage.invalid_set`. An entry the sensitive-data guard refuses (a key like
 * `auth.token`, a value like an e-mail address or a JWT) is never set: baggage travels in clear
 * text to every service downstream. Throws a `CtxpropError` (`CTXPROP_INVALID_ARGUMENT`) when
 * `ctx` is not a context.
 *
 * @example
 * ```ts
 * const ctx = setBaggage(context.active(), { tenant: 'acme', plan: { value: 'gold', properties: [{ key: 'ttl', value: '60' }] } });
 * context.with(ctx, () => fetch(url)); // the outbound request carries the baggage
 * ```
 */
export function setBaggage(ctx: Context, entries: BaggageEntries, options?: SetBaggageOptions): Context {
  if (typeof (ctx as Partial<Context> | null | undefined)?.getValue !== 'function' || typeof ctx.setValue !== 'function') {
    throw new CtxpropError('CTXPROP_INVALID_ARGUMENT', `ctxprop: setBaggage() takes a Context as its first argument (got ${describe(ctx)}); to change the active context's baggage, use withBaggage(entries, fn), or setBaggage(context.active(), entries).`);
  }
  if (typeof entries !== 'object' || entries === null) return ctx;
  const guard = options?.sensitiveDataGuard ?? defaultSensitiveDataGuard;
  const members: BaggageMember[] = [];
  for (const key of Object.keys(entries)) {
    const member = memberOf(key, entries[key]);
    if (member === undefined) {
      countDiagnostic('baggage.invalid_set');
      continue;
    }
    const reason = guard === false ? undefined : guard(member.key, member.value);
    if (reason !== undefined) {
      countDiagnostic('baggage.sensitive.refused');
      warnOnce(
        'CTXPROP_BAGGAGE_SET_REFUSED',
        `ctxprop: baggage entry "${key}" was refused (${reason}). Baggage travels in clear text to every service downstream; if this is a false alarm, allow the key with the sensitiveData option (allowKeys).`,
      );
      continue;
    }
    members.push(member);
  }
  if (members.length === 0) return ctx;
  return propagation.setBaggage(ctx, mergeBaggageMembers(propagation.getBaggage(ctx), members));
}

/**
 * Runs `fn` (with `args`) in the active context plus `entries` in its baggage, and returns its
 * result. Registers ctxprop's context manager first if none is registered, so that the baggage
 * is actually seen inside `fn`.
 *
 * @example
 * ```ts
 * await withBaggage({ tenant: 'acme' }, async () => {
 *   getActiveBaggage().get('tenant'); // 'acme'
 *   await fetch(url);                 // sent with `baggage: tenant=acme` once enableOutboundPropagation() (or an adapter) is on
 * });
 * ```
 */
export function withBaggage<A extends unknown[], R>(entries: BaggageEntries, fn: (...args: A) => R, ...args: A): R {
  // Checked on every call, as bindContext does: a manager disabled since (context.disable(), in
  // tests between cases) would have the baggage silently not seen in `fn`.
  ensureContextManager();
  return context.with(setBaggage(context.active(), entries), fn, undefined, ...args);
}
