// The diagnostics counters as an OpenTelemetry metric: `ctxprop.propagation.events` (an
// observable counter, unit `{event}`, one series per `ctxprop.event`), read through a real
// MeterProvider and metric reader.
import { DataPointType, MeterProvider, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { countDiagnostic, registerDiagnosticsMetrics, resetDiagnostics } from '@ctxprop/core';
import { TestReader } from './inbound-support';

const reader = new TestReader();
const provider = new MeterProvider({ readers: [reader] });

beforeAll(() => {
  resetDiagnostics();
  registerDiagnosticsMetrics(provider.getMeter('@ctxprop/core'));
});

afterAll(() => provider.shutdown());

async function collect(): Promise<{ metric: SumMetricData; points: Record<string, number> }> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === 'ctxprop.propagation.events') as SumMetricData;
  const points = Object.fromEntries(metric.dataPoints.map((point) => [String(point.attributes['ctxprop.event']), point.value]));
  return { metric, points };
}

describe('the ctxprop.propagation.events metric', () => {
  it('is a monotonic sum in {event}, one series per event, with the counts', async () => {
    countDiagnostic('extract.trace.malformed', 3);
    countDiagnostic('inject.baggage.withheld');
    const { metric, points } = await collect();
    expect(metric.dataPointType).toBe(DataPointType.SUM);
    expect(metric.isMonotonic).toBe(true);
    expect(metric.descriptor.unit).toBe('{event}');
    expect(metric.descriptor.description).not.toBe('');
    expect(points).toEqual({ 'extract.trace.malformed': 3, 'inject.baggage.withheld': 1 });
  });

  it('counts from zero after resetDiagnostics(), also for the events not counted again', async () => {
    countDiagnostic('extract.trace.malformed', 7);
    expect((await collect()).points['extract.trace.malformed']).toBe(10);
    resetDiagnostics();
    countDiagnostic('inject.baggage.withheld', 2);
    const { points } = await collect();
    expect(points['extract.trace.malformed']).toBe(0);
    expect(points['inject.baggage.withheld']).toBe(2);
  });

  it('registers once per meter: a second call adds no second callback', async () => {
    resetDiagnostics();
    registerDiagnosticsMetrics(provider.getMeter('@ctxprop/core'));
    countDiagnostic('baggage.invalid_set', 4);
    expect((await collect()).points['baggage.invalid_set']).toBe(4);
  });
});
