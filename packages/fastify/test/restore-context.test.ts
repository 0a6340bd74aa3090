/**
 * A hook that calls done() from the callback of a client whose connection was opened elsewhere (a
 * session store, a callback-style database client). AsyncLocalStorage gives the rest of the request
 * the connection's context: here the first request's, which opened it. The plugin puts each
 * request's own context back at preValidation and before the route handler, keeping what a hook
 * added with context.with.
 */
import { context, propagation, trace, type Baggage } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import { ctxprop, type CtxpropOptions } from '@ctxprop/fastify';
import { createPooledConnection, type PooledConnection } from '../../core/test/pooled-connection';
import { FRAMEWORKS, listen, startDownstream, type Downstream } from './support/frameworks';

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

/** A hook that waits for the shared connection and calls done() from its callback. */
const pooled = (pool: PooledConnection): Hook => (_request, _reply, done) => pool.call(() => done());

/** A hook that adds a baggage entry for the rest of the request with the OpenTelemetry API. */
const addBaggage: Hook = (_request, _reply, done) => {
  const baggage: Baggage = (propagation.getActiveBaggage() ?? propagation.createBaggage()).setEntry('added', { value: 'yes' });
  context.with(propagation.setBaggage(context.active(), baggage), done);
};

interface Answer {
  handler: Seen;
  baggage: Record<string, unknown>;
  downstream: { traceparent: string | null; baggage: string | null };
}

describe.each(FRAMEWORKS)('%s: done() called from a pooled connection\'s callback', (_name, createApp) => {
  let app: FastifyInstance;
  let pool: PooledConnection;
  let downstream: Downstream;
  let base: string;

  /** Registers the plugin, then `hooks`, and a route that reports its context and calls downstream. */
  async function start(hooks: Array<['onRequest' | 'preValidation' | 'preHandler', Hook]>, options?: CtxpropOptions): Promise<void> {
    app = createApp();
    await app.register(ctxprop, options ?? {});
    for (const [name, hook] of hooks) app.addHook(name, hook);
    app.get('/', async (request) => {
      const handler = seen();
      const response = await fetch(downstream.url);
      return { handler, baggage: request.baggage.toJSON(), downstream: (await response.json()) as Answer['downstream'] } satisfies Answer;
    });
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
    await start([['preHandler', pooled(pool)]], { restoreContext: false });
    const answer = await call('/', 5, 'gold');
    expect(answer.handler).toEqual({ traceId: traceIdOf(999), tier: 'opener', added: null });
    expect(answer.downstream).toEqual({ traceparent: traceparent(999), baggage: 'customer.tier=opener' });
    // The request's own properties still tell the truth.
    expect(answer.baggage).toEqual({ 'customer.tier': 'gold' });
    expect(diagnosticsSnapshot()['context.restored']).toBeUndefined();
  });
});
