/**
 * The embedded context runtime: if no global OpenTelemetry context manager is registered, ctxprop
 * registers its AsyncLocalStorage one, once per process (under `Symbol.for`, so two copies of
 * ctxprop share it). With an OTel SDK started first, the SDK's manager is used instead.
 */
import { context, createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from './async-local-storage-context-manager.js';

const RUNTIME_KEY = Symbol.for('ctxprop.context.runtime.v1');
const PROBE_KEY = createContextKey('ctxprop.context.probe');

interface RuntimeHolder {
  [RUNTIME_KEY]?: AsyncLocalStorageContextManager;
}

/**
 * True when a working global context manager is registered: a value set with `context.with` is
 * seen by `context.active()`. The API's no-op manager fails this probe.
 *
 * @example
 * ```ts
 * if (!hasContextManager()) console.log('context will not propagate');
 * ```
 */
export function hasContextManager(): boolean {
  const probe = ROOT_CONTEXT.setValue(PROBE_KEY, true);
  return context.with(probe, () => context.active().getValue(PROBE_KEY) === true);
}

/**
 * Registers ctxprop's AsyncLocalStorage context manager as the global one unless a working one is
 * already registered. Safe to call any number of times; the adapters call it at start-up.
 * Returns true when a working context manager is in place afterwards.
 *
 * @example
 * ```ts
 * ensureContextManager();
 * context.with(ctx, () => { context.active() === ctx; });
 * ```
 */
export function ensureContextManager(): boolean {
  if (hasContextManager()) return true;
  const holder = globalThis as unknown as RuntimeHolder;
  const manager = holder[RUNTIME_KEY] ?? new AsyncLocalStorageContextManager();
  holder[RUNTIME_KEY] = manager;
  context.setGlobalContextManager(manager.enable());
  return hasContextManager();
}
