/**
 * How the plugin reads a Fastify request for core: the route template from `routeOptions.url`
 * (Fastify 5, later 4.x), falling back to `routerPath` only on a Fastify 4 too old for
 * `routeOptions` (later 4.x warn when `routerPath` is read: FSTDEP017).
 */
import type { FastifyRequest } from 'fastify';
import { fastifyAccessors, fastifyRoute } from '../src/request-accessors';

function request(fields: object): FastifyRequest {
  return fields as unknown as FastifyRequest;
}

describe('fastifyRoute()', () => {
  test.each([
    ['routeOptions.url', { routeOptions: { url: '/users/:id' } }, '/users/:id'],
    ['routeOptions without a url (the not-found handler)', { routeOptions: { url: undefined } }, undefined],
    ['an empty url', { routeOptions: { url: '' } }, undefined],
    ['routerPath on an early Fastify 4', { routerPath: '/legacy/:id' }, '/legacy/:id'],
    ['neither', {}, undefined],
  ])('%s', (_name, fields, expected) => {
    expect(fastifyRoute(request(fields))).toBe(expected);
  });

  test('does not read routerPath when routeOptions is there', () => {
    const fields = {
      routeOptions: { url: '/users/:id' },
      get routerPath(): string {
        throw new Error('FSTDEP017: routerPath is deprecated');
      },
    };
    expect(fastifyRoute(request(fields))).toBe('/users/:id');
  });
});

describe('fastifyAccessors.scheme', () => {
  test('is request.protocol when Fastify has it, else read from the socket', () => {
    expect(fastifyAccessors.scheme(request({ protocol: 'https', raw: { socket: null } }))).toBe('https');
    expect(fastifyAccessors.scheme(request({ raw: { socket: { encrypted: true } } }))).toBe('https');
    expect(fastifyAccessors.scheme(request({ raw: { socket: {} } }))).toBe('http');
  });
});
