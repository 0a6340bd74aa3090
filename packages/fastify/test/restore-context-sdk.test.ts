/**
 * With the OpenTelemetry SDK recording: a preHandler hook that calls done() from a pooled
 * connection's callback (opened by the first request) must not make later requests' CLIENT spans
 * children of that first request's SERVER span. Each request's outbound call is a child of its own
 * SERVER span, in its own trace, and the downstream service receives that trace.
 */
import { SpanKind } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { ctxprop } from '@ctxprop/fastify';
import { createPooledConnection, type PooledConnection } from '../../core/test/pooled-connection';
import { FRAMEWORKS_WITH_OLDEST, listen, startDownstream, waitFor, type Downstream } from './support/frameworks';
import { startRecordingSdk } from './support/sdk';

const sdk = startRecordingSdk();

afterAll(() => sdk.provider.shutdown());

const traceIdOf = (n: number) => (n + 1).toString(16).padStart(32, '0');

describe.each(FRAMEWORKS_WITH_OLDEST)('%s: a pooled preHandler hook, with the SDK', (_framework, createApp) => {
  let app: FastifyInstance;
  let pool: PooledConnection;
  let downstream: Downstream;

  beforeEach(async () => {
    sdk.exporter.reset();
    pool = await createPooledConnection();
    downstream = await startDownstream();
    app = createApp();
    await app.register(ctxprop);
    app.addHook('preHandler', (_request, _reply, done) => pool.call(() => done()));
    app.get('/orders/:id', async () => {
      await fetch(downstream.url);
      return { ok: true };
    });
  });

  afterEach(async () => {
    await app.close();
    await pool.close();
    await downstream.close();
  });

  test("each request's CLIENT span is a child of its own SERVER span, and downstream gets its own trace", async () => {
    const base = await listen(app);
    const count = 20;
    // Request 0 opens the shared connection; the others arrive while it may still be in flight.
    for (const n of Array.from({ length: count }, (_, i) => i)) {
      const response = await fetch(`${base}/orders/${n}`, { headers: { traceparent: `00-${traceIdOf(n)}-00f067aa0ba902b7-01` } });
      expect(response.status).toBe(200);
    }
    const spans = await waitFor(
      () => sdk.exporter.getFinishedSpans(),
      (finished) => finished.filter((span) => span.kind === SpanKind.SERVER).length >= count && finished.filter((span) => span.kind === SpanKind.CLIENT).length >= count,
    );
    const servers = spans.filter((span) => span.kind === SpanKind.SERVER);
    const clients = spans.filter((span) => span.kind === SpanKind.CLIENT);
    expect(servers).toHaveLength(count);
    expect(clients).toHaveLength(count);
    for (let n = 0; n < count; n++) {
      const server = servers.find((span) => span.spanContext().traceId === traceIdOf(n));
      expect(server?.attributes['http.route']).toBe('/orders/:id');
      const children = clients.filter((span) => span.parentSpanContext?.spanId === server?.spanContext().spanId);
      expect(children).toHaveLength(1);
      expect(children[0]!.spanContext().traceId).toBe(traceIdOf(n));
    }
    expect(downstream.received.map((headers) => String(headers.traceparent).slice(3, 35))).toEqual(Array.from({ length: count }, (_, n) => traceIdOf(n)));
  });
});
