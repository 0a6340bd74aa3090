// Alongside OpenTelemetry's own instrumentation-http: it makes the SERVER span (and extracts with
// the global propagator); ctxprop must make no second span and extract nothing again, but name
// the span by the route, add the baggage attributes, apply its baggage rule and propagate from
// that span. instrumentation-http is enabled before http, express and the apps are loaded.
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, suppressTracing, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { MeterProvider, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { TestReader } from '../../core/test/inbound-support';
import type { NextFunction, Request, Response } from 'express';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
// instrumentation-http's own meter only (ctxprop records no histogram alongside it).
const reader = new TestReader();
const meterProvider = new MeterProvider({ readers: [reader] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
const instrumentation = new HttpInstrumentation();
instrumentation.setTracerProvider(provider);
instrumentation.setMeterProvider(meterProvider);
instrumentation.enable();
// instrumentation-http patches `http` from a require-in-the-middle hook on Node's `Module`; jest
// hands test code its own `module` implementation, so that hook never fires here. Apply the
// instrumentation's own patch to the real `http` module, as the hook would on first require.
/* eslint-disable @typescript-eslint/no-require-imports */
const http = require('node:http') as typeof import('node:http');
const httpDefinition = instrumentation.getModuleDefinitions().find((definition) => definition.name === 'http')!;
httpDefinition.patch!(http);

// Loaded only now, so that `http` is patched first.
const request = require('supertest') as typeof import('supertest');
const apps = require('./support/apps') as typeof import('./support/apps');
/* eslint-enable @typescript-eslint/no-require-imports */
const { buildApp, echoApp, EXPRESS_VERSIONS, INBOUND_SPAN_ID, INBOUND_TRACE_ID, INBOUND_TRACEPARENT, listen } = apps;
const { clearPollingTimers, pollingApp } = require('./support/polling') as typeof import('./support/polling');
const { ctxprop, recordErrors } = require('@ctxprop/express') as typeof import('@ctxprop/express');
const { createPooledConnection } = require('../../core/test/pooled-connection') as typeof import('../../core/test/pooled-connection');

afterEach(clearPollingTimers);

afterAll(async () => {
  // The test client's keep-alive sockets: closed now, while instrumentation-http still listens.
  http.globalAgent.destroy();
  await new Promise((resolve) => setTimeout(resolve, 20));
  httpDefinition.unpatch!(http);
  instrumentation.disable();
  await provider.shutdown();
  await meterProvider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

beforeEach(() => {
  exporter.reset();
});

/** Runs a test client call with tracing suppressed: the client's own spans and headers stay out. */
function fromOutside<T>(call: () => PromiseLike<T>): Promise<T> {
  return context.with(suppressTracing(ROOT_CONTEXT), () => Promise.resolve(call()));
}

async function serverSpans(count: number): Promise<ReadableSpan[]> {
  for (let i = 0; i < 100; i++) {
    const spans = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
    if (spans.length >= count) return spans;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`expected ${count} SERVER spans, got ${exporter.getFinishedSpans().length} spans in all`);
}

describe.each(EXPRESS_VERSIONS)('%s with instrumentation-http registered', (_name, express) => {
  it('enriches the one SERVER span instrumentation-http made: route, name, baggage attributes', async () => {
    const app = await listen(buildApp(express, { outbound: false, spanAttributesFromBaggage: ['customer.tier'] }));
    try {
      const response = await fromOutside(() =>
        request(app.url).get('/api/users/42').set('traceparent', INBOUND_TRACEPARENT).set('baggage', 'customer.tier=gold').expect(200),
      );
      const spans = await serverSpans(1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(exporter.getFinishedSpans()).toHaveLength(1);
      const [span] = spans;
      expect(span!.instrumentationScope.name).toBe('@opentelemetry/instrumentation-http');
      expect(span!.name).toBe('GET /api/users/:id');
      expect(span!.attributes['http.route']).toBe('/api/users/:id');
      expect(span!.attributes['customer.tier']).toBe('gold');
      expect(span!.attributes['http.response.status_code']).toBe(200);
      expect(span!.parentSpanContext).toMatchObject({ traceId: INBOUND_TRACE_ID, spanId: INBOUND_SPAN_ID });
      // The handler ran in that span's context.
      expect(response.body.handler).toEqual({ tier: 'gold', traceId: INBOUND_TRACE_ID, spanId: span!.spanContext().spanId });
    } finally {
      await app.close();
    }
  });

  it("names instrumentation-http's span and duration metric by the full route when the request leaves a mounted router with next(err)", async () => {
    const routed = express();
    const middleware = ctxprop({ outbound: false });
    routed.locals['ctxprop'] = middleware;
    routed.use(middleware);
    const api = express.Router();
    api.get('/orders/:id/fail', (_req, _res, next) => next(new Error('db down')));
    routed.use('/api', api);
    routed.use(recordErrors());
    routed.use((_err: Error, _req: Request, res: Response, _next: NextFunction) => {
      res.status(500).send('internal');
    });
    const app = await listen(routed);
    try {
      await fromOutside(() => request(app.url).get('/api/orders/7/fail').expect(500));
      const [span] = await serverSpans(1);
      expect(span!.instrumentationScope.name).toBe('@opentelemetry/instrumentation-http');
      expect(span!.name).toBe('GET /api/orders/:id/fail');
      expect(span!.attributes['http.route']).toBe('/api/orders/:id/fail');
      expect(span!.attributes['http.response.status_code']).toBe(500);
      expect(span!.events.map((event) => event.attributes?.['exception.message'])).toEqual(['db down']);
      const { resourceMetrics } = await reader.collect();
      const points = resourceMetrics.scopeMetrics
        .flatMap((scopeMetrics) => scopeMetrics.metrics)
        .filter((metric) => metric.descriptor.name === 'http.server.request.duration')
        .flatMap((metric) => (metric as HistogramMetricData).dataPoints.map((point) => point.attributes))
        .filter((attributes) => attributes['http.response.status_code'] === 500);
      expect(points).toEqual([
        {
          'http.request.method': 'GET',
          'url.scheme': 'http',
          'network.protocol.version': '1.1',
          'http.route': '/api/orders/:id/fail',
          'http.response.status_code': 500,
          'error.type': '500',
        },
      ]);
    } finally {
      await app.close();
    }
  });

  it("gives req.traceContext the ids of instrumentation-http's span", async () => {
    const app = await listen(buildApp(express, { outbound: false }));
    try {
      const response = await fromOutside(() => request(app.url).get('/sync').set('traceparent', INBOUND_TRACEPARENT).expect(200));
      const [span] = await serverSpans(1);
      expect(response.body.traceContext).toMatchObject({ traceId: INBOUND_TRACE_ID, spanId: span!.spanContext().spanId, isRemote: false });
    } finally {
      await app.close();
    }
  });

  it('still applies its own baggage rule (trust: ignore drops the baggage instrumentation-http extracted)', async () => {
    const app = await listen(buildApp(express, { outbound: false, trust: 'ignore' }));
    try {
      const response = await fromOutside(() => request(app.url).get('/sync').set('baggage', 'customer.tier=platinum').expect(200));
      expect(response.body.view).toEqual({});
      expect(response.body.handler.tier).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it('propagates from that span on an outbound fetch: one tree, no duplicate span', async () => {
    const downstream = await listen(echoApp(express));
    const app = await listen(buildApp(express, {}, { downstreamUrl: () => downstream.url }));
    try {
      const response = await fromOutside(() => request(app.url).get('/outbound').set('traceparent', INBOUND_TRACEPARENT).set('baggage', 'customer.tier=gold').expect(200));
      const servers = await serverSpans(2);
      const upstream = servers.find((span) => span.attributes['http.route'] === '/outbound')!;
      const echo = servers.find((span) => span !== upstream)!;
      expect(upstream.parentSpanContext?.spanId).toBe(INBOUND_SPAN_ID);
      const [, traceId, parentId] = String(response.body.downstream.traceparent).split('-');
      expect(traceId).toBe(INBOUND_TRACE_ID);
      const client = exporter.getFinishedSpans().find((span) => span.spanContext().spanId === parentId)!;
      expect(client.kind).toBe(SpanKind.CLIENT);
      expect(client.parentSpanContext?.spanId).toBe(upstream.spanContext().spanId);
      expect(echo.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
      expect(response.body.downstream.baggage).toBe('customer.tier=gold');
      const clientSpans = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT);
      expect(clientSpans).toHaveLength(1);
    } finally {
      await app.close();
      await downstream.close();
    }
  });

  it("detaches a request's setInterval from instrumentation-http's span once the response has ended", async () => {
    const downstream = await listen(echoApp(express));
    const { app: pollApp, polled } = pollingApp(express, () => downstream.url);
    const app = await listen(pollApp);
    try {
      await fromOutside(() => request(app.url).get('/poll').set('traceparent', INBOUND_TRACEPARENT).set('baggage', 'customer.tier=gold').expect(200));
      const ticks = await polled;
      const [server] = (await serverSpans(1)).filter((span) => span.attributes['http.route'] === '/poll');
      expect(server!.instrumentationScope.name).toBe('@opentelemetry/instrumentation-http');
      const traceOf = (traceparent: string | null) => String(traceparent).split('-')[1];
      expect(ticks.map((tick) => [tick.afterResponse, tick.traceId, tick.tier, traceOf(tick.downstream.traceparent) === INBOUND_TRACE_ID, tick.downstream.baggage])).toEqual([
        [false, INBOUND_TRACE_ID, 'gold', true, 'customer.tier=gold'],
        [false, INBOUND_TRACE_ID, 'gold', true, 'customer.tier=gold'],
        [true, null, null, false, null],
        [true, null, null, false, null],
      ]);
      // The later polls' CLIENT spans are roots of their own traces, not children of the request's span.
      const clients = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT);
      expect(clients.filter((span) => span.parentSpanContext?.spanId === server!.spanContext().spanId)).toHaveLength(2);
      expect(clients.filter((span) => span.parentSpanContext === undefined)).toHaveLength(2);
    } finally {
      await app.close();
      await downstream.close();
    }
  });

  it("puts each request back under instrumentation-http's span after a middleware that called next() from a pooled connection", async () => {
    const downstream = await listen(echoApp(express));
    const pool = await createPooledConnection();
    const pooledApp = express();
    const middleware = ctxprop();
    pooledApp.locals['ctxprop'] = middleware;
    pooledApp.use(middleware);
    pooledApp.use((_req, _res, next) => pool.call(next));
    pooledApp.get('/orders/:id', async (_req, res) => {
      res.json(await (await fetch(`${downstream.url}/echo`)).json());
    });
    const app = await listen(pooledApp);
    try {
      const traceIds = ['a', 'b', 'c'].map((digit) => digit.repeat(32));
      const bodies: Array<{ traceparent: string; baggage: string }> = [];
      // The first request opens the shared connection; the callbacks of the others run in its context.
      for (const [n, traceId] of traceIds.entries()) {
        const response = await fromOutside(() =>
          request(app.url).get(`/orders/${n}`).set('traceparent', `00-${traceId}-${INBOUND_SPAN_ID}-01`).set('baggage', `customer.tier=tier-${n}`).expect(200),
        );
        bodies.push(response.body as { traceparent: string; baggage: string });
      }
      const servers = (await serverSpans(6)).filter((span) => span.attributes['http.route'] === '/orders/:id');
      const clients = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT);
      traceIds.forEach((traceId, n) => {
        const server = servers.find((span) => span.spanContext().traceId === traceId)!;
        expect(server.instrumentationScope.name).toBe('@opentelemetry/instrumentation-http');
        const [, sentTrace, sentParent] = bodies[n]!.traceparent.split('-');
        expect(sentTrace).toBe(traceId);
        expect(bodies[n]!.baggage).toBe(`customer.tier=tier-${n}`);
        const client = clients.find((span) => span.spanContext().spanId === sentParent)!;
        expect(client.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
      });
    } finally {
      await app.close();
      await downstream.close();
      await pool.close();
    }
  });
});
