/**
 * Binding an EventEmitter's listeners to a context: every listener added after a binding runs in
 * the context of the latest binding, whatever is active when it is added or emitted. An emitter
 * shared by requests (a queue consumer, a pooled socket) is bound again by each: the listeners
 * each adds run in its own context, those added before keep theirs.
 *
 * The add methods are patched once per emitter; a later binding only replaces the context. Both
 * ctxprop's context manager (`context.bind(ctx, emitter)`) and core's `bindEmitter` patch through
 * here, so an emitter is patched once whichever binds it first.
 */
import type { Context } from '@opentelemetry/api';

type Listener = (...args: unknown[]) => unknown;

/**
 * The part of Node's `EventEmitter` that binding uses: any emitter, stream or socket, or an
 * emitter-like object with `on`, `once` and `removeListener` (declared here so that the
 * declarations need no `@types/node`).
 *
 * @example
 * ```ts
 * const socket: ListenerEmitter = net.connect(6379);
 * ```
 */
export interface ListenerEmitter {
  on(event: string | symbol, listener: (...args: unknown[]) => unknown): unknown;
  addListener(event: string | symbol, listener: (...args: unknown[]) => unknown): unknown;
  prependListener?(event: string | symbol, listener: (...args: unknown[]) => unknown): unknown;
  once(event: string | symbol, listener: (...args: unknown[]) => unknown): unknown;
  prependOnceListener?(event: string | symbol, listener: (...args: unknown[]) => unknown): unknown;
  removeListener(event: string | symbol, listener: (...args: unknown[]) => unknown): unknown;
  off?(event: string | symbol, listener: (...args: unknown[]) => unknown): unknown;
  rawListeners?(event: string | symbol): unknown[];
}

type AddMethod = (this: ListenerEmitter, event: string | symbol, listener: Listener) => unknown;

/** Binds one listener to a context (the context manager's own binding, or the API's). */
export type ListenerBinder = (ctx: Context, listener: Listener) => Listener;

interface EmitterBinding {
  /** The context the listeners added from now on run in. */
  context: Context;
  /**
   * Per listener, the function last bound from it: what removal passes on when the registered
   * listeners do not show it (an emitter another context manager patched before, whose own
   * wrapper is what is registered; an emitter with no `rawListeners`).
   */
  readonly bound: WeakMap<Listener, Listener>;
}

const BINDING = Symbol.for('ctxprop.context.emitter-binding.v2');
/** On a bound listener: the listener it was made from, so that removing that one removes it. */
const ORIGINAL = Symbol.for('ctxprop.context.bound-listener-original');

interface BoundEmitter extends ListenerEmitter {
  [BINDING]?: EmitterBinding;
}

type TaggedListener = Listener & { [ORIGINAL]?: Listener; readonly listener?: TaggedListener };

/**
 * Makes every listener added to `emitter` from now on run in `ctx`, bound by `bindListener`.
 * Returns `emitter`. `removeListener` and `off` still remove a listener by the function added.
 *
 * @example
 * ```ts
 * bindEmitterListeners(consumer, context.active(), (ctx, listener) => context.bind(ctx, listener));
 * ```
 */
export function bindEmitterListeners<E extends ListenerEmitter>(emitter: E, ctx: Context, bindListener: ListenerBinder): E {
  const target = emitter as BoundEmitter;
  const existing = target[BINDING];
  if (existing !== undefined) {
    existing.context = ctx;
    return emitter;
  }
  const binding: EmitterBinding = { context: ctx, bound: new WeakMap() };
  target[BINDING] = binding;
  const wrapAdd = (original: AddMethod) =>
    function (this: ListenerEmitter, event: string | symbol, listener: Listener) {
      // Node's `once` adds a wrapper of the listener (`wrapper.listener`) through `on`: the listener
      // was bound when `once` was called (here, or by another context manager patched under this).
      if (typeof (listener as TaggedListener).listener === 'function') return original.call(this, event, listener);
      const bound = bindListener(binding.context, listener) as TaggedListener;
      bound[ORIGINAL] = listener;
      if (typeof listener === 'function') binding.bound.set(listener, bound);
      return original.call(this, event, bound);
    };
  const wrapRemove = (original: AddMethod) =>
    function (this: ListenerEmitter, event: string | symbol, listener: Listener) {
      const registered = registeredFor(this, event, listener) ?? (typeof listener === 'function' ? binding.bound.get(listener) : undefined) ?? listener;
      return original.call(this, event, registered);
    };
  // Only the methods the emitter has (an emitter-like object may lack some).
  const methods = target as unknown as Record<string, unknown>;
  for (const name of ADD_METHODS) {
    if (typeof methods[name] === 'function') methods[name] = wrapAdd(methods[name] as AddMethod);
  }
  for (const name of REMOVE_METHODS) {
    if (typeof methods[name] === 'function') methods[name] = wrapRemove(methods[name] as AddMethod);
  }
  return emitter;
}

const ADD_METHODS = ['on', 'addListener', 'prependListener', 'once', 'prependOnceListener'] as const;
const REMOVE_METHODS = ['removeListener', 'off'] as const;

/**
 * What `removeListener(event, listener)` must be given to remove the listener added last as
 * `listener`: the function bound from it, or `listener` itself (added before the binding), looked
 * for from the end as Node does; undefined when the registered listeners do not show it.
 */
function registeredFor(emitter: ListenerEmitter, event: string | symbol, listener: Listener): Listener | undefined {
  if (typeof emitter.rawListeners !== 'function') return undefined;
  const registered = emitter.rawListeners(event) as TaggedListener[];
  for (let i = registered.length - 1; i >= 0; i--) {
    // A `once` listener is registered as a wrapper that keeps the function as `listener`.
    const candidate = registered[i]!.listener ?? registered[i]!;
    if (candidate === listener) return listener;
    if (candidate[ORIGINAL] === listener) return candidate;
  }
  return undefined;
}
