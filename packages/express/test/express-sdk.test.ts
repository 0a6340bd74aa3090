// With the OpenTelemetry SDK (2.x BasicTracerProvider, InMemorySpanExporter, the AsyncLocalStorage
// context manager) and a MeterProvider: the SERVER span tree, attributes and status, trust modes,
// outbound CLIENT spans and the request-duration histogram.
import { request as httpRequest } from 'node:http';
import request from 'supertest';
import { context, metrics, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ctxprop } from '@ctxprop/express';
// The metric reader core's inbound tests collect with: one definition for both packages.
import { TestReader } from '../../core/test/inbound-support';
import { buildApp, echoApp, EXPRESS_VERSIONS, INBOUND_SPAN_ID, INBOUND_TRACE_ID, INBOUND_TRACEPARENT, listen, type Running } from './support/apps';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const reader = new TestReader();
const meterProvider = new MeterProvider({ readers: [reader] });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  metrics.setGlobalMeterProvider(meterProvider);
});

afterAll(async () => {
  await provider.shutdown();
  await meterProvider.shutdown();
  trace.disable();
  metrics.disable();
  context.disable();
});

beforeEach(() => {
  exporter.reset();
});

/** Waits until `count` spans of `scope` have ended (spans end on the response's 'finish'). */
async function finishedSpans(count: number, scope = '@ctxprop/express'): Promise<ReadableSpan[]> {
  for (let i = 0; i < 100; i++) {
    const spans = exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === scope);
    if (spans.length >= count) return spans;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`expected ${count} finished spans of ${scope}, got ${exporter.getFinishedSpans().length} in all`);
}

describe.each(EXPRESS_VERSIONS)('%s with the OpenTelemetry SDK', (_name, express) => {
  let app: Running;
  let downstream: Running;
  let port: number;

  beforeAll(async () => {
    downstream = await listen(echoApp(express));
    app = await listen(
      buildApp(express, { spanAttributesFromBaggage: ['customer.tier', 'added'] }, { downstreamUrl: () => downstream.url }),
    );
    port = Number(new URL(app.url).port);
  });

  afterAll(async () => {
    await app.close();
    await downstream.close();
  });

  it("makes one SERVER span, child of the caller's span, named by the route template, with the semconv attributes", async () => {
    const response = await request(app.url)
      .get('/api/users/42?expand=true')
      .set('traceparent', INBOUND_TRACEPARENT)
      .set('baggage', 'customer.tier=gold,other=x')
      .set('user-agent', 'ctxprop-test/1.0')
      .expect(200);
    const [span] = await finishedSpans(1);
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.name).toBe('GET /api/users/:id');
    expect(span!.spanContext().traceId).toBe(INBOUND_TRACE_ID);
    expect(span!.parentSpanContext).toMatchObject({ traceId: INBOUND_TRACE_ID, spanId: INBOUND_SPAN_ID, isRemote: true });
    expect(span!.attributes).toEqual({
      'http.request.method': 'GET',
      'url.path': '/api/users/42',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': port,
      'user_agent.original': 'ctxprop-test/1.0',
      'client.address': '127.0.0.1',
      'url.query': 'expand=true',
      'network.protocol.version': '1.1',
      'network.peer.address': '127.0.0.1',
      'network.peer.port': expect.any(Number),
      'http.route': '/api/users/:id',
      'http.response.status_code': 200,
      'customer.tier': 'gold',
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    // The handler ran inside the server span.
    expect(response.body.handler).toEqual({ tier: 'gold', traceId: INBOUND_TRACE_ID, spanId: span!.spanContext().spanId });
  });

  it('gives req.traceContext the ids of the server span', async () => {
    const response = await request(app.url).get('/sync').set('traceparent', INBOUND_TRACEPARENT).expect(200);
    const [span] = await finishedSpans(1);
    const spanId = span!.spanContext().spanId;
    expect(response.body.traceContext).toMatchObject({ traceId: INBOUND_TRACE_ID, spanId, sampled: true, traceparent: `00-${INBOUND_TRACE_ID}-${spanId}-01` });
  });

  it('starts a new trace when the request carries none', async () => {
    // The test's own client call would get a root CLIENT span from outbound propagation (as
    // instrumentation-http's would) and send its traceparent: suppress that, as exporters do.
    await context.with(suppressTracing(ROOT_CONTEXT), () => Promise.resolve(request(app.url).get('/api/').expect(200)));
    const [span] = await finishedSpans(1);
    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.name).toBe('GET /api');
  });

  it('names the span by the method alone when no route matched (404)', async () => {
    await request(app.url).get('/no/such/path').expect(404);
    const [span] = await finishedSpans(1);
    expect(span!.name).toBe('GET');
    expect(span!.attributes['http.route']).toBeUndefined();
    expect(span!.attributes['http.response.status_code']).toBe(404);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('records the exception a handler throws, with error status and error.type', async () => {
    await request(app.url).get('/throw').expect(500);
    const [span] = await finishedSpans(1);
    expect(span!.name).toBe('GET /throw');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes['error.type']).toBe('TypeError');
    expect(span!.attributes['http.response.status_code']).toBe(500);
    expect(span!.events).toHaveLength(1);
    expect(span!.events[0]!.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'sync boom' });
  });

  it('records an async rejection handed to next(err)', async () => {
    await request(app.url).get('/reject').expect(500);
    const [span] = await finishedSpans(1);
    expect(span!.attributes['error.type']).toBe('RangeError');
    expect(span!.events[0]!.attributes?.['exception.message']).toBe('async boom');
  });

  it('sets error status for a 5xx response without an exception, and not for a 4xx', async () => {
    await request(app.url).get('/status/503').expect(503);
    await request(app.url).get('/status/429').expect(429);
    const spans = await finishedSpans(2);
    const byStatus = new Map(spans.map((span) => [span.attributes['http.response.status_code'], span]));
    expect(byStatus.get(503)!.status.code).toBe(SpanStatusCode.ERROR);
    expect(byStatus.get(503)!.attributes['error.type']).toBe('503');
    expect(byStatus.get(429)!.status.code).toBe(SpanStatusCode.UNSET);
    expect(byStatus.get(429)!.attributes['error.type']).toBeUndefined();
  });

  it('names a body-parsing route and copies baggage added with req.setBaggage() onto the span', async () => {
    await request(app.url).post('/json').send({ a: 1 }).expect(200);
    await request(app.url).get('/set-baggage').expect(200);
    const spans = await finishedSpans(2);
    expect(spans.map((span) => span.name).sort()).toEqual(['GET /set-baggage', 'POST /json']);
    expect(spans.find((span) => span.name === 'GET /set-baggage')!.attributes['added']).toBe('yes');
  });

  it("propagates the server span to an outbound fetch, through ctxprop's CLIENT span", async () => {
    const response = await request(app.url).get('/outbound').set('traceparent', INBOUND_TRACEPARENT).set('baggage', 'customer.tier=gold').expect(200);
    const [server] = await finishedSpans(1);
    const sent = String(response.body.downstream.traceparent).split('-');
    expect(sent[1]).toBe(INBOUND_TRACE_ID);
    const client = exporter.getFinishedSpans().find((span) => span.spanContext().spanId === sent[2]);
    expect(client).toBeDefined();
    expect(client!.kind).toBe(SpanKind.CLIENT);
    expect(client!.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
    expect(server!.parentSpanContext?.spanId).toBe(INBOUND_SPAN_ID);
    expect(response.body.downstream.baggage).toBe('customer.tier=gold');
  });

  it("ends the span in error with error.type 'aborted' when the client goes away", async () => {
    const slow = express();
    slow.use(ctxprop({ outbound: false }));
    slow.get('/slow', (_req, res) => {
      setTimeout(() => {
        if (!res.destroyed) res.send('late');
      }, 300);
    });
    const server = await listen(slow);
    try {
      await new Promise<void>((resolve) => {
        const req = httpRequest(`${server.url}/slow`);
        req.on('error', () => resolve());
        req.end();
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 50);
      });
      const [span] = await finishedSpans(1);
      expect(span!.name).toBe('GET /slow');
      expect(span!.attributes['error.type']).toBe('aborted');
      expect(span!.attributes['http.response.status_code']).toBeUndefined();
      expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      await server.close();
    }
  });

  it('takes url.path, server.address and server.port of a request sent in absolute form from its target (RFC 9112 §3.2.2)', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      // The request line a client sends to a proxy: `GET http://api.example.com:81/api/users/7?x=1`.
      const req = httpRequest({ host: '127.0.0.1', port, path: 'http://api.example.com:81/api/users/7?x=1', headers: { host: 'ignored.example.net' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    const [span] = await finishedSpans(1);
    expect(span!.attributes).toMatchObject({ 'url.path': '/api/users/7', 'url.query': 'x=1', 'server.address': 'api.example.com', 'server.port': 81, 'http.route': '/api/users/:id' });
  });

  it('starts a new trace for a request without traceparent on a server started inside a span, and takes none of its baggage', async () => {
    const startup = provider.getTracer('app').startSpan('startup');
    const startupContext = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, startup), propagation.createBaggage({ 'customer.tier': { value: 'startup' } }));
    // AsyncLocalStorage hands the server's connections the context listen() was called in.
    const server = await context.with(startupContext, () => listen(buildApp(express, { outbound: false, spanAttributesFromBaggage: ['customer.tier'] })));
    startup.end();
    try {
      // Without the test client's own CLIENT span and traceparent (see 'starts a new trace when the request carries none').
      const response = await context.with(suppressTracing(ROOT_CONTEXT), () => Promise.resolve(request(server.url).get('/sync').expect(200)));
      const [span] = await finishedSpans(1);
      expect(span!.parentSpanContext).toBeUndefined();
      expect(span!.spanContext().traceId).not.toBe(startup.spanContext().traceId);
      expect(span!.attributes['customer.tier']).toBeUndefined();
      expect(response.body.view).toEqual({});
    } finally {
      await server.close();
    }
  });

  it("puts only http or https in url.scheme: another X-Forwarded-Proto from a trusted proxy falls back to the connection's (no metric series per value)", async () => {
    const trusting = buildApp(express, { outbound: false });
    trusting.set('trust proxy', true);
    const server = await listen(trusting);
    try {
      for (const proto of ['attacker-1, https', 'attacker-2', 'HTTPS', 'javascript']) {
        await request(server.url).get('/sync').set('x-forwarded-proto', proto).expect(200);
      }
      const spans = await finishedSpans(4);
      expect(spans.map((span) => span.attributes['url.scheme']).sort()).toEqual(['http', 'http', 'http', 'https']);
    } finally {
      await server.close();
    }
  });

  it("takes url.scheme, client.address and server.address from X-Forwarded-* only when the app's 'trust proxy' says so", async () => {
    const trusting = buildApp(express, { outbound: false });
    trusting.set('trust proxy', 'loopback');
    const servers = [await listen(buildApp(express, { outbound: false })), await listen(trusting)];
    try {
      for (const server of servers) {
        await request(server.url)
          .get('/sync')
          .set('x-forwarded-for', '203.0.113.7')
          .set('x-forwarded-proto', 'https')
          .set('x-forwarded-host', 'shop.example.com:8443, proxy.internal')
          .expect(200);
      }
      const spans = await finishedSpans(2);
      const attributes = spans.map((span) => span.attributes);
      // Untrusted: the socket's view; the Host header names the server.
      expect(attributes).toContainEqual(
        expect.objectContaining({ 'client.address': '127.0.0.1', 'url.scheme': 'http', 'server.address': '127.0.0.1', 'server.port': Number(new URL(servers[0]!.url).port) }),
      );
      // Trusted: the proxy's view; the first X-Forwarded-Host names the server, as Express's req.host reads it.
      expect(attributes).toContainEqual(
        expect.objectContaining({ 'client.address': '203.0.113.7', 'url.scheme': 'https', 'server.address': 'shop.example.com', 'server.port': 8443 }),
      );
    } finally {
      for (const server of servers) await server.close();
    }
  });

  it('makes one span when an app and its mounted sub-app both use ctxprop', async () => {
    const sub = express();
    sub.use(ctxprop({ outbound: false }));
    sub.get('/inner/:id', (req, res) => res.json({ tier: req.baggage.get('customer.tier'), traceId: req.traceContext?.traceId }));
    const outer = express();
    outer.use(ctxprop({ outbound: false }));
    outer.use('/sub', sub);
    const server = await listen(outer);
    try {
      const response = await request(server.url).get('/sub/inner/1').set('traceparent', INBOUND_TRACEPARENT).set('baggage', 'customer.tier=gold').expect(200);
      expect(response.body).toEqual({ tier: 'gold', traceId: INBOUND_TRACE_ID });
      const spans = await finishedSpans(1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === '@ctxprop/express')).toHaveLength(1);
      expect(spans[0]!.name).toBe('GET /sub/inner/:id');
    } finally {
      await server.close();
    }
  });

  it("with trust 'link' starts a new trace whose root span links to the caller's span", async () => {
    const server = await listen(buildApp(express, { outbound: false, trust: 'link' }));
    try {
      const response = await request(server.url).get('/sync').set('traceparent', INBOUND_TRACEPARENT).set('baggage', 'customer.tier=gold').expect(200);
      const [span] = await finishedSpans(1);
      expect(span!.spanContext().traceId).not.toBe(INBOUND_TRACE_ID);
      expect(span!.parentSpanContext).toBeUndefined();
      expect(span!.links.map((link) => link.context)).toEqual([expect.objectContaining({ traceId: INBOUND_TRACE_ID, spanId: INBOUND_SPAN_ID })]);
      // Linked, not untrusted: the baggage stays (opentelemetry-js-contrib #2772).
      expect(response.body.handler.tier).toBe('gold');
      expect(response.body.handler.traceId).toBe(span!.spanContext().traceId);
    } finally {
      await server.close();
    }
  });

  it("with trust 'ignore' starts a new trace without a link", async () => {
    const server = await listen(buildApp(express, { outbound: false, trust: 'ignore' }));
    try {
      await request(server.url).get('/sync').set('traceparent', INBOUND_TRACEPARENT).expect(200);
      const [span] = await finishedSpans(1);
      expect(span!.spanContext().traceId).not.toBe(INBOUND_TRACE_ID);
      expect(span!.links).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe('the http.server.request.duration histogram of Express requests', () => {
  it('is recorded with method, route, status, error type, scheme and the allowlisted baggage keys', async () => {
    const [, express] = EXPRESS_VERSIONS[0]!;
    const server = await listen(buildApp(express, { outbound: false, spanAttributesFromBaggage: ['customer.tier'] }));
    try {
      await request(server.url).get('/api/users/1').set('baggage', 'customer.tier=gold,x=1').expect(200);
      await request(server.url).get('/status/502').expect(502);
      await finishedSpans(2);
      const { resourceMetrics } = await reader.collect();
      const metric = resourceMetrics.scopeMetrics
        .filter((scopeMetrics) => scopeMetrics.scope.name === '@ctxprop/express')
        .flatMap((scopeMetrics) => scopeMetrics.metrics)
        .find((m) => m.descriptor.name === 'http.server.request.duration') as HistogramMetricData;
      expect(metric.descriptor.unit).toBe('s');
      const attributes = metric.dataPoints.map((point) => point.attributes);
      expect(attributes).toEqual(
        expect.arrayContaining([
          {
            'http.request.method': 'GET',
            'url.scheme': 'http',
            'http.route': '/api/users/:id',
            'http.response.status_code': 200,
            'network.protocol.version': '1.1',
            'customer.tier': 'gold',
          },
          {
            'http.request.method': 'GET',
            'url.scheme': 'http',
            'http.route': '/status/:code',
            'http.response.status_code': 502,
            'error.type': '502',
            'network.protocol.version': '1.1',
          },
        ]),
      );
    } finally {
      await server.close();
    }
  });
});
