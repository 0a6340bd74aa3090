/**
 * The active context, read for a hot path (every log line, every request, every stream event of a
 * request). `context.active()` looks the global context manager up on every call (two
 * symbol-keyed reads of `globalThis` and a version check): about 10% of the time pino spends on a
 * short line (bench/logging.bench.mjs), and about 230 instructions a call under callgrind. The API
 * keeps its registered globals on one object under `Symbol.for('opentelemetry.js.api.1')`, the
 * contract by which every copy of @opentelemetry/api 1.x in a process finds them; this reader
 * takes the context manager from there and calls it directly, but only after proving, each time
 * that object names a different manager, that `context.with` routes to that same manager.
 * Otherwise (no manager, a manager the API refuses, a later API layout) it calls
 * `context.active()`.
 */
import { context, createContextKey, ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';
import { apiGlobals } from './api-globals.js';

const PROBE_KEY = createContextKey('ctxprop.context.active-context.probe');

/**
 * Returns the active context; the same answer as `context.active()`.
 *
 * @example
 * ```ts
 * const activeContext: ActiveContextReader = createActiveContextReader();
 * ```
 */
export type ActiveContextReader = () => Context;

/**
 * Creates a reader of the active context with its own memo of the last manager checked. Make one
 * per hot path, at start-up, and call it as often as `context.active()`.
 *
 * @example
 * ```ts
 * const activeContext = createActiveContextReader();
 * function onLine() {
 *   const span = trace.getSpan(activeContext());
 * }
 * ```
 */
export function createActiveContextReader(): ActiveContextReader {
  let checked: ContextManager | undefined;
  let direct: ContextManager | undefined;

  return function activeContext(): Context {
    const manager = apiGlobals()?.context;
    if (manager !== checked) {
      checked = manager;
      direct = manager !== undefined && isTheApisManager(manager) ? manager : undefined;
    }
    return direct !== undefined ? direct.active() : context.active();
  };
}

/** True when `context.with` makes a context active that `manager.active()` then returns. */
function isTheApisManager(manager: ContextManager): boolean {
  if (typeof manager.active !== 'function') return false;
  const probe = ROOT_CONTEXT.setValue(PROBE_KEY, true);
  try {
    return context.with(probe, () => manager.active() === probe);
  } catch {
    return false;
  }
}
