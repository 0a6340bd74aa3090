/**
 * What the automatic hooks (fetch/undici, node:http) do for one outbound request, whatever the
 * client: decide by the destination policy, start the CLIENT span unless another
 * instrumentation already did, and write the propagation headers so that exactly one of each
 * leaves (never appended: opentelemetry-js-contrib #3711), with the policy applied to headers
 * that were already there.
 */
import { context, isSpanContextValid, SpanKind, trace, type Context, type Span, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import { inboundScopeOf } from '../inbound/request-scope.js';
import { decideByOrigin, type DestinationDecision } from '../policy/destination.js';
import { contextForDestination, filterBaggageHeader, reportTraceWithheld } from './apply-policy.js';
import { originOf, startClientSpan, type OutgoingTarget } from './client-span.js';
import { isHeaderName, isHeaderValue } from './header-safety.js';
import type { OutboundConfig } from './outbound-state.js';
import { deleteB3SamplingDecision } from '../propagators/b3-sampling-decision.js';
import { isTracingSuppressed } from '../propagators/carrier-access.js';

/** The request's header list, as each client holds it, with lower-case names. */
export interface HeaderList {
  /** Every value of a header, `undefined` when absent. */
  get(name: string): string | string[] | undefined;
  /** Replaces every header of this name by one value. */
  set(name: string, value: string): void;
  remove(name: string): void;
}

/** The outcome for one request, for the hook to finish the span and police late writers. */
export interface OutgoingCall {
  /** Our CLIENT span, when one was started and records. */
  readonly span: Span | undefined;
  readonly decision: DestinationDecision;
  /** The host, for messages. */
  readonly destination: string;
  /** True when the request's own trace header was kept (`existingTraceparent: 'keep'`). */
  readonly keptTrace: boolean;
}


const BAGGAGE_FIELD = 'baggage';
const TRACEPARENT_FIELD = 'traceparent';
// The one trace header that is a list: its lines are one list (W3C Trace Context §3.3.1.1), so
// a kept tracestate goes on as the caller wrote it, every line.
const TRACESTATE_FIELD = 'tracestate';

/**
 * Trace headers that only qualify the ids of another: a tracestate without a traceparent means
 * nothing (W3C Trace Context §3.3), nor do B3's span id or parent id without `X-B3-TraceId`
 * (https://github.com/openzipkin/b3-propagation#multiple-headers), nor OT's span id and sampled
 * flag without `ot-tracer-traceid`. Every other trace header (traceparent, b3, x-b3-traceid,
 * uber-trace-id, x-amzn-trace-id, ot-tracer-traceid, a custom propagator's) sets the trace; so do
 * B3's `X-B3-Sampled` and `X-B3-Flags`, whose sampling decision is valid B3 on its own ("Sampling
 * state can also be sent on its own": a caller's deny, or debug, is kept as it is).
 */
const AUXILIARY_TRACE_FIELDS: ReadonlySet<string> = new Set([TRACESTATE_FIELD, 'x-b3-spanid', 'x-b3-parentspanid', 'ot-tracer-spanid', 'ot-tracer-sampled']);

/** A propagator's header names (lower case): trace headers first, then baggage headers. */
interface Fields {
  readonly all: readonly string[];
  readonly trace: readonly string[];
  readonly baggage: readonly string[];
  /** Bits of `all` that are trace headers. */
  readonly traceMask: number;
  /**
   * Bits of `all` that are trace headers holding the ids (not {@link AUXILIARY_TRACE_FIELDS}); all
   * of `traceMask` when the propagator has no such header.
   */
  readonly idMask: number;
}

/** Bit masks over `Fields.all` cover this many names; a propagator with more is not inspected past them. */
const MAX_FIELDS = 30;

const fieldsByPropagator = new WeakMap<TextMapPropagator, Fields>();

/**
 * The propagator's header names, split into trace and baggage headers (lower case).
 *
 * @example
 * ```ts
 * fieldsOf(createPropagator()).trace; // ['traceparent', 'tracestate']
 * ```
 */
export function fieldsOf(propagator: TextMapPropagator): Fields {
  let fields = fieldsByPropagator.get(propagator);
  if (fields === undefined) {
    const names = [...new Set(propagator.fields().map((name) => name.toLowerCase()))];
    const traceNames = names.filter((name) => name !== BAGGAGE_FIELD);
    const baggageNames = names.filter((name) => name === BAGGAGE_FIELD);
    const all = [...traceNames, ...baggageNames].slice(0, MAX_FIELDS);
    const traceMask = (1 << Math.min(traceNames.length, MAX_FIELDS)) - 1;
    let idMask = 0;
    for (let i = 0; i < traceNames.length && i < MAX_FIELDS; i++) if (!AUXILIARY_TRACE_FIELDS.has(traceNames[i]!)) idMask |= 1 << i;
    fields = { all, trace: traceNames, baggage: baggageNames, traceMask, idMask: idMask === 0 ? traceMask : idMask };
    fieldsByPropagator.set(propagator, fields);
  }
  return fields;
}

/** True when `span` is a recording CLIENT span: the SDK's spans expose their kind. */
function isActiveClientSpan(span: Span | undefined): boolean {
  return span !== undefined && span.isRecording() && (span as { kind?: unknown }).kind === SpanKind.CLIENT;
}

/**
 * With `replace`, tells another instrumentation's header (kept) from a caller's (replaced): a
 * W3C traceparent in the active trace whose parent id is neither the active span, nor the
 * inbound request's caller (a header forwarded from the request, however many spans sit between
 * the server span and this call), nor the active span's own parent (the same, outside a request
 * ctxprop set up), belongs to a span someone just started for this call, such as OpenTelemetry's
 * undici instrumentation subscribed before ctxprop.
 */
function isForeignChildSpan(value: string | undefined, active: Span | undefined, ctx: Context): boolean {
  if (value === undefined || value.length < 55 || active === undefined) return false;
  const spanContext = active.spanContext();
  if (!isSpanContextValid(spanContext) || value.slice(3, 35) !== spanContext.traceId) return false;
  const parentId = value.slice(36, 52);
  if (parentId === spanContext.spanId) return false;
  // A scope made by an older copy of ctxprop has no remoteParent: the check below still serves
  // a call made directly in the server span.
  const caller = inboundScopeOf(ctx)?.remoteParent;
  if (caller !== undefined && parentId === caller.spanId && spanContext.traceId === caller.traceId) return false;
  // sdk-trace-base 2.x keeps `parentSpanContext`, 1.x `parentSpanId`.
  const sdkSpan = active as { parentSpanContext?: { spanId?: unknown }; parentSpanId?: unknown };
  return parentId !== (sdkSpan.parentSpanContext?.spanId ?? sdkSpan.parentSpanId);
}

/** Removes every trace header that is present; returns `present` without them. */
function removeTraceHeaders(headers: HeaderList, fields: Fields, present: number): number {
  for (let i = 0; i < fields.trace.length && i < MAX_FIELDS; i++) {
    if ((present & (1 << i)) !== 0) headers.remove(fields.all[i]!);
  }
  return present & ~fields.traceMask;
}

/**
 * Trace headers that hold one value, never a list, so a comma in one means the client joined
 * several lines into one ("a, b": fetch's `Headers.append`, RFC 9110 §5.3). A custom
 * propagator's header may be a list (Datadog's `x-datadog-tags`): it is not split.
 */
const SINGLE_VALUED_TRACE_FIELDS: ReadonlySet<string> = new Set([
  TRACEPARENT_FIELD,
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'uber-trace-id',
  'x-amzn-trace-id',
  'ot-tracer-traceid',
  'ot-tracer-spanid',
  'ot-tracer-sampled',
]);

/**
 * The one line a kept trace header set as several lines goes on as: the first (the last when
 * `lastLine`: another writer appended its own); undefined when it was set once. A single-valued
 * header's lines may have been joined into one by the client, "a, b": its first part is the line
 * then (an appended header is a line of its own, and {@link isForeignChildSpan} reads the first).
 */
function singleLine(name: string, value: string | string[], lastLine: boolean): string | undefined {
  const several = Array.isArray(value) && value.length > 1;
  const line = Array.isArray(value) ? (lastLine ? value[value.length - 1]! : value[0]!) : value;
  const comma = SINGLE_VALUED_TRACE_FIELDS.has(name) ? line.indexOf(',') : -1;
  if (comma >= 0) return line.slice(0, comma).trim();
  return several ? line : undefined;
}

// The state of one `inject` call through `writer`. Injection is synchronous and never nested,
// so one shared setter serves every request without allocating one per call.
let writeFields: readonly string[] = [];
let writeSkip = 0;
let written = 0;

/**
 * Writes through {@link HeaderList}: refuses unsafe names and values (counted as
 * `inject.header.invalid`), leaves the headers in `writeSkip` as they are, notes what it wrote.
 */
const writer: TextMapSetter<HeaderList> = {
  set(headers, name, value) {
    const lower = name.toLowerCase();
    const index = writeFields.indexOf(lower);
    if (index >= 0) {
      if ((writeSkip & (1 << index)) !== 0) return;
      written |= 1 << index;
    }
    if (!isHeaderName(name) || !isHeaderValue(value)) {
      countDiagnostic('inject.header.invalid');
      return;
    }
    headers.set(lower, value);
  },
};

/**
 * Writes the propagation headers of one outbound request under the configuration and returns
 * what the hook needs afterwards. Never throws: a failure is counted as `internal.error` and the
 * request goes on.
 *
 * @example
 * ```ts
 * const call = prepareOutgoingCall(currentOutboundConfig(), target, new UndiciHeaderList(request.headers));
 * ```
 */
export function prepareOutgoingCall(config: OutboundConfig, target: OutgoingTarget, headers: HeaderList): OutgoingCall | undefined {
  try {
    const ctx = context.active();
    if (isTracingSuppressed(ctx)) return undefined;
    const decision = decideByOrigin(config.policy, originOf(target), target.path);
    const destination = target.hostname;
    const fields = fieldsOf(config.propagator);
    const all = fields.all;
    const keep = config.existingTraceparent === 'keep';
    let present = 0;
    for (let i = 0; i < all.length; i++) if (headers.get(all[i]!) !== undefined) present |= 1 << i;
    const active = trace.getSpan(ctx);

    let startSpan = config.spans;
    let injectTrace = true;
    let keptTrace = false;
    if (isActiveClientSpan(active)) {
      // Another instrumentation (OpenTelemetry's http one) made this call's CLIENT span active:
      // its headers are what the active context injects, so rewrite them under the policy.
      startSpan = false;
      present = removeTraceHeaders(headers, fields, present);
    } else if ((present & fields.traceMask) !== 0) {
      const traceparent = headers.get(TRACEPARENT_FIELD);
      // Only a header holding the ids sets the trace: with an auxiliary one alone (a tracestate,
      // X-B3-Flags), the active trace is written as if none were set, and the auxiliary headers
      // go (a stale tracestate must not ride along beside other ids).
      const callerSetTrace = (present & fields.idMask) !== 0;
      if (callerSetTrace && (keep || Array.isArray(traceparent) || isForeignChildSpan(traceparent, active, ctx))) {
        // Kept as the caller (or the instrumentation that started this call's span) wrote it.
        injectTrace = false;
        keptTrace = keep;
        for (const name of fields.trace) {
          const value = headers.get(name);
          if (value === undefined) continue;
          if (!decision.trace) headers.remove(name);
          else if (name !== TRACESTATE_FIELD) {
            const line = singleLine(name, value, !keep);
            if (line !== undefined) headers.set(name, line);
          }
        }
        if (!decision.trace) reportTraceWithheld(decision, destination);
      } else {
        present = removeTraceHeaders(headers, fields, present);
      }
    }

    let base = ctx;
    let span: Span | undefined;
    if (!injectTrace) {
      // The trace stays as it was written: only baggage is injected from the context (no B3
      // sampling decision beside the caller's trace headers either).
      base = deleteB3SamplingDecision(trace.deleteSpan(ctx));
    } else if (startSpan) {
      span = startClientSpan(ctx, target, config.guard, config.knownMethods);
      if (span !== undefined) base = trace.setSpan(ctx, span);
    }
    const injectCtx = contextForDestination(base, decision, config.guard, destination, injectTrace);
    writeFields = all;
    writeSkip = keep ? present : 0;
    written = 0;
    config.propagator.inject(injectCtx, headers, writer);
    // A baggage header we did not write was set by the caller or another instrumentation.
    const foreignBaggage = present & ~fields.traceMask & (keep ? ~0 : ~written);
    if (foreignBaggage !== 0) {
      for (let i = fields.trace.length; i < all.length; i++) {
        if ((foreignBaggage & (1 << i)) === 0) continue;
        const value = headers.get(all[i]!);
        if (value === undefined) continue;
        const allowed = filterBaggageHeader(value, decision, config.guard, destination);
        if (allowed === undefined) headers.remove(all[i]!);
        else if (allowed !== value) headers.set(all[i]!, allowed);
      }
    }
    return { span: span !== undefined && span.isRecording() ? span : undefined, decision, destination, keptTrace };
  } catch {
    countDiagnostic('internal.error');
    return undefined;
  }
}
