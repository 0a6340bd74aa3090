/**
 * The plugin as Fastify sees it: a fastify-plugin with a name and a version range, the named and
 * default export, options validated at registration (issue #3, "Robustness": a wrong option
 * throws with a message naming it and the fix), and request properties declared once.
 */
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import { isCtxpropError } from '@ctxprop/core';
import ctxpropDefault, { ctxprop, type CtxpropOptions } from '@ctxprop/fastify';
import { FRAMEWORKS } from './support/frameworks';

describe('the plugin object', () => {
  test('the default export is the named export', () => {
    expect(ctxpropDefault).toBe(ctxprop);
  });

  test('is a fastify-plugin named @ctxprop/fastify for Fastify 4 and 5, not encapsulated', () => {
    const plugin = ctxprop as unknown as Record<symbol, unknown>;
    // fastify-plugin's documented markers: skip-override shares the hooks and decorators with the
    // parent, plugin-meta carries the name and the supported Fastify range.
    expect(plugin[Symbol.for('skip-override')]).toBe(true);
    expect(plugin[Symbol.for('plugin-meta')]).toEqual(expect.objectContaining({ name: '@ctxprop/fastify', fastify: '>=4.7.0 <6' }));
    expect(plugin[Symbol.for('fastify.display-name')]).toBe('@ctxprop/fastify');
  });
});

const INVALID_OPTIONS: ReadonlyArray<[option: string, options: unknown]> = [
  ['propagators', { propagators: 'w3c' }],
  ['propagators', { propagators: 42 }],
  ['trust', { trust: 'maybe' }],
  ['trust.trustedAddresses[0]', { trust: { trustedAddresses: ['10.0.0.0/33'] } }],
  ['trust.untrusted', { trust: { trustedAddresses: ['private'], untrusted: 'trust' } }],
  ['baggage', { baggage: { 'customer.tier': 'gold' } }],
  ['spanAttributesFromBaggage', { spanAttributesFromBaggage: 'customer.tier' }],
  ['outbound', { outbound: 'no' }],
  ['metrics', { metrics: 'yes' }],
  ['tracePropagators', { tracePropagators: ['b3'] }],
];

describe.each(FRAMEWORKS)('%s', (_framework, createApp) => {
  let app: FastifyInstance;

  beforeEach(() => {
    app = createApp();
  });

  afterEach(() => app.close());

  test('registers with no options and decorates requests with baggage, traceContext and setBaggage', async () => {
    await app.register(ctxprop);
    app.get('/', async (request) => ({
      baggage: typeof request.baggage,
      traceContext: request.traceContext === undefined ? 'undefined' : typeof request.traceContext,
      setBaggage: typeof request.setBaggage,
    }));
    await app.ready();

    expect(app.hasRequestDecorator('baggage')).toBe(true);
    expect(app.hasRequestDecorator('traceContext')).toBe(true);
    expect(app.hasRequestDecorator('setBaggage')).toBe(true);
    expect((await app.inject({ method: 'GET', url: '/' })).json()).toEqual({ baggage: 'object', traceContext: 'undefined', setBaggage: 'function' });
  });

  test.each(INVALID_OPTIONS)('a wrong "%s" option fails registration with an InvalidOptionError naming it', async (option, options) => {
    const failure = await app.register(ctxprop, options as CtxpropOptions).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(isCtxpropError(failure)).toBe(true);
    expect(failure).toEqual(expect.objectContaining({ code: 'CTXPROP_INVALID_OPTION', option }));
    expect((failure as Error).message).toMatch(new RegExp(`^ctxprop: option "${option.replace(/[.[\]]/g, '\\$&')}"`));
  });

  test("Fastify's own register options (prefix, logLevel) are not rejected", async () => {
    await expect(app.register(ctxprop, { prefix: '/api', logLevel: 'warn' } as CtxpropOptions)).resolves.toBeDefined();
  });

  test('registering it twice fails with an error that names the package', async () => {
    await app.register(ctxprop);
    const failure = await app.register(ctxprop).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(isCtxpropError(failure)).toBe(true);
    expect((failure as Error).message).toMatch(/^ctxprop: @ctxprop\/fastify is already registered/);
  });

  test('registering it again inside an encapsulated plugin of the instance it is on fails too', async () => {
    await app.register(ctxprop);
    await expect(
      app.register(async (child) => {
        await child.register(ctxprop);
      }),
    ).rejects.toThrow(/^ctxprop: @ctxprop\/fastify is already registered/);
  });

  test('registered inside an encapsulated plugin (where fastify-cli puts an app), it covers the routes in that plugin', async () => {
    await app.register(async (child) => {
      await child.register(ctxprop);
      child.get('/inside', async (request) => ({ user: request.baggage.get('user.id') ?? null }));
    });
    const response = await app.inject({ method: 'GET', url: '/inside', headers: { baggage: 'user.id=alice' } });
    expect(response.json()).toEqual({ user: 'alice' });
  });

  test('plugins can depend on it by name, and its hooks reach routes in encapsulated plugins', async () => {
    const dependent: FastifyPluginCallback = fp(
      (instance, _options, done) => {
        instance.get('/child', async (request) => ({ user: request.baggage.get('user.id') ?? null }));
        done();
      },
      { name: 'needs-ctxprop', dependencies: ['@ctxprop/fastify'] },
    );
    await app.register(ctxprop);
    await app.register(async (child) => {
      await child.register(dependent);
    });

    const response = await app.inject({ method: 'GET', url: '/child', headers: { baggage: 'user.id=alice' } });

    expect(response.json()).toEqual({ user: 'alice' });
  });

  test('a plugin that depends on it fails to load without it', async () => {
    const dependent = fp((_instance, _options, done) => done(), { name: 'needs-ctxprop', dependencies: ['@ctxprop/fastify'] });
    await expect(app.register(dependent).ready()).rejects.toThrow(/@ctxprop\/fastify/);
  });
});
