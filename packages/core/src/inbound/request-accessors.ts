/**
 * How the framework-neutral inbound code reads a framework's request. Each adapter writes one
 * accessor object, once, with plain functions (no closure over a request), and hands it to
 * `createInboundHandler`.
 */

/**
 * Reads what inbound handling needs from a framework's request. Each function is called at most
 * once per request, and only when its answer is needed (the span attributes only when a span is
 * recorded; `clientAddress` only when a trust rule looks at it or a span is recorded).
 *
 * @example
 * ```ts
 * const expressAccessors: InboundRequestAccessors<Request> = {
 *   headers: (req) => req.headers,
 *   lowercaseHeaders: true,
 *   method: (req) => req.method,
 *   target: (req) => req.originalUrl,
 *   scheme: (req) => req.protocol,
 *   clientAddress: (req) => req.ip,
 *   route: (req) => (typeof req.route?.path === 'string' ? req.baseUrl + req.route.path : undefined),
 *   protocolVersion: (req) => req.httpVersion,
 *   connection: (req) => req.socket,
 * };
 * ```
 */
export interface InboundRequestAccessors<Request> {
  /** The request headers (Node's `IncomingHttpHeaders`, or any header carrier). */
  headers(request: Request): unknown;
  /**
   * True when {@link headers} returns Node's `IncomingHttpHeaders`, whose names are lowercase:
   * headers are then read with one lookup each (`lowercaseHeaderGetter`) instead of the
   * case-insensitive getter, which walks every name for each absent header. Default false.
   */
  readonly lowercaseHeaders?: boolean;
  /** The method as received (`GET`). */
  method(request: Request): string | undefined;
  /** The request target as received (`/users/7?x=1`); the query is cut off for `url.path`. */
  target(request: Request): string | undefined;
  /** `http` or `https`, as the framework resolves it (behind a proxy, from `X-Forwarded-Proto` when trusted). */
  scheme(request: Request): string | undefined;
  /** The client's address, as the framework resolves it (behind a proxy, from `X-Forwarded-For` when trusted). */
  clientAddress(request: Request): string | undefined;
  /** The matched route template (`/users/:id`), or undefined when no route matched (yet). */
  route(request: Request): string | undefined;
  /**
   * The host the client addressed, `name[:port]`, as the framework resolves it: from
   * `X-Forwarded-Host` when the framework trusts the proxy that sent it, for `server.address` and
   * `server.port` (the conventions' first choice). Optional: without it, or when it answers
   * undefined or `''`, the `Host` header (HTTP/2: `:authority`) is read.
   */
  host?(request: Request): string | undefined;
  /**
   * The HTTP version as Node reports it (`req.httpVersion`: `1.1`, `2.0`), for
   * `network.protocol.version`. Optional: without it the attribute is left out.
   */
  protocolVersion?(request: Request): string | undefined;
  /**
   * The connection the request came on (Node's `req.socket`), for `network.peer.address` and
   * `network.peer.port`: the other end of the TCP connection, a proxy when there is one. Optional:
   * without it the attributes are left out.
   */
  connection?(request: Request): { readonly remoteAddress?: string; readonly remotePort?: number } | null | undefined;
  /**
   * True when {@link route} already answers when the adapter calls `start()` (Fastify routes a
   * request before its first hook). The server span is then started with `http.route` and its
   * final name `{METHOD} {route}`, so that a sampler sees both. Default false: the route is set
   * when the adapter learns it (`scope.setRoute`) or read when the response ends.
   */
  readonly routeAtStart?: boolean;
}
