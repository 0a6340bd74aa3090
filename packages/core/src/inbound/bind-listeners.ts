/**
 * Running the listeners a request's code adds to the request and response streams in the
 * request's context, at no cost per request: the listener methods are replaced once, on a
 * prototype the framework gives every request (Express's `request` and `response` objects), and
 * wrap a listener only when the emitter it is added to belongs to a request in a context.
 *
 * Why: Node emits `'data'`, `'end'`, `'close'` and `'finish'` from the HTTP parser and the socket,
 * whose async context was fixed before any middleware ran, so a `req.on('end', ...)` added in a
 * handler (a multipart upload read by hand, a logger's `res.on('finish', ...)`) would otherwise
 * run with no request context at all.
 *
 * Why not per request: `context.bind(ctx, req)` patches six methods and allocates a listener map
 * on every request (4 µs here), and any own method on a request instance (even one shared
 * function as `emit`, see `runEmitterInContext`) makes Node's and Express's property accesses on
 * it polymorphic: about 18 µs a request on Express 5. Here a request pays nothing unless it adds
 * listeners, and then one closure per listener.
 *
 * Listeners keep Node's own bookkeeping: the wrapper carries the original as `.listener` (as
 * Node's `once` wrapper does), so `removeListener(original)`, `off` and `listeners()` work.
 */
import { context, type Context } from '@opentelemetry/api';

/**
 * Finds the context of the request an emitter belongs to; undefined when it has none.
 *
 * @example
 * ```ts
 * const lookup: EmitterContextLookup = (req) => (inboundScopeOf()?.request === req ? context.active() : undefined);
 * ```
 */
export type EmitterContextLookup = (emitter: object) => Context | undefined;

type Listener = (...args: unknown[]) => unknown;
type AddListener = (this: object, event: string | symbol, listener: Listener) => unknown;

const INSTALLED = Symbol.for('ctxprop.inbound.listener-binding');

function inContext(ctx: Context, listener: Listener): Listener {
  const bound = function (this: unknown, ...args: unknown[]): unknown {
    return context.with(ctx, listener, this, ...args);
  };
  (bound as { listener?: Listener }).listener = listener;
  return bound;
}

function onceInContext(emitter: object, event: string | symbol, ctx: Context, listener: Listener): Listener {
  let fired = false;
  const bound = function (this: unknown, ...args: unknown[]): unknown {
    if (fired) return undefined;
    fired = true;
    (emitter as { removeListener(event: string | symbol, listener: Listener): unknown }).removeListener(event, bound);
    return context.with(ctx, listener, this, ...args);
  };
  (bound as { listener?: Listener }).listener = listener;
  return bound;
}

/**
 * Replaces `on`, `addListener`, `prependListener`, `once` and `prependOnceListener` on
 * `prototype` (once; later calls do nothing) with versions that, when `contextOf(emitter)` gives a
 * context, run the listener in it. They call the implementation `prototype` inherits, looked up
 * at each call. Emitters without a context are not affected.
 *
 * @example
 * ```ts
 * // Express: every app's requests inherit from express's own `request` object.
 * bindListenersToContext(expressRequestPrototype, (req) => scopeOf(req)?.context);
 * ```
 */
export function bindListenersToContext(prototype: object, contextOf: EmitterContextLookup): void {
  if (Object.prototype.hasOwnProperty.call(prototype, INSTALLED)) return;
  const parent = Object.getPrototypeOf(prototype) as Record<string, AddListener>;
  const forward = (name: string): AddListener =>
    function (this: object, event: string | symbol, listener: Listener): unknown {
      const ctx = typeof listener === 'function' ? contextOf(this) : undefined;
      return parent[name]!.call(this, event, ctx === undefined ? listener : inContext(ctx, listener));
    };
  const forwardOnce = (name: string, via: string): AddListener =>
    function (this: object, event: string | symbol, listener: Listener): unknown {
      const ctx = typeof listener === 'function' ? contextOf(this) : undefined;
      if (ctx === undefined) return parent[name]!.call(this, event, listener);
      return parent[via]!.call(this, event, onceInContext(this, event, ctx, listener));
    };
  const methods: Record<string, AddListener> = {
    on: forward('on'),
    addListener: forward('addListener'),
    prependListener: forward('prependListener'),
    once: forwardOnce('once', 'on'),
    prependOnceListener: forwardOnce('prependOnceListener', 'prependListener'),
  };
  for (const [name, value] of Object.entries(methods)) {
    Object.defineProperty(prototype, name, { value, writable: true, configurable: true, enumerable: false });
  }
  Object.defineProperty(prototype, INSTALLED, { value: true });
}
