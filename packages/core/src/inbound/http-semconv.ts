/**
 * The OpenTelemetry HTTP semantic conventions a server span and the request-duration histogram
 * follow: attribute names, the known methods, the span name rule and the histogram's buckets.
 * https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-server
 * https://opentelemetry.io/docs/specs/semconv/http/http-metrics/#metric-httpserverrequestduration
 */

import { DEFAULT_KNOWN_METHODS } from '../semconv/known-methods.js';

/** `http.request.method`: the method, or `_OTHER` when it is not a known one. */
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
/** `http.request.method_original`: the method as received, when it was not a known one. */
export const ATTR_HTTP_REQUEST_METHOD_ORIGINAL = 'http.request.method_original';
/** `url.path`: the request path, without the query. */
export const ATTR_URL_PATH = 'url.path';
/** `url.scheme`: `http` or `https`. */
export const ATTR_URL_SCHEME = 'url.scheme';
/** `http.route`: the matched route template (`/users/:id`), low cardinality. */
export const ATTR_HTTP_ROUTE = 'http.route';
/** `http.response.status_code`. */
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
/** `error.type`: the exception type, the 5xx status code, or `aborted`. */
export const ATTR_ERROR_TYPE = 'error.type';
/** `url.query`: the query as received, without `?`, sensitive values replaced by `REDACTED`. */
export const ATTR_URL_QUERY = 'url.query';
/** `server.address`: the host the client addressed (an absolute-form target's authority, the `Host` header, or HTTP/2's `:authority`). */
export const ATTR_SERVER_ADDRESS = 'server.address';
/** `server.port`: the port of that authority, else the default port of the scheme. */
export const ATTR_SERVER_PORT = 'server.port';
/** `user_agent.original`. */
export const ATTR_USER_AGENT_ORIGINAL = 'user_agent.original';
/** `client.address`: the client's address as the framework resolves it (proxies included). */
export const ATTR_CLIENT_ADDRESS = 'client.address';
/** `network.protocol.version`: the HTTP version (`1.0`, `1.1`, `2`, `3`). */
export const ATTR_NETWORK_PROTOCOL_VERSION = 'network.protocol.version';
/** `network.peer.address`: the address of the connection's other end (the proxy, behind one). */
export const ATTR_NETWORK_PEER_ADDRESS = 'network.peer.address';
/** `network.peer.port`: the port of the connection's other end. */
export const ATTR_NETWORK_PEER_PORT = 'network.peer.port';

/**
 * The name of the request-duration histogram the adapters record.
 * https://opentelemetry.io/docs/specs/semconv/http/http-metrics/#metric-httpserverrequestduration
 *
 * @example
 * ```ts
 * const metric = scopeMetrics.metrics.find((m) => m.descriptor.name === METRIC_HTTP_SERVER_REQUEST_DURATION);
 * ```
 */
export const METRIC_HTTP_SERVER_REQUEST_DURATION = 'http.server.request.duration';

/**
 * The explicit bucket boundaries (seconds) the semantic conventions advise for
 * `http.server.request.duration`.
 * https://opentelemetry.io/docs/specs/semconv/http/http-metrics/#metric-httpserverrequestduration
 *
 * @example
 * ```ts
 * new MeterProvider({ views: [{ instrumentName: 'http.server.request.duration', aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: [...HTTP_SERVER_DURATION_BUCKETS] } } }] });
 * ```
 */
export const HTTP_SERVER_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/** `error.type` of a request whose client went away before the response was complete. */
export const ERROR_TYPE_ABORTED = 'aborted';

/**
 * The value for `http.request.method`: the method when it is one of `known` (by default RFC 9110's
 * and PATCH; case-sensitive, as methods are, RFC 9110 §9.1), else `_OTHER`.
 */
export function normalizeMethod(method: string | undefined, known: ReadonlySet<string> = DEFAULT_KNOWN_METHODS): string {
  return method !== undefined && known.has(method) ? method : '_OTHER';
}

/** A route template an adapter reported, or undefined when it is not a non-empty string. */
export function routeTemplate(route: unknown): string | undefined {
  return typeof route === 'string' && route !== '' ? route : undefined;
}

/**
 * The span name: `{method} {route}` once the route is known, `{method}` before; `HTTP` stands in
 * for a method that is not a known one.
 * https://opentelemetry.io/docs/specs/semconv/http/http-spans/#name
 */
export function serverSpanName(normalizedMethod: string, route: string | undefined): string {
  const method = normalizedMethod === '_OTHER' ? 'HTTP' : normalizedMethod;
  return route === undefined || route === '' ? method : method + ' ' + route;
}

/** The path part of a request target (`/a/b?x=1` gives `/a/b`). */
export function pathOf(target: string | undefined): string | undefined {
  if (typeof target !== 'string') return undefined;
  const start = target.charCodeAt(0) === 0x2f ? 0 : absolutePathStart(target);
  if (start === -1) return '/';
  const query = target.indexOf('?', start);
  if (start === 0) return query === -1 ? target : target.slice(0, query);
  return query === -1 ? target.slice(start) : target.slice(start, query);
}

/**
 * Where the path of an absolute-form target (`http://host:81/users/1?x=1`, RFC 9112 §3.2.2: sent
 * to a proxy, and accepted by any server) starts after its authority; -1 when it has none (the
 * path is then `/`); 0 for any other target (origin-form, or `*`).
 */
function absolutePathStart(target: string): number {
  const authority = authorityStart(target);
  if (authority === -1) return 0;
  const end = authorityEnd(target, authority);
  return target.charCodeAt(end) === 0x2f ? end : -1;
}

/**
 * The authority of an absolute-form target without its user information (`user@`), or
 * undefined for any other target. RFC 9112 §3.2.2: a server given one uses it, not `Host`.
 */
export function authorityOf(target: string | undefined): string | undefined {
  if (typeof target !== 'string' || target.charCodeAt(0) === 0x2f) return undefined;
  const start = authorityStart(target);
  if (start === -1) return undefined;
  const end = authorityEnd(target, start);
  const at = target.lastIndexOf('@', end - 1);
  const authority = target.slice(at >= start ? at + 1 : start, end);
  return authority === '' ? undefined : authority;
}

/** The index after `scheme://` of an absolute-form target, or -1 when it is not one. */
function authorityStart(target: string): number {
  const separator = target.indexOf('://');
  if (separator <= 0 || !/^[A-Za-z][A-Za-z0-9+.-]*$/.test(target.slice(0, separator))) return -1;
  return separator + 3;
}

/** Where the authority starting at `start` ends: at `/`, `?`, `#` or the end of the target. */
function authorityEnd(target: string, start: number): number {
  for (let i = start; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x2f || c === 0x3f || c === 0x23) return i;
  }
  return target.length;
}

/**
 * The query part of a request target, without its `?` and without a fragment (`/a?x=1#top` gives
 * `x=1`), or undefined when there is none or it is empty.
 */
export function queryOf(target: string | undefined): string | undefined {
  if (typeof target !== 'string') return undefined;
  const start = target.indexOf('?');
  if (start === -1) return undefined;
  const fragment = target.indexOf('#', start);
  const query = fragment === -1 ? target.slice(start + 1) : target.slice(start + 1, fragment);
  return query === '' ? undefined : query;
}

/**
 * `network.protocol.version` for Node's `httpVersion`: `1.0` and `1.1` as they are, `2.0` and
 * `3.0` as `2` and `3` (the conventions' examples). Undefined for anything that is not
 * `major.minor` digits.
 */
export function protocolVersionOf(httpVersion: unknown): string | undefined {
  if (typeof httpVersion !== 'string' || httpVersion.length !== 3 || httpVersion.charCodeAt(1) !== 46) return undefined;
  const major = httpVersion.charCodeAt(0) - 48;
  const minor = httpVersion.charCodeAt(2) - 48;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) return undefined;
  return major >= 2 && minor === 0 ? httpVersion.slice(0, 1) : httpVersion;
}

const COLON = 58;
const OPEN_BRACKET = 91;
const MAX_PORT_DIGITS = 5;

/** A `Host` header split into host and port (when it names one). */
export interface HostAndPort {
  readonly host: string;
  readonly port: number | undefined;
}

/**
 * Splits a `Host` header (`example.com:8080`, `[::1]:3000`, `example.com`) without regular
 * expressions. A port that is not 1 to 5 digits up to 65535 is left out. Returns undefined for
 * an empty or missing header.
 */
export function parseHostHeader(value: string | string[] | undefined): HostAndPort | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string' || text.length === 0) return undefined;
  if (text.charCodeAt(0) === OPEN_BRACKET) {
    const close = text.indexOf(']');
    if (close === -1) return { host: text, port: undefined };
    const hasPort = close + 1 < text.length && text.charCodeAt(close + 1) === COLON;
    return { host: text.slice(1, close), port: hasPort ? portOf(text, close + 2) : undefined };
  }
  const colon = text.indexOf(':');
  // More than one colon without brackets is a bare IPv6 address (not valid in Host, but seen): no port.
  if (colon === -1 || text.indexOf(':', colon + 1) !== -1) return { host: text, port: undefined };
  return { host: text.slice(0, colon), port: portOf(text, colon + 1) };
}

/** The default port of `http` (80) and `https` (443) (RFC 9110 §4.2.1, §4.2.2); undefined for any other scheme. */
export function defaultPortOf(scheme: string | undefined): number | undefined {
  return scheme === 'https' ? 443 : scheme === 'http' ? 80 : undefined;
}

function portOf(text: string, start: number): number | undefined {
  const length = text.length - start;
  if (length === 0 || length > MAX_PORT_DIGITS) return undefined;
  let port = 0;
  for (let i = start; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    port = port * 10 + digit;
  }
  return port > 0 && port <= 65535 ? port : undefined;
}

/**
 * `error.type` for a thrown value: its constructor's name (`TypeError`), its `name`, or
 * `_OTHER` when it has neither, as the conventions ask.
 */
export function errorTypeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name.length > 0) return name;
    const constructorName = (error as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof constructorName === 'string' && constructorName.length > 0) return constructorName;
  }
  return '_OTHER';
}
