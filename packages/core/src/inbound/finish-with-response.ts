/**
 * Ending a request's scope from Node's `ServerResponse` events, for adapters that have no hook of
 * their own at the end of a response (Express). `'finish'` means the response was handed to the
 * OS in full; `'close'` without `'finish'` means the client went away first.
 *
 * The listeners are two shared functions that find the scope on the response (no closure per
 * request). `'finish'` is used rather than `'close'` alone because instrumentation-http ends its
 * span on `'close'`: the route must reach its span (and its RPC metadata) before that.
 */
import type { InboundScope } from './request-scope.js';

const SCOPE = Symbol('ctxprop.inbound.response-scope');

/**
 * The part of Node's `ServerResponse` this needs.
 *
 * @example
 * ```ts
 * const response: ResponseLike = reply.raw; // Fastify, or `res` in Express
 * ```
 */
export interface ResponseLike {
  readonly statusCode: number;
  /** True once `end()` was called (Node's `ServerResponse`). */
  readonly writableEnded?: boolean;
  /** True once the response was destroyed (the client went away; HTTP/1). */
  readonly destroyed?: boolean;
  /** The HTTP/2 stream of an `Http2ServerResponse`: destroyed once the client went away. */
  readonly stream?: { readonly destroyed?: boolean } | null;
  on(event: 'finish' | 'close', listener: () => void): unknown;
}

interface WatchedResponse extends ResponseLike {
  [SCOPE]?: InboundScope<unknown>;
}

function onResponseFinish(this: WatchedResponse): void {
  const scope = this[SCOPE];
  if (scope !== undefined) scope.finish(this.statusCode);
}

function onResponseClose(this: WatchedResponse): void {
  // After 'finish' this does nothing: the scope is done.
  const scope = this[SCOPE];
  if (scope !== undefined) scope.abort();
}

/**
 * Calls `scope.finish(response.statusCode)` when `response` finishes and `scope.abort()` when it
 * closes first. Does nothing when the scope has nothing to end (`scope.needsResponse` false: no
 * span recorded, no histogram).
 *
 * @example
 * ```ts
 * const scope = handler.start(req);
 * if (scope !== undefined) finishWithResponse(scope, res);
 * ```
 */
export function finishWithResponse<Request>(scope: InboundScope<Request>, response: ResponseLike): void {
  if (!scope.needsResponse) return;
  const watched = response as WatchedResponse;
  watched[SCOPE] = scope as unknown as InboundScope<unknown>;
  watched.on('finish', onResponseFinish);
  watched.on('close', onResponseClose);
}
