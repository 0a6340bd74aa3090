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
