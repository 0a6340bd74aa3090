/**
 * Outbound propagation for the global `fetch` and npm `undici` (request, stream, pipeline,
 * Client, Pool, Agent), through undici's diagnostics channels. Node's bundled undici (behind
 * `fetch`) and the npm package publish on the same channel names, so one subscription covers both.
 *
 * A call a saturated pool queues has its request built later, when a connection frees up, in the
 * context of whichever call freed it. So the context a call was made in is remembered when it is
 * dispatched: the one wrapper ctxprop puts on undici, around its dispatchers' common `dispatch`
 * (`DispatcherBase`), keyed by the call's handler, which the request keeps. The copies of undici
 * loaded (npm's, found in the module cache; Node's bundled one, through its global dispatcher)
 * are wrapped when propagation is enabled and when a request of a copy not seen before appears.
 *
 * `undici:request:create` is published at the end of undici's `Request` constructor, after the
 * caller's headers were validated into `request.headers`, a flat `[name, value, ...]` array
 * (undici 6 and 7). Headers written there go on the wire as they are, so ours are validated
 * first, and a header the caller already set is replaced in place, never appended
 * (opentelemetry-js-contrib #3711).
 *
 * @see https://github.com/nodejs/undici/blob/main/docs/docs/api/DiagnosticsChannel.md
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { context, type Context, type Span } from '@opentelemetry/api';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import { filterBaggageHeader, reportTraceWithheld } from './apply-policy.js';
import { absoluteFormTarget, recordFailure, recordResponseMessage, type OutgoingTarget } from './client-span.js';
import type { SensitiveDataGuard } from '../policy/sensitive-data.js';
import { isHeaderName, isHeaderValue } from './header-safety.js';
import { outboundState, type InstalledHook } from './outbound-state.js';
import { fieldsOf, prepareOutgoingCall, type HeaderList, type OutgoingCall } from './outgoing-call.js';

/** The parts of undici's `Request` this module reads and writes. */
interface UndiciRequest {
  origin?: unknown;
  method?: unknown;
  path?: unknown;
  headers?: unknown;
  addHeader?: unknown;
}

const CREATE = 'undici:request:create';
const HEADERS = 'undici:request:headers';
const TRAILERS = 'undici:request:trailers';
const ERROR = 'undici:request:error';

const spans = new WeakMap<object, Span>();
const state = outboundState();

/** Parsed origins; a service talks to few, so a small bounded map is enough. */
const MAX_ORIGINS = 256;
const origins = new Map<string, { protocol: string; hostname: string; port: number | undefined } | null>();

function parseOrigin(origin: string): { protocol: string; hostname: string; port: number | undefined } | null {
  let parsed = origins.get(origin);
  if (parsed !== undefined) return parsed;
  try {
    const url = new URL(origin);
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    parsed = { protocol: url.protocol, hostname, port: url.port === '' ? undefined : Number(url.port) };
  } catch {
    parsed = null;
  }
  if (origins.size >= MAX_ORIGINS) origins.clear();
  origins.set(origin, parsed);
  return parsed;
}

function targetOf(request: UndiciRequest): OutgoingTarget | undefined {
  const origin = typeof request.origin === 'string' ? request.origin : request.origin instanceof URL ? request.origin.origin : undefined;
  if (origin === undefined || typeof request.method !== 'string' || typeof request.path !== 'string') return undefined;
  const proxied = absoluteFormTarget(request.method, request.path);
  if (proxied !== undefined) return proxied;
  const parsed = parseOrigin(origin);
  if (parsed === null) return undefined;
  return { method: request.method, protocol: parsed.protocol, hostname: parsed.hostname, port: parsed.port, path: request.path, origin };
}

function sameName(key: unknown, name: string): boolean {
  return typeof key === 'string' && key.length === name.length && key.toLowerCase() === name;
}

/**
 * The header list of an undici request: `request.headers` is `[name, value, name, value, ...]`,
 * names in the caller's case, a value a string or an array of strings.
 */
class UndiciHeaderList implements HeaderList {
  constructor(private readonly list: unknown[]) {}

  get(name: string): string | string[] | undefined {
    const list = this.list;
    let found: string | string[] | undefined;
    for (let i = 0; i < list.length; i += 2) {
      if (!sameName(list[i], name)) continue;
      const value = list[i + 1];
      const values = Array.isArray(value) ? value.map(String) : [String(value)];
      found = found === undefined ? (values.length === 1 ? values[0] : values) : [...(Array.isArray(found) ? found : [found]), ...values];
    }
    return found;
  }

  set(name: string, value: string): void {
    const list = this.list;
    let at = -1;
    for (let i = 0; i < list.length; i += 2) {
      if (!sameName(list[i], name)) continue;
      if (at < 0) {
        // Replaced in place: the header keeps its position, and there is one.
        at = i;
        list[i + 1] = value;
      } else {
        list.splice(i, 2);
        i -= 2;
      }
    }
    if (at < 0) list.push(name, value);
  }

  remove(name: string): void {
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) {
      if (sameName(list[i], name)) {
        list.splice(i, 2);
        i -= 2;
      }
    }
  }
}

/**
 * Another subscriber that runs after ours (OpenTelemetry's undici instrumentation, when it was
 * registered after ctxprop) adds its headers with `request.addHeader()`, which appends. On this
 * one request object (an own property of an object undici hands to subscribers; undici's Request
 * class is left as it is), headers of the propagation fields are routed through the policy and replace
 * ours instead: its span is then this call's CLIENT span, and ours is dropped (never ended, so
 * never exported), so one span and one traceparent remain. A trace header the caller set and
 * 'keep' preserved stays as it is.
 */
function policeLateWriters(
  request: UndiciRequest,
  headers: HeaderList,
  call: OutgoingCall,
  guard: SensitiveDataGuard,
  fields: { readonly trace: readonly string[]; readonly baggage: readonly string[] },
): void {
  const original = request.addHeader;
  if (typeof original !== 'function') return;
  request.addHeader = function addHeader(this: unknown, key: unknown, value: unknown): unknown {
    try {
      const name = typeof key === 'string' ? key.toLowerCase() : '';
      const isTrace = fields.trace.includes(name);
      if ((isTrace || fields.baggage.includes(name)) && typeof value === 'string') {
        if (!isHeaderName(name) || !isHeaderValue(value)) {
          countDiagnostic('inject.header.invalid');
          return this;
        }
        if (isTrace) {
          // With 'keep', the caller's own header stays, whoever writes after it.
          if (call.keptTrace) return this;
          if (spans.delete(request)) spanClosed();
          if (call.decision.trace) headers.set(name, value);
          else {
            headers.remove(name);
            reportTraceWithheld(call.decision, call.destination);
          }
        } else {
          const allowed = filterBaggageHeader(value, call.decision, guard, call.destination);
          if (allowed === undefined) headers.remove(name);
          else headers.set(name, allowed);
        }
        return this;
      }
    } catch {
      countDiagnostic('internal.error');
    }
    return (original as (this: unknown, ...args: unknown[]) => unknown).call(this, key, value);
  };
}

// -- the context a call was made in, for calls a pool queues --

/** The call a handler was last dispatched for: its options object and the context it was made in. */
interface DispatchedCall {
  readonly opts: unknown;
  readonly context: Context;
}

/** By handler (which the call's request keeps). */
const callerContexts = new WeakMap<object, DispatchedCall>();
const DISPATCH_WRAPPED = Symbol.for('ctxprop.undici.dispatch');

interface DispatcherPrototype {
  dispatch(this: unknown, opts: unknown, handler: unknown): unknown;
}

type WrappedDispatch = DispatcherPrototype['dispatch'] & { [DISPATCH_WRAPPED]?: DispatcherPrototype['dispatch'] };

/** A handler that dispatches itself again (undici's retry and redirect handlers keep the dispatch to use). */
function redispatches(handler: object): boolean {
  return typeof (handler as { dispatch?: unknown }).dispatch === 'function';
}

/**
 * The context of the call `handler` belongs to: the call of a handler it wraps (`handler.handler`,
 * as undici's retry and redirect handlers keep the one they wrap) that dispatches itself again, as
 * a retry interceptor makes a new handler around the redirect handler for each hop; else `active`.
 * Such wrapped handlers are noted too, for the handlers made around them later.
 */
function callOf(handler: object, active: Context): Context {
  const wrapped: object[] = [];
  let call = active;
  let inner = (handler as { handler?: unknown }).handler;
  for (let hops = 0; typeof inner === 'object' && inner !== null && hops < 8; hops++) {
    if (redispatches(inner)) {
      const known = callerContexts.get(inner);
      if (known !== undefined) {
        call = known.context;
        break;
      }
      wrapped.push(inner);
    }
    inner = (inner as { handler?: unknown }).handler;
  }
  for (const each of wrapped) callerContexts.set(each, { opts: undefined, context: call });
  return call;
}

/** Prototypes wrapped while propagation is on, to unwrap when it is turned off. */
const wrappedPrototypes = new Set<DispatcherPrototype>();

/**
 * Wraps `dispatch` on undici's `DispatcherBase` (the prototype in `proto`'s chain that defines it
 * and `close`, below any subclass): every Agent, Pool and Client of that copy goes through it
 * when a call is made, and again when a queued call is sent on, with the same handler.
 */
function wrapDispatcherBase(proto: object | null): void {
  for (let current = proto; current !== null && current !== Object.prototype; current = Object.getPrototypeOf(current) as object | null) {
    const own = Object.getOwnPropertyDescriptor(current, 'dispatch');
    if (own === undefined || typeof own.value !== 'function' || !Object.prototype.hasOwnProperty.call(current, 'close')) continue;
    const target = current as DispatcherPrototype;
    if ((target.dispatch as WrappedDispatch)[DISPATCH_WRAPPED] !== undefined) return;
    const original = target.dispatch;
    const dispatch: WrappedDispatch = function dispatch(this: unknown, opts: unknown, handler: unknown): unknown {
      if (typeof handler !== 'object' || handler === null) return original.call(this, opts, handler);
      const active = context.active();
      const known = callerContexts.get(handler);
      // A call is dispatched first in its caller's context. The same handler with the same options
      // is the same call sent on (a pool's queue, an Agent's pool), later and from another call's
      // context; so is a handler that dispatches itself again (undici's retry and redirect
      // handlers keep the dispatch to use, with new options for the next attempt or hop). Such a
      // call keeps its own context, and runs in it, so that what undici makes for it (a wrapped
      // handler, the request) gets it too. Any other handler with new options: a new call.
      if (known !== undefined && (known.opts === opts || redispatches(handler))) {
        return known.context === active ? original.call(this, opts, handler) : context.with(known.context, original, this, opts, handler);
      }
      const call = callOf(handler, active);
      callerContexts.set(handler, { opts, context: call });
      return call === active ? original.call(this, opts, handler) : context.with(call, original, this, opts, handler);
    };
    dispatch[DISPATCH_WRAPPED] = original;
    target.dispatch = dispatch;
    wrappedPrototypes.add(target);
    return;
  }
}

/** Wraps the copies of undici loaded so far: npm's in the module cache, Node's bundled one. */
function wrapLoadedUndici(): void {
  try {
    // Node's one module cache, whichever require reads it (this file is built as ESM and as CJS).
    const cache = createRequire(`${process.cwd()}/`).cache;
    for (const id of Object.keys(cache)) {
      if (!/[\\/]undici[\\/]index\.js$/.test(id)) continue;
      const client = (cache[id]?.exports as { Client?: { prototype?: object } } | undefined)?.Client;
      if (typeof client?.prototype === 'object') wrapDispatcherBase(client.prototype);
    }
    const bundled = (globalThis as Record<symbol, unknown>)[Symbol.for('undici.globalDispatcher.1')];
    if (typeof bundled === 'object' && bundled !== null) wrapDispatcherBase(Object.getPrototypeOf(bundled) as object | null);
  } catch {
    countDiagnostic('internal.error');
  }
}

function unwrapUndici(): void {
  for (const proto of wrappedPrototypes) {
    const original = (proto.dispatch as WrappedDispatch)[DISPATCH_WRAPPED];
    if (original !== undefined) proto.dispatch = original;
  }
  wrappedPrototypes.clear();
}

/** The symbol undici keeps a request's handler under, per request class (one per copy of undici). */
const handlerKeys = new WeakMap<object, symbol | null>();

/** The context the call of `request` was made in, when its dispatch was seen; else the active one. */
function callerContextOf(request: object): Context {
  const type = (request as { constructor?: unknown }).constructor;
  if (typeof type !== 'function') return context.active();
  let key = handlerKeys.get(type);
  if (key === undefined) {
    // A copy of undici not seen before: wrap it, for its calls from now on.
    wrapLoadedUndici();
    key = Object.getOwnPropertySymbols(request).find((symbol) => symbol.description === 'handler') ?? null;
    handlerKeys.set(type, key);
  }
  const handler = key === null ? undefined : (request as Record<symbol, unknown>)[key];
  const caller = typeof handler === 'object' && handler !== null ? callerContexts.get(handler) : undefined;
  return caller?.context ?? context.active();
}

function onRequestCreate(message: unknown): void {
  try {
    const config = state.config;
    if (config === undefined) return;
    const request = (message as { request?: UndiciRequest } | undefined)?.request;
    if (request === undefined || request === null || request.method === 'CONNECT') return;
    const list = request.headers;
    if (!Array.isArray(list)) {
      countDiagnostic('inject.unsupported_client');
      return;
    }
    const target = targetOf(request);
    if (target === undefined) return;
    const headers = new UndiciHeaderList(list);
    const caller = callerContextOf(request);
    const call = caller === context.active() ? prepareOutgoingCall(config, target, headers) : context.with(caller, prepareOutgoingCall, undefined, config, target, headers);
    if (call === undefined) return;
    if (call.span !== undefined) {
      followSpans();
      spans.set(request as object, call.span);
      openSpans++;
    }
    policeLateWriters(request, headers, call, config.guard, fieldsOf(config.propagator));
  } catch {
    countDiagnostic('internal.error');
  }
}

function onResponseHeaders(message: unknown): void {
  recordResponseMessage(spans, message);
}

function endSpan(message: unknown, failed: boolean): void {
  try {
    const { request, error } = (message ?? {}) as { request?: object; error?: unknown };
    const span = request === undefined ? undefined : spans.get(request);
    if (span === undefined) return;
    spans.delete(request!);
    spanClosed();
    if (failed) recordFailure(span, error);
    span.end();
  } catch {
    countDiagnostic('internal.error');
  }
}

function onTrailers(message: unknown): void {
  endSpan(message, false);
}

function onError(message: unknown): void {
  endSpan(message, true);
}

const lifecycle: readonly (readonly [string, (message: unknown) => void])[] = [
  [HEADERS, onResponseHeaders],
  [TRAILERS, onTrailers],
  [ERROR, onError],
];
let lifecycleSubscribed = false;
/** Spans started and not ended yet: followed to their end even once propagation is turned off. */
let openSpans = 0;
let installed = false;

/**
 * Subscribes to the response channels once the first span exists: with no SDK there is nothing
 * to end, and while nobody listens undici publishes nothing on them.
 */
function followSpans(): void {
  if (lifecycleSubscribed) return;
  lifecycleSubscribed = true;
  for (const [name, handler] of lifecycle) subscribe(name, handler);
}

/** Unsubscribes from the response channels once propagation is off and no span is left to end. */
function stopFollowingWhenDone(): void {
  if (installed || openSpans > 0 || !lifecycleSubscribed) return;
  lifecycleSubscribed = false;
  for (const [name, handler] of lifecycle) unsubscribe(name, handler);
}

function spanClosed(): void {
  openSpans--;
  stopFollowingWhenDone();
}

/**
 * Subscribes to undici's request channels. Returns what unsubscribes them.
 *
 * @example
 * ```ts
 * const hook = installUndiciHook();
 * hook.uninstall();
 * ```
 */
export function installUndiciHook(): InstalledHook {
  subscribe(CREATE, onRequestCreate);
  installed = true;
  wrapLoadedUndici();
  return {
    uninstall() {
      unsubscribe(CREATE, onRequestCreate);
      unwrapUndici();
      installed = false;
      // Calls in flight (at shutdown) still end their spans, with the response's status.
      stopFollowingWhenDone();
    },
  };
}
