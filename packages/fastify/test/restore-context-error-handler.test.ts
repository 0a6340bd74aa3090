/**
 * The error handler after onError hooks that lose the context. Fastify runs the onError hooks one
 * after the other and calls the error handler from the last one's `done()` (or, when a hook passes
 * an error or rejects, from that one's). A hook registered after the plugin that calls `done()`
 * from a pooled client's callback would hand the error handler, and everything Fastify does after
 * it, the context that client's connection was opened in: none, or another request's. The plugin
 * puts the request's latest context back there, counts it and warns once per place.
 */
import { context, propagation, ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { Writable } from 'node:stream';
import { configureDiagnostics, diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import { ctxprop, type CtxpropOptions } from '@ctxprop/fastify';
import { createPooledConnection, type PooledConnection } from '../../core/test/pooled-connection';
import { FRAMEWORKS_WITH_OLDEST, listen, startDownstream, type Downstream } from './support/frameworks';

const PARENT = '00f067aa0ba902b7';
const traceIdOf = (n: number) => (n + 1).toString(16).padStart(32, '0');
const traceparent = (n: number) => `00-${traceIdOf(n)}-${PARENT}-01`;
const headersOf = (n: number, tier: string) => ({ traceparent: traceparent(n), baggage: `customer.tier=${tier}` });

interface Seen {
  traceId: string | null;
  tier: string | null;
}

/** What the active context holds, read the way any library would. */
function seen(): Seen {
  const active = context.active();
  return {
    traceId: trace.getSpanContext(active)?.traceId ?? null,
    tier: propagation.getBaggage(active)?.getEntry('customer.tier')?.value ?? null,
  };
}

const mine = (n: number, tier: string): Seen => ({ traceId: traceIdOf(n), tier });

/** The context of another request (number 999, tier "opener"): the pooled connection is opened in it. */
const OTHER = 999;
const otherRequest: Context = propagation.setBaggage(
  trace.setSpanContext(ROOT_CONTEXT, { traceId: traceIdOf(OTHER), spanId: PARENT, traceFlags: TraceFlags.SAMPLED, isRemote: true }),
  propagation.createBaggage({ 'customer.tier': { value: 'opener' } }),
);

type Done = (error?: Error) => void;
type OnErrorHook = (request: FastifyRequest, reply: FastifyReply, error: Error, done: Done) => void;
/** Calls `callback` from a context not the request's. */
type Lose = (callback: () => void) => void;

/** What each request's onError hooks saw, by label. */
const SAW = new WeakMap<FastifyRequest, Record<string, Seen>>();
const sawOf = (request: FastifyRequest) => SAW.get(request) ?? {};
const note = (request: FastifyRequest, label: string) => SAW.set(request, { ...sawOf(request), [label]: seen() });

/** An onError hook that calls done() (or done(error)) from a callback `lose` runs. */
const losing =
  (lose: Lose, passError = false): OnErrorHook =>
  (_request, _reply, error, done) =>
    lose(() => (passError ? done(error) : done()));

/** An error handler that answers 500 with what it saw, what the hooks saw, and what it sent downstream. */
function reportingErrorHandler(label: string, downstream?: Downstream) {
  return async function reportError(error: Error, request: FastifyRequest, reply: FastifyReply) {
    const errorHandler = seen();
    const sent = downstream === undefined ? null : ((await (await fetch(downstream.url)).json()) as unknown);
    return reply.code(500).send({ by: label, message: error.message, errorHandler, hooks: sawOf(request), downstream: sent });
  };
}

async function failing(): Promise<never> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  throw new Error('the order service failed');
}

describe.each(FRAMEWORKS_WITH_OLDEST)('%s: the error handler after onError hooks that lose the context', (_name, createApp) => {
  let app: FastifyInstance;
  let pool: PooledConnection;
  let downstream: Downstream;
  let base: string;

  /** Ways a hook's callback can run outside the request: a pooled connection another request opened, or none. */
  const LOSSES: ReadonlyArray<[kind: string, lose: () => Lose, other: Seen]> = [
    ["another request's context", () => (callback) => pool.call(callback), mine(OTHER, 'opener')],
    ['no context', () => (callback) => context.with(ROOT_CONTEXT, () => setImmediate(callback)), { traceId: null, tier: null }],
  ];

  /** The app: the plugin, `setUp` (hooks, plugins, routes), listening. */
  async function start(setUp: (app: FastifyInstance) => void | Promise<void>, options: { plugin?: CtxpropOptions; server?: FastifyServerOptions } = {}) {
    app = createApp(options.server);
    await app.register(ctxprop, options.plugin ?? {});
    await setUp(app);
    base = await listen(app);
    resetDiagnostics();
  }

  async function call(path: string, n: number, tier: string, status = 500): Promise<Record<string, unknown>> {
    const response = await fetch(base + path, { headers: headersOf(n, tier) });
    expect(response.status).toBe(status);
    return (await response.json()) as Record<string, unknown>;
  }

  beforeEach(async () => {
    pool = await createPooledConnection();
    // The connection opens in another request's context: its callbacks run in that context.
    await new Promise<void>((resolve) => context.with(otherRequest, () => pool.call(resolve)));
    downstream = await startDownstream();
  });

  afterEach(async () => {
    await app.close();
    await pool.close();
    await downstream.close();
  });

  test.each(LOSSES)(
    "the last onError hook, after the plugin's, calls done() from a callback in %s: the error handler runs in the request's context and calls out with its trace and baggage",
    async (_kind, lose) => {
      await start((app) => {
        app.addHook('onError', losing(lose()));
        app.setErrorHandler(reportingErrorHandler('app', downstream));
        app.get('/fails', failing);
      });
      expect(await call('/fails', 1, 'gold')).toEqual({
        by: 'app',
        message: 'the order service failed',
        errorHandler: mine(1, 'gold'),
        hooks: {},
        downstream: { traceparent: traceparent(1), baggage: 'customer.tier=gold' },
      });
      expect(diagnosticsSnapshot()['context.restored']).toBe(1);
    },
  );

  test('200 concurrent failing requests through a losing onError hook: each error handler sees its own trace and baggage', async () => {
    await start((app) => {
      app.addHook('onError', losing(LOSSES[0]![1]()));
      app.setErrorHandler(reportingErrorHandler('app'));
      app.get('/fails', failing);
    });
    const answers = await Promise.all(Array.from({ length: 200 }, (_, n) => call('/fails', n, `tier-${n}`)));
    answers.forEach((answer, n) => expect(answer.errorHandler).toEqual(mine(n, `tier-${n}`)));
  });

  test("an encapsulated plugin's own losing onError hook and error handler, a route's errorHandler, and the parent's error handler a child rethrows to", async () => {
    await start(async (app) => {
      app.setErrorHandler(reportingErrorHandler('app'));
      await app.register(async (child) => {
        child.addHook('onError', losing(LOSSES[0]![1]()));
        child.setErrorHandler(reportingErrorHandler('child'));
        child.get('/child/fails', failing);
        child.get('/child/route-handler', { errorHandler: reportingErrorHandler('route') }, failing);
        await child.register(async (grandchild) => {
          grandchild.setErrorHandler(async function rethrow(error: Error) {
            throw error;
          });
          grandchild.addHook('onError', function noteRethrow(request, _reply, _error, done) {
            note(request, 'grandchild');
            done();
          });
          grandchild.get('/child/rethrows', failing);
        });
      });
    });
    expect(await call('/child/fails', 2, 'gold')).toMatchObject({ by: 'child', errorHandler: mine(2, 'gold') });
    expect(await call('/child/route-handler', 3, 'gold')).toMatchObject({ by: 'route', errorHandler: mine(3, 'gold') });
    // The grandchild's handler rethrows: Fastify hands the error to its parent's, with no onError hooks between.
    expect(await call('/child/rethrows', 4, 'gold')).toMatchObject({ by: 'child', errorHandler: mine(4, 'gold'), hooks: { grandchild: mine(4, 'gold') } });
    expect(diagnosticsSnapshot()['context.restored']).toBe(3);
  });

  const ASYNC_CASES: ReadonlyArray<[name: string, hooks: (lose: Lose) => OnErrorHook[], hooksSaw: string[]]> = [
    [
      'an async onError hook after one that lost the context',
      (lose) => [
        losing(lose),
        (async (request: FastifyRequest) => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          note(request, 'async');
        }) as unknown as OnErrorHook,
      ],
      ['async'],
    ],
    [
      'an async onError hook that rejects, after one that lost the context',
      (lose) => [
        losing(lose),
        (async (request: FastifyRequest) => {
          note(request, 'rejecting');
          throw new Error('the error reporter failed');
        }) as unknown as OnErrorHook,
      ],
      ['rejecting'],
    ],
    ['an onError hook that passes the error to done() from the callback', (lose) => [losing(lose, true)], []],
    [
      'an async onError hook that awaits the pooled callback, then the losing one',
      (lose) => [
        (async (request: FastifyRequest) => {
          await new Promise<void>((resolve) => lose(resolve));
          note(request, 'awaiting');
        }) as unknown as OnErrorHook,
        losing(lose),
      ],
      ['awaiting'],
    ],
  ];

  test.each(ASYNC_CASES)("%s: the hooks and the error handler run in the request's context", async (_case, hooks, hooksSaw) => {
    await start((app) => {
      for (const hook of hooks(LOSSES[0]![1]())) app.addHook('onError', hook);
      app.setErrorHandler(reportingErrorHandler('app', downstream));
      app.get('/fails', failing);
    });
    expect(await call('/fails', 5, 'gold')).toEqual({
      by: 'app',
      message: 'the order service failed',
      errorHandler: mine(5, 'gold'),
      hooks: Object.fromEntries(hooksSaw.map((label) => [label, mine(5, 'gold')])),
      downstream: { traceparent: traceparent(5), baggage: 'customer.tier=gold' },
    });
  });

  test("Fastify's default error handler logs in the request's context", async () => {
    const logged: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logged.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        callback();
      },
    });
    await start(
      (app) => {
        app.addHook('onError', losing(LOSSES[0]![1]()));
        app.get('/fails', failing);
      },
      { server: { logger: { level: 'error', stream, mixin: () => ({ seen: seen() }) } } },
    );
    await call('/fails', 6, 'gold');
    expect(logged.map(({ msg, seen }) => ({ msg, seen }))).toEqual([{ msg: 'the order service failed', seen: mine(6, 'gold') }]);
  });

  test('with restoreContext: false, the error handler runs in the context the callback ran in', async () => {
    await start(
      (app) => {
        app.addHook('onError', losing(LOSSES[0]![1]()));
        app.setErrorHandler(reportingErrorHandler('app'));
        app.get('/fails', failing);
      },
      { plugin: { restoreContext: false } },
    );
    expect((await call('/fails', 7, 'gold')).errorHandler).toEqual(mine(OTHER, 'opener'));
    expect(diagnosticsSnapshot()['context.restored']).toBeUndefined();
  });

  test('warns once per place, naming the error handler or the onError hook the request came back to, and its route', async () => {
    const warnings: string[] = [];
    configureDiagnostics({ warn: (_message, code) => warnings.push(code) });
    try {
      const lose = LOSSES[0]![1]();
      await start(async (app) => {
        app.setErrorHandler(reportingErrorHandler('app'));
        app.get('/fails', { onError: losing(lose) }, failing);
        app.get('/orders/:id', {
          onError: [
            losing(lose),
            function reportOnError(request, _reply, _error, done) {
              note(request, 'reportOnError');
              done();
            },
          ],
        }, failing);
        await app.register(async (child) => {
          child.addHook('onError', losing(lose));
          child.setErrorHandler(reportingErrorHandler('child'));
          child.get('/child/fails', failing);
        });
      });
      for (let n = 10; n < 13; n++) await call('/fails', n, 'gold');
      expect((await call('/orders/13', 13, 'gold')).hooks).toEqual({ reportOnError: mine(13, 'gold') });
      await call('/child/fails', 14, 'gold');
      expect(diagnosticsSnapshot()['context.restored']).toBe(5);
      expect(warnings).toEqual([
        'CTXPROP_CONTEXT_RESTORED:the error handler of GET /fails',
        'CTXPROP_CONTEXT_RESTORED:the onError hook "reportOnError" of GET /orders/:id',
        'CTXPROP_CONTEXT_RESTORED:the error handler of GET /child/fails',
      ]);
    } finally {
      configureDiagnostics({ warn: (message, code) => process.emitWarning(message, { type: 'CtxpropWarning', code }) });
    }
  });
});
