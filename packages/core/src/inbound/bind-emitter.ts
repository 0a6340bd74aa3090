/**
 * Running a request's stream events in the request's context, for emitters that have no
 * prototype of their own to bind once (see `bindListenersToContext`, which costs nothing per
 * request and is what the Express adapter uses).
 *
 * Node emits `'data'`, `'end'`, `'close'` (request) and `'finish'`, `'close'` (response) from the
 * HTTP parser and the socket, whose async context was fixed when the connection was read: before
 * any middleware ran. A `req.on('end', ...)` callback added in a handler would otherwise run with
 * no request context at all.
 *
 * This replaces `emit` on the instance with one shared function (no closure per request): every
 * listener, added before or after, runs in the request's context; for a request ctxprop set up,
 * the latest one it had (`InboundScope.contextToRestore`: what a hook added with `context.with` is
 * kept). A nested scope only swaps the context. Cheaper than `context.bind(ctx, req)` (which
 * patches six methods and allocates a listener map per request, and which OpenTelemetry's context
 * managers refuse to do twice, so it is silently skipped after instrumentation-http bound the
 * request). An event with no listener, or emitted in the request's context already, costs a
 * property read and a comparison. But an own method on a request instance makes Node's accesses
 * on it polymorphic: measured at about 18 µs a request on Express 5, whose requests have a
 * prototype to bind instead.
 *
 * A listener added while a context derived from the request's is active (a child span, baggage
 * added with `context.with`) runs in that context, as with `bindListenersToContext`, whose
 * listener methods are set on the instance too (shared functions, as `emit`); only such a
 * listener is wrapped, in one closure. Those added in the request's own context or from any other
 * (the socket's, a pooled client's callback) are left as they are, for `emit` to run.
 */
import { context, type Context } from '@opentelemetry/api';
import { createActiveContextReader } from '../context/active-context.js';
import { bindListenersToContext } from './bind-listeners.js';
import { inboundScopeOf } from './request-scope.js';
import { scopeHolderOf } from './scoped-context.js';

const BOUND_CONTEXT = Symbol('ctxprop.inbound.bound-context');
const ORIGINAL_EMIT = Symbol('ctxprop.inbound.original-emit');

const activeContext = createActiveContextReader();

type Emit = (event: string | symbol, ...args: unknown[]) => boolean;

interface BindableEmitter {
  emit: Emit;
  _events?: Record<string | symbol, unknown>;
  [BOUND_CONTEXT]?: Context;
  [ORIGINAL_EMIT]?: Emit;
}

function applyEmit(emitter: BindableEmitter, args: ArrayLike<unknown>): boolean {
  return (emitter[ORIGINAL_EMIT] as (...a: unknown[]) => boolean).apply(emitter, args as unknown[]);
}

/**
 * The shared `emit`. An event nobody listens to (most of a request's: 'prefinish', 'end', 'close'
 * and the rest, usually) and an event emitted in the request's context already are passed straight
 * on: only an event with listeners, emitted from elsewhere, pays for entering the context.
 * `_events` is EventEmitter's listener table (stable since Node 0.x); an emitter without one is
 * always wrapped.
 */
function emitInContext(this: BindableEmitter, event: string | symbol): boolean {
  // `arguments`, not a rest parameter: no array per event.
  const events = this._events;
  if (typeof events === 'object' && events !== null && events[event] === undefined) return applyEmit(this, arguments);
  const bound = this[BOUND_CONTEXT]!;
  const active = activeContext();
  const ctx = active === bound ? undefined : contextToEmitIn(bound, active);
  if (ctx === undefined) return applyEmit(this, arguments);
  return context.with(ctx, applyEmit, undefined, this, arguments);
}

/**
 * The context to run listeners in when an event comes in `active`, not the `bound` one: none to
 * enter when `active` is (or derives from) the same request's; else, for a request ctxprop set
 * up, its latest context (a span or baggage a hook added with `context.with` is kept, and nothing
 * is counted: nothing handed the request on); else `bound`.
 */
function contextToEmitIn(bound: Context, active: Context): Context | undefined {
  const holder = scopeHolderOf(bound);
  if (holder === undefined) return bound;
  if (scopeHolderOf(active) === holder) return undefined;
  return inboundScopeOf(bound)?.contextToRestore(active, false) ?? bound;
}

/**
 * The context a listener being added to `emitter` keeps: the active one, when it derives from the
 * context `emitter` is bound to (same request) without being that one. Listeners added in the
 * bound context itself, or in one of no request or another request's, are not wrapped: `emit`
 * runs them in the request's latest context.
 */
function derivedContextOf(emitter: object): Context | undefined {
  const bound = (emitter as BindableEmitter)[BOUND_CONTEXT];
  const active = activeContext();
  if (bound === undefined || active === bound) return undefined;
  const holder = scopeHolderOf(active);
  return holder !== undefined && holder === scopeHolderOf(bound) ? active : undefined;
}

type AddListener = (this: object, event: string | symbol, listener: (...args: unknown[]) => unknown) => unknown;

const LISTENER_METHODS = ['on', 'addListener', 'prependListener', 'once', 'prependOnceListener'] as const;

/**
 * The listener methods set on a bound emitter: `bindListenersToContext`'s, installed once on this
 * module's own object rather than on a prototype, whose "parent" calls the method of the
 * emitter's prototype (Readable's `on` for a request: it starts the flow of 'data').
 */
const LISTENERS_IN_CONTEXT: Record<(typeof LISTENER_METHODS)[number], AddListener> = (() => {
  const inherited: Record<string, AddListener> = Object.create(null) as Record<string, AddListener>;
  for (const name of LISTENER_METHODS) {
    inherited[name] = function (this: object, event, listener) {
      return (Object.getPrototypeOf(this) as Record<string, AddListener>)[name]!.call(this, event, listener);
    };
  }
  const methods = Object.create(inherited) as Record<(typeof LISTENER_METHODS)[number], AddListener>;
  bindListenersToContext(methods, derivedContextOf);
  return methods;
})();

/**
 * Makes every event `emitter` emits from now on run its listeners in `ctx` (in the request's
 * latest context, when `ctx` is one of a request ctxprop set up), and a listener added while a
 * context derived from `ctx` is active run in that one. Calling it again on the same emitter only
 * replaces the context. Never throws on an object that is not an emitter. An emitter whose
 * listener methods are its own already (bound by `context.bind`) keeps them.
 *
 * @example
 * ```ts
 * runEmitterInContext(req, scope.context);
 * runEmitterInContext(res, scope.context);
 * req.on('end', () => propagation.getActiveBaggage()); // the request's baggage
 * ```
 */
export function runEmitterInContext(emitter: object, ctx: Context): void {
  const target = emitter as BindableEmitter & Partial<Record<(typeof LISTENER_METHODS)[number], AddListener>>;
  if (typeof target.emit !== 'function') return;
  target[BOUND_CONTEXT] = ctx;
  if (target.emit === emitInContext) return;
  target[ORIGINAL_EMIT] = target.emit;
  target.emit = emitInContext;
  if (typeof target.on !== 'function' || Object.prototype.hasOwnProperty.call(target, 'on')) return;
  target.on = LISTENERS_IN_CONTEXT.on;
  target.addListener = LISTENERS_IN_CONTEXT.addListener;
  target.prependListener = LISTENERS_IN_CONTEXT.prependListener;
  target.once = LISTENERS_IN_CONTEXT.once;
  target.prependOnceListener = LISTENERS_IN_CONTEXT.prependOnceListener;
}
