/**
 * With an OpenTelemetry MeterProvider registered: the `http.server.request.duration` histogram
 * (issue #3, "What each does on every request" 6), following the HTTP metrics conventions
 * (https://opentelemetry.io/docs/specs/semconv/http/http-metrics/#metric-httpserverrequestduration):
 * unit `s`, the advised buckets, attributes method, scheme, route, status and error type, plus the
 * allowlisted baggage keys. The tracer side here is a BasicTracerProvider with the
 * AsyncLocalStorage context manager registered by hand.
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { DataPointType, MeterProvider, MetricReader, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance } from 'fastify';
import { ctxprop, type CtxpropOptions } from '@ctxprop/fastify';
import { FRAMEWORKS, TRACEPARENT } from './support/frameworks';

class CollectingReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
trace.setGlobalTracerProvider(tracerProvider);

let reader: CollectingReader;
let meterProvider: MeterProvider;

beforeEach(() => {
  metrics.disable();
  reader = new CollectingReader();
  meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
});

afterEach(() => meterProvider.shutdown());

afterAll(() => tracerProvider.shutdown());

async function durationHistogram(): Promise<HistogramMetricData | undefined> {
  const { resourceMetrics } = await reader.collect();
  for (const scope of resourceMetrics.scopeMetrics) {
    if (scope.scope.name !== '@ctxprop/fastify') continue;
    const metric = scope.metrics.find((candidate) => candidate.descriptor.name === 'http.server.request.duration');
    if (metric !== undefined) return metric as HistogramMetricData;
  }
  return undefined;
}

describe.each(FRAMEWORKS)('%s', (_framework, createApp) => {
  let app: FastifyInstance;

  async function build(options: CtxpropOptions = {}): Promise<void> {
    app = createApp();
    await app.register(ctxprop, options);
    app.get('/orders/:id', async () => ({ ok: true }));
    app.get('/boom', async () => {
      throw new RangeError('boom');
    });
  }

  afterEach(() => app.close());

  test('records http.server.request.duration in seconds with the advised buckets and one series per method, route and status', async () => {
    await build();
    await app.inject({ method: 'GET', url: '/orders/1', headers: { traceparent: TRACEPARENT } });
    await app.inject({ method: 'GET', url: '/orders/2' });
    await app.inject({ method: 'GET', url: '/boom' });
    await app.inject({ method: 'GET', url: '/missing' });

    const histogram = await durationHistogram();

    expect(histogram?.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(histogram?.descriptor.unit).toBe('s');
    const points = histogram!.dataPoints.map((point) => ({ attributes: point.attributes, count: point.value.count }));
    expect(points).toHaveLength(3);
    expect(points).toEqual(
      expect.arrayContaining([
        {
          attributes: { 'http.request.method': 'GET', 'url.scheme': 'http', 'http.route': '/orders/:id', 'http.response.status_code': 200, 'network.protocol.version': '1.1' },
          count: 2,
        },
        {
          attributes: {
            'http.request.method': 'GET',
            'url.scheme': 'http',
            'http.route': '/boom',
            'http.response.status_code': 500,
            'error.type': expect.stringMatching(/^(RangeError|500)$/),
            'network.protocol.version': '1.1',
          },
          count: 1,
        },
        { attributes: { 'http.request.method': 'GET', 'url.scheme': 'http', 'http.response.status_code': 404, 'network.protocol.version': '1.1' }, count: 1 },
      ]),
    );
    expect(histogram!.dataPoints[0]!.value.buckets.boundaries).toEqual([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);
    for (const point of histogram!.dataPoints) {
      expect(point.value.min).toBeGreaterThanOrEqual(0);
      // Each request here takes milliseconds: a duration in milliseconds would be far above 1.
      expect(point.value.max).toBeLessThan(1);
    }
  });

  test('the allowlisted baggage keys become histogram attributes too', async () => {
    await build({ spanAttributesFromBaggage: ['customer.tier'] });
    await app.inject({ method: 'GET', url: '/orders/1', headers: { baggage: 'customer.tier=gold,user.id=alice' } });

    const histogram = await durationHistogram();

    expect(histogram!.dataPoints).toHaveLength(1);
    expect(histogram!.dataPoints[0]!.attributes).toEqual(expect.objectContaining({ 'customer.tier': 'gold', 'http.route': '/orders/:id' }));
    expect(histogram!.dataPoints[0]!.attributes['user.id']).toBeUndefined();
  });

  test('`metrics: false` records no histogram', async () => {
    await build({ metrics: false });
    await app.inject({ method: 'GET', url: '/orders/1' });

    const histogram = await durationHistogram();

    expect(histogram?.dataPoints ?? []).toHaveLength(0);
  });
});
