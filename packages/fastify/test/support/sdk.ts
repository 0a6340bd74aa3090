/**
 * Test support: an OpenTelemetry SDK (2.x line) that records spans in memory, registered the way
 * applications do it (NodeTracerProvider: global tracer provider + AsyncLocalStorage context
 * manager), before any app is built.
 */
import { SpanKind, type HrTime } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { waitFor } from './frameworks';

export interface RecordingSdk {
  readonly exporter: InMemorySpanExporter;
  readonly provider: NodeTracerProvider;
  /** Waits until at least `count` SERVER spans have ended and returns them. */
  serverSpans(count?: number): Promise<ReadableSpan[]>;
  /** Ended spans whose parent is `span`. */
  childrenOf(span: ReadableSpan): ReadableSpan[];
}

export function startRecordingSdk(): RecordingSdk {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  const servers = (): ReadableSpan[] => exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
  return {
    exporter,
    provider,
    serverSpans: (count = 1) => waitFor(servers, (spans) => spans.length >= count),
    childrenOf: (span) => exporter.getFinishedSpans().filter((child) => child.parentSpanContext?.spanId === span.spanContext().spanId),
  };
}

export function durationMs([seconds, nanos]: HrTime): number {
  return seconds * 1e3 + nanos / 1e6;
}
