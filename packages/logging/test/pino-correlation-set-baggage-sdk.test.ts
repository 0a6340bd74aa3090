/**
 * pinoCorrelation() with ctxprop's own adapters and the OpenTelemetry SDK: the request's context
 * holds ctxprop's SERVER span, a child span started with `tracer.startActiveSpan` is active in a
 * new context (contexts are immutable), and the lines follow both the span and the baggage set with
 * `req.setBaggage()` / `request.setBaggage()` while it is active, then return to the server span.
 */
import { SpanKind, trace } from '@opentelemetry/api';
import { ctxprop as ctxpropExpress } from '@ctxprop/express';
import { ctxprop as ctxpropFastify } from '@ctxprop/fastify';
import express5 from 'express';
import fastify5 from 'fastify';
import type { AddressInfo } from 'node:net';
import { capturedPinoCorrelation } from './support/capture';
import { startRecordingSdk } from './support/sdk';
import { serveExpressApp, type Served } from './support/servers';
import { sentContext } from './support/trace-headers';

const sdk = startRecordingSdk();
const tracer = trace.getTracer('ctxprop-logging-test');

afterAll(() => sdk.provider.shutdown());

const out = capturedPinoCorrelation({ baggageKeys: ['customer.tier'] });

function work(setTier: (tier: string) => void): void {
  out.logger.info('in the server span');
  tracer.startActiveSpan('load order', (span) => {
    out.logger.info('in the child span');
    setTier('gold');
    out.logger.info('in the child span, after setBaggage');
    span.end();
  });
  out.logger.info('back in the server span');
}

async function serveExpress(): Promise<Served> {
  const app = express5();
  const middleware = ctxpropExpress();
  app.use(middleware);
  app.get('/work', (req, res) => {
    work((tier) => req.setBaggage({ 'customer.tier': tier }));
    res.json({ ok: true });
  });
  return serveExpressApp(app, middleware);
}

async function serveFastify(): Promise<Served> {
  const app = fastify5();
  await app.register(ctxpropFastify);
  app.get('/work', async (request) => {
    work((tier) => request.setBaggage({ 'customer.tier': tier }));
    return { ok: true };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}

const ADAPTERS: ReadonlyArray<[name: string, serve: () => Promise<Served>]> = [
  ['@ctxprop/express on Express 5', serveExpress],
  ['@ctxprop/fastify on Fastify 5', serveFastify],
];

beforeEach(() => {
  sdk.exporter.reset();
  out.sink.chunks.length = 0;
});

test.each(ADAPTERS)('%s with the SDK: lines follow a child span started with startActiveSpan, and the baggage set inside it', async (_name, serve) => {
  const served = await serve();
  const sent = sentContext(1, '01');
  try {
    expect((await fetch(`${served.url}/work`, { headers: sent.headers })).status).toBe(200);
  } finally {
    await served.close();
  }
  const spans = sdk.exporter.getFinishedSpans();
  const server = spans.find((span) => span.kind === SpanKind.SERVER)!.spanContext();
  const child = spans.find((span) => span.name === 'load order')!.spanContext();
  expect(server.traceId).toBe(sent.traceId);
  expect(child.spanId).not.toBe(server.spanId);
  expect(out.sink.records().map((record) => [record.msg, record.trace_id, record.span_id, record['customer.tier']])).toEqual([
    ['in the server span', sent.traceId, server.spanId, sent.tier],
    ['in the child span', sent.traceId, child.spanId, sent.tier],
    ['in the child span, after setBaggage', sent.traceId, child.spanId, 'gold'],
    ['back in the server span', sent.traceId, server.spanId, 'gold'],
  ]);
});
