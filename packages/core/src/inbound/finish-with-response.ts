/**
 * Ending a request's scope from Node's `ServerResponse` events, for adapters that have no hook of
 * their own at the end of a response. `'finish'` means the response was handed to the OS in full;
 * `'close'` without `'finish'` means it was not: the client went away first, or the server closed
 * the connection itself ({@link endScopeOnClose} tells which).
 *
 * The listeners are two shared functions that find the scope on the response (no closure per
 * request). `'finish'` is used rather than `'close'` alone because instrumentation-http ends its
 * span on `'close'`: the route must reach its span (and its RPC metadata) before that.
 */
import { countDiagnostic } from '../diagnostics/diagnostics.js';
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
  /** True once the response was flushed in full, or so Node says of one ended on a destroyed socket. */
  readonly writableFinished?: boolean;
  /** True once the status line and headers were written. */
  readonly headersSent?: boolean;
  /** The connection, while the response is attached to it (Node detaches it once sent). */
  readonly socket?: SocketLike | null;
  /** The request the response answers (Node's `ServerResponse.req`). */
  readonly req?: { readonly socket?: SocketLike | null } | null;
  /** True once the response was destroyed (the client went away; HTTP/1). */
  readonly destroyed?: boolean;
  /** True once the response emitted `'close'`. */
  readonly closed?: boolean;
  /** The HTTP/2 stream of an `Http2ServerResponse`: destroyed once the client went away. */
  readonly stream?: Http2StreamLike | null;
  on(event: 'finish' | 'close', listener: () => void): unknown;
}

/** The part of an `Http2Stream` {@link endScopeOnClose} reads. */
interface Http2StreamLike {
  readonly destroyed?: boolean;
  /** True once the stream closed. */
  readonly closed?: boolean;
  /** The RST_STREAM code the stream closed with (0: none, a clean close). */
  readonly rstCode?: number;
  /** The error it was destroyed with: the client's reset (`ERR_HTTP2_STREAM_ERROR`), the connection's. */
  readonly errored?: unknown;
  /** True once the server's side of the stream was sent in full. */
  readonly writableFinished?: boolean;
  /** The response headers sent on it (`:status` among them), also by `stream.respond()`. */
  readonly sentHeaders?: Readonly<Record<string, unknown>>;
}

/**
 * Whether an HTTP/2 response was sent in full: its stream closed cleanly once the server's side was
 * finished, through the compatibility response (`res.end()`) or the stream itself
 * (`stream.respond()` and `end()`, `respondWithFile()`), which leaves the response unended.
 */
function streamCompleted(response: ResponseLike, stream: Http2StreamLike): boolean {
  if (stream.rstCode !== undefined && stream.rstCode !== 0) return false;
  return response.writableEnded === true || stream.writableFinished === true;
}

/** The status an HTTP/2 response was sent with: the stream's `:status` (set by `stream.respond()` too), else the response's. */
function streamStatusOf(response: ResponseLike, stream: Http2StreamLike): number {
  const status = stream.sentHeaders?.[':status'];
  return typeof status === 'number' ? status : response.statusCode;
}

/** The part of a `net.Socket` {@link endScopeOnClose} reads. */
interface SocketLike {
  readonly destroyed?: boolean;
  /** True once the client's end of the stream (FIN) was read. */
  readonly readableEnded?: boolean;
  /** The error the socket was destroyed with (`code` `ECONNRESET` when the client reset it). */
  readonly errored?: unknown;
  /** The server that accepted the connection (Node sets it on a server's sockets). */
  readonly server?: { listenerCount?(event: string): number } | null;
}

/** The error Node destroys a connection with when its request was not received within `requestTimeout`. */
const REQUEST_TIMEOUT_CODE = 'ERR_HTTP_REQUEST_TIMEOUT';
/** `error.type` of a request the server timed out (the semantic conventions' own example value). */
const ERROR_TYPE_TIMEOUT = 'timeout';

/** The prefix of the codes of Node's HTTP parser errors (llhttp's `HPE_INVALID_CHUNK_SIZE`, …). */
const PARSE_ERROR_PREFIX = 'HPE_';

/**
 * The status Node answers a request its parser failed on with, when no `'clientError'` listener
 * answers instead: 431 for headers (or trailers) too large, 413 for chunk extensions too large, 400
 * otherwise. A framework's listener (Fastify's) answers 431 or 400.
 */
function parseErrorStatus(code: string, socket: SocketLike): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW' && socket.server?.listenerCount?.('clientError') === 0) return 413;
  return 400;
}

/** Socket errors that mean the client's end of the connection went away. */
const CLIENT_GONE_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** HTTP/2's CANCEL: what a client's cancelled stream, or its closed connection, leaves as the stream's code. */
const NGHTTP2_CANCEL = 8;

/**
 * Whether the client ended an HTTP/2 stream that closed before its response was complete: it
 * cancelled it (or closed the connection), reset it with an error code of its own, or its
 * connection failed. Otherwise the server closed it (`res.destroy()`: no code, or
 * INTERNAL_ERROR with an error).
 */
function clientEndedStream(stream: Http2StreamLike): boolean {
  const code = (stream.errored as { readonly code?: unknown } | null | undefined)?.code;
  if (code === 'ERR_HTTP2_STREAM_ERROR' || (typeof code === 'string' && CLIENT_GONE_CODES.has(code))) return true;
  return stream.rstCode === NGHTTP2_CANCEL;
}

/** Ends `scope` for an HTTP/2 response whose stream closed before the response was complete. */
function endIncompleteStream<Request>(scope: InboundScope<Request>, response: ResponseLike, stream: Http2StreamLike): void {
  if (clientEndedStream(stream)) scope.abort();
  else scope.serverAbort(response.headersSent === true || stream.sentHeaders !== undefined ? streamStatusOf(response, stream) : undefined);
}

/**
 * Ends `scope` from its response's `'close'`, which follows a complete response, a client that
 * went away, and a connection the server closed itself:
 *
 * - complete: the response finished and is not left on a destroyed socket (Node reports a response
 *   ended after its socket was destroyed as finished, though it was never sent) → `finish`;
 * - the client went away first: its connection read the client's end of the stream, or was reset
 *   (HTTP/1), or it cancelled or reset its HTTP/2 stream (Node's HTTP/2 compatibility response
 *   emits `'finish'` then, which {@link finishWithResponse} tells from a complete one) → `abort`
 *   (`error.type` `aborted`); an HTTP/2 stream the server destroyed is a server abort, below;
 * - the request was not received in full within the server's `requestTimeout` (Node, or Fastify's
 *   clientError handler, answers 408 itself) → `serverAbort` with 408 and `error.type` `timeout`;
 *   with the status sent when the response was under way (its headers out, not ended), for which
 *   Node sends no 408;
 * - Node's parser failed on the rest of the request (a malformed chunk, trailers too large): Node,
 *   or the framework's clientError handler, answers it (400, 413 or 431) and closes the connection
 *   → `serverAbort` with that status (or the one a response under way sent) and the parser's code
 *   as `error.type` (`HPE_INVALID_CHUNK_SIZE`);
 * - otherwise the server closed the connection, the client still there (an error after the headers
 *   were sent, which makes Express's final handler and Fastify destroy the response;
 *   `res.destroy()`; a socket timeout) → `serverAbort`, with the status sent when the headers were.
 *
 * A response ended after its connection was destroyed with an error is not complete, though Node
 * reports it finished (an error handler answering a body parser's "request aborted").
 *
 * Only the first end of a scope counts: after `'finish'` this does nothing.
 *
 * @example
 * ```ts
 * res.on('close', () => endScopeOnClose(scope, res));
 * ```
 */
export function endScopeOnClose<Request>(scope: InboundScope<Request>, response: ResponseLike): void {
  try {
    const stream = response.stream;
    if (stream !== undefined && stream !== null) {
      if (streamCompleted(response, stream)) scope.finish(streamStatusOf(response, stream));
      else endIncompleteStream(scope, response, stream);
      return;
    }
    const attached = response.socket;
    const socket = response.req?.socket;
    const errored = socket?.errored as { readonly code?: unknown } | null | undefined;
    if (response.writableFinished === true && attached?.destroyed !== true && (errored === null || errored === undefined)) {
      scope.finish(response.statusCode);
      return;
    }
    const code = errored?.code;
    if (code === REQUEST_TIMEOUT_CODE) {
      // Node (or the framework's clientError handler) answered 408, unless the response was under
      // way (its headers out, not ended): then the client got its status. A response ended by now
      // is an error handler's answer to the body parser's "request aborted", written into the dead
      // connection before 'close'.
      const underWay = response.headersSent === true && response.writableEnded !== true;
      scope.serverAbort(underWay ? response.statusCode : 408, ERROR_TYPE_TIMEOUT);
    } else if (socket === null || socket === undefined || socket.readableEnded === true || (typeof code === 'string' && CLIENT_GONE_CODES.has(code))) {
      scope.abort();
    } else if (typeof code === 'string' && code.startsWith(PARSE_ERROR_PREFIX)) {
      // The request was malformed after it reached the handler (a body's bad chunk, trailers too
      // large): Node (or the framework's clientError handler) answered it, as with a timeout.
      const underWay = response.headersSent === true && response.writableEnded !== true;
      scope.serverAbort(underWay ? response.statusCode : parseErrorStatus(code, socket), code);
    } else {
      scope.serverAbort(response.headersSent === true ? response.statusCode : undefined);
    }
  } catch {
    // A 'close' listener must not throw: the process would see an uncaught exception.
    countDiagnostic('internal.error');
    scope.abort();
  }
}

interface WatchedResponse extends ResponseLike {
  [SCOPE]?: InboundScope<unknown>;
}

function onResponseFinish(this: WatchedResponse): void {
  const scope = this[SCOPE];
  if (scope === undefined) return;
  // Node's HTTP/2 compatibility response emits 'finish' whenever its stream closes, sent in full
  // or not: a stream the client cancelled (or reset) before the response was ended is an abort.
  const stream = this.stream;
  if (stream !== undefined && stream !== null) {
    if (streamCompleted(this, stream)) scope.finish(streamStatusOf(this, stream));
    else endIncompleteStream(scope, this, stream);
    return;
  }
  scope.finish(this.statusCode);
}

function onResponseClose(this: WatchedResponse): void {
  // After 'finish' this does nothing: the scope is done.
  const scope = this[SCOPE];
  if (scope !== undefined) endScopeOnClose(scope, this);
}

/**
 * Calls `scope.finish(response.statusCode)` when `response` finishes, and ends it as
 * {@link endScopeOnClose} says when it closes first. Does nothing when the scope has nothing to
 * end (`scope.needsResponse` false: no span recorded, no histogram).
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
  // Closed before the adapter saw the request (the client left while an earlier async hook or
  // middleware ran): no event will come.
  if (responseClosed(response)) endScopeOnClose(scope, response);
}

/**
 * True when `response` has emitted `'close'` already (or its HTTP/2 stream has closed): a scope
 * started for it now learns of its end from {@link endScopeOnClose} at once, not from an event.
 *
 * @example
 * ```ts
 * res.on('close', () => endScopeOnClose(scope, res));
 * if (responseClosed(res)) endScopeOnClose(scope, res);
 * ```
 */
export function responseClosed(response: ResponseLike): boolean {
  return response.closed === true || (response.stream?.closed ?? false) === true;
}
