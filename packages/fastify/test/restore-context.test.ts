/**
 * A hook that calls done() from the callback of a client whose connection was opened elsewhere (a
 * session store, a callback-style database client). AsyncLocalStorage gives the rest of the request
 * the connection's context: here the first request's, which opened it. The plugin puts each
 * request's own context back before every later hook, the error handler and the route handler,
 * keeping what a hook added with context.with.
 */
import { context, propagation, trace, type Baggage } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions, HookHandlerDoneFunction } from 'fastify';
import { configureDiagnostics, diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import { ctxprop, type CtxpropOptions } from '@ctxprop/fastify';
import { createPooledConnection, type PooledConnection } from '../../core/test/pooled-connection';
import { FRAMEWORKS_WITH_OLDEST, listen, startDownstream, type Downstream } from './support/frameworks';

const PARENT = '00f067aa0ba902b7';
const traceIdOf = (n: number) => (n + 1).toString(16).padStart(32, '0');
const traceparent = (n: number) => `00-${traceIdOf(n)}-${PARENT}-01`;

interface Seen {
  traceId: string | null;
  tier: string | null;
  added: string | null;
}

/** What the active context holds, read the way any library would. */
function seen(): Seen {
  const active = context.active();
  const baggage = propagation.getBaggage(active);
  return {
    traceId: trace.getSpanContext(active)?.traceId ?? null,
    tier: baggage?.getEntry('customer.tier')?.value ?? null,
    added: baggage?.getEntry('added')?.value ?? null,
  };
}

type Hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;
/** The shape of preParsing, preSerialization and onSend hooks: a payload in, a payload on. */
type PayloadHook = (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, payload?: unknown) => void) => void;
type HookName = 'onRequest' | 'preParsing' | 'preValidation' | 'preHandler' | 'preSerialization' | 'onSend' | 'onError' | 'onTimeout';

/** A hook that waits for the shared connection and calls done() from its callback. */
const pooled = (pool: PooledConnection): Hook => (_request, _reply, done) => pool.call(() => done());
/** The same for the hooks that pass a payload on. */
const pooledPayload = (pool: PooledConnection): PayloadHook => (_request, _reply, payload, done) => pool.call(() => done(null, payload));

/** What each request's later hooks saw, by hook, filled by `record`. */
const SAW = new WeakMap<FastifyRequest, Record<string, Seen>>();
const sawOf = (request: FastifyRequest) => SAW.get(request) ?? {};
/** A hook that records what it sees as `label` and calls done() at once. */
const record = (label: string): Hook => (request, _reply, done) => {
  SAW.set(request, { ...sawOf(request), [label]: seen() });
  done();
};
const recordPayload = (label: string): PayloadHook => (request, _reply, payload, done) => {
  SAW.set(request, { ...sawOf(request), [label]: seen() });
  done(null, payload);
};

/** A hook that adds a baggage entry for the rest of the request with the OpenTelemetry API. */
const addBaggage: Hook = (_request, _reply, done) => {
  const baggage: Baggage = (propagation.getActiveBaggage() ?? propagation.createBaggage()).setEntry('added', { value: 'yes' });
  context.with(propagation.setBaggage(context.active(), baggage), done);
};

interface StartOptions {
  plugin?: CtxpropOptions;
  server?: FastifyServerOptions;
  errorHandler?: (error: Error, request: FastifyRequest, reply: FastifyReply) => void;
  /** More routes, plugins or a not-found handler, added after the test's routes. */
  routes?: (app: FastifyInstance) => Promise<void>;
}

interface Answer {
  handler: Seen;
  baggage: Record<string, unknown>;
  downstream: { traceparent: string | null; baggage: string | null };
}

describe.each(FRAMEWORKS_WITH_OLDEST)('%s: done() called from a pooled connection\'s callback', (_name, createApp) => {
  let app: FastifyInstance;
  let pool: PooledConnection;
  let downstream: Downstream;
  let base: string;

  /** Registers the plugin, then `hooks`, and a route that reports its context and calls downstream. */
  /**
   * Registers the plugin, then `hooks` and the error handler, and routes that report their
   * context (`/`, which also calls downstream, and `/hooks`, which reports what the hooks saw).
   */
  async function start(hooks: Array<[HookName, Hook | PayloadHook]>, setUp: StartOptions = {}): Promise<void> {
    app = createApp(setUp.server);
    await app.register(ctxprop, setUp.plugin ?? {});
    for (const [name, hook] of hooks) app.addHook(name as 'onRequest', hook as Hook);
    if (setUp.errorHandler !== undefined) app.setErrorHandler(setUp.errorHandler);
    app.get('/', async (request) => {
      const handler = seen();
      const response = await fetch(downstream.url);
      return { handler, baggage: request.baggage.toJSON(), downstream: (await response.json()) as Answer['downstream'] } satisfies Answer;
    });
    app.get('/hooks', async (request) => ({ handler: seen(), hooks: sawOf(request) }));
    app.post('/hooks', async (request) => ({ handler: seen(), hooks: sawOf(request), body: request.body }));
    app.get('/slow', async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return 'too late';
    });
    await setUp.routes?.(app);
    app.route({
      method: 'GET',
      url: '/callback-style',
      handler(request, reply) {
        setTimeout(() => void reply.send({ handler: seen(), server: this === app }), 1);
      },
    });
    base = await listen(app);
    // The first request opens the shared connection: its callbacks run in this request's context.
    await call('/', 999, 'opener');
    resetDiagnostics();
  }

  async function call(path: string, n: number, tier: string): Promise<Answer> {
    const response = await fetch(base + path, { headers: { traceparent: traceparent(n), baggage: `customer.tier=${tier}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as Answer;
  }

  beforeEach(async () => {
    pool = await createPooledConnection();
    downstream = await startDownstream();
  });

  afterEach(async () => {
    await app.close();
    await pool.close();
    await downstream.close();
  });

  test.each(['onRequest', 'preValidation', 'preHandler'] as const)(
    "a pooled %s hook: the handler runs in the request's own context and forwards its own trace and baggage",
    async (hookName) => {
      await start([[hookName, pooled(pool)]]);
      const answer = await call('/', 1, 'gold');
      expect(answer).toEqual({
        handler: { traceId: traceIdOf(1), tier: 'gold', added: null },
        baggage: { 'customer.tier': 'gold' },
        downstream: { traceparent: traceparent(1), baggage: 'customer.tier=gold' },
      });
      expect(diagnosticsSnapshot()['context.restored']).toBe(1);
    },
  );

  test('300 concurrent requests through a pooled preHandler each keep their own trace and baggage', async () => {
    await start([['preHandler', pooled(pool)]]);
    const answers = await Promise.all(Array.from({ length: 300 }, (_, n) => call('/', n, `tier-${n}`)));
    answers.forEach((answer, n) => {
      expect(answer.handler).toEqual({ traceId: traceIdOf(n), tier: `tier-${n}`, added: null });
      expect(answer.downstream).toEqual({ traceparent: traceparent(n), baggage: `customer.tier=tier-${n}` });
    });
  });

  test('a callback-style handler is restored too, and still gets the Fastify instance as `this`', async () => {
    await start([['preHandler', pooled(pool)]]);
    const answer = (await call('/callback-style', 2, 'silver')) as unknown as { handler: Seen; server: boolean };
    expect(answer).toEqual({ handler: { traceId: traceIdOf(2), tier: 'silver', added: null }, server: true });
  });

  test('baggage an onRequest hook added with context.with is kept, with no pooled hook (contrib #3527)', async () => {
    await start([['onRequest', addBaggage]]);
    const answer = await call('/', 3, 'gold');
    expect(answer.handler).toEqual({ traceId: traceIdOf(3), tier: 'gold', added: 'yes' });
    expect(answer.downstream.baggage).toBe('customer.tier=gold,added=yes');
    expect(diagnosticsSnapshot()['context.restored']).toBeUndefined();
  });

  test('the context restored is the latest one the request had: added baggage survives a pooled hook after it', async () => {
    await start([
      ['onRequest', addBaggage],
      ['preHandler', pooled(pool)],
    ]);
    const answer = await call('/', 4, 'gold');
    expect(answer.handler).toEqual({ traceId: traceIdOf(4), tier: 'gold', added: 'yes' });
  });

  test('with restoreContext: false, the rest of the request stays in the context the callback ran in', async () => {
    await start([['preHandler', pooled(pool)]], { plugin: { restoreContext: false } });
    const answer = await call('/', 5, 'gold');
    expect(answer.handler).toEqual({ traceId: traceIdOf(999), tier: 'opener', added: null });
    expect(answer.downstream).toEqual({ traceparent: traceparent(999), baggage: 'customer.tier=opener' });
    // The request's own properties still tell the truth.
    expect(answer.baggage).toEqual({ 'customer.tier': 'gold' });
    expect(diagnosticsSnapshot()['context.restored']).toBeUndefined();
  });
  const mine = (n: number, tier: string): Seen => ({ traceId: traceIdOf(n), tier, added: null });

  test.each(['onRequest', 'preValidation', 'preHandler'] as const)(
    "a %s hook after one that lost the context runs in the request's own context",
    async (hookName) => {
      await start([
        [hookName, pooled(pool)],
        [hookName, record('after')],
      ]);
      const answer = await call('/hooks', 6, 'gold');
      expect(answer).toEqual({ handler: mine(6, 'gold'), hooks: { after: mine(6, 'gold') } });
      expect(diagnosticsSnapshot()['context.restored']).toBe(1);
    },
  );

  test('a preParsing hook that loses the context: the body is parsed, and the hooks and handler after it run in the request\'s context', async () => {
    await start([
      ['preParsing', pooledPayload(pool)],
      ['preValidation', record('preValidation')],
      ['preHandler', record('preHandler')],
    ]);
    const response = await fetch(`${base}/hooks`, {
      method: 'POST',
      headers: { traceparent: traceparent(7), baggage: 'customer.tier=gold', 'content-type': 'application/json' },
      body: JSON.stringify({ order: 7 }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      handler: mine(7, 'gold'),
      hooks: { preValidation: mine(7, 'gold'), preHandler: mine(7, 'gold') },
      body: { order: 7 },
    });
  });

  test("preSerialization and onSend hooks after ones that lost the context run in the request's context", async () => {
    const report: PayloadHook = (request, reply, payload, done) => {
      reply.header('x-saw', JSON.stringify({ ...sawOf(request), onSend: seen() }));
      done(null, payload);
    };
    await start([
      ['preSerialization', pooledPayload(pool)],
      ['preSerialization', recordPayload('preSerialization')],
      ['onSend', pooledPayload(pool)],
      ['onSend', report],
    ]);
    const response = await fetch(`${base}/hooks`, { headers: { traceparent: traceparent(8), baggage: 'customer.tier=gold' } });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.headers.get('x-saw') ?? 'null')).toEqual({ preSerialization: mine(8, 'gold'), onSend: mine(8, 'gold') });
    expect((await response.json()) as unknown).toEqual({ handler: mine(8, 'gold'), hooks: {} });
    expect(diagnosticsSnapshot()['context.restored']).toBe(2);
  });

  test("a hook that fails from a pooled callback: the onError hooks and the error handler run in the request's context", async () => {
    // It fails on /hooks only: the opening request to / must succeed.
    const failing: Hook = (request, _reply, done) =>
      pool.call(() => (request.url === '/hooks' ? done(new Error('the session store failed')) : done()));
    const onError = (request: FastifyRequest, _reply: FastifyReply, _error: Error, done: () => void) => {
      SAW.set(request, { ...sawOf(request), onError: seen() });
      done();
    };
    await start(
      [
        ['preHandler', failing],
        ['onError', onError as unknown as Hook],
      ],
      {
        errorHandler: (error, request, reply) => void reply.code(503).send({ message: error.message, errorHandler: seen(), hooks: sawOf(request) }),
      },
    );
    const response = await fetch(`${base}/hooks`, { headers: { traceparent: traceparent(9), baggage: 'customer.tier=gold' } });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      message: 'the session store failed',
      errorHandler: mine(9, 'gold'),
      hooks: { onError: mine(9, 'gold') },
    });
  });

  test("onTimeout hooks run in the request's context, not the socket's", async () => {
    const timeouts: Seen[] = [];
    const onTimeout: Hook = (_request, _reply, done) => {
      timeouts.push(seen());
      done();
    };
    await start([['onTimeout', onTimeout]], { server: { connectionTimeout: 100 } });
    await expect(fetch(`${base}/slow`, { headers: { traceparent: traceparent(10), baggage: 'customer.tier=gold' } })).rejects.toThrow();
    expect(timeouts).toEqual([mine(10, 'gold')]);
    // Nothing handed the request on from another context: the socket's timeout never had it.
    expect(diagnosticsSnapshot()['context.restored']).toBeUndefined();
  });

  test("an encapsulated plugin's hooks, a route's own hooks and a not-found handler run in the request's context", async () => {
    await start([['onRequest', pooled(pool)]], {
      async routes(app) {
        await app.register(async (child) => {
          child.addHook('preHandler', pooled(pool));
          child.addHook('preHandler', record('plugin'));
          child.get('/plugin', { preHandler: [pooled(pool), record('route')] }, async (request) => ({ handler: seen(), hooks: sawOf(request) }));
        });
        app.setNotFoundHandler({ preHandler: record('notFound') }, (request, reply) => {
          void reply.code(404).send({ handler: seen(), hooks: sawOf(request) });
        });
      },
    });
    const headers = (n: number) => ({ traceparent: traceparent(n), baggage: 'customer.tier=gold' });
    const plugin = await fetch(`${base}/plugin`, { headers: headers(12) });
    expect(await plugin.json()).toEqual({ handler: mine(12, 'gold'), hooks: { plugin: mine(12, 'gold'), route: mine(12, 'gold') } });
    const missing = await fetch(`${base}/missing`, { headers: headers(13) });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ handler: mine(13, 'gold'), hooks: { notFound: mine(13, 'gold') } });
  });

  test("a content-type parser of the app's, reached after a hook that lost the context, parses in the request's context", async () => {
    await start([['onRequest', pooled(pool)]], {
      async routes(app) {
        app.addContentTypeParser('text/plain', (request, payload, done) => {
          SAW.set(request, { ...sawOf(request), parser: seen() });
          let text = '';
          payload.on('data', (chunk: Buffer) => (text += chunk.toString()));
          payload.on('end', () => done(null, text.toUpperCase()));
        });
        app.addContentTypeParser('application/x-order', async (request: FastifyRequest) => {
          SAW.set(request, { ...sawOf(request), asyncParser: seen() });
          return { order: 'parsed' };
        });
      },
    });
    const post = (n: number, type: string, body: string) =>
      fetch(`${base}/hooks`, { method: 'POST', headers: { traceparent: traceparent(n), baggage: 'customer.tier=gold', 'content-type': type }, body });
    expect(await (await post(14, 'text/plain', 'order 14')).json()).toEqual({ handler: mine(14, 'gold'), hooks: { parser: mine(14, 'gold') }, body: 'ORDER 14' });
    expect(await (await post(15, 'application/x-order', '15')).json()).toEqual({
      handler: mine(15, 'gold'),
      hooks: { asyncParser: mine(15, 'gold') },
      body: { order: 'parsed' },
    });
  });

  test('warns once per place the request came back to, naming the hook, the handler or the parser and the route', async () => {
    const warnings: Array<{ code: string; message: string }> = [];
    configureDiagnostics({ warn: (message, code) => warnings.push({ code, message }) });
    try {
      await start([['onRequest', pooled(pool)]], {
        async routes(app) {
          app.get('/audited', { preHandler: function auditHook(_request, _reply, done) {
            done();
          } }, async () => 'audited');
          app.addContentTypeParser('text/plain', function parseText(_request, payload, done) {
            payload.resume();
            payload.on('end', () => done(null, 'parsed'));
          });
        },
      });
      for (let n = 20; n < 23; n++) await call('/', n, 'gold');
      const headers = { traceparent: traceparent(23), baggage: 'customer.tier=gold' };
      expect((await fetch(`${base}/audited`, { headers })).status).toBe(200);
      expect((await fetch(`${base}/hooks`, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'x' })).status).toBe(200);
      expect(diagnosticsSnapshot()['context.restored']).toBe(5);
      expect(warnings.map(({ code }) => code)).toEqual([
        'CTXPROP_CONTEXT_RESTORED:the handler of GET /',
        'CTXPROP_CONTEXT_RESTORED:the preHandler hook "auditHook" of GET /audited',
        'CTXPROP_CONTEXT_RESTORED:the content-type parser of POST /hooks',
      ]);
      expect(warnings[0]!.message).toContain('bind the callback with context.bind(context.active(), callback)');
    } finally {
      configureDiagnostics({ warn: (message, code) => process.emitWarning(message, { type: 'CtxpropWarning', code }) });
    }
  });

  test('names an anonymous hook "an onSend hook" and a not-found request\'s handler "the not-found handler" in the warnings', async () => {
    const warnings: string[] = [];
    configureDiagnostics({ warn: (_message, code) => warnings.push(code) });
    try {
      await start([['onRequest', pooled(pool)]], {
        async routes(app) {
          // Answers from a pooled callback: the onSend hooks start from that callback's context.
          app.get('/later', (_request, reply) => {
            pool.call(() => void reply.send('later'));
          });
          app.addHook('onSend', (_request, _reply, payload, done) => {
            done(null, payload);
          });
        },
      });
      const headers = { traceparent: traceparent(30), baggage: 'customer.tier=gold' };
      expect((await fetch(`${base}/no/such/route`, { headers })).status).toBe(404);
      expect((await fetch(`${base}/later`, { headers })).status).toBe(200);
      expect(warnings).toEqual(expect.arrayContaining(['CTXPROP_CONTEXT_RESTORED:the not-found handler', 'CTXPROP_CONTEXT_RESTORED:an onSend hook of GET /later']));
    } finally {
      configureDiagnostics({ warn: (message, code) => process.emitWarning(message, { type: 'CtxpropWarning', code }) });
    }
  });

  test('with restoreContext: false, a hook after the one that lost the context runs in the callback\'s', async () => {
    await start(
      [
        ['preHandler', pooled(pool)],
        ['preHandler', record('after')],
      ],
      { plugin: { restoreContext: false } },
    );
    const answer = await call('/hooks', 11, 'gold');
    expect(answer).toEqual({ handler: mine(999, 'opener'), hooks: { after: mine(999, 'opener') } });
  });
});
