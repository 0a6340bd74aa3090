/**
 * The warning an adapter gives when it had to put a request's context back: it names the place
 * the request reached from another context, so that the code just before it, which lost the
 * context, can be found. Once per place for the life of the process.
 */
import { warnOnce } from '../diagnostics/diagnostics.js';

/**
 * Warns, once per `where`, that a request reached `where` (a middleware, hook or handler, named
 * by the adapter from the app's structure, never from request data) from a context not its own,
 * and that the adapter put the request's context back. Adapters call it where
 * `InboundScope.contextToRestore` returned a context.
 *
 * @example
 * ```ts
 * const restore = scope.contextToRestore(context.active());
 * if (restore !== undefined) warnContextRestored('the Express middleware "loadSession"');
 * ```
 */
export function warnContextRestored(where: string): void {
  warnOnce(
    `CTXPROP_CONTEXT_RESTORED:${where}`,
    `ctxprop: a request reached ${where} in a context not its own (none, or another request's): the code that ran just before it ` +
      'handed the request on (next() or done()) from a callback that another context runs, such as that of a pooled database, cache or session-store client. ' +
      `ctxprop put the request's context back from ${where} on, and counts each such hand-off as context.restored. ` +
      "Code inside that callback still runs in the other context: where it logs or calls out, bind the callback with context.bind(context.active(), callback).",
  );
}
