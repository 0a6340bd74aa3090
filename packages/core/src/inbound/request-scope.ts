/**
 * `InboundScope`: the state of one inbound request, made by `InboundHandler.start()` and kept by
 * the adapter on its request object. It owns the request's context (run everything that follows
 * in `scope.context`), the request's mutable baggage, the server span (its own, or the one
 * OpenTelemetry's instrumentation-http made) and the request-duration measurement.
 *
 * All methods are on the prototype: a request costs one scope object and one context object.
 * No method throws: a failure inside ctxprop is counted as `internal.error` and the request goes on.
 */
import {
  context as contextApi,
  createContextKey,
  isSpanContextValid,
  propagation,
  SpanStatusCode,
  trace,
  type Attributes,
  type Baggage,
  type Context,
  type Exception,
  type Histogram,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import { setBaggage as addBaggageEntries, type BaggageEntries } from '../baggage/active-baggage.js';
import { createBaggageView, EMPTY_BAGGAGE_VIEW, type BaggageView } from '../baggage/baggage-view.js';
import { baggageMemberMapOf, baggageMembersOf } from '../baggage/wire-baggage.js';
import { getTraceContext, type TraceContextInfo } from '../context/trace-context.js';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_URL_SCHEME,
  ERROR_TYPE_ABORTED,
  errorTypeOf,
  routeTemplate,
  serverSpanName,
} from './http-semconv.js';
import type { ResponseLike } from './finish-with-response.js';
import type { ResolvedInboundOptions } from './options.js';
import type { InboundRequestAccessors } from './request-accessors.js';
import { ScopedBaggageContext, scopeHolderOf, type BaggageHolder } from './scoped-context.js';
import { parentSpanContextOf } from './span-parent.js';

// instrumentation-http keeps `{ type: 'http', span, route? }` under this key and reads `route`
// when the response ends, for its span name and its own duration metric (@opentelemetry/core
// trace/rpc-metadata.ts; instrumentation-express sets it the same way).
export const RPC_METADATA_KEY = createContextKey('OpenTelemetry SDK Context Key RPC_METADATA');

/** What a scope needs from the handler that made it (internal to core). */
export interface InboundScopeRuntime<Request> {
  readonly options: ResolvedInboundOptions<Request>;
  readonly accessors: InboundRequestAccessors<Request>;
}

/** How many distinct errors a scope remembers to record each once: a bound on a request that fails in a loop. */
const MAX_REMEMBERED_ERRORS = 16;

/**
 * How the request's server span came to be.
 *
 * @example
 * ```ts
 * if (scope.spanOrigin === 'enriched') res.on('finish', () => scope.finish(res.statusCode));
 * ```
 */
export type ServerSpanOrigin =
  /** ctxprop started it and ends it (it may be non-recording: not sampled). */
  | 'own'
  /** instrumentation-http started it; ctxprop enriches it (route, name) and leaves the rest to it. */
  | 'enriched'
  /** No span was started (no TracerProvider registered). */
  | 'none';

/**
 * The brand of an {@link InboundScope}, on its prototype: how {@link inboundScopeOf} knows a scope
 * made by another copy of ctxprop in the process (the ESM and the CJS build both loaded), which
 * `instanceof` does not; Express's `Layer` methods are wrapped once per process, by whichever copy
 * came first, and find every request's scope with it. The name is a contract between copies: a
 * holder with it has the public members of `InboundScope` (callers use only those, and its own
 * methods, which read its own private fields). Bump the version if they change incompatibly.
 */
const INBOUND_SCOPE_BRAND = Symbol.for('ctxprop.inbound.scope.v1');

const OPEN = 0;
const DONE = 1;

/** The conventions' fallback `error.type`, for a failure with no better name. */
const ERROR_TYPE_OTHER = '_OTHER';

/**
 * The state of one inbound request. Adapters create it with `InboundHandler.start()`.
 *
 * @example
 * ```ts
 * const scope = handler.start(req);
 * if (scope !== undefined) context.with(scope.context, next);
 * // later: scope.setRoute('/users/:id'); scope.finish(res.statusCode);
 * ```
 */
export class InboundScope<Request = unknown> implements BaggageHolder {
  /** The request's current baggage (read it through {@link baggageView}). */
  baggage: Baggage | undefined;
  /** The context to run the rest of the request in. Its baggage follows {@link setBaggage}. */
  readonly context: Context;
  /** The server span: ctxprop's own, instrumentation-http's, or undefined. */
  readonly span: Span | undefined;
  /** How {@link span} came to be. */
  readonly spanOrigin: ServerSpanOrigin;
  /** The framework's request. */
  readonly request: Request;
  /** True when the adapter must report the end of the response ({@link finish} / {@link abort}). */
  readonly needsResponse: boolean;

  readonly #runtime: InboundScopeRuntime<Request>;
  readonly #method: string;
  readonly #histogram: Histogram | undefined;
  readonly #response: ResponseLike | undefined;
  readonly #startTime: number;
  readonly #scheme: string | undefined;
  readonly #protocolVersion: string | undefined;
  #route: string | undefined;
  /** The route the request was last seen entering ({@link noteRoute}): null for one with no template, undefined before any. */
  #noted: string | null | undefined;
  #exceptionType: string | undefined;
  /** The errors {@link recordException} recorded, made on the first one: none allocated for a request without. */
  #recordedErrors: unknown[] | undefined;
  #state = OPEN;
  #view: BaggageView | undefined;
  #viewOf: Baggage | undefined;
  #traceContext: TraceContextInfo | undefined | null = null;
  #latest: Context;

  /** @internal Adapters get scopes from `InboundHandler.start()`. */
  constructor(
    runtime: InboundScopeRuntime<Request>,
    request: Request,
    parent: Context,
    span: Span | undefined,
    spanOrigin: ServerSpanOrigin,
    baggage: Baggage | undefined,
    method: string,
    scheme: string | undefined,
    protocolVersion: string | undefined,
    route: string | undefined,
    histogram: Histogram | undefined,
    response: ResponseLike | undefined,
  ) {
    this.#runtime = runtime;
    this.request = request;
    this.span = span;
    this.spanOrigin = spanOrigin;
    this.baggage = baggage;
    this.#method = method;
    this.#scheme = scheme;
    this.#protocolVersion = protocolVersion;
    // Set only when the span was started with it (http.route and the name are on it already).
    this.#route = route;
    this.#histogram = histogram;
    this.#response = response;
    this.#startTime = histogram === undefined ? 0 : performance.now();
    this.needsResponse = (span !== undefined && span.isRecording()) || histogram !== undefined;
    this.context = new ScopedBaggageContext(this, parent);
    this.#latest = this.context;
  }

  /** The request's baggage, read-only; the empty view when there is none. Follows {@link setBaggage}. */
  get baggageView(): BaggageView {
    const baggage = this.baggage;
    if (baggage === undefined) return EMPTY_BAGGAGE_VIEW;
    if (this.#viewOf !== baggage) {
      this.#view = createBaggageView(baggage);
      this.#viewOf = baggage;
    }
    return this.#view!;
  }

  /** The request's trace context (the server span's, or the caller's with no SDK); undefined when there is none. */
  get traceContext(): TraceContextInfo | undefined {
    if (this.#traceContext === null) this.#traceContext = getTraceContext(this.context);
    return this.#traceContext;
  }

  /**
   * The caller's span, as the request's trace headers gave it: the server span's remote parent
   * (with no SDK, the request's own trace context). Undefined when the request came without one,
   * or from an untrusted caller (a new trace started). Outbound propagation reads it to know a
   * traceparent forwarded from this request (`existingTraceparent: 'replace'`).
   *
   * @example
   * ```ts
   * scope.remoteParent?.spanId; // '00f067aa0ba902b7' for `traceparent: 00-4bf9…4736-00f067aa0ba902b7-01`
   * ```
   */
  get remoteParent(): SpanContext | undefined {
    // The context the scope was made with: the extracted one (own span, or none), or
    // instrumentation-http's, whose span is its server span.
    const parent = (this.context as ScopedBaggageContext).parent;
    if (this.spanOrigin !== 'enriched') {
      const remote = trace.getSpanContext(parent);
      return remote !== undefined && remote.isRemote === true && isSpanContextValid(remote) ? remote : undefined;
    }
    return this.span === undefined ? undefined : parentSpanContextOf(this.span);
  }

  /**
   * True once the response has ended: `end()` was called, the client went away, or the adapter
   * reported {@link finish} or {@link abort}. Work still running in the request's context after
   * that (a log line, a fire-and-forget call) keeps it; repeating timers detach from it
   * (`enableIntervalDetachment`). Without the response (an adapter that did not pass it to
   * `start`) it follows only `finish` and `abort`.
   */
  get ended(): boolean {
    if (this.#state === DONE) return true;
    const response = this.#response;
    if (response === undefined) return false;
    return response.writableEnded === true || response.destroyed === true || response.stream?.destroyed === true;
  }

  /** {@inheritDoc BaggageHolder.detachIntervals} Undefined when the adapter's `detachIntervals` option is off. */
  get detachIntervals(): boolean | undefined {
    return this.#runtime.options.detachIntervals ? this.ended : undefined;
  }

  /**
   * For adapters, where the framework hands the request from one step to the next (an Express
   * middleware layer, a Fastify hook, the route handler). `undefined` when `active` is this
   * request's context or one derived from it (a span or baggage a middleware added with
   * `context.with`), which is noted as the request's latest. Otherwise the step before handed
   * the request on from another context, typically the callback of a client whose connection
   * was opened elsewhere: returns the latest context noted, to run the next step in, and counts
   * `context.restored`. Always `undefined` where the adapter's `restoreContext` option is off.
   *
   * @param handOff `false` for a step the framework runs from an event that never was in the
   *   request's context (Fastify's onTimeout hooks, run from the socket's timeout): the latest
   *   context is returned the same, but nothing handed the request on, and nothing is counted.
   */
  contextToRestore(active: Context, handOff = true): Context | undefined {
    if (!this.#runtime.options.restoreContext) return undefined;
    if (scopeHolderOf(active) === this) {
      this.#latest = active;
      return undefined;
    }
    if (handOff) countDiagnostic('context.restored');
    return this.#latest;
  }

  /** The route template, once known. */
  get route(): string | undefined {
    return this.#route;
  }

  /**
   * Adds or replaces baggage entries for the rest of this request: everything that runs in
   * {@link context} from now on sees them, outbound calls included, even code that captured the
   * context earlier. Entries the sensitive-data guard refuses (`baggage.sensitive.refused`) or
   * that are malformed (`baggage.invalid_set`) are left out and counted.
   */
  setBaggage(entries: BaggageEntries | undefined): void {
    if (entries === undefined || entries === null) return;
    try {
      if (typeof entries !== 'object') {
        countDiagnostic('baggage.invalid_set');
        return;
      }
      // The core helper validates, applies this adapter's sensitive-data guard and merges; this
      // context reads the scope's baggage, and the context it returns holds the merged baggage.
      const sensitiveDataGuard = this.#runtime.options.sensitiveDataGuard;
      this.baggage = propagation.getBaggage(addBaggageEntries(this.context, entries, { sensitiveDataGuard }));
    } catch {
      countDiagnostic('internal.error');
    }
  }

  /**
   * Sets the route template (`/users/:id`) as soon as the framework knows it: `http.route` and the
   * span name `{METHOD} {route}`. Without it, {@link finish} asks the adapter's accessor.
   */
  setRoute(reported: string | undefined): void {
    const route = routeTemplate(reported);
    if (route === undefined || route === this.#route) return;
    this.#route = route;
    const span = this.span;
    if (span === undefined) return;
    try {
      span.setAttribute(ATTR_HTTP_ROUTE, route);
      span.updateName(serverSpanName(this.#method, route));
      if (this.spanOrigin === 'enriched') {
        const metadata = this.context.getValue(RPC_METADATA_KEY) as { type?: unknown; route?: string } | undefined;
        if (typeof metadata === 'object' && metadata !== null && metadata.type === 'http') metadata.route = route;
      }
    } catch {
      countDiagnostic('internal.error');
    }
  }

  /**
   * Notes the route the request is entering, for when the response ends: a later call replaces an
   * earlier one (a route that called `next()` hands the request to the next route), and
   * `undefined` notes a route with no single template (a RegExp, an array of paths), which leaves
   * the request with none. For frameworks that route as the request goes (Express); applied by
   * {@link finish}, {@link abort} and {@link serverAbort} unless {@link setRoute} set one.
   */
  noteRoute(reported: string | undefined): void {
    this.#noted = routeTemplate(reported) ?? null;
  }

  /** At the end: the route noted last, else the adapter's accessor's answer. */
  #routeAtEnd(): void {
    if (this.#route !== undefined) return;
    const noted = this.#noted;
    this.setRoute(noted === undefined ? this.#runtime.accessors.route(this.request) : (noted ?? undefined));
  }

  /**
   * Records an exception on the server span; its type becomes `error.type` if the response is a
   * 5xx (the latest new error's, when there are several). An error recorded already is skipped:
   * one error passing through two error middlewares (a mounted Express sub-app's `recordErrors()`
   * and its parent's, a Fastify onError hook and the app's own call) is one exception. Errors are
   * compared as `Array.prototype.includes` does, so a thrown string or number counts once per
   * value: two throws of an equal primitive cannot be told from one passed on twice, and the
   * latter is the common case. The first {@link MAX_REMEMBERED_ERRORS} are remembered.
   */
  recordException(error: unknown): void {
    try {
      const recorded = this.#recordedErrors;
      if (recorded === undefined) this.#recordedErrors = [error];
      else if (recorded.includes(error)) return;
      else if (recorded.length < MAX_REMEMBERED_ERRORS) recorded.push(error);
      this.#exceptionType = errorTypeOf(error);
      const span = this.span;
      if (span === undefined || !span.isRecording()) return;
      span.recordException(error instanceof Error || typeof error === 'string' ? error : (String(error) as Exception));
    } catch {
      countDiagnostic('internal.error');
    }
  }

  /**
   * The response was sent with `statusCode`: sets the response attributes, the error status for a
   * 5xx, ends ctxprop's own span and records the duration. Only the first call (of this,
   * {@link abort} and {@link serverAbort}) counts.
   */
  finish(statusCode: number): void {
    if (this.#state === DONE) return;
    this.#state = DONE;
    try {
      this.#routeAtEnd();
      const failed = statusCode >= 500;
      const errorType = failed ? (this.#exceptionType ?? String(statusCode)) : undefined;
      this.#end(statusCode, errorType, failed);
    } catch {
      countDiagnostic('internal.error');
    }
  }

  /** The client went away before the response was complete: the span ends in error (`error.type` `aborted`). */
  abort(): void {
    if (this.#state === DONE) return;
    this.#state = DONE;
    try {
      this.#routeAtEnd();
      this.#end(undefined, ERROR_TYPE_ABORTED, true);
    } catch {
      countDiagnostic('internal.error');
    }
  }

  /**
   * The server closed the connection before the response was complete, the client still there:
   * an error after the headers were sent (Express's final handler then destroys the socket),
   * `res.destroy()`, a server timeout. The span ends in error; `error.type` is the type of the
   * exception {@link recordException} saw, else the status code of a 5xx, else `_OTHER`; or
   * `errorType` when the adapter knows the cause (`timeout`: Node's `requestTimeout` passed).
   * `statusCode` is the status sent, when the headers were. Only the first call (of this,
   * {@link finish} and {@link abort}) counts.
   */
  serverAbort(statusCode?: number, errorType?: string): void {
    if (this.#state === DONE) return;
    this.#state = DONE;
    try {
      this.#routeAtEnd();
      errorType ??= this.#exceptionType ?? (statusCode !== undefined && statusCode >= 500 ? String(statusCode) : ERROR_TYPE_OTHER);
      this.#end(statusCode, errorType, true);
    } catch {
      countDiagnostic('internal.error');
    }
  }

  #end(statusCode: number | undefined, errorType: string | undefined, failed: boolean): void {
    const span = this.span;
    if (span !== undefined) {
      this.#copyBaggageTo(span);
      if (this.spanOrigin === 'own') {
        if (statusCode !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
        if (errorType !== undefined) span.setAttribute(ATTR_ERROR_TYPE, errorType);
        if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }
    }
    const histogram = this.#histogram;
    if (histogram !== undefined) {
      const attributes: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: this.#method };
      if (this.#scheme !== undefined) attributes[ATTR_URL_SCHEME] = this.#scheme;
      if (this.#route !== undefined) attributes[ATTR_HTTP_ROUTE] = this.#route;
      if (statusCode !== undefined) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = statusCode;
      if (errorType !== undefined) attributes[ATTR_ERROR_TYPE] = errorType;
      if (this.#protocolVersion !== undefined) attributes[ATTR_NETWORK_PROTOCOL_VERSION] = this.#protocolVersion;
      this.#copyBaggageInto(attributes);
      histogram.record((performance.now() - this.#startTime) / 1000, attributes);
    }
  }

  #copyBaggageTo(span: Span): void {
    const keys = this.#runtime.options.baggageAttributeKeys;
    if (keys.length === 0 || this.baggage === undefined || !span.isRecording()) return;
    const attributes: Attributes = {};
    if (this.#copyBaggageInto(attributes)) span.setAttributes(attributes);
  }

  /** Copies the allowlisted baggage keys into `attributes`; true when any was present. */
  #copyBaggageInto(attributes: Attributes): boolean {
    const keys = this.#runtime.options.baggageAttributeKeys;
    const baggage = this.baggage;
    if (keys.length === 0 || baggage === undefined) return false;
    let found = false;
    const members = baggageMemberMapOf(baggage);
    if (members !== undefined) {
      for (const key of keys) {
        const member = members.get(key);
        if (member !== undefined) {
          attributes[key] = member.value;
          found = true;
        }
      }
      return found;
    }
    for (const member of baggageMembersOf(baggage)) {
      if (keys.includes(member.key)) {
        attributes[member.key] = member.value;
        found = true;
      }
    }
    return found;
  }
}

// A data property on the prototype: one property read per check, as cheap as `instanceof`.
Object.defineProperty(InboundScope.prototype, INBOUND_SCOPE_BRAND, { value: true });

/**
 * The scope of the request whose context `ctx` is (or derives from), made by this copy of
 * ctxprop or another one in the process; undefined outside any request ctxprop set up. This is
 * how adapters find a request's scope without storing anything on the framework's request object
 * (a property added to an Express request, whose prototype Express swaps per request, costs over
 * a microsecond).
 *
 * @example
 * ```ts
 * const scope = inboundScopeOf();
 * if (scope?.request === req) scope.setBaggage({ tier: 'gold' });
 * ```
 */
export function inboundScopeOf(ctx: Context = contextApi.active()): InboundScope<unknown> | undefined {
  const holder = scopeHolderOf(ctx) as { readonly [INBOUND_SCOPE_BRAND]?: unknown } | undefined;
  return holder?.[INBOUND_SCOPE_BRAND] === true ? (holder as InboundScope<unknown>) : undefined;
}
