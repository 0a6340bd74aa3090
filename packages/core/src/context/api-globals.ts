/**
 * The globals @opentelemetry/api 1.x registers (context manager, tracer provider, meter
 * provider), read without the API's per-call lookup. Every copy of the API in a process keeps
 * them on one object under `Symbol.for('opentelemetry.js.api.1')`; each getter of the API
 * (`trace.getTracerProvider()`, `metrics.getMeterProvider()`) reads that object, checks its
 * version against its own (two symbol-keyed reads of `globalThis` and a version check), and falls
 * back to a no-op when it refuses it. The inbound path asks on every request.
 */
import type { ContextManager, MeterProvider, TracerProvider } from '@opentelemetry/api';

/** Where @opentelemetry/api 1.x registers its globals (its `global-utils` module). */
const API_GLOBALS_KEY = Symbol.for('opentelemetry.js.api.1');

/** The entries of the API's globals object that ctxprop reads. */
export interface ApiGlobals {
  readonly context?: ContextManager;
  readonly trace?: TracerProvider;
  readonly metrics?: MeterProvider;
}

/** The API's globals object, or undefined before anything was registered. */
export function apiGlobals(): ApiGlobals | undefined {
  return (globalThis as { [API_GLOBALS_KEY]?: ApiGlobals })[API_GLOBALS_KEY];
}

const UNSEEN: unique symbol = Symbol('unseen');

/**
 * Follows one registered global: `resolve` (the API's own getter) runs again only when the entry
 * registered under `name` changes, and its answer is kept in between. Registering, replacing or
 * disabling a provider changes the entry; the version an entry was registered with cannot change
 * while it stays registered, so the API's answer (the entry, or its no-op when it refuses it)
 * cannot change either.
 *
 * @example
 * ```ts
 * const meterProvider = followApiGlobal('metrics', () => metrics.getMeterProvider());
 * meterProvider(); // what metrics.getMeterProvider() answers, with one property read
 * ```
 */
export function followApiGlobal<T>(name: keyof ApiGlobals, resolve: () => T): () => T {
  let seen: unknown = UNSEEN;
  let answer!: T;
  return function registered(): T {
    const entry = apiGlobals()?.[name];
    if (entry !== seen) {
      answer = resolve();
      seen = entry;
    }
    return answer;
  };
}
