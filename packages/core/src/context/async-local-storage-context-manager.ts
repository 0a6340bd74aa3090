/**
 * ctxprop's own AsyncLocalStorage context manager, registered as the global OpenTelemetry
 * context manager when nothing else is (see `ensureContextManager`). It follows the API's
 * `ContextManager` contract: `with` scopes by `AsyncLocalStorage.run`, never `enterWith`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';

type Listener = (...args: unknown[]) => unknown;

// Per emitter: original listener -> (event -> bound listener), so removeListener works.
const PATCHED = Symbol.for('ctxprop.context.bound-emitter');
const LISTENERS = Symbol.for('ctxprop.context.bound-listeners');

interface PatchedEmitter extends EventEmitter {
  [PATCHED]?: true;
  [LISTENERS]?: Map<string | symbol, WeakMap<Listener, Listener>>;
}

/**
 * A `ContextManager` backed by `AsyncLocalStorage`.
 *
 * @example
 * ```ts
 * import { context } from '@opentelemetry/api';
 * context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
 * ```
 */
export class AsyncLocalStorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const call = thisArg === undefined ? fn : fn.bind(thisArg);
    return this.storage.run(context, call as never, ...args) as ReturnType<F>;
  }

  bind<T>(context: Context, target: T): T {
    if (target instanceof EventEmitter) return this.bindEmitter(context, target) as T;
    if (typeof target === 'function') return this.bindFunction(context, target as unknown as Listener) as T;
    return target;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }

  private bindFunction<F extends Listener>(context: Context, target: F): F {
    const manager = this;
    const bound = function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => target.apply(this, args));
    };
    Object.defineProperty(bound, 'length', { value: target.length, configurable: true });
    return bound as unknown as F;
  }

  /**
   * Every listener added to `emitter` from now on runs in `context`; `removeListener` and `off`
   * still find them by the original function.
   */
  private bindEmitter(context: Context, emitter: PatchedEmitter): PatchedEmitter {
    if (emitter[PATCHED]) return emitter;
    emitter[PATCHED] = true;
    const map = new Map<string | symbol, WeakMap<Listener, Listener>>();
    emitter[LISTENERS] = map;
    const manager = this;
    const wrapAdd = (original: EventEmitter['on']) =>
      function (this: EventEmitter, event: string | symbol, listener: Listener) {
        let byListener = map.get(event);
        if (byListener === undefined) map.set(event, (byListener = new WeakMap()));
        const bound = byListener.get(listener) ?? manager.bindFunction(context, listener);
        byListener.set(listener, bound);
        return original.call(this, event, bound);
      };
    const wrapRemove = (original: EventEmitter['removeListener']) =>
      function (this: EventEmitter, event: string | symbol, listener: Listener) {
        const bound = map.get(event)?.get(listener);
        return original.call(this, event, bound ?? listener);
      };
    emitter.on = wrapAdd(emitter.on);
    emitter.addListener = wrapAdd(emitter.addListener);
    emitter.prependListener = wrapAdd(emitter.prependListener);
    emitter.once = wrapAdd(emitter.once);
    emitter.prependOnceListener = wrapAdd(emitter.prependOnceListener);
    emitter.removeListener = wrapRemove(emitter.removeListener);
    emitter.off = wrapRemove(emitter.off);
    const removeAll = emitter.removeAllListeners;
    emitter.removeAllListeners = function (this: EventEmitter, event?: string | symbol) {
      if (event === undefined) map.clear();
      else map.delete(event);
      return removeAll.call(this, event as string | symbol);
    };
    return emitter;
  }
}
