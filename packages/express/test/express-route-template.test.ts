// The route template (span name, http.route, the duration histogram) of routes in mounted routers
// and sub-apps, whichever way the request leaves them: a response, next(err), a throw, next().
// Express resets req.baseUrl when a request leaves a router, so the route must be learnt when the
// route is entered, not read when the response ends.
import request from 'supertest';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Express, NextFunction, Request, Response } from 'express';
import { ctxprop, recordErrors, type CtxpropOptions } from '@ctxprop/express';
import { EXPRESS_VERSIONS, listen, type ExpressFactory, type Running } from './support/apps';
import { useSdk } from './support/sdk';

const sdk = useSdk();
const USER_AGENT = 'ctxprop-route-test/1.0';

function routesApp(express: ExpressFactory, options?: CtxpropOptions): Express {
  const app = express();
  const middleware = ctxprop({ outbound: false, ...options });
  app.locals['ctxprop'] = middleware;
  app.use(middleware);

  const api = express.Router();
  api.get('/orders/:id', (_req, res) => res.send('ok'));
  api.get('/orders/:id/fail', (_req, _res, next) => next(new Error('db down')));
  api.get('/orders/:id/throw', () => {
    throw new TypeError('bad input');
  });
  api.get('/orders/:id/pass', (_req, _res, next) => next());
  api.get('/skip/:id', (_req, _res, next) => next('route'));
  api.get('/skip/:name', (_req, res) => res.send('second'));
  api.get('/chain/:id', (_req, _res, next) => next());
  const items = express.Router();
  items.get('/:sku', (_req, _res, next) => next(new RangeError('no such sku')));
  api.use('/items', items);
  // After the routes above: answers /chain/1 once its own route called next().
  api.get('/:section/:id', (_req, res) => res.send('generic'));
  api.get('/', (_req, _res, next) => next(new Error('root failed')));
  app.use('/api', api);

  // A route that calls next() for every path under /gate, then routes with no single template.
  app.get('/gate/:any', (_req, _res, next) => next());
  app.get(/^\/gate\/\d+$/, (_req, res) => res.send('by a RegExp'));
  app.get(['/gate/a', '/gate/b'], (_req, res) => res.send('by an array'));

  const shop = express();
  shop.get('/items/:id/throw', () => {
    throw new TypeError('sub-app failed');
  });
  app.use('/shop', shop);

  // Mount paths with parameters: the template keeps the parameter's name, never its value.
  const posts = express.Router();
  posts.get('/posts/:pid', (_req, res) => res.send('post'));
  const settings = express.Router();
  settings.get('/:key', (_req, res) => res.send('setting'));
  posts.use('/settings', settings);
  const teams = express.Router();
  teams.get('/members/:mid', (_req, res) => res.send('member'));
  posts.use('/teams/:team', teams);
  app.use('/users/:uid', posts);
  const tenant = express();
  tenant.get('/items/:id', (_req, res) => res.send('tenant item'));
  app.use('/tenants/:tid', tenant);
  const inner = express.Router();
  inner.get('/x/:id', (_req, res) => res.send('inner'));
  const outer = express.Router();
  outer.use(['/x/b', '/b'], inner);
  app.use('/t/:tenant', outer);
  const things = express.Router();
  things.get('/things/:id', (_req, res) => res.send('thing'));
  app.use(['/legacy', '/current'], things);
  const versions = express.Router();
  versions.get('/x/:id', (_req, res) => res.send('version'));
  app.use('/v/:version', versions);
  // A mount path given as a RegExp has no template: its routes have none either.
  const versioned = express.Router();
  versioned.get('/status', (_req, res) => res.send('versioned'));
  app.use(/^\/v\d+/, versioned);

  app.use(recordErrors());
  app.use((_err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).send('internal');
  });
  return app;
}

interface Case {
  readonly path: string;
  readonly status: number;
  readonly route: string;
  readonly errorType?: string;
}

const CASES: ReadonlyArray<[string, Case]> = [
  ['a route of a mounted router that answers', { path: '/api/orders/1', status: 200, route: '/api/orders/:id' }],
  ['a route of a mounted router that calls next(err)', { path: '/api/orders/1/fail', status: 500, route: '/api/orders/:id/fail', errorType: 'Error' }],
  ['a route of a mounted router that throws', { path: '/api/orders/1/throw', status: 500, route: '/api/orders/:id/throw', errorType: 'TypeError' }],
  ["the '/' route of a router mounted at /api that calls next(err)", { path: '/api', status: 500, route: '/api', errorType: 'Error' }],
  ['a route of a router nested in a mounted router that calls next(err)', { path: '/api/items/9', status: 500, route: '/api/items/:sku', errorType: 'RangeError' }],
  ['a route of a mounted sub-app that throws', { path: '/shop/items/1/throw', status: 500, route: '/shop/items/:id/throw', errorType: 'TypeError' }],
  ["the later route, when the first calls next('route')", { path: '/api/skip/1', status: 200, route: '/api/skip/:name' }],
  ['the later route, when a route calls next() and a later one answers', { path: '/api/chain/1', status: 200, route: '/api/:section/:id' }],
  ['the route that matched, when it called next() and the request ended in a 404', { path: '/api/orders/1/pass', status: 404, route: '/api/orders/:id/pass' }],
  ['a route of a router mounted on a path with a parameter', { path: '/users/42/posts/7', status: 200, route: '/users/:uid/posts/:pid' }],
  ['a route of a router mounted on a literal path inside one with a parameter', { path: '/users/42/settings/theme', status: 200, route: '/users/:uid/settings/:key' }],
  ['a route of a router mounted on a path with a parameter inside another', { path: '/users/42/teams/blue/members/9', status: 200, route: '/users/:uid/teams/:team/members/:mid' }],
  ['a route of a sub-app mounted on a path with a parameter', { path: '/tenants/acme%20corp/items/3', status: 200, route: '/tenants/:tid/items/:id' }],
  // Express matches mount paths without regard to case: the template is the declared path, not the client's spelling.
  ['a route of a router mounted on a literal path, spelt in another case', { path: '/API/orders/1', status: 200, route: '/api/orders/:id' }],
  ['a route of a sub-app mounted on a literal path, spelt in another case', { path: '/Shop/items/1/throw', status: 500, route: '/shop/items/:id/throw', errorType: 'TypeError' }],
  ['a route under a parameter and a literal mount, spelt in another case', { path: '/USERS/42/Settings/theme', status: 200, route: '/users/:uid/settings/:key' }],
  ['a route of a router mounted at /v/:version, whose value is v', { path: '/v/v/x/1', status: 200, route: '/v/:version/x/:id' }],
  ['a route of a router mounted on an array of literal paths, by the path it came through', { path: '/legacy/things/1', status: 200, route: '/legacy/things/:id' }],
  ['a route of a router mounted on an array of literal paths, the other path', { path: '/Current/things/2', status: 200, route: '/current/things/:id' }],
  // The tenant's value spells the end of another path of the array: the path Express matched is the one named.
  ['a route under an array of paths under a parameter mount, whose value spells another path', { path: '/t/x/b/x/1', status: 200, route: '/t/:tenant/b/x/:id' }],
];

describe.each(EXPRESS_VERSIONS)('%s: the route of a request', (_name, express) => {
  let app: Running;
  let port: number;

  beforeAll(async () => {
    app = await listen(routesApp(express));
    port = Number(new URL(app.url).port);
  });

  afterAll(async () => {
    await app.close();
  });

  it.each(CASES)('is the full template, mount path included, for %s', async (_description, { path, status, route, errorType }) => {
    await request(app.url).get(path).set('user-agent', USER_AGENT).expect(status);
    const [span] = await sdk.finishedSpans(1);
    expect(span!.name).toBe(`GET ${route}`);
    const attributes: Record<string, unknown> = {
      'http.request.method': 'GET',
      'url.path': path,
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': port,
      'user_agent.original': USER_AGENT,
      'client.address': '127.0.0.1',
      'network.protocol.version': '1.1',
      'network.peer.address': '127.0.0.1',
      'network.peer.port': expect.any(Number),
      'http.route': route,
      'http.response.status_code': status,
    };
    if (errorType !== undefined) attributes['error.type'] = errorType;
    expect(span!.attributes).toEqual(attributes);
    expect(span!.status.code).toBe(status >= 500 ? SpanStatusCode.ERROR : SpanStatusCode.UNSET);
    const point: Record<string, unknown> = {
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'http.route': route,
      'http.response.status_code': status,
      'network.protocol.version': '1.1',
    };
    if (errorType !== undefined) point['error.type'] = errorType;
    expect(await sdk.durationPoints()).toEqual([point]);
  });

  it('has no route when none matched (404)', async () => {
    await request(app.url).get('/no/such/path').expect(404);
    const [span] = await sdk.finishedSpans(1);
    expect(span!.name).toBe('GET');
    expect(span!.attributes['http.route']).toBeUndefined();
    expect(await sdk.durationPoints()).toEqual([
      { 'http.request.method': 'GET', 'url.scheme': 'http', 'http.response.status_code': 404, 'network.protocol.version': '1.1' },
    ]);
  });

  it.each(['/gate/7', '/gate/a'])('has no route when a route without a single template (a RegExp, an array) answers after one that called next(): %s', async (path) => {
    await request(app.url).get(path).expect(200);
    const [span] = await sdk.finishedSpans(1);
    expect(span!.name).toBe('GET');
    expect(span!.attributes['http.route']).toBeUndefined();
    expect((await sdk.durationPoints())[0]).not.toHaveProperty('http.route');
  });

  it('has no route for a router mounted on a RegExp (no template: its values would make a series per request)', async () => {
    await request(app.url).get('/v3/status').expect(200);
    const [span] = await sdk.finishedSpans(1);
    expect(span!.name).toBe('GET');
    expect(span!.attributes['http.route']).toBeUndefined();
    expect((await sdk.durationPoints())[0]).not.toHaveProperty('http.route');
  });

  it('is the full template with restoreContext: false too', async () => {
    const unrestored = await listen(routesApp(express, { restoreContext: false }));
    try {
      await request(unrestored.url).get('/api/orders/1/fail').expect(500);
      await request(unrestored.url).get('/shop/items/1/throw').expect(500);
      const spans = await sdk.finishedSpans(2);
      expect(spans.map((span) => [span.name, span.attributes['http.route'], span.attributes['error.type']]).sort()).toEqual([
        ['GET /api/orders/:id/fail', '/api/orders/:id/fail', 'Error'],
        ['GET /shop/items/:id/throw', '/shop/items/:id/throw', 'TypeError'],
      ]);
    } finally {
      await unrestored.close();
    }
  });
});
