// With the OpenTelemetry SDK recording: a middleware that calls next() from a pooled connection's
// callback (the connection opened by the first request) must not make later requests' CLIENT spans
// children of that first request's SERVER span, nor send its trace downstream.
import request from 'supertest';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ctxprop } from '@ctxprop/express';
import { createPooledConnection, type PooledConnection } from '../../core/test/pooled-connection';
import { useRecordingTracer } from '../../core/test/recording-tracer';
import { EXPRESS_VERSIONS, listen, type Running } from './support/apps';

const { exporter } = useRecordingTracer();

const traceIdOf = (n: number) => (n + 1).toString(16).padStart(32, '0');

async function spansOfKinds(servers: number, clients: number): Promise<ReadableSpan[]> {
  for (let i = 0; i < 200; i++) {
    const spans = exporter.getFinishedSpans();
    if (spans.filter((span) => span.kind === SpanKind.SERVER).length >= servers && spans.filter((span) => span.kind === SpanKind.CLIENT).length >= clients) return spans;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`expected ${servers} SERVER and ${clients} CLIENT spans, got ${exporter.getFinishedSpans().length} spans in all`);
}

describe.each(EXPRESS_VERSIONS)('%s: a pooled middleware, with the SDK', (_name, express) => {
  let pool: PooledConnection;
  let downstream: Running;
  let server: Running;
  const received: string[] = [];

  beforeEach(async () => {
    received.length = 0;
    pool = await createPooledConnection();
    const recorder = express();
    recorder.use((req, res) => {
      received.push(String(req.headers['traceparent']));
      res.json({ ok: true });
    });
    downstream = await listen(recorder);
    const app = express();
    const middleware = ctxprop();
    app.locals['ctxprop'] = middleware;
    app.use(middleware);
    app.use((_req, _res, next) => pool.call(next));
    app.get('/orders/:id', async (_req, res) => {
      await fetch(`${downstream.url}/downstream`);
      res.json({ ok: true });
    });
    server = await listen(app);
  });

  afterEach(async () => {
    await server.close();
    await downstream.close();
    await pool.close();
  });

  it("makes each request's CLIENT span a child of its own SERVER span, and sends its own trace downstream", async () => {
    const count = 20;
    for (let n = 0; n < count; n++) {
      await request(server.url).get(`/orders/${n}`).set('traceparent', `00-${traceIdOf(n)}-00f067aa0ba902b7-01`).expect(200);
    }
    const spans = await spansOfKinds(count, count);
    const servers = spans.filter((span) => span.kind === SpanKind.SERVER);
    const clients = spans.filter((span) => span.kind === SpanKind.CLIENT);
    expect(clients).toHaveLength(count);
    for (let n = 0; n < count; n++) {
      const own = servers.find((span) => span.spanContext().traceId === traceIdOf(n));
      expect(own?.attributes['http.route']).toBe('/orders/:id');
      const children = clients.filter((span) => span.parentSpanContext?.spanId === own?.spanContext().spanId);
      expect(children).toHaveLength(1);
    }
    expect(received.map((traceparent) => traceparent.slice(3, 35))).toEqual(Array.from({ length: count }, (_, n) => traceIdOf(n)));
  });
});

describe.each(EXPRESS_VERSIONS)('%s: a pooled middleware before ctxprop, with the SDK', (_name, express) => {
  it("gives a request handed on from a connection another request opened its own span and baggage, not that request's", async () => {
    const pool = await createPooledConnection();
    const app = express();
    // A session store's middleware, before ctxprop: next() runs in the context its connection was
    // opened in. /open skips it, and opens the connection in its handler, in its own context.
    app.use((req, _res, next) => (req.path === '/open' ? next() : pool.call(next)));
    const middleware = ctxprop({ outbound: false, spanAttributesFromBaggage: ['who'] });
    app.use(middleware);
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    app.get('/open', (_req, res) => {
      // The connection opens here, in this request's context (after ctxprop set it up); the request
      // stays in flight (its span recording) until the other one is done.
      pool.call(() => void released.then(() => res.json({ opened: true })));
    });
    app.get('/who', (req, res) => {
      res.json({ who: req.baggage.get('who') ?? null, traceId: req.traceContext?.traceId ?? null });
    });
    const server = await listen(app);
    try {
      const opening = request(server.url).get('/open').set('traceparent', `00-${traceIdOf(100)}-00f067aa0ba902b7-01`).set('baggage', 'who=A').then((res) => res.status);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const response = await request(server.url).get('/who').set('baggage', 'who=B').expect(200);
      release();
      expect(await opening).toBe(200);
      expect(response.body).toEqual({ who: 'B', traceId: expect.any(String) });
      const spans = await spansOfKinds(2, 0);
      const servers = spans.filter((span) => span.kind === SpanKind.SERVER);
      const who = servers.find((span) => span.name === 'GET /who');
      expect(who).toBeDefined();
      expect(who!.attributes['who']).toBe('B');
      expect(response.body.traceId).toBe(who!.spanContext().traceId);
      expect(who!.spanContext().traceId).not.toBe(traceIdOf(100));
    } finally {
      middleware.close();
      await server.close();
      await pool.close();
    }
  });
});
