/**
 * OpenTelemetry SDK registered (2.x line, InMemorySpanExporter): one SERVER span per request,
 * named `{METHOD} {route}`, with the HTTP semantic-convention attributes, error status for 5xx,
 * continuing the inbound trace (issue #3, "What each does on every request" 3).
 * Expected values: https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-server
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS, FRAMEWORKS_WITH_OLDEST, listen, PARENT_ID, startDownstream, TRACE_ID, TRACEPARENT, waitFor, type Downstream } from './support/frameworks';
import { startRecordingSdk } from './support/sdk';

const sdk = startRecordingSdk();

afterAll(() => sdk.provider.shutdown());

describe.each(FRAMEWORKS_WITH_OLDEST)('%s', (_framework, createApp) => {
  let app: FastifyInstance;
  let downstream: Downstream;
  let slowDone: Promise<void>;

  beforeEach(async () => {
    sdk.exporter.reset();
    // The aborted request's connection is not idle when the test ends: close it with the app.
    app = createApp({ forceCloseConnections: true });
    downstream = await startDownstream();
    await app.register(ctxprop);
    app.post('/orders/:id', async (request, reply) => reply.code(201).send({ id: (request.params as { id: string }).id, body: request.body }));
    app.get('/boom', async () => {
      throw new TypeError('boom');
    });
    let markSlowDone!: () => void;
    slowDone = new Promise<void>((resolve) => (markSlowDone = resolve));
    app.get('/slow', async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      setImmediate(markSlowDone);
      return 'late';
    });
    app.get('/child', async (request) => {
      const tracer = trace.getTracer('test');
      await tracer.startActiveSpan('work', async (span) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        span.end();
      });
      await fetch(downstream.url);
      return request.traceContext ?? null;
    });
  });

  afterEach(async () => {
    await app.close();
    await downstream.close();
  });

  test("url.scheme is only http or https: another X-Forwarded-Proto behind trustProxy falls back to the connection's", async () => {
    const trusting = createApp({ trustProxy: true });
    await trusting.register(ctxprop, { outbound: false });
    trusting.get('/scheme', async () => 'ok');
    const url = await listen(trusting);
    try {
      for (const proto of ['attacker-1', 'https, attacker-2', 'HTTPS']) {
        const response = await fetch(`${url}/scheme`, { headers: { 'x-forwarded-proto': proto } });
        expect(response.status).toBe(200);
      }
      const spans = await sdk.serverSpans(3);
      expect(spans.map((span) => span.attributes['url.scheme']).sort()).toEqual(['http', 'http', 'https']);
    } finally {
      await trusting.close();
    }
  });

  test('a routed request records one SERVER span named "{METHOD} {route}" with the HTTP attributes, child of the inbound parent', async () => {
    const base = await listen(app);
    const { port } = app.server.address() as AddressInfo;

    const response = await fetch(`${base}/orders/42?page=2`, {
      method: 'POST',
      headers: { traceparent: TRACEPARENT, 'content-type': 'application/json', 'user-agent': 'ctxprop-test/1.0' },
      body: JSON.stringify({ item: 'book' }),
    });
    expect(response.status).toBe(201);
    const [span, ...others] = await sdk.serverSpans();

    expect(others).toHaveLength(0);
    expect(span!.name).toBe('POST /orders/:id');
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.spanContext().traceId).toBe(TRACE_ID);
    expect(span!.parentSpanContext).toEqual(expect.objectContaining({ traceId: TRACE_ID, spanId: PARENT_ID, isRemote: true }));
    expect(span!.attributes).toEqual(
      expect.objectContaining({
        'http.request.method': 'POST',
        'url.path': '/orders/42',
        'url.scheme': 'http',
        'http.route': '/orders/:id',
        'http.response.status_code': 201,
        'server.address': '127.0.0.1',
        'user_agent.original': 'ctxprop-test/1.0',
        'client.address': '127.0.0.1',
        'url.query': 'page=2',
        'network.protocol.version': '1.1',
        'network.peer.address': '127.0.0.1',
      }),
    );
    expect(span!.attributes['server.port'] ?? port).toBe(port);
    expect(span!.attributes['error.type']).toBeUndefined();
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  });

  test('with app.inject() the span has the same name, route and status code', async () => {
    const response = await app.inject({ method: 'POST', url: '/orders/7', headers: { traceparent: TRACEPARENT }, payload: { item: 'pen' } });
    expect(response.statusCode).toBe(201);
    const [span] = await sdk.serverSpans();

    expect(span!.name).toBe('POST /orders/:id');
    expect(span!.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(span!.attributes).toEqual(
      expect.objectContaining({ 'http.request.method': 'POST', 'url.path': '/orders/7', 'http.route': '/orders/:id', 'http.response.status_code': 201 }),
    );
  });

  test('a route of a plugin registered with a prefix is named by its full template', async () => {
    await app.register(
      async (api) => {
        api.get('/items/:sku', async () => 'ok');
      },
      { prefix: '/api/v1' },
    );
    await app.inject({ method: 'GET', url: '/api/v1/items/abc' });
    const [span] = await sdk.serverSpans();

    expect(span!.name).toBe('GET /api/v1/items/:sku');
    expect(span!.attributes['http.route']).toBe('/api/v1/items/:sku');
  });

  test('without an inbound trace the SERVER span starts a new trace (a root span)', async () => {
    await app.inject({ method: 'POST', url: '/orders/1', payload: {} });
    const [span] = await sdk.serverSpans();

    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span!.spanContext().traceId).not.toBe(TRACE_ID);
  });

  test('a 5xx sets error status and error.type, and the thrown exception is recorded', async () => {
    const base = await listen(app);

    const response = await fetch(`${base}/boom`, { headers: { traceparent: TRACEPARENT } });
    expect(response.status).toBe(500);
    const [span] = await sdk.serverSpans();

    expect(span!.name).toBe('GET /boom');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes['http.response.status_code']).toBe(500);
    // https://opentelemetry.io/docs/specs/semconv/attributes-registry/error/: the exception type
    // when one is known, otherwise the status code as a string.
    expect(['TypeError', '500']).toContain(span!.attributes['error.type']);
    const exception = span!.events.find((event) => event.name === 'exception');
    expect(exception?.attributes).toEqual(expect.objectContaining({ 'exception.type': 'TypeError', 'exception.message': 'boom' }));
  });

  test('a 404 (no route) is named by the method alone, has no http.route, and is not an error', async () => {
    const response = await app.inject({ method: 'GET', url: '/nowhere/123', headers: { traceparent: TRACEPARENT } });
    expect(response.statusCode).toBe(404);
    const [span] = await sdk.serverSpans();

    // Semconv: "{method} {target}" only when a low-cardinality route is known, else "{method}".
    expect(span!.name).toBe('GET');
    expect(span!.attributes['http.route']).toBeUndefined();
    expect(span!.attributes['http.response.status_code']).toBe(404);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  });

  test('spans started in the handler and outbound calls are children of the SERVER span', async () => {
    const base = await listen(app);

    const response = await fetch(`${base}/child`, { headers: { traceparent: TRACEPARENT } });
    const traceContext = (await response.json()) as { traceId: string; spanId: string };
    const [server] = await sdk.serverSpans();
    const children = await waitFor(() => sdk.childrenOf(server!), (spans) => spans.some((span) => span.name === 'work'));

    expect(traceContext).toEqual(expect.objectContaining({ traceId: TRACE_ID, spanId: server!.spanContext().spanId }));
    expect(children.map((span) => span.name)).toContain('work');
    expect(downstream.received).toHaveLength(1);
    const [, traceId, parentId] = String(downstream.received[0]!.traceparent).split('-');
    expect(traceId).toBe(TRACE_ID);
    // The downstream parent is the SERVER span itself or a CLIENT span under it, never the inbound parent.
    const ownIds = [server!, ...sdk.childrenOf(server!)].map((span) => span.spanContext().spanId);
    expect(ownIds).toContain(parentId);
  });

  test('the SERVER span ends when the client aborts', async () => {
    const base = await listen(app);
    const controller = new AbortController();

    const request = fetch(`${base}/slow`, { headers: { traceparent: TRACEPARENT }, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(request).rejects.toThrow();
    const [span] = await sdk.serverSpans();

    expect(span!.name).toBe('GET /slow');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes['error.type']).toBe('aborted');
    expect(span!.attributes['http.response.status_code']).toBeUndefined();
    // Let the handler finish writing to the closed connection before the app closes.
    await slowDone;
  });
});

// Fastify 4.7 keeps no URL from before rewriteUrl (4.29 and 5 keep it as request.originalUrl).
describe.each(FRAMEWORKS)('%s with rewriteUrl', (_framework, createApp) => {
  beforeEach(() => sdk.exporter.reset());

  test('url.path and url.query are those the request came with, not a rewriteUrl rewrite of them', async () => {
    const rewriting = createApp({ logger: false, rewriteUrl: (request: { url?: string }) => (request.url ?? '/').replace(/^\/old\//, '/new/') } as never);
    await rewriting.register(ctxprop, { outbound: false });
    rewriting.get('/new/:id', async () => 'moved');
    try {
      const response = await rewriting.inject({ method: 'GET', url: '/old/5?x=1' });
      expect(response.body).toBe('moved');
      const [span] = await sdk.serverSpans();
      expect(span!.attributes).toEqual(expect.objectContaining({ 'url.path': '/old/5', 'url.query': 'x=1', 'http.route': '/new/:id' }));
    } finally {
      await rewriting.close();
    }
  });
});
