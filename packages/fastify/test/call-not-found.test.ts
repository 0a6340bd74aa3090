/**
 * `reply.callNotFound()` called from another request's context: a handler parks the call, and a
 * callback run by a later request (a pooled client's, say) makes it. Fastify then switches the
 * request to the not-found handler's route context (the app's, or an encapsulated plugin's), whose
 * preHandler hooks and handler must run in the parked request's context, not in the later one's,
 * from the app's first request on.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS_WITH_OLDEST, listen } from './support/frameworks';

const PARENT = '00f067aa0ba902b7';
const traceIdOf = (n: number) => (n + 1).toString(16).padStart(32, '0');
const traceparent = (n: number) => `00-${traceIdOf(n)}-${PARENT}-01`;

interface Seen {
  traceId: string | null;
  rid: string | null;
}

function seen(): Seen {
  const active = context.active();
  return { traceId: trace.getSpanContext(active)?.traceId ?? null, rid: propagation.getBaggage(active)?.getEntry('rid')?.value ?? null };
}

const mine = (n: number): Seen => ({ traceId: traceIdOf(n), rid: `r${n}` });

/** What the not-found preHandler saw, by request. */
const SAW = new WeakMap<FastifyRequest, Seen>();

function recordPreHandler(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  SAW.set(request, seen());
  done();
}

describe.each(FRAMEWORKS_WITH_OLDEST)("%s: reply.callNotFound() from another request's callback", (_name, createApp) => {
  let app: FastifyInstance;
  let base: string;
  /** Calls parked by one request, made by another. */
  let parked: Array<() => void>;

  beforeEach(async () => {
    parked = [];
    app = createApp();
    await app.register(ctxprop);
    const notFound = (where: string) => async (request: FastifyRequest, reply: FastifyReply) => {
      void reply.code(404);
      return { where, handler: seen(), preHandler: SAW.get(request) ?? null };
    };
    app.setNotFoundHandler({ preHandler: recordPreHandler }, notFound('app'));
    app.get('/park', (_request, reply) => void parked.push(() => reply.callNotFound()));
    app.get('/run', async () => {
      for (const call of parked.splice(0)) call();
      return 'ran';
    });
    await app.register(
      async (child) => {
        child.setNotFoundHandler({ preHandler: recordPreHandler }, notFound('plugin'));
        child.get('/park', (_request, reply) => void parked.push(() => reply.callNotFound()));
      },
      { prefix: '/plugin' },
    );
    base = await listen(app);
    resetDiagnostics();
  });

  afterEach(async () => {
    await app.close();
  });

  const headers = (n: number) => ({ traceparent: traceparent(n), baggage: `rid=r${n}` });

  /** Parks `path`'s call, has another request make it, and returns what the parked request's not-found handler saw. */
  async function parkAndRun(path: string, n: number): Promise<unknown> {
    const parkedResponse = fetch(base + path, { headers: headers(n) });
    while (parked.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const run = await fetch(`${base}/run`, { headers: headers(100 + n) });
    expect(await run.text()).toBe('ran');
    const response = await parkedResponse;
    expect(response.status).toBe(404);
    return response.json();
  }

  test.each([
    ['/park', 'app'],
    ['/plugin/park', 'plugin'],
  ])("%s: the not-found preHandler and handler (the %s's) run in the parked request's context, with no direct 404 before", async (path, where) => {
    expect(await parkAndRun(path, 1)).toEqual({ where, handler: mine(1), preHandler: mine(1) });
    expect(diagnosticsSnapshot()['context.restored']).toBe(1);
  });

  test('and after a direct 404 too', async () => {
    const direct = await fetch(`${base}/missing`, { headers: headers(2) });
    expect(await direct.json()).toEqual({ where: 'app', handler: mine(2), preHandler: mine(2) });
    expect(await parkAndRun('/park', 3)).toEqual({ where: 'app', handler: mine(3), preHandler: mine(3) });
    expect(await parkAndRun('/plugin/park', 4)).toEqual({ where: 'plugin', handler: mine(4), preHandler: mine(4) });
  });
});
