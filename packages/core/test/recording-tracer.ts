// Test support: the OpenTelemetry SDK (2.x line) recording spans in memory for one test file: an
// AsyncLocalStorage context manager and a BasicTracerProvider registered before the file's tests,
// the exporter emptied before each test, everything unregistered after the last.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Registers the recording SDK around the calling test file's tests; returns its exporter and provider. */
export function useRecordingTracer(): { exporter: InMemorySpanExporter; provider: BasicTracerProvider } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());
  return { exporter, provider };
}
