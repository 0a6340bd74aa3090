/**
 * Reading the active trace context as plain values, for code ctxprop does not instrument (a
 * hand-built HTTP client, a log line, a response header).
 */
import { context as contextApi, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { formatTraceparent, hasValidIds, KNOWN_TRACE_FLAGS } from '../wire/traceparent.js';

/**
 * The trace context of a request or of the active context, as plain values.
 *
 * @example
 * ```ts
 * const { traceId, traceparent } = getTraceContext() ?? {};
 * ```
 */
export interface TraceContextInfo {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** 16 lowercase hex digits: the active span's id (or the inbound parent's, with no SDK). */
  readonly spanId: string;
  /** The W3C trace-flags byte, as written (the flags W3C Trace Context defines: sampled, random). */
  readonly traceFlags: number;
  /** True when the sampled flag (0x01) is set. */
  readonly sampled: boolean;
  /** The `traceparent` header value for this context, to hand to code ctxprop does not instrument. */
  readonly traceparent: string;
  /** The serialized `tracestate`, or undefined when there is none. */
  readonly tracestate: string | undefined;
  /** True when the span context came from another process and no local span was started. */
  readonly isRemote: boolean;
}

/**
 * Returns the trace context of `ctx` (default: the active context), or undefined when there is
 * no valid one.
 *
 * @example
 * ```ts
 * app.get('/', (req, res) => {
 *   const trace = getTraceContext();
 *   legacyClient.call({ headers: { traceparent: trace?.traceparent } });
 * });
 * ```
 */
export function getTraceContext(ctx: Context = contextApi.active()): TraceContextInfo | undefined {
  const spanContext = trace.getSpanContext(ctx);
  if (spanContext === undefined || !hasValidIds(spanContext)) return undefined;
  const tracestate = spanContext.traceState?.serialize();
  // As the propagator writes them (the API takes upper-case ids and any flags byte; W3C Trace
  // Context does not): a traceparent a W3C parser accepts.
  const traceId = spanContext.traceId.toLowerCase();
  const spanId = spanContext.spanId.toLowerCase();
  const traceFlags = spanContext.traceFlags & KNOWN_TRACE_FLAGS;
  return {
    traceId,
    spanId,
    traceFlags,
    sampled: (traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
    traceparent: formatTraceparent({ traceId, spanId, traceFlags }),
    tracestate: tracestate === '' ? undefined : tracestate,
    isRemote: spanContext.isRemote === true,
  };
}
