// A middleware that calls next() from the callback of a client whose connection was opened
// elsewhere (a session store, a callback-style database client). AsyncLocalStorage gives the rest
// of the request the connection's context: here the first request's, which opened it. Without
// restoration every later request would run its handler in that first request's context and
// forward its trace and baggage downstream. The middleware puts each request's own context back.
import request from 'supertest';
import { context, propagation, ROOT_CONTEXT, type Baggage } from '@opentelemetry/api';
import { configureDiagnostics, diagnosticsSnapshot, InvalidOptionError, resetDiagnostics } from '@ctxprop/core';
import { ctxprop, type CtxpropOptions } from '@ctxprop/express';
import type { Express, NextFunction, Request, Response } from 'express';
import { createPooledConnection, type PooledConnection } from '../../core/test/pooled-connection';
import { echoApp, EXPRESS_VERSIONS, listen, observe, type ExpressFactory, type Running } from './support/apps';

const traceparent = (n: number) => `00-${(n + 1).toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`;
const traceIdOf = (n: number) => (n + 1).toString(16).padStart(32, '0');

function addBaggage(key: string, value: string): (req: Request, res: Response, next: NextFunction) => void {
  return (_req, _res, next) => {
    const baggage: Baggage = (propagation.getActiveBaggage() ?? propagation.createBaggage()).setEntry(key, { value });
    context.with(propagation.setBaggage(context.active(), baggage), next);
  };
}

function restoringApp(express: ExpressFactory, pool: PooledConnection, downstreamUrl: string, options?: CtxpropOptions): Express {
  const app = express();
  const middleware = ctxprop(options);
  app.locals['ctxprop'] = middleware;
  app.use(middleware);
  // Every request first waits for the shared connection, as a session store lookup would.
  app.use((_req, _res, next) => pool.call(next));
  app.get('/handler', async (req, res) => {
    const handler = observe();
    const downstream = (await (await fetch(`${downstreamUrl}/echo`)).json()) as unknown;
    res.json({ handler, view: req.baggage.toJSON(), traceId: req.traceContext?.traceId ?? null, downstream });
  });
  app.get('/route-level', (_req, _res, next) => pool.call(next), (_req, res) => res.json({ handler: observe() }));
  app.get('/derived', addBaggage('added', 'yes'), (_req, _res, next) => pool.call(next), (_req, res) => res.json({ handler: observe() }));
  app.get('/in-callback', (req, res) => {
    pool.call(() => res.json({ view: req.baggage.toJSON(), active: observe() }));
  });
  app.get('/error', (_req, _res, next) => pool.call(() => next(new Error('store down'))));
  // A param callback that loads what the route needs, as app.param is meant for.
  app.param('order', (_req, _res, next) => pool.call(next));
  app.get('/orders/:order', (req, res) => res.json({ handler: observe(), order: req.params['order'] }));
  const router = express.Router();
  router.use((_req, _res, next) => pool.call(next));
  router.get('/item', (_req, res) => res.json({ handler: observe() }));
  app.use('/router', router);
  app.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err.message, handler: observe(), view: req.baggage.toJSON() });
  });
  return app;
}

describe.each(EXPRESS_VERSIONS)('%s: next() called from a pooled connection\'s callback', (_name, express) => {
  let downstream: Running;
  let pool: PooledConnection;
  let server: Running;

  async function start(options?: CtxpropOptions): Promise<void> {
    pool = await createPooledConnection();
    server = await listen(restoringApp(express, pool, downstream.url, options));
    // The first request opens the shared connection: its callbacks run in this request's context.
    await request(server.url).get('/route-level').set('traceparent', traceparent(999)).set('baggage', 'customer.tier=opener').expect(200);
    resetDiagnostics();
  }

  beforeAll(async () => {
    downstream = await listen(echoApp(express));
  });

  afterAll(async () => {
    await downstream.close();
  });

  afterEach(async () => {
    await server.close();
    await pool.close();
  });

  const get = (path: string, n: number, tier: string) => request(server.url).get(path).set('traceparent', traceparent(n)).set('baggage', `customer.tier=${tier}`);

  it("runs the handler in the request's own context and forwards its own trace and baggage", async () => {
    await start();
    const response = await get('/handler', 1, 'gold').expect(200);
    expect(response.body).toEqual({
      handler: { tier: 'gold', traceId: traceIdOf(1), spanId: '00f067aa0ba902b7' },
      view: { 'customer.tier': 'gold' },
      traceId: traceIdOf(1),
      downstream: { traceparent: traceparent(1), baggage: 'customer.tier=gold' },
    });
    expect(diagnosticsSnapshot()['context.restored']).toBe(1);
  });

  it('keeps 300 concurrent requests apart, each with its own trace and baggage downstream', async () => {
    await start();
    const responses = await Promise.all(Array.from({ length: 300 }, (_, n) => get('/handler', n, `tier-${n}`).expect(200)));
    responses.forEach((response, n) => {
      const body = response.body as { handler: { tier: string; traceId: string }; downstream: { traceparent: string; baggage: string } };
      expect(body.handler.tier).toBe(`tier-${n}`);
      expect(body.handler.traceId).toBe(traceIdOf(n));
      expect(body.downstream).toEqual({ traceparent: traceparent(n), baggage: `customer.tier=tier-${n}` });
    });
  });

  it('restores it for route-level middleware and in a mounted router, once per hand-off', async () => {
    await start();
    const routeLevel = await get('/route-level', 2, 'silver').expect(200);
    expect(routeLevel.body.handler).toEqual({ tier: 'silver', traceId: traceIdOf(2), spanId: '00f067aa0ba902b7' });
    expect(diagnosticsSnapshot()['context.restored']).toBe(2);
    const routed = await get('/router/item', 3, 'bronze').expect(200);
    expect(routed.body.handler).toEqual({ tier: 'bronze', traceId: traceIdOf(3), spanId: '00f067aa0ba902b7' });
  });

  it('warns once per place the request came back to, naming the route, the middleware or the handler', async () => {
    const codes: string[] = [];
    const messages: string[] = [];
    configureDiagnostics({ warn: (message, code) => (codes.push(code), messages.push(message)) });
    try {
      await start();
      await get('/handler', 30, 'gold').expect(200);
      await get('/handler', 31, 'gold').expect(200);
      await get('/route-level', 32, 'gold').expect(200);
      await get('/error', 33, 'gold').expect(500);
      await get('/router/item', 34, 'gold').expect(200);
      expect(codes.map((code) => code.replace('CTXPROP_CONTEXT_RESTORED:', ''))).toEqual([
        // The app-level middleware that waits on the pool is followed by the route's layer.
        'the Express route /handler',
        'the Express route /route-level',
        // Inside the route: its first handler waits on the pool, its second is reached from it.
        'an Express route handler of /route-level',
        'the Express route /error',
        // The route's handler passed an error on from the callback.
        'an Express error handler',
        // The mounted router, then the route inside it after the router's own pooled middleware.
        'the Express middleware "router"',
        'the Express route /item',
      ]);
      expect(codes.every((code) => code.startsWith('CTXPROP_CONTEXT_RESTORED:'))).toBe(true);
      expect(messages[0]).toContain('context.bind(context.active(), callback)');
    } finally {
      configureDiagnostics({ warn: (message, code) => process.emitWarning(message, { type: 'CtxpropWarning', code }) });
    }
  });

  it('restores it after a param callback that calls next() from the callback', async () => {
    await start();
    const response = await get('/orders/17', 8, 'gold').expect(200);
    expect(response.body).toEqual({ handler: { tier: 'gold', traceId: traceIdOf(8), spanId: '00f067aa0ba902b7' }, order: '17' });
    // Params are processed before the route's layer runs: one restore there covers both hand-offs.
    expect(diagnosticsSnapshot()['context.restored']).toBe(1);
  });

  it('restores the latest context of the request: baggage a middleware added with context.with is kept (contrib #3527)', async () => {
    await start();
    const response = await get('/derived', 4, 'gold').expect(200);
    expect(response.body.handler).toEqual({ tier: 'gold', added: 'yes', traceId: traceIdOf(4), spanId: '00f067aa0ba902b7' });
  });

  it("runs an error handler reached by next(err) from the callback in the request's context", async () => {
    await start();
    const response = await get('/error', 5, 'gold').expect(500);
    expect(response.body).toEqual({
      error: 'store down',
      handler: { tier: 'gold', traceId: traceIdOf(5), spanId: '00f067aa0ba902b7' },
      view: { 'customer.tier': 'gold' },
    });
  });

  it("leaves the callback itself in the context it ran in, where req.baggage still gives the request's own", async () => {
    await start();
    const response = await get('/in-callback', 6, 'gold').expect(200);
    expect(response.body).toEqual({ view: { 'customer.tier': 'gold' }, active: { tier: 'opener', traceId: traceIdOf(999), spanId: '00f067aa0ba902b7' } });
  });

  it('with restoreContext: false, leaves the rest of the request in the context the callback ran in', async () => {
    await start({ restoreContext: false });
    const response = await get('/handler', 7, 'gold').expect(200);
    expect(response.body.handler).toEqual({ tier: 'opener', traceId: traceIdOf(999), spanId: '00f067aa0ba902b7' });
    expect(response.body.downstream).toEqual({ traceparent: traceparent(999), baggage: 'customer.tier=opener' });
    // req.baggage still finds its own request (the scope noted on the router's next), as everywhere.
    expect(response.body.view).toEqual({ 'customer.tier': 'gold' });
    expect(diagnosticsSnapshot()['context.restored']).toBeUndefined();
  });
});

// Param callbacks are the first to run after ctxprop's middleware: nothing between noted the
// request on the router's next before the context was lost.
function paramFirstApp(express: ExpressFactory, pool: PooledConnection): Express {
  const app = express();
  const middleware = ctxprop({ outbound: false });
  app.locals['ctxprop'] = middleware;
  app.use(middleware);
  app.param('order', (_req, _res, next) => pool.call(next));
  app.param('broken', (_req, _res, next) => pool.call(() => next(new Error('lookup failed'))));
  app.get('/orders/:order', (req, res) => res.json({ handler: observe(), view: req.baggage.toJSON() }));
  app.get('/broken/:broken', (_req, res) => res.json({ unreachable: true }));
  const router = express.Router();
  router.param('item', (_req, _res, next) => pool.call(next));
  router.get('/items/:item', (req, res) => res.json({ handler: observe(), view: req.baggage.toJSON() }));
  app.use('/shop', router);
  // A param callback that hands the request on synchronously from another context.
  const syncRouter = express.Router();
  syncRouter.param('sid', (_req, _res, next) => context.with(ROOT_CONTEXT, next));
  syncRouter.get('/items/:sid', (req, res) => res.json({ handler: observe(), view: req.baggage.toJSON() }));
  app.use('/sync', syncRouter);
  app.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err.message, handler: observe(), view: req.baggage.toJSON() });
  });
  return app;
}

describe.each(EXPRESS_VERSIONS)("%s: a param callback right after ctxprop's middleware calls next() from a pooled callback", (_name, express) => {
  let pool: PooledConnection;
  let server: Running;

  beforeEach(async () => {
    pool = await createPooledConnection();
    server = await listen(paramFirstApp(express, pool));
    // The first request opens the shared connection: its callbacks run in this request's context.
    await request(server.url).get('/orders/0').set('traceparent', traceparent(999)).set('baggage', 'customer.tier=opener').expect(200);
  });

  afterEach(async () => {
    await server.close();
    await pool.close();
  });

  const get = (path: string, n: number, tier: string) => request(server.url).get(path).set('traceparent', traceparent(n)).set('baggage', `customer.tier=${tier}`);

  it.each([
    ['an app.param callback', '/orders/17'],
    ["a mounted router's router.param callback", '/shop/items/17'],
    ["a mounted router's router.param callback that calls next() synchronously from another context", '/sync/items/17'],
  ])("runs the route handler after %s in the request's own context", async (_what, path) => {
    const responses = await Promise.all(Array.from({ length: 50 }, (_, n) => get(path, n, `tier-${n}`).expect(200)));
    responses.forEach((response, n) => {
      expect(response.body).toEqual({ handler: { tier: `tier-${n}`, traceId: traceIdOf(n), spanId: '00f067aa0ba902b7' }, view: { 'customer.tier': `tier-${n}` } });
    });
  });

  it("runs the error handler reached by a param callback's next(err) in the request's own context", async () => {
    const response = await get('/broken/1', 7, 'gold').expect(500);
    expect(response.body).toEqual({ error: 'lookup failed', handler: { tier: 'gold', traceId: traceIdOf(7), spanId: '00f067aa0ba902b7' }, view: { 'customer.tier': 'gold' } });
  });
});

describe.each(EXPRESS_VERSIONS)("%s: the wrapping of Express's Layer", (_name, express) => {
  const METHODS = ['handleRequest', 'handleError', 'handle_request', 'handle_error'];

  function layerMethods(app: Express): { prototype: Record<string, unknown>; methods: Record<string, unknown> } {
    const holder = app as unknown as { _router?: { stack: object[] }; router?: { stack: object[] } };
    const prototype = Object.getPrototypeOf((holder._router ?? holder.router)!.stack[0]) as Record<string, unknown>;
    const methods = Object.fromEntries(METHODS.filter((name) => Object.prototype.hasOwnProperty.call(prototype, name)).map((name) => [name, prototype[name]]));
    return { prototype, methods };
  }

  async function appWith(options?: CtxpropOptions): Promise<{ app: Express; server: Running }> {
    const app = express();
    const middleware = ctxprop(options);
    app.locals['ctxprop'] = middleware;
    app.use(middleware);
    app.get('/', (_req, res) => res.json({ ok: true }));
    return { app, server: await listen(app) };
  }

  it('wraps the methods at the first request, once for two apps, and gives the originals back when the last closes', async () => {
    const first = await appWith();
    const second = await appWith();
    const { prototype, methods: originals } = layerMethods(first.app);
    expect(Object.keys(originals)).toHaveLength(2);
    await request(first.server.url).get('/').expect(200);
    const wrapped = Object.fromEntries(Object.keys(originals).map((name) => [name, prototype[name]]));
    for (const name of Object.keys(originals)) expect(wrapped[name]).not.toBe(originals[name]);
    await request(second.server.url).get('/').expect(200);
    for (const name of Object.keys(originals)) expect(prototype[name]).toBe(wrapped[name]);
    await first.server.close();
    for (const name of Object.keys(originals)) expect(prototype[name]).toBe(wrapped[name]);
    await second.server.close();
    for (const name of Object.keys(originals)) expect(prototype[name]).toBe(originals[name]);
  });

  it('wraps the methods with restoreContext: false too (where the route is learnt), and gives the originals back', async () => {
    const { app, server } = await appWith({ restoreContext: false });
    const { prototype, methods: originals } = layerMethods(app);
    await request(server.url).get('/').expect(200);
    for (const name of Object.keys(originals)) expect(prototype[name]).not.toBe(originals[name]);
    await server.close();
    for (const name of Object.keys(originals)) expect(prototype[name]).toBe(originals[name]);
  });
});

describe('restoreContext option', () => {
  it('must be a boolean', () => {
    expect(() => ctxprop({ restoreContext: 'yes' as unknown as boolean })).toThrow(InvalidOptionError);
    expect(() => ctxprop({ restoreContext: 'yes' as unknown as boolean })).toThrow(/restoreContext/);
  });
});

describe.each([
  ['an Express 5 app', 'an Express 4 router', EXPRESS_VERSIONS[0]![1], EXPRESS_VERSIONS[1]![1]],
  ['an Express 4 app', 'an Express 5 router', EXPRESS_VERSIONS[1]![1], EXPRESS_VERSIONS[0]![1]],
] as const)('%s with %s (a library built on another Express copy)', (_app, _router, appExpress, routerExpress) => {
  it("restores the request's context inside the other copy's router too", async () => {
    const pool = await createPooledConnection();
    const app = appExpress();
    const middleware = ctxprop({ outbound: false });
    app.use(middleware);
    const library = routerExpress.Router();
    library.use((_req, _res, next) => pool.call(next));
    library.get('/items/:id', (req, res) => res.json({ handler: observe(), view: req.baggage.toJSON() }));
    app.use('/lib', library);
    const server = await listen(app);
    try {
      // The first request opens the shared connection: its callbacks run in this request's context.
      await request(server.url).get('/lib/items/0').set('traceparent', traceparent(998)).set('baggage', 'customer.tier=opener').expect(200);
      const response = await request(server.url).get('/lib/items/1').set('traceparent', traceparent(1)).set('baggage', 'customer.tier=gold').expect(200);
      expect(response.body.handler).toEqual({ tier: 'gold', traceId: traceIdOf(1), spanId: '00f067aa0ba902b7' });
      expect(response.body.view).toEqual({ 'customer.tier': 'gold' });
    } finally {
      middleware.close();
      await server.close();
      await pool.close();
    }
  });
});
