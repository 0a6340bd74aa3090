/**
 * The OpenTelemetry SDK (2.x line) recording into memory, with OTel's AsyncLocalStorage context
 * manager, registered globally for one test file.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface RecordingSdk {
  readonly exporter: InMemorySpanExporter;
  readonly provider: BasicTracerProvider;
}

export function startRecordingSdk(): RecordingSdk {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  return { exporter, provider };
}
