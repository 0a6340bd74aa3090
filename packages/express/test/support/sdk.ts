// The OpenTelemetry SDK for the tests that assert spans and the request-duration histogram
// exactly: a tracer provider with an InMemorySpanExporter, and a MeterProvider made afresh before
// each test, so that a test collects only the data points of its own requests.
import { context, metrics, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { TestReader } from '../../../core/test/inbound-support';

export interface TestSdk {
  readonly exporter: InMemorySpanExporter;
  /** Waits until `count` spans of `@ctxprop/express` have ended (they end when the response closes). */
  finishedSpans(count: number): Promise<ReadableSpan[]>;
  /** The attributes of each `http.server.request.duration` data point recorded in this test. */
  durationPoints(): Promise<Attributes[]>;
}

/** Registers the SDK for the test file (call it at the top level of the file). */
export function useSdk(): TestSdk {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let reader = new TestReader();
  let meterProvider: MeterProvider | undefined;

  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });

  beforeEach(async () => {
    exporter.reset();
    await meterProvider?.shutdown();
    metrics.disable();
    reader = new TestReader();
    meterProvider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(meterProvider);
  });

  afterAll(async () => {
    await provider.shutdown();
    await meterProvider?.shutdown();
    trace.disable();
    metrics.disable();
    context.disable();
  });

  return {
    exporter,
    async finishedSpans(count: number): Promise<ReadableSpan[]> {
      for (let i = 0; i < 200; i++) {
        const spans = exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === '@ctxprop/express');
        if (spans.length >= count) return spans;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      throw new Error(`expected ${count} finished spans of @ctxprop/express, got ${exporter.getFinishedSpans().length} in all`);
    },
    async durationPoints(): Promise<Attributes[]> {
      const { resourceMetrics } = await reader.collect();
      const metric = resourceMetrics.scopeMetrics
        .filter((scopeMetrics) => scopeMetrics.scope.name === '@ctxprop/express')
        .flatMap((scopeMetrics) => scopeMetrics.metrics)
        .find((candidate) => candidate.descriptor.name === 'http.server.request.duration') as HistogramMetricData | undefined;
      return metric === undefined ? [] : metric.dataPoints.map((point) => point.attributes);
    },
  };
}
