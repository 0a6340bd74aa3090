/**
 * How `@ctxprop/fastify` reads a Fastify request for the framework-neutral inbound handler of
 * `@ctxprop/core`. Fastify 4 and 5 expose the same fields, except where noted.
 */
import type { InboundRequestAccessors } from '@ctxprop/core';
import type { FastifyRequest } from 'fastify';

interface LegacyRequest {
  /** Fastify 4 before `routeOptions` (deprecated in later 4.x, removed in 5). */
  readonly routerPath?: unknown;
}

/**
 * The route template Fastify matched (`/orders/:id`), or undefined for the not-found handler.
 * Known from onRequest on: Fastify routes before it runs any hook.
 */
export function fastifyRoute(request: FastifyRequest): string | undefined {
  const routeOptions = (request as Partial<Pick<FastifyRequest, 'routeOptions'>>).routeOptions;
  // Read `routerPath` only on a Fastify 4 too old for `routeOptions`: later 4.x warn on it.
  const url = routeOptions !== undefined ? routeOptions.url : (request as LegacyRequest).routerPath;
  return typeof url === 'string' && url !== '' ? url : undefined;
}

function fastifyScheme(request: FastifyRequest): string | undefined {
  // `protocol` follows `trustProxy` (X-Forwarded-Proto); it is missing only on early 4.x.
  const protocol = (request as Partial<Pick<FastifyRequest, 'protocol'>>).protocol;
  if (typeof protocol === 'string') return protocol;
  return (request.raw.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http';
}

interface HostGetters {
  /** Fastify 5: `host[:port]`, from X-Forwarded-Host when `trustProxy` trusts the sender. */
  readonly host?: unknown;
  /** Fastify 4: the same (Fastify 5's `hostname` has no port). */
  readonly hostname?: unknown;
}

/** The host the client addressed as Fastify resolves it (`trustProxy` applies). */
function fastifyHost(request: FastifyRequest): string | undefined {
  const getters = request as unknown as HostGetters;
  const host = getters.host ?? getters.hostname;
  return typeof host === 'string' ? host : undefined;
}

/** The accessors the plugin hands to core. */
export const fastifyAccessors: InboundRequestAccessors<FastifyRequest> = {
  headers: (request) => request.headers,
  // Node's IncomingHttpHeaders (light-my-request's inject() lowercases its names too).
  lowercaseHeaders: true,
  method: (request) => request.method,
  // The URL as received: Fastify 4.29 and 5 keep it as `originalUrl` on the raw request when
  // `rewriteUrl` changed it (4.7 keeps none).
  target: (request) => (request.raw as { originalUrl?: string }).originalUrl ?? request.url,
  scheme: fastifyScheme,
  // `request.ip` follows Fastify's `trustProxy` setting (X-Forwarded-For).
  clientAddress: (request) => request.ip,
  route: fastifyRoute,
  host: fastifyHost,
  protocolVersion: (request) => request.raw.httpVersion,
  // The TCP connection (for HTTP/2, the session's socket): a proxy, behind one.
  connection: (request) => request.raw.socket,
  // Fastify routes before onRequest: the span starts named `{METHOD} {route}`, for samplers too.
  routeAtStart: true,
};
