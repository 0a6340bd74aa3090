/**
 * The logging package with ctxprop's own adapters, as users run them: `app.use(ctxprop())` in
 * Express 5 and 4, `app.register(ctxprop)` in Fastify 5 and 4, no OpenTelemetry SDK. Every pino
 * and winston line of concurrent requests carries its request's ids and baggage (issue #5, Tests).
 *
 * And a middleware or hook that waits on a client whose connection another request opened (a
 * callback-style database or cache client): a line written inside that callback carries the
 * connection's context, here the request that opened it, as with any logger that reads the active
 * context. `context.bind` fixes that line, and the adapters put the request's context back for the
 * handler (`restoreContext`). Both logging READMEs say so; this test holds them to it.
 */
import { context } from '@opentelemetry/api';
import { ctxprop as ctxpropExpress } from '@ctxprop/express';
import { ctxprop as ctxpropFastify } from '@ctxprop/fastify';
import express5 from 'express';
import fastify5, { LogController, type FastifyInstance } from 'fastify';
import fastify4 from 'fastify4';
import type { AddressInfo } from 'node:net';
import { createPooledConnection, type PooledConnection } from '../../core/test/pooled-connection';
import { pinoMixin } from '@ctxprop/logging';
import { capturedPino, capturedWinston, LineSink, type LogRecord } from './support/capture';
import { callAll } from './support/call-all';
import { mismatches } from './support/expect-lines';
import { serveExpressApp, type Served } from './support/servers';
import { sentContext } from './support/trace-headers';

// Express 4 installed under an alias: no types of its own, and the same API as far as used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const express4 = require('express4') as typeof express5;

const OPTIONS = { baggageKeys: ['customer.tier'] };
const pinoOut = capturedPino(OPTIONS);
const winstonOut = capturedWinston(OPTIONS);
const LINES_PER_REQUEST = 2;

async function work(n: number): Promise<void> {
  pinoOut.logger.info({ n, step: 'handler' }, 'start');
  winstonOut.logger.info('start', { n, step: 'handler' });
  await new Promise((resolve) => setTimeout(resolve, n % 5));
  pinoOut.logger.info({ n, step: 'handler' }, 'done');
  winstonOut.logger.info('done', { n, step: 'handler' });
}

/** A middleware's or hook's wait on the shared connection, logging inside its callback with and without `context.bind`. */
function waitOnPool(pool: PooledConnection, n: number, done: () => void): void {
  const bound = context.bind(context.active(), () => pinoOut.logger.info({ n, step: 'bound callback' }, 'session loaded'));
  pool.call(() => {
    pinoOut.logger.info({ n, step: 'callback' }, 'session loaded');
    bound();
    done();
  });
}

type Serve = (pool: PooledConnection | undefined) => Promise<Served>;

function serveExpress(express: typeof express5): Serve {
  return async (pool) => {
    const app = express();
    const middleware = ctxpropExpress();
    app.use(middleware);
    if (pool !== undefined) app.use('/work/:n', (req, _res, next) => waitOnPool(pool, Number(req.params.n), next));
    app.get('/work/:n', (req, res) => {
      work(Number(req.params.n)).then(() => res.json({ ok: true }));
    });
    return serveExpressApp(app, middleware);
  };
}

function serveFastify(create: () => FastifyInstance): Serve {
  return async (pool) => {
    const app = create();
    await app.register(ctxpropFastify);
    if (pool !== undefined) {
      app.addHook('preHandler', (request, _reply, done) => waitOnPool(pool, Number((request.params as { n: string }).n), () => done()));
    }
    app.get('/work/:n', async (request) => {
      await work(Number((request.params as { n: string }).n));
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
  };
}

const ADAPTERS: ReadonlyArray<[name: string, serve: Serve]> = [
  ['@ctxprop/express on Express 5', serveExpress(express5)],
  ['@ctxprop/express on Express 4', serveExpress(express4)],
  ['@ctxprop/fastify on Fastify 5', serveFastify(() => fastify5())],
  ['@ctxprop/fastify on Fastify 4', serveFastify(() => fastify4() as unknown as FastifyInstance)],
];

const byStep = (records: LogRecord[], step: string) => records.filter((record) => record.step === step);

beforeEach(() => {
  pinoOut.sink.chunks.length = 0;
  winstonOut.sink.chunks.length = 0;
});

describe.each(ADAPTERS)('%s, no SDK', (_name, serve) => {
  test('every pino and winston line of 500 concurrent requests carries its own request ids and baggage', async () => {
    const served = await serve(undefined);
    try {
      const expected = await callAll(served, 500);
      expect(pinoOut.sink.records()).toHaveLength(500 * LINES_PER_REQUEST);
      expect(mismatches(pinoOut.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
      expect(mismatches(winstonOut.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
    } finally {
      await served.close();
    }
  });

  test("a line inside a pooled client's callback carries the connection's context; bound, and in the handler, the request's own", async () => {
    const pool = await createPooledConnection();
    const served = await serve(pool);
    try {
      // The first request opens the shared connection: its callbacks run in this request's context.
      const opener = sentContext(999);
      expect((await fetch(`${served.url}/work/999`, { headers: opener.headers })).status).toBe(200);
      pinoOut.sink.chunks.length = 0;
      winstonOut.sink.chunks.length = 0;

      const expected = await callAll(served, 50);
      const records = pinoOut.sink.records();
      expect(mismatches(byStep(records, 'handler'), expected, LINES_PER_REQUEST)).toEqual([]);
      expect(mismatches(winstonOut.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
      expect(mismatches(byStep(records, 'bound callback'), expected, 1)).toEqual([]);
      const unbound = byStep(records, 'callback');
      expect(unbound).toHaveLength(50);
      for (const record of unbound) {
        expect([record.trace_id, record.span_id, record['customer.tier']]).toEqual([opener.traceId, opener.parentId, opener.tier]);
      }
    } finally {
      await served.close();
      await pool.close();
    }
  });
});

describe("Fastify's own request logger (request.log) with @ctxprop/fastify", () => {
  /** A Fastify 5 or 4 app logging through pino with the mixin to a captured sink; `setUp` adds hooks before the route. */
  async function serveLogged(create: (options: object) => FastifyInstance, setUp: (app: FastifyInstance) => void, serverOptions: object = {}) {
    const sink = new LineSink();
    const app = create({ logger: { level: 'info', mixin: pinoMixin(OPTIONS), stream: sink }, ...serverOptions });
    await app.register(ctxpropFastify);
    setUp(app);
    app.get('/orders/:n', async (request) => {
      request.log.info('reading the order');
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { app, sink, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
  }

  const CREATE: ReadonlyArray<[string, (options: object) => FastifyInstance]> = [
    ['Fastify 5', (options) => fastify5(options)],
    ['Fastify 4', (options) => fastify4(options) as unknown as FastifyInstance],
  ];
  // Fastify's own request lines turned off, as the logging README shows for each major.
  const QUIET: Readonly<Record<string, () => object>> = {
    'Fastify 5': () => ({ logController: new LogController({ disableRequestLogging: true }) }),
    'Fastify 4': () => ({ disableRequestLogging: true }),
  };

  test.each(CREATE)("%s: the handler's and 'request completed' lines carry the request's ids; Fastify's 'incoming request' line, written before any hook, does not", async (_name, create) => {
    const { app, sink, url } = await serveLogged(create, () => undefined);
    const sent = sentContext(1, '01');
    await (await fetch(`${url}/orders/1`, { headers: sent.headers })).text();
    await app.close();
    const byMessage = new Map(sink.records().map((record) => [record.msg, record]));
    for (const msg of ['reading the order', 'request completed']) {
      expect([byMessage.get(msg)?.trace_id, byMessage.get(msg)?.span_id, byMessage.get(msg)?.['customer.tier']]).toEqual([sent.traceId, sent.parentId, sent.tier]);
    }
    expect(byMessage.get('incoming request')).toBeDefined();
    expect(byMessage.get('incoming request')).not.toHaveProperty('trace_id');
  });

  test.each(CREATE)("%s: with Fastify's request lines off and the README's two hooks, both request lines carry the ids", async (name, create) => {
    const { app, sink, url } = await serveLogged(
      create,
      (server) => {
        server.addHook('onRequest', async (request) => request.log.info({ req: request }, 'incoming request'));
        server.addHook('onResponse', async (request, reply) => request.log.info({ res: reply, responseTime: reply.elapsedTime }, 'request completed'));
      },
      QUIET[name]!(),
    );
    const sent = sentContext(2, '01');
    await (await fetch(`${url}/orders/2`, { headers: sent.headers })).text();
    await app.close();
    const lines = sink.records().filter((record) => record.reqId !== undefined);
    expect(lines.map((record) => record.msg)).toEqual(['incoming request', 'reading the order', 'request completed']);
    for (const record of lines) expect([record.trace_id, record.span_id, record['customer.tier']]).toEqual([sent.traceId, sent.parentId, sent.tier]);
  });
});
