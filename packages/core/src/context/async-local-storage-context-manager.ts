/**
 * ctxprop's own AsyncLocalStorage context manager, registered as the global OpenTelemetry
 * context manager when nothing else is (see `ensureContextManager`). It follows the API's
 * `ContextManager` contract: `with` scopes by `AsyncLocalStorage.run`, never `enterWith`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';
import { bindEmitterListeners } from './emitter-binding.js';

type Listener = (...args: unknown[]) => unknown;


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
   * Every listener added to `emitter` from now on runs in `context` (binding it again changes the
   * context for the listeners added after); `removeListener` and `off` still find them by the
   * original function.
   */
  private bindEmitter(context: Context, emitter: EventEmitter): EventEmitter {
    return bindEmitterListeners(emitter, context, (ctx, listener) => this.bindFunction(ctx, listener));
  }
}
