/**
 * The span context every extracting propagator puts into the context it returns: the caller's
 * ids, its sampling decision as W3C trace flags, marked remote.
 */
import { trace, TraceFlags, type Context } from '@opentelemetry/api';

/**
 * `context` with the caller's span as its remote parent. The ids must be valid lower-case hex
 * (the propagators check them first).
 *
 * @example
 * ```ts
 * withRemoteParent(context, '4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', true);
 * ```
 */
export function withRemoteParent(context: Context, traceId: string, spanId: string, sampled: boolean): Context {
  return trace.setSpanContext(context, {
    traceId,
    spanId,
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
}
