/**
 * How `@ctxprop/express` reads an Express request for the framework-neutral inbound handler of
 * `@ctxprop/core`. Express 4 and 5 expose the same fields.
 */
import type { InboundRequestAccessors } from '@ctxprop/core';
import type { Request } from 'express';

/**
 * The route template of a route declared with `routePath` in a router mounted at `baseUrl`: the
 * mount path plus the route's path (`/api` + `/users/:id`). Routes declared with a RegExp or an
 * array of paths have no single template and give undefined.
 */
export function routeTemplateOf(baseUrl: unknown, routePath: unknown): string | undefined {
  if (typeof routePath !== 'string') return undefined;
  const base = typeof baseUrl === 'string' ? baseUrl : '';
  // A router's '/' route mounted at '/api' answers '/api': report it so, not as '/api/'.
  if (base !== '' && routePath === '/') return base;
  return base + routePath;
}

/**
 * The route template of a request while Express is in the route's router (`req.baseUrl` is the
 * router's mount path only until the request leaves it). The route is normally learnt when its
 * layer is entered (layer-context.ts); this is the fallback read when the response ends.
 */
export function expressRoute(req: Request): string | undefined {
  return routeTemplateOf(req.baseUrl, (req.route as { path?: unknown } | undefined)?.path);
}

/**
 * True when the app trusts proxies: `req.ip` and `req.protocol` then read `X-Forwarded-*`. When it
 * does not (Express's default), they are the socket's, read directly: Express's getters parse the
 * forwarding headers on every call (about 2 µs a request).
 */
function trustsProxies(req: Request): boolean {
  const app = req.app as { get?: (setting: string) => unknown } | undefined;
  return typeof app?.get === 'function' && Boolean(app.get('trust proxy'));
}

/**
 * The first X-Forwarded-Host when the app's 'trust proxy' trusts the connection's peer, as
 * Express 5's `req.host` reads it (Express 4's drops the port); otherwise undefined, and core
 * reads the Host header.
 */
function forwardedHost(req: Request): string | undefined {
  const forwarded = req.headers['x-forwarded-host'];
  if (typeof forwarded !== 'string' || forwarded === '' || !trustsProxies(req)) return undefined;
  const trust = (req.app as { get(setting: string): unknown }).get('trust proxy fn');
  if (typeof trust !== 'function' || !trust(req.socket?.remoteAddress, 0)) return undefined;
  const comma = forwarded.indexOf(',');
  return (comma === -1 ? forwarded : forwarded.slice(0, comma)).trim();
}

/** The accessors `ctxprop()` hands to core. */
export const expressAccessors: InboundRequestAccessors<Request> = {
  headers: (req) => req.headers,
  // Node's IncomingHttpHeaders: names lowercased by Node's parser.
  lowercaseHeaders: true,
  method: (req) => req.method,
  // originalUrl: mounted routers rewrite req.url.
  target: (req) => req.originalUrl ?? req.url,
  // As Express resolves them, according to the app's 'trust proxy' setting.
  scheme: (req) => (trustsProxies(req) ? req.protocol : (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true ? 'https' : 'http'),
  clientAddress: (req) => (trustsProxies(req) ? req.ip : undefined) ?? req.socket?.remoteAddress,
  route: expressRoute,
  host: forwardedHost,
  protocolVersion: (req) => req.httpVersion,
  connection: (req) => req.socket,
};
