/**
 * `runDetached(fn)`: run code outside any request, from inside one. For background work a request
 * starts but does not own: a cache refresher started lazily, a `setTimeout` chain that re-arms
 * itself, a `for await` loop over `timers/promises`'s `setInterval`. Everything `fn` starts (timers,
 * promises, outbound calls) runs in the root context: no span, no baggage, as at start-up.
 */
import { context, ROOT_CONTEXT } from '@opentelemetry/api';

/**
 * Calls `fn(...args)` in the root context and returns what it returns. An outbound call made from
 * it carries no trace header and no baggage (counted as `inject.no_context`); with an SDK, the
 * spans it starts begin their own traces.
 *
 * @example
 * ```ts
 * app.get('/reports', (req, res) => {
 *   // One poller for the process, whichever request happens to start it.
 *   poller ??= runDetached(() => startPolling());
 *   res.json(latestReports());
 * });
 * ```
 */
export function runDetached<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R {
  return context.with(ROOT_CONTEXT, fn, undefined, ...args);
}
