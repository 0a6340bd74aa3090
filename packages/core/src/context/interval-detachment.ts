/**
 * Repeating timers that outlive the work that started them.
 *
 * `AsyncLocalStorage` gives a `setInterval` the context it was started in, for every tick, for as
 * long as it runs. An interval started while a request is handled therefore keeps that request's
 * context after the response: every tick's outbound calls carry the request's trace and baggage,
 * and with an SDK their spans join a trace that ended long ago. A polling loop started lazily by
 * the first request builds one endless trace and sends that first caller's baggage forever, and
 * the timer keeps the request's objects alive. OpenTelemetry's context managers do the same.
 *
 * With {@link enableIntervalDetachment} on (the Express and Fastify adapters turn it on), an
 * interval started inside a unit of work (a request ctxprop set up, or a context whose active span
 * is an OpenTelemetry SDK span) runs its ticks in that work's context while the work is in
 * flight: a handler that polls until something is ready still sees its request. From the first
 * tick after the work ended (the response was sent or the client went away; the span ended) the
 * ticks run in the root context, as if the interval had been started at start-up: no span, no
 * baggage. The interval then holds nothing of the request. Intervals started outside any work,
 * and one-shot timers, are left as they are.
 */
import { syncBuiltinESMExports } from 'node:module';
import timers from 'node:timers';
import { context, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import { scopeHolderOf } from '../inbound/scoped-context.js';

type SetInterval = typeof globalThis.setInterval;
type Callback = (...args: unknown[]) => unknown;

interface Installation {
  /** Read by the wrappers on every call: false once released. */
  readonly control: { active: boolean };
  readonly globalOriginal: SetInterval;
  readonly globalWrapper: SetInterval;
  readonly timersOriginal: SetInterval;
  readonly timersWrapper: SetInterval;
}

interface DetachmentState {
  holders: number;
  installation: Installation | undefined;
}

const STATE_KEY = Symbol.for('ctxprop.context.interval-detachment.v1');

// Shared by every copy of ctxprop in the process, so that two copies wrap setInterval once.
function detachmentState(): DetachmentState {
  const holder = globalThis as unknown as { [STATE_KEY]?: DetachmentState };
  return (holder[STATE_KEY] ??= { holders: 0, installation: undefined });
}

const timersModule = timers as unknown as { setInterval: SetInterval };
const globalTimers = globalThis as unknown as { setInterval: SetInterval };

/**
 * Whether an interval started in `ctx` must leave it now: in a request, the request scope says
 * (its response ended; undefined where its adapter's `detachIntervals` is off); outside one,
 * whether the active span (an SDK span, which has `ended`) has ended. `undefined` when `ctx`
 * belongs to no work ctxprop follows: the interval is left alone.
 */
function shouldDetach(ctx: Context): boolean | undefined {
  try {
    const holder = scopeHolderOf(ctx);
    if (holder !== undefined) return holder.detachIntervals;
    const spanEnded = (trace.getSpan(ctx) as { ended?: unknown } | undefined)?.ended;
    return typeof spanEnded === 'boolean' ? spanEnded : undefined;
  } catch {
    countDiagnostic('internal.error');
    return undefined;
  }
}

/** The callback the timer really runs: in `work` while it is in flight, then as it is (the root context). */
function detachingTick(callback: Callback, work: Context): Callback {
  let current: Context | undefined = work;
  return function (this: unknown, ...args: unknown[]): unknown {
    if (current !== undefined) {
      if (shouldDetach(current) !== true) return context.with(current, callback, this, ...args);
      // Let the request's context go: nothing of it stays reachable from this timer.
      current = undefined;
      countDiagnostic('context.interval_detached');
    }
    return callback.apply(this, args);
  };
}

function callOriginal(original: SetInterval, thisArg: unknown, args: unknown[]): ReturnType<SetInterval> {
  return Reflect.apply(original, thisArg, args) as ReturnType<SetInterval>;
}

function wrap(original: SetInterval, isActive: () => boolean): SetInterval {
  const wrapper = function setInterval(this: unknown, callback: unknown, ...rest: unknown[]): ReturnType<SetInterval> {
    if (isActive() && typeof callback === 'function') {
      const created = context.active();
      if (shouldDetach(created) !== undefined) {
        // The timer itself is created in the root context, so that it does not hold the
        // request's; the tick enters the request's context for as long as the request lasts.
        const tick = detachingTick(callback as Callback, created);
        return context.with(ROOT_CONTEXT, callOriginal, undefined, original, this, [tick, ...rest]);
      }
    }
    return Reflect.apply(original, this, [callback, ...rest]) as ReturnType<SetInterval>;
  };
  // Keep what callers may look at: length, and own properties such as util.promisify.custom.
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'name' || key === 'prototype') continue;
    const descriptor = Object.getOwnPropertyDescriptor(original, key);
    if (descriptor !== undefined) Object.defineProperty(wrapper, key, descriptor);
  }
  return wrapper as unknown as SetInterval;
}

function install(state: DetachmentState): void {
  const control = { active: true };
  const isActive = () => control.active;
  const globalOriginal = globalTimers.setInterval;
  const timersOriginal = timersModule.setInterval;
  const globalWrapper = wrap(globalOriginal, isActive);
  const timersWrapper = timersOriginal === globalOriginal ? globalWrapper : wrap(timersOriginal, isActive);
  globalTimers.setInterval = globalWrapper;
  timersModule.setInterval = timersWrapper;
  // `import { setInterval } from 'node:timers'` in ES modules sees the wrapper too.
  syncBuiltinESMExports();
  state.installation = { control, globalOriginal, globalWrapper, timersOriginal, timersWrapper };
}

function uninstall(state: DetachmentState): void {
  const installation = state.installation;
  state.installation = undefined;
  if (installation === undefined) return;
  // A wrapper someone else wrapped over (a test's fake timers) cannot be taken out: it passes through.
  installation.control.active = false;
  if (globalTimers.setInterval === installation.globalWrapper) globalTimers.setInterval = installation.globalOriginal;
  if (timersModule.setInterval === installation.timersWrapper) timersModule.setInterval = installation.timersOriginal;
  syncBuiltinESMExports();
}

/**
 * A hold on interval detachment, from {@link enableIntervalDetachment}.
 *
 * @example
 * ```ts
 * const intervals: IntervalDetachmentHandle = enableIntervalDetachment();
 * process.on('SIGTERM', () => intervals.disable());
 * ```
 */
export interface IntervalDetachmentHandle {
  /**
   * Releases this hold; `setInterval` is given back its original when no hold is left. Intervals
   * already started keep detaching. Calling it twice does nothing the second time.
   */
  disable(): void;
}

/**
 * Makes `setInterval` (the global and `node:timers`'s) detach repeating timers from the work that
 * started them once that work has ended: ticks run in the request's context while the request is
 * in flight, and in the root context (no span, no baggage) after its response. Each detachment
 * is counted once per interval as `context.interval_detached`. The Express and Fastify adapters
 * call it unless given `detachIntervals: false`. Holds are counted; two copies of ctxprop share
 * one wrapper.
 *
 * Not covered: a chain of `setTimeout`s that re-arms itself, and `for await` over
 * `timers/promises`'s `setInterval`, run in the context of the code that loops; start such
 * background loops with {@link runDetached}.
 *
 * @example
 * ```ts
 * const intervals = enableIntervalDetachment();
 * app.get('/warm', (req, res) => {
 *   // Ticks after this response run outside the request: no endless trace, no stale baggage.
 *   cache ??= setInterval(() => refreshCache(), 60_000);
 *   res.sendStatus(204);
 * });
 * ```
 */
export function enableIntervalDetachment(): IntervalDetachmentHandle {
  const state = detachmentState();
  state.holders += 1;
  if (state.installation === undefined) install(state);
  let released = false;
  return {
    disable(): void {
      if (released) return;
      released = true;
      state.holders -= 1;
      if (state.holders === 0) uninstall(state);
    },
  };
}
