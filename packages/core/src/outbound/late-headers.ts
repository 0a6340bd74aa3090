/**
 * Headers a caller sets on a `node:http` request after it was created (`req.setHeader`,
 * `appendHeader`; superagent's `.set()`), before they are sent: they go through the request's
 * policy as those given in the options do. A baggage header is filtered by the destination policy
 * and the sensitive-data guard; a trace header follows `existingTraceparent`, and is never
 * appended to. ClientRequest's own copies of the two methods are wrapped, on every Node version.
 */
import { ClientRequest, validateHeaderValue } from 'node:http';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import type { SensitiveDataGuard } from '../policy/sensitive-data.js';
import { filterBaggageHeader, reportTraceWithheld } from './apply-policy.js';
import type { fieldsOf, OutgoingCall } from './outgoing-call.js';
import type { InstalledHook } from './outbound-state.js';

const LATE_PATCH_KEY = Symbol.for('ctxprop.outbound.http.lateHeaders');
// The one trace header that is a list (W3C Trace Context §3.3.1.1): appending to it loses nothing.
// https://www.w3.org/TR/trace-context/#tracestate-header-field-values
const TRACESTATE_FIELD = 'tracestate';

/** A request ctxprop prepared, as the late headers of its caller are judged against. */
export interface PolicedCall {
  readonly call: OutgoingCall;
  readonly guard: SensitiveDataGuard;
  readonly fields: ReturnType<typeof fieldsOf>;
  /** `existingTraceparent: 'keep'`. */
  readonly keep: boolean;
  /** The trace headers on the request are the caller's (kept when it was created, or set since). */
  callersTrace: boolean;
  /**
   * With `'keep'`, the headers that only qualify ids (a tracestate) the caller wrote while
   * ctxprop's trace was on the request: held back, and written if the caller then sets the ids.
   */
  held?: (readonly [name: string, value: unknown, appending: boolean])[];
}

/** The requests ctxprop prepared, for the headers their callers set later. */
const calls = new WeakMap<object, PolicedCall>();

/**
 * Puts the headers the caller sets on `request` from now on, before they are sent, under the same
 * policy as those it gave in the options.
 *
 * @example
 * ```ts
 * policeRequest(request, { call, guard: config.guard, fields: fieldsOf(config.propagator), keep: true, callersTrace: call.keptTrace });
 * ```
 */
export function policeRequest(request: ClientRequest, policed: PolicedCall): void {
  calls.set(request, policed);
}

/** Written as the caller asked. */
const UNCHANGED = Symbol('unchanged');
/** Not written, and what is there stays. */
const IGNORED = Symbol('ignored');
/** Not written: a `setHeader` leaves no header of that name, an `appendHeader` changes nothing. */
const DROPPED = Symbol('dropped');

/** A header written with another value, or in another way, than the caller asked. */
interface Rewritten {
  readonly value: unknown;
  /** Written with `setHeader`, even for an `appendHeader`: a trace header is never appended to. */
  readonly replace: boolean;
  /** The caller's trace takes the place of ctxprop's (see {@link yieldTraceToCaller}). */
  readonly takeOver: boolean;
}

type LateWrite = typeof UNCHANGED | typeof IGNORED | typeof DROPPED | Rewritten;

/** The first line of a header that holds one value (the one kept of several, as in the options). */
function firstLine(value: unknown, list: boolean): unknown {
  return !list && Array.isArray(value) && value.length > 0 ? value[0] : value;
}

/**
 * True when the trace header at `index` of `fields.trace` holds the ids (`traceparent`, `b3`, ...),
 * not one that only qualifies them (`tracestate`, `X-B3-SpanId`, ...): the same split
 * `prepareOutgoingCall` makes for headers given in the options. `idMask` covers the first 30.
 */
function holdsIds(fields: ReturnType<typeof fieldsOf>, index: number): boolean {
  return index >= 30 || (fields.idMask & (1 << index)) !== 0;
}

/**
 * What becomes of a header the caller writes after the request was created
 * (`req.setHeader('baggage', ...)` before `end()`: superagent sets its headers so). A baggage
 * header is filtered by the destination policy and the sensitive-data guard, as one given in the
 * options is. A trace header goes nowhere the policy withholds the trace; elsewhere it follows
 * `existingTraceparent` as one given in the options does: with `'replace'` ctxprop's stays and
 * the write is ignored; with `'keep'` a header holding the ids replaces ctxprop's trace, whose
 * span is then dropped (its id would never leave), and one that only qualifies ids is held back
 * until the caller sets some. A trace header other than `tracestate` (a list) is never appended
 * to: an `appendHeader` of one sets it, or, next to one the caller set, is ignored (the first
 * line goes, as when several are given in the options).
 */
function lateHeader(request: ClientRequest, name: unknown, value: unknown, appending: boolean): LateWrite {
  // Anything else Node refuses itself (ERR_HTTP_INVALID_HEADER_VALUE).
  if (typeof name !== 'string' || (typeof value !== 'string' && typeof value !== 'number' && !Array.isArray(value))) return UNCHANGED;
  const policed = calls.get(request);
  // Once the headers were sent, Node refuses the write itself (ERR_HTTP_HEADERS_SENT).
  if (policed === undefined || request.headersSent) return UNCHANGED;
  const lower = name.toLowerCase();
  const { call, guard, fields } = policed;
  if (fields.baggage.includes(lower)) {
    // Node writes a number as its digits, an array as one line each.
    const allowed = filterBaggageHeader(Array.isArray(value) ? value.map(String) : String(value), call.decision, guard, call.destination);
    return allowed === undefined ? DROPPED : { value: allowed, replace: false, takeOver: false };
  }
  const index = fields.trace.indexOf(lower);
  if (index < 0) return UNCHANGED;
  if (!call.decision.trace) {
    reportTraceWithheld(call.decision, call.destination);
    return DROPPED;
  }
  if (!policed.keep) return IGNORED;
  const list = lower === TRACESTATE_FIELD;
  if (!policed.callersTrace) {
    if (holdsIds(fields, index)) return { value: firstLine(value, list), replace: true, takeOver: true };
    try {
      validateHeaderValue(name, value as string);
    } catch {
      // Not held: Node refuses it now, as it would without ctxprop.
      return UNCHANGED;
    }
    (policed.held ??= []).push([name, value, appending]);
    return IGNORED;
  }
  if (list) return UNCHANGED;
  if (appending) return request.getHeader(lower) === undefined ? { value: firstLine(value, list), replace: true, takeOver: false } : IGNORED;
  return Array.isArray(value) ? { value: firstLine(value, list), replace: false, takeOver: false } : UNCHANGED;
}

/**
 * After the caller's trace header `written` went on under `'keep'`: ctxprop's other trace headers
 * go (they belong with its ids), then the qualifying headers the caller wrote before are written;
 * ctxprop's span is dropped, never ended, so never exported (as undici.ts does for a late writer).
 */
function yieldTraceToCaller(request: ClientRequest, written: string, dropSpan: (request: ClientRequest) => void): void {
  const policed = calls.get(request);
  if (policed === undefined || policed.callersTrace) return;
  policed.callersTrace = true;
  for (const name of policed.fields.trace) if (name !== written) request.removeHeader(name);
  dropSpan(request);
  const held = policed.held;
  policed.held = undefined;
  for (const [name, value, appending] of held ?? []) {
    try {
      // Through the wrappers again, now as headers beside the caller's own ids.
      if (appending) request.appendHeader(name, value as string);
      else request.setHeader(name, value as string);
    } catch {
      countDiagnostic('internal.error');
    }
  }
}

type HeaderWriter = (this: ClientRequest, name: string, value: unknown) => unknown;

/**
 * Wraps `setHeader` and `appendHeader` of ClientRequest (`setHeaders` calls `setHeader`), for the
 * requests {@link policeRequest} was given. `dropSpan` drops ctxprop's span of a request whose
 * caller's trace took the place of ctxprop's.
 *
 * @example
 * ```ts
 * const late = policeLateHeaders((request) => spans.delete(request));
 * late.uninstall();
 * ```
 */
export function policeLateHeaders(dropSpan: (request: ClientRequest) => void): InstalledHook {
  const proto = ClientRequest.prototype as unknown as Record<string, HeaderWriter & { [LATE_PATCH_KEY]?: HeaderWriter }>;
  const restore: (() => void)[] = [];
  // Unwrapped, for an appendHeader written as a set.
  const setHeader = proto.setHeader!;
  for (const method of ['setHeader', 'appendHeader'] as const) {
    const original = proto[method];
    // Another copy of ctxprop wrapped it already (its wrapper polices its own requests).
    if (typeof original !== 'function' || original[LATE_PATCH_KEY] !== undefined) continue;
    // Inherited from OutgoingMessage, shared with ServerResponse: shadowed on ClientRequest only.
    const own = Object.prototype.hasOwnProperty.call(proto, method);
    const appending = method === 'appendHeader';
    const writer: HeaderWriter & { [LATE_PATCH_KEY]?: HeaderWriter } = function (this: ClientRequest, name, value) {
      let write: LateWrite = UNCHANGED;
      try {
        write = lateHeader(this, name, value, appending);
      } catch {
        countDiagnostic('internal.error');
      }
      if (write === UNCHANGED) return original.call(this, name, value);
      if (write === IGNORED) return this;
      if (write === DROPPED) {
        if (!appending) this.removeHeader(name);
        return this;
      }
      // Node validates the caller's value (and throws) before anything of ctxprop's is removed.
      const result = (write.replace ? setHeader : original).call(this, name, write.value);
      if (write.takeOver) {
        try {
          yieldTraceToCaller(this, name.toLowerCase(), dropSpan);
        } catch {
          countDiagnostic('internal.error');
        }
      }
      return result;
    };
    Object.defineProperty(writer, 'name', { value: method });
    writer[LATE_PATCH_KEY] = original;
    proto[method] = writer;
    restore.push(() => {
      if (proto[method] !== writer) return;
      if (own) proto[method] = original;
      else delete proto[method];
    });
  }
  return { uninstall: () => restore.forEach((undo) => undo()) };
}
