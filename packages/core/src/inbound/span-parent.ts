/**
 * The parent of a span an SDK made, read from the SDK's own span shape: the OpenTelemetry API
 * gives no way to ask a span for its parent.
 */
import { isSpanContextValid, type Span, type SpanContext } from '@opentelemetry/api';

/**
 * The parent span context of `span` as the SDK recorded it (sdk-trace-base 2.x keeps
 * `parentSpanContext`, 1.x only `parentSpanId`, in the span's own trace); undefined for a root
 * span, or a span of another implementation.
 *
 * @example
 * ```ts
 * parentSpanContextOf(serverSpan)?.spanId; // the caller's span id
 * ```
 */
export function parentSpanContextOf(span: Span): SpanContext | undefined {
  const sdkSpan = span as { parentSpanContext?: SpanContext; parentSpanId?: unknown };
  const parent = sdkSpan.parentSpanContext;
  if (parent !== undefined) return isSpanContextValid(parent) ? parent : undefined;
  const parentSpanId = sdkSpan.parentSpanId;
  if (typeof parentSpanId !== 'string') return undefined;
  const own = span.spanContext();
  const composed: SpanContext = { traceId: own.traceId, spanId: parentSpanId, traceFlags: own.traceFlags, isRemote: true };
  return isSpanContextValid(composed) ? composed : undefined;
}
