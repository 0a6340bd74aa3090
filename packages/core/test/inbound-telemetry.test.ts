/**
 * The tracer and histogram the inbound path asks for on every request: they follow whatever the
 * API's own getters (`trace.getTracerProvider()`, `metrics.getMeterProvider()`) would answer, as
 * providers are registered, replaced and disabled after the first request, and when the API
 * refuses what another copy registered.
 */
import { metrics, ProxyTracerProvider, trace, type TracerProvider } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { InboundTelemetry } from '../src/inbound/telemetry';
import { TestReader } from './inbound-support';

const API_GLOBALS_KEY = Symbol.for('opentelemetry.js.api.1');
/** The API's globals object: registering once makes it, with this copy's version, and it stays. */
const registry = (() => {
  trace.setGlobalTracerProvider(new BasicTracerProvider());
  trace.disable();
  return (globalThis as unknown as Record<symbol, { version: string; trace?: TracerProvider }>)[API_GLOBALS_KEY]!;
})();

function recordingProvider(): { provider: BasicTracerProvider; exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  return { provider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }), exporter };
}

/** The count of duration points the reader collected for the histogram. */
async function recordedCount(reader: TestReader): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === 'http.server.request.duration');
  return metric === undefined ? 0 : (metric.dataPoints as { value: { count: number } }[]).reduce((sum, point) => sum + point.value.count, 0);
}

afterEach(() => {
  trace.disable();
  metrics.disable();
});

it('has no tracer and no histogram with no SDK registered', () => {
  const telemetry = new InboundTelemetry('@ctxprop/test', '0.0.0');
  expect(telemetry.tracer()).toBeUndefined();
  expect(telemetry.histogram()).toBeUndefined();
});

it('follows a tracer provider registered after the first request, disabled, and replaced by another', () => {
  const telemetry = new InboundTelemetry('@ctxprop/test', '0.0.0');
  expect(telemetry.tracer()).toBeUndefined();

  const first = recordingProvider();
  trace.setGlobalTracerProvider(first.provider);
  telemetry.tracer()!.startSpan('one').end();
  expect(first.exporter.getFinishedSpans().map((span) => [span.name, span.instrumentationScope.name])).toEqual([['one', '@ctxprop/test']]);

  trace.disable();
  expect(telemetry.tracer()).toBeUndefined();

  const second = recordingProvider();
  trace.setGlobalTracerProvider(second.provider);
  telemetry.tracer()!.startSpan('two').end();
  expect(second.exporter.getFinishedSpans().map((span) => span.name)).toEqual(['two']);
  expect(first.exporter.getFinishedSpans()).toHaveLength(1);
});

it('follows a tracer provider another copy of the API registered, unless the API refuses its version', () => {
  // Another copy registers its own proxy, delegating to its SDK, in the shared globals object.
  const { provider, exporter } = recordingProvider();
  const foreign = new ProxyTracerProvider();
  foreign.setDelegate(provider);
  const saved = registry.version;
  registry.trace = foreign;
  try {
    expect(trace.getTracerProvider()).toBe(foreign);
    new InboundTelemetry('@ctxprop/test', '0.0.0').tracer()!.startSpan('accepted').end();
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['accepted']);

    registry.version = '1.0.0'; // an older API 1.x, which this one refuses
    expect(trace.getTracerProvider()).not.toBe(foreign);
    expect(new InboundTelemetry('@ctxprop/test', '0.0.0').tracer()).toBeUndefined();
  } finally {
    registry.version = saved;
    delete registry.trace;
  }
});

it('follows a meter provider registered after the first request, disabled, and replaced by another', async () => {
  const telemetry = new InboundTelemetry('@ctxprop/test', '0.0.0');
  expect(telemetry.histogram()).toBeUndefined();

  const firstReader = new TestReader();
  const first = new MeterProvider({ readers: [firstReader] });
  metrics.setGlobalMeterProvider(first);
  telemetry.histogram()!.record(0.01);
  expect(await recordedCount(firstReader)).toBe(1);

  metrics.disable();
  expect(telemetry.histogram()).toBeUndefined();

  const secondReader = new TestReader();
  const second = new MeterProvider({ readers: [secondReader] });
  metrics.setGlobalMeterProvider(second);
  telemetry.histogram()!.record(0.02);
  telemetry.histogram()!.record(0.03);
  expect(await recordedCount(secondReader)).toBe(2);
  expect(await recordedCount(firstReader)).toBe(1);
  await Promise.all([first.shutdown(), second.shutdown()]);
});
