/**
 * The framework-neutral heart of `@ctxprop/express` and `@ctxprop/fastify`.
 *
 * An adapter builds one {@link InboundHandler} at start-up, from its validated options and its
 * request accessors, and calls `handler.start(request)` once per request. `start`:
 *
 * 1. when OpenTelemetry's instrumentation-http already started the SERVER span for this request
 *    (the active span is a recording SERVER span), uses that span and its context: no second
 *    extraction, no second span;
 * 2. otherwise extracts trace context and baggage with the configured propagators, applies the
 *    trust policy (trust: continue the trace; link: new root span linked to the caller's span;
 *    ignore: new root span) and, when a TracerProvider is registered, starts a SERVER span with
 *    the HTTP semantic-convention attributes;
 * 3. applies the baggage rule of the trust policy (untrusted callers keep only allowlisted keys;
 *    a `link` verdict keeps them otherwise, opentelemetry-js-contrib #2772), then adds the origin
 *    baggage of the `baggage` option;
 * 4. returns an {@link InboundScope}: run the rest of the request in `scope.context`; report the
 *    route (`scope.setRoute`), exceptions (`scope.recordException`) and the end of the response
 *    (`scope.finish(status)` / `scope.abort()`, or {@link finishWithResponse} for a Node response).
 *    Given the response, the scope knows when the request's work has ended (`scope.ended`), so
 *    that repeating timers started in it detach then (`detachIntervals`).
 *
 * Adapters find a request's scope again from any context of the request with `inboundScopeOf()`
 * (nothing needs to be stored on the framework's request), make listeners added to the request and
 * response streams run in the request's context with `bindListenersToContext` (once, on a
 * prototype the framework gives its requests) or `runEmitterInContext` (per instance), and expose
 * `scope.baggageView`, `scope.traceContext` and `scope.setBaggage()` on their request objects.
 *
 * `start` never throws: on an internal failure it counts `internal.error`, warns once and returns
 * undefined, and the adapter lets the request go on without context.
 *
 * Adapters: do not change this module for one framework; add accessors or options instead.
 */
import { propagation, ROOT_CONTEXT, SpanKind, trace, type Context, type Link, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { headerGetter, lowercaseHeaderGetter } from '../carrier/headers.js';
import { createActiveContextReader } from '../context/active-context.js';
import { enableIntervalDetachment, type IntervalDetachmentHandle } from '../context/interval-detachment.js';
import { ensureContextManager } from '../context/runtime.js';
import { countDiagnostic, warnOnce } from '../diagnostics/diagnostics.js';
import { enableOutboundPropagation } from '../outbound/enable.js';
import { redactQuery } from '../policy/query-redaction.js';
import type { TrustVerdict } from '../policy/trust.js';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  authorityOf,
  defaultPortOf,
  normalizeMethod,
  parseHostHeader,
  pathOf,
  protocolVersionOf,
  queryOf,
  routeTemplate,
  serverSpanName,
} from './http-semconv.js';
import type { ResponseLike } from './finish-with-response.js';
import type { ResolvedInboundOptions } from './options.js';
import type { InboundRequestAccessors } from './request-accessors.js';
import { inboundScopeOf, InboundScope, RPC_METADATA_KEY, type InboundScopeRuntime } from './request-scope.js';
import { InboundTelemetry } from './telemetry.js';

/**
 * Made once per middleware or plugin instance by {@link createInboundHandler}.
 *
 * @example
 * ```ts
 * const handler = createInboundHandler(resolveInboundOptions(options, adapterInfo), accessors);
 * function middleware(req, res, next) {
 *   const scope = handler.start(req);
 *   if (scope === undefined) return next();
 *   finishWithResponse(scope, res);
 *   context.with(scope.context, next);
 * }
 * ```
 */
export interface InboundHandler<Request> {
  /** The validated options. */
  readonly options: ResolvedInboundOptions<Request>;
  /**
   * Sets up one request. Never throws; undefined when ctxprop failed and the request must go on
   * without context. When the active context already belongs to a scope of the same request
   * (two instances in one chain: an app and its mounted sub-app), returns that scope.
   *
   * @param active - the active context, when the adapter has read it already
   * @param response - the request's response (Node's `ServerResponse`): tells the scope when the
   *   request's work has ended ({@link InboundScope.ended})
   */
  start(request: Request, active?: Context, response?: ResponseLike): InboundScope<Request> | undefined;
  /**
   * Releases what this handler turned on: outbound propagation and interval detachment (each is
   * turned off when no holder is left). For a server that shuts down, and tests.
   */
  close(): void;
}

const TRUSTED: TrustVerdict = Object.freeze({ context: 'trust', baggage: 'keep' });

const activeContext = createActiveContextReader();

/** The active span when it is a recording SERVER span that has not ended: instrumentation-http's for this request. */
function activeServerSpan(active: Context): Span | undefined {
  const span = trace.getSpan(active);
  if (span === undefined || !span.isRecording()) return undefined;
  const { kind, ended } = span as { kind?: unknown; ended?: unknown };
  return kind === SpanKind.SERVER && ended !== true ? span : undefined;
}

/**
 * `active` without a span and without baggage (the same object when it holds neither, as it does
 * for a server started outside any context), but for instrumentation-http's own span for the
 * request; other libraries' values are kept.
 */
function withoutRequestContext(active: Context): Context {
  let base = active;
  const span = trace.getSpan(base);
  // Kept: instrumentation-http's span for this very request (its RPC metadata names it), which its
  // sampler left unrecorded; a span of ours under it keeps that decision (ParentBased).
  if (span !== undefined && (base.getValue(RPC_METADATA_KEY) as { span?: unknown } | undefined)?.span !== span) base = trace.deleteSpan(base);
  if (propagation.getBaggage(base) !== undefined) base = propagation.deleteBaggage(base);
  return base;
}

class Handler<Request> implements InboundHandler<Request>, InboundScopeRuntime<Request> {
  readonly options: ResolvedInboundOptions<Request>;
  readonly accessors: InboundRequestAccessors<Request>;
  readonly #telemetry: InboundTelemetry;
  readonly #getter: TextMapGetter;
  #outbound: { disable(): void } | undefined;
  #intervals: IntervalDetachmentHandle | undefined;

  constructor(options: ResolvedInboundOptions<Request>, accessors: InboundRequestAccessors<Request>) {
    this.options = options;
    this.accessors = accessors;
    this.#telemetry = new InboundTelemetry(options.adapter.name, options.adapter.version);
    this.#getter = accessors.lowercaseHeaders === true ? lowercaseHeaderGetter : headerGetter;
    ensureContextManager();
    if (options.outbound !== false) this.#outbound = enableOutboundPropagation(options.outbound === true ? undefined : options.outbound);
    if (options.detachIntervals) this.#intervals = enableIntervalDetachment();
  }

  close(): void {
    const outbound = this.#outbound;
    const intervals = this.#intervals;
    this.#outbound = undefined;
    this.#intervals = undefined;
    outbound?.disable();
    intervals?.disable();
  }

  start(request: Request, active: Context = activeContext(), response?: ResponseLike): InboundScope<Request> | undefined {
    try {
      return this.#start(request, active, response);
    } catch (error) {
      countDiagnostic('internal.error');
      warnOnce(
        'CTXPROP_INBOUND_FAILED',
        `ctxprop: ${this.options.adapter.name} could not set up a request's context (${error instanceof Error ? error.message : String(error)}); ` +
          'the request went on without it. This is a bug in ctxprop: please report it.',
      );
      return undefined;
    }
  }

  #start(request: Request, active: Context, response: ResponseLike | undefined): InboundScope<Request> {
    const { options, accessors } = this;
    const current = inboundScopeOf(active);
    if (current !== undefined) {
      if (current.request === request) return current as InboundScope<Request>;
      // Another request's context: a middleware before ctxprop's handed this request on from the
      // callback of a connection that request opened. Nothing in it is this request's (its server
      // span is not instrumentation-http's span for this one, its baggage not this caller's).
      active = ROOT_CONTEXT;
    }
    const headers = accessors.headers(request);
    const trust = options.trust;
    const verdict = trust.trustsEverything
      ? TRUSTED
      : trust.decide({
          clientAddress: accessors.clientAddress(request),
          headers,
          method: accessors.method(request),
          path: pathOf(accessors.target(request)),
          request,
        });

    let parent: Context;
    let baggage;
    let span: Span | undefined;
    let scheme: string | undefined;
    // Read once, for the span and the histogram: null until read.
    let protocolVersion: string | undefined | null = null;
    // Known now only where the framework routes before its first hook (accessors.routeAtStart).
    let route: string | undefined;
    const existing = activeServerSpan(active);
    if (existing !== undefined) {
      // instrumentation-http extracted (with the global propagator) and started the span already;
      // a second extraction could disagree with it. Its trust cannot be undone here: only the
      // baggage rule still applies (README, "Behaviour").
      parent = active;
      span = existing;
      baggage = propagation.getBaggage(active);
    } else {
      // The request's trace and baggage come from the request alone: not from the context that was
      // active when it arrived, which AsyncLocalStorage takes from where the server was started.
      const base = withoutRequestContext(active);
      const extracted = options.propagator.extract(base, headers, this.#getter);
      baggage = propagation.getBaggage(extracted);
      const tracer = this.#telemetry.tracer();
      if (tracer !== undefined && accessors.routeAtStart === true) route = routeTemplate(accessors.route(request));
      // trust: the caller's span is our parent. link / ignore: it is not; a new trace starts.
      const trusted = verdict.context === 'trust';
      parent = trusted ? extracted : base;
      if (tracer !== undefined) {
        let links: Link[] | undefined;
        if (verdict.context === 'link') {
          const remote = trace.getSpanContext(extracted);
          if (remote !== undefined) links = [{ context: remote }];
        }
        scheme = urlSchemeOf(accessors, request);
        protocolVersion = protocolVersionOf(accessors.protocolVersion?.(request));
        span = this.#startSpan(tracer, request, scheme, protocolVersion, route, headers, parent, !trusted, links);
      }
      // No trace.setSpan(parent, span): the request's context reads its span from the scope.
    }
    if (verdict.baggage === 'allowlist') baggage = trust.restrictBaggage(baggage);

    // The duration histogram: not when instrumentation-http owns the span (it records the same
    // histogram, with the route ctxprop hands it through its RPC metadata).
    let histogram;
    if (options.metrics && existing === undefined) {
      histogram = this.#telemetry.histogram();
      if (histogram !== undefined) {
        if (scheme === undefined) scheme = urlSchemeOf(accessors, request);
        if (protocolVersion === null) protocolVersion = protocolVersionOf(accessors.protocolVersion?.(request));
      }
    }
    const origin = existing !== undefined ? 'enriched' : span !== undefined ? 'own' : 'none';
    // Only a span name or the histogram needs the method: with neither, it is not read at all.
    const method = span !== undefined || histogram !== undefined ? normalizeMethod(accessors.method(request), this.options.knownMethods) : '';
    const scope = new InboundScope(this, request, parent, span, origin, baggage, method, scheme, protocolVersion ?? undefined, route, histogram, response);
    if (options.originBaggage !== undefined) this.#addOriginBaggage(scope, request);
    return scope;
  }

  #startSpan(
    tracer: Tracer,
    request: Request,
    scheme: string | undefined,
    protocolVersion: string | undefined,
    route: string | undefined,
    headers: unknown,
    parent: Context,
    root: boolean,
    links: Link[] | undefined,
  ): Span {
    const accessors = this.accessors;
    const receivedMethod = accessors.method(request);
    const method = normalizeMethod(receivedMethod, this.options.knownMethods);
    const attributes: Record<string, string | number> = { [ATTR_HTTP_REQUEST_METHOD]: method };
    if (receivedMethod !== undefined && receivedMethod !== method) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = receivedMethod;
    const target = accessors.target(request);
    const path = pathOf(target);
    if (path !== undefined) attributes[ATTR_URL_PATH] = path;
    if (this.options.urlQuery) {
      const query = queryOf(target);
      if (query !== undefined) attributes[ATTR_URL_QUERY] = redactQuery(query, this.options.sensitiveDataGuard);
    }
    if (scheme !== undefined) attributes[ATTR_URL_SCHEME] = scheme;
    if (route !== undefined) attributes[ATTR_HTTP_ROUTE] = route;
    if (protocolVersion !== undefined) attributes[ATTR_NETWORK_PROTOCOL_VERSION] = protocolVersion;
    const record = headers as Record<string, unknown>;
    // An absolute-form target's authority (RFC 9112 §3.2.2: it overrides Host); then the framework's
    // view (a trusted proxy's X-Forwarded-Host); then the Host header, or HTTP/2's :authority
    // pseudo-header (a Host header, when sent too, wins).
    const authority = authorityOf(target);
    const host = parseHostHeader(authority ?? (accessors.host?.(request) || ((record['host'] ?? record[':authority']) as string | undefined)));
    if (host !== undefined) {
      attributes[ATTR_SERVER_ADDRESS] = host.host;
      // Without a port, the default port of the scheme the client addressed (RFC 9110 §4.2).
      const port = host.port ?? defaultPortOf(authority !== undefined ? target!.slice(0, target!.indexOf(':')).toLowerCase() : scheme);
      if (port !== undefined) attributes[ATTR_SERVER_PORT] = port;
    }
    const userAgent = record['user-agent'];
    if (typeof userAgent === 'string') attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent;
    const client = accessors.clientAddress(request);
    if (typeof client === 'string' && client !== '') attributes[ATTR_CLIENT_ADDRESS] = client;
    const connection = accessors.connection?.(request);
    if (connection !== undefined && connection !== null) {
      const peerAddress = connection.remoteAddress;
      if (typeof peerAddress === 'string' && peerAddress !== '') {
        attributes[ATTR_NETWORK_PEER_ADDRESS] = peerAddress;
        const peerPort = connection.remotePort;
        if (typeof peerPort === 'number') attributes[ATTR_NETWORK_PEER_PORT] = peerPort;
      }
    }
    return tracer.startSpan(serverSpanName(method, route), { kind: SpanKind.SERVER, attributes, links, root }, parent);
  }

  #addOriginBaggage(scope: InboundScope<Request>, request: Request): void {
    let entries;
    try {
      entries = this.options.originBaggage!(request);
    } catch (error) {
      countDiagnostic('internal.error');
      warnOnce(
        'CTXPROP_ORIGIN_BAGGAGE_THREW',
        `ctxprop: the baggage option's function threw (${error instanceof Error ? error.message : String(error)}); those requests went on without origin baggage.`,
      );
      return;
    }
    scope.setBaggage(entries);
  }
}

/**
 * Builds the per-instance inbound handler. Registers ctxprop's context manager if none is
 * registered, and turns on outbound propagation unless the options say `outbound: false`.
 *
 * @example
 * ```ts
 * const handler = createInboundHandler(resolveInboundOptions(options, { name: '@ctxprop/express', version }), accessors);
 * ```
 */
export function createInboundHandler<Request>(
  options: ResolvedInboundOptions<Request>,
  accessors: InboundRequestAccessors<Request>,
): InboundHandler<Request> {
  return new Handler(options, accessors);
}

/**
 * `url.scheme`: `http` or `https` as the framework resolves it, any case. Behind a proxy the
 * framework reads X-Forwarded-Proto, which holds whatever the client (or a proxy that appends to
 * it) sent: any other value would put a new series on the duration histogram per value sent, so
 * the connection's own scheme is used instead.
 */
function urlSchemeOf<Request>(accessors: InboundRequestAccessors<Request>, request: Request): string | undefined {
  const reported = accessors.scheme(request);
  if (reported === 'http' || reported === 'https') return reported;
  const lower = typeof reported === 'string' ? reported.trim().toLowerCase() : undefined;
  if (lower === 'http' || lower === 'https') return lower;
  const connection = accessors.connection?.(request) as { readonly encrypted?: unknown } | null | undefined;
  if (connection === undefined || connection === null) return undefined;
  return connection.encrypted === true ? 'https' : 'http';
}
