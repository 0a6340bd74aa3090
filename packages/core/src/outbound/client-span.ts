/**
 * The CLIENT span of one outbound HTTP call, following the OpenTelemetry semantic conventions for
 * HTTP client spans: name `{METHOD}` (or `HTTP` for an unknown method), `http.request.method`,
 * `server.address`, `server.port`, `url.full` (sensitive query values redacted),
 * `http.response.status_code`, `error.type`, and status ERROR for failures and 4xx/5xx answers.
 *
 * @see https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-client-span
 */
import { SpanKind, SpanStatusCode, trace, type Context, type Exception, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import { redactQuery } from '../policy/query-redaction.js';
import type { SensitiveDataGuard } from '../policy/sensitive-data.js';
import { DEFAULT_KNOWN_METHODS } from '../semconv/known-methods.js';

const TRACER_NAME = '@ctxprop/core';

/** Methods the semantic conventions know (RFC 9110 §9 and RFC 5789 PATCH); others are `_OTHER`. */

let tracerOwner: unknown;
let cachedTracer: Tracer | undefined;

/**
 * The SDK's tracer for our spans, or `undefined` when no SDK is registered (then no span is
 * made: the API's would only repeat the parent's ids). Fetched again only when the registered
 * TracerProvider changes.
 */
function clientTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider() as TracerProvider & {
    getDelegate?: () => unknown;
    getDelegateTracer?: (name: string) => Tracer | undefined;
  };
  const owner = provider.getDelegate?.() ?? provider;
  if (owner !== tracerOwner) {
    tracerOwner = owner;
    // The API's ProxyTracerProvider answers `undefined` here until an SDK is registered.
    cachedTracer = typeof provider.getDelegateTracer === 'function' ? provider.getDelegateTracer(TRACER_NAME) : provider.getTracer(TRACER_NAME);
  }
  return cachedTracer;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443 };

/** Where an outbound call goes, as the hooks know it. */
export interface OutgoingTarget {
  readonly method: string;
  /** `http:` or `https:`. */
  readonly protocol: string;
  /** Host name or address, IPv6 without brackets. */
  readonly hostname: string;
  /** The port, or `undefined` for the scheme's default. */
  readonly port: number | undefined;
  /** Path and query (`/v1/items?page=2`). */
  readonly path: string;
  /** `scheme://host[:port]` when the client already has it (undici does). */
  readonly origin?: string;
}

/**
 * The real destination of a request sent to a forward proxy in absolute form (`GET
 * http://api.example.com/x`: node:http with a proxy as host, undici's ProxyAgent without a tunnel),
 * whose connection goes to the proxy: the destination policy and the CLIENT span are about the
 * host in the URL. `undefined` for an ordinary path.
 *
 * @example
 * ```ts
 * absoluteFormTarget('GET', 'http://api.example.com:8080/x?y=1');
 * // { method: 'GET', protocol: 'http:', hostname: 'api.example.com', port: 8080, path: '/x?y=1' }
 * ```
 */
export function absoluteFormTarget(method: string, path: string): OutgoingTarget | undefined {
  // A path starts with "/" (or is "*"): only a request to a proxy starts with a scheme.
  if (path.length === 0 || path.charCodeAt(0) === 0x2f || !/^https?:\/\//i.test(path)) return undefined;
  try {
    const url = new URL(path);
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    return { method, protocol: url.protocol, hostname, port: url.port === '' ? undefined : Number(url.port), path: `${url.pathname}${url.search}` };
  } catch {
    return undefined;
  }
}

/**
 * `scheme://host[:port]` of a target, IPv6 in brackets, default port left out.
 *
 * @example
 * ```ts
 * originOf({ method: 'GET', protocol: 'http:', hostname: '::1', port: 8080, path: '/' }); // 'http://[::1]:8080'
 * ```
 */
export function originOf(target: OutgoingTarget): string {
  if (target.origin !== undefined) return target.origin;
  const host = target.hostname.includes(':') ? `[${target.hostname}]` : target.hostname;
  const port = target.port === undefined || target.port === DEFAULT_PORTS[target.protocol] ? '' : `:${target.port}`;
  return `${target.protocol}//${host}${port}`;
}

/**
 * The `url.full` of a target: origin and path, with sensitive query values replaced by
 * `REDACTED` (`redactQuery`: signing keys, and what `guard` refuses). Hooks never see URL
 * credentials: clients move them to an Authorization header.
 *
 * @example
 * ```ts
 * fullUrlOf({ method: 'GET', protocol: 'https:', hostname: 's3.example', port: undefined, path: '/o?X-Amz-Signature=abc' });
 * // 'https://s3.example/o?X-Amz-Signature=REDACTED'
 * ```
 */
export function fullUrlOf(target: OutgoingTarget, guard?: SensitiveDataGuard): string {
  const path = target.path.length === 0 ? '/' : target.path;
  const question = path.indexOf('?');
  const scrubbed = question < 0 ? path : `${path.slice(0, question + 1)}${redactQuery(path.slice(question + 1), guard)}`;
  return `${originOf(target)}${scrubbed}`;
}

/**
 * Starts the CLIENT span of an outbound call as a child of `ctx`; `undefined` when no SDK is
 * registered (the parent's ids are then injected as they are). `guard` (the outbound
 * sensitive-data guard) also picks the query values `url.full` redacts; `knownMethods` are the
 * methods named as they are (others are `_OTHER`).
 *
 * @example
 * ```ts
 * const span = startClientSpan(context.active(), target, defaultSensitiveDataGuard);
 * ```
 */
export function startClientSpan(ctx: Context, target: OutgoingTarget, guard?: SensitiveDataGuard, knownMethods: ReadonlySet<string> = DEFAULT_KNOWN_METHODS): Span | undefined {
  const tracer = clientTracer();
  if (tracer === undefined) return undefined;
  const original = target.method;
  // A known method as it is, or the canonical (upper-case) form of one (`fetch` keeps `patch`).
  const canonical = knownMethods.has(original) ? original : original.toUpperCase();
  const known = knownMethods.has(canonical);
  const method = known ? canonical : '_OTHER';
  const span = tracer.startSpan(known ? method : 'HTTP', { kind: SpanKind.CLIENT }, ctx);
  if (!span.isRecording()) return span;
  span.setAttribute('http.request.method', method);
  if (original !== method) span.setAttribute('http.request.method_original', original);
  span.setAttribute('server.address', target.hostname);
  span.setAttribute('server.port', target.port ?? DEFAULT_PORTS[target.protocol] ?? 80);
  span.setAttribute('url.full', fullUrlOf(target, guard));
  return span;
}

/**
 * Records the response status: `http.response.status_code`, and for 4xx and 5xx `error.type`
 * and status ERROR (client spans treat both as errors).
 *
 * @example
 * ```ts
 * recordResponse(span, 503); // status ERROR, error.type '503'
 * ```
 */
export function recordResponse(span: Span, statusCode: number): void {
  if (!span.isRecording()) return;
  span.setAttribute('http.response.status_code', statusCode);
  if (statusCode >= 400) {
    span.setAttribute('error.type', String(statusCode));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
}

/**
 * Records a failed call (no response): `error.type` from the error's code or name, the exception,
 * and status ERROR. A call the caller aborted is not an error (semantic conventions).
 *
 * @example
 * ```ts
 * recordFailure(span, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
 * ```
 */
export function recordFailure(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const { name, code, message } = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
  };
  if (name === 'AbortError') return;
  const type = typeof code === 'string' && code !== '' ? code : typeof name === 'string' && name !== '' ? name : '_OTHER';
  span.setAttribute('error.type', type);
  // Not `instanceof Error`: errors from another realm (vm contexts, test runners) fail that.
  if (typeof message === 'string' || typeof name === 'string') span.recordException(error as Exception);
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof message === 'string' ? message : undefined });
}

/**
 * Records the status of a response announced on a diagnostics channel (`{ request, response }`,
 * the shape both node:http's and undici's channels publish) on the span kept for its request.
 * Never throws.
 */
export function recordResponseMessage(spans: WeakMap<object, Span>, message: unknown): void {
  try {
    const { request, response } = (message ?? {}) as { request?: object; response?: { statusCode?: unknown } };
    const span = request === undefined ? undefined : spans.get(request);
    if (span !== undefined && typeof response?.statusCode === 'number') recordResponse(span, response.statusCode);
  } catch {
    countDiagnostic('internal.error');
  }
}
