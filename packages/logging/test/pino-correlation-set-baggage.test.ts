/**
 * pinoCorrelation() with ctxprop's own adapters, no SDK, when the request's baggage changes half-way:
 * `req.setBaggage()` (Express 5 and 4), `request.setBaggage()` (Fastify 5 and 4) and core's
 * `inboundScopeOf().setBaggage()`. The request's context stays the same object while its baggage
 * changes (core inbound/scoped-context.ts reads it from the request's scope), so a fragment cached
 * for that context must not outlive the baggage it was built from: every line carries the baggage
 * of the moment it was logged, as pinoMixin's line does. Also a child span made active with
 * `context.with(trace.setSpan(...))`, and baggage set while it is active.
 */
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { inboundScopeOf } from '@ctxprop/core';
import { ctxprop as ctxpropExpress } from '@ctxprop/express';
import { ctxprop as ctxpropFastify } from '@ctxprop/fastify';
import express5 from 'express';
import fastify5, { type FastifyInstance } from 'fastify';
import fastify4 from 'fastify4';
import type { AddressInfo } from 'node:net';
import { capturedPino, capturedPinoCorrelation, type LogRecord } from './support/capture';
import { serveExpressApp, type Served } from './support/servers';
import { sentContext, type SentContext } from './support/trace-headers';

// Express 4 installed under an alias: no types of its own, and the same API as far as used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const express4 = require('express4') as typeof express5;

const OPTIONS = { baggageKeys: ['customer.tier'] };
const correlationOut = capturedPinoCorrelation(OPTIONS);
const mixinOut = capturedPino(OPTIONS);

const CHILD_SPAN_ID = 'b7ad6b7169203331';

type SetTier = (tier: string) => void;

/** Logs one line with each logger: pinoCorrelation's and pinoMixin's. */
function log(n: number, step: string): void {
  correlationOut.logger.info({ n, step }, step);
  mixinOut.logger.info({ n, step }, step);
}

/** The handler's work: lines before and after each baggage change, after an await, and in a child span. */
async function work(n: number, setTier: SetTier): Promise<void> {
  log(n, 'before');
  setTier(`gold-${n}`);
  log(n, 'after setBaggage');
  await new Promise((resolve) => setTimeout(resolve, n % 3));
  log(n, 'after await');
  const parent = trace.getSpanContext(context.active());
  const child = trace.wrapSpanContext({ traceId: parent?.traceId ?? '', spanId: CHILD_SPAN_ID, traceFlags: TraceFlags.SAMPLED });
  context.with(trace.setSpan(context.active(), child), () => {
    log(n, 'in child span');
    setTier(`platinum-${n}`);
    log(n, 'in child span, after setBaggage');
  });
  log(n, 'back in the request');
}

/** What each step's line must carry, for request `n` whose client sent `sent`. */
function expectedOf(n: number, sent: SentContext): Record<string, [spanId: string, tier: string]> {
  return {
    before: [sent.parentId, sent.tier],
    'after setBaggage': [sent.parentId, `gold-${n}`],
    'after await': [sent.parentId, `gold-${n}`],
    'in child span': [CHILD_SPAN_ID, `gold-${n}`],
    'in child span, after setBaggage': [CHILD_SPAN_ID, `platinum-${n}`],
    'back in the request': [sent.parentId, `platinum-${n}`],
  };
}

const STEPS = 6;

type Serve = () => Promise<Served>;
type SetterOf = (request: { setBaggage(entries: Record<string, string>): void }) => SetTier;

const viaRequest: SetterOf = (request) => (tier) => request.setBaggage({ 'customer.tier': tier });
const viaCoreScope: SetterOf = () => (tier) => inboundScopeOf()!.setBaggage({ 'customer.tier': tier });

const sentByN = new Map<number, SentContext>();

function serveExpress(express: typeof express5, setterOf: SetterOf): Serve {
  return async () => {
    const app = express();
    const middleware = ctxpropExpress();
    app.use(middleware);
    app.get('/work/:n', (req, res) => {
      const n = Number(req.params.n);
      work(n, setterOf(req)).then(() => res.json({ ok: true }));
    });
    return serveExpressApp(app, middleware);
  };
}

function serveFastify(create: () => FastifyInstance, setterOf: SetterOf): Serve {
  return async () => {
    const app = create();
    await app.register(ctxpropFastify);
    app.get('/work/:n', async (request) => {
      const n = Number((request.params as { n: string }).n);
      await work(n, setterOf(request));
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
  };
}

const ADAPTERS: ReadonlyArray<[name: string, serve: Serve]> = [
  ['req.setBaggage() with @ctxprop/express on Express 5', serveExpress(express5, viaRequest)],
  ['req.setBaggage() with @ctxprop/express on Express 4', serveExpress(express4, viaRequest)],
  ['request.setBaggage() with @ctxprop/fastify on Fastify 5', serveFastify(() => fastify5(), viaRequest)],
  ['request.setBaggage() with @ctxprop/fastify on Fastify 4', serveFastify(() => fastify4() as unknown as FastifyInstance, viaRequest)],
  ["core's inboundScopeOf().setBaggage() with @ctxprop/express on Express 5", serveExpress(express5, viaCoreScope)],
  ["core's inboundScopeOf().setBaggage() with @ctxprop/fastify on Fastify 5", serveFastify(() => fastify5(), viaCoreScope)],
];

async function call(served: Served, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, n) => {
      const sent = sentContext(n, '01');
      sentByN.set(n, sent);
      const response = await fetch(`${served.url}/work/${n}`, { headers: sent.headers });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }),
  );
}

/** Each line's mismatch against its step's expected span id and baggage value (empty when all are right). */
function mismatches(records: readonly LogRecord[]): string[] {
  const problems: string[] = [];
  for (const record of records) {
    const n = record.n as number;
    const sent = sentByN.get(n)!;
    const [spanId, tier] = expectedOf(n, sent)[record.step as string]!;
    const got = [record.trace_id, record.span_id, record['customer.tier']];
    const want = [sent.traceId, spanId, tier];
    if (got.some((value, i) => value !== want[i])) problems.push(`request ${n}, ${String(record.step)}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  return problems;
}

const traceFieldsOf = (record: LogRecord) => [record.trace_id, record.span_id, record.trace_flags, record['customer.tier']];

beforeEach(() => {
  correlationOut.sink.chunks.length = 0;
  mixinOut.sink.chunks.length = 0;
  sentByN.clear();
});

describe.each(ADAPTERS)('pinoCorrelation({ baggageKeys }) and %s', (_name, serve) => {
  let served: Served;

  beforeAll(async () => {
    served = await serve();
  });

  afterAll(() => served.close());

  it("writes the request's new baggage on the lines logged after it changed, in the request and in a child span, as pinoMixin does", async () => {
    await call(served, 1);
    const records = correlationOut.sink.records();
    expect(records.map((record) => record.step)).toEqual(Object.keys(expectedOf(0, sentByN.get(0)!)));
    expect(mismatches(records)).toEqual([]);
    expect(records.map(traceFieldsOf)).toEqual(mixinOut.sink.records().map(traceFieldsOf));
  });

  it('keeps every line of 200 concurrent requests, each changing its baggage twice, on its own ids and current baggage', async () => {
    await call(served, 200);
    const records = correlationOut.sink.records();
    expect(records).toHaveLength(200 * STEPS);
    expect(mismatches(records)).toEqual([]);
  });
});
