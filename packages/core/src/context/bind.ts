/**
 * Binding functions and EventEmitters to a context, so callbacks that run later (a queue
 * consumer's handler, a `'data'` listener registered elsewhere) see the context they were bound to.
 */
import { context as contextApi, type Context } from '@opentelemetry/api';
import { bindEmitterListeners, type ListenerEmitter } from './emitter-binding.js';
import { ensureContextManager } from './runtime.js';

/**
 * Returns `fn` bound to `ctx` (default: the active context): whenever it is called, it runs in
 * that context.
 *
 * @example
 * ```ts
 * const onMessage = bindContext((message) => logger.info({ message }, 'received'));
 * queue.on('message', onMessage); // logs carry the trace of the request that subscribed
 * ```
 */
// `any[]`, not `never[]`: a callback written without parameter types (`(message) => ...`) must
// keep parameters its callers can pass arguments to.
export function bindContext<F extends (...args: any[]) => unknown>(fn: F, ctx: Context = contextApi.active()): F {
  ensureContextManager();
  return contextApi.bind(ctx, fn);
}

/**
 * Makes every listener added to `emitter` from now on run in `ctx` (default: the active context),
 * whichever context manager is registered. Bound again (an emitter shared by requests, each
 * binding it before it adds its listener), the listeners added after run in the new context;
 * those added before keep theirs. Returns the same emitter; `removeListener` still finds
 * listeners by the original function.
 *
 * @example
 * ```ts
 * bindEmitter(req); // 'data' and 'end' listeners run in the request's context
 * req.on('end', () => logger.info('body read'));
 * ```
 */
export function bindEmitter<E extends ListenerEmitter>(emitter: E, ctx: Context = contextApi.active()): E {
  ensureContextManager();
  return bindEmitterListeners(emitter, ctx, bindToContext);
}

function bindToContext(ctx: Context, listener: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  return contextApi.bind(ctx, listener);
}
