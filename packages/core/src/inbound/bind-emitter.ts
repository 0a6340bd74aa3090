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
 * This replaces `emit` on the instance with one shared function (no closure per request; every
 * listener, added before or after, runs in the context; a nested scope only swaps the context).
 * Cheaper than `context.bind(ctx, req)` (which patches six methods and allocates a listener map
 * per request, and which OpenTelemetry's context managers refuse to do twice, so it is silently
 * skipped after instrumentation-http bound the request). An event with no listener, or emitted in
 * the request's context already, costs a property read and a comparison. But an own method on a
 * request instance makes Node's accesses on it polymorphic: measured at about 18 µs a request on
 * Express 5, whose requests have a prototype to bind instead.
 */
import { context, type Context } from '@opentelemetry/api';
import { createActiveContextReader } from '../context/active-context.js';

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
  if ((typeof events === 'object' && events !== null && events[event] === undefined) || activeContext() === this[BOUND_CONTEXT]) {
    return applyEmit(this, arguments);
  }
  return context.with(this[BOUND_CONTEXT]!, applyEmit, undefined, this, arguments);
}

/**
 * Makes every event `emitter` emits from now on run its listeners in `ctx`. Calling it again on
 * the same emitter only replaces the context. Never throws on an object that is not an emitter.
 *
 * @example
 * ```ts
 * runEmitterInContext(req, scope.context);
 * runEmitterInContext(res, scope.context);
 * req.on('end', () => propagation.getActiveBaggage()); // the request's baggage
 * ```
 */
export function runEmitterInContext(emitter: object, ctx: Context): void {
  const target = emitter as BindableEmitter;
  if (typeof target.emit !== 'function') return;
  target[BOUND_CONTEXT] = ctx;
  if (target.emit === emitInContext) return;
  target[ORIGINAL_EMIT] = target.emit;
  target.emit = emitInContext;
}
