/**
 * Outbound propagation for `node:http` and `node:https` client requests, and so for the clients
 * built on them (axios, got, node-fetch, superagent, ...).
 *
 * Node 22.12+ and 23.2+ publish `http.client.request.created` from the `ClientRequest`
 * constructor, before the headers are rendered: there we only subscribe. Node 20 has no such
 * channel: its `http.client.request.start` is published from `_finish()`, after the headers
 * were rendered and flushed (setting one then throws ERR_HTTP_HEADERS_SENT). So on those
 * versions, and only there, ctxprop wraps `http.Agent.prototype.addRequest`, which the
 * `ClientRequest` constructor calls last, after the caller's headers are set and before
 * anything is sent. It covers `http.request`, `http.get`, `https.*`, `new ClientRequest()` and
 * ESM named imports alike; a request made with `createConnection` and no agent is not seen.
 *
 * A header the caller sets after the constructor (`setHeader`, `appendHeader`; `setHeaders` calls
 * `setHeader`) goes through the request's policy too: ClientRequest's own copies of those two
 * methods, on every Node version.
 *
 * Spans: the response status comes from `http.client.response.finish`, a failure from
 * `http.client.request.error`, and the span ends on the request's `close` event (after the
 * response ended or the connection failed). No `error` listener is ever added: that would
 * change how the caller's unhandled errors behave.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent, ClientRequest } from 'node:http';
import type { Span } from '@opentelemetry/api';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import { absoluteFormTarget, recordFailure, recordResponseMessage, type OutgoingTarget } from './client-span.js';
import { outboundState, type InstalledHook } from './outbound-state.js';
import { filterBaggageHeader, reportTraceWithheld } from './apply-policy.js';
import { fieldsOf, prepareOutgoingCall, type HeaderList, type OutgoingCall } from './outgoing-call.js';
import type { SensitiveDataGuard } from '../policy/sensitive-data.js';

const CREATED = 'http.client.request.created';
const RESPONSE = 'http.client.response.finish';
const ERROR = 'http.client.request.error';

const PATCH_KEY = Symbol.for('ctxprop.outbound.http.addRequest');
const LATE_PATCH_KEY = Symbol.for('ctxprop.outbound.http.lateHeaders');

const spans = new WeakMap<object, Span>();
const seen = new WeakSet<object>();
const state = outboundState();

/**
 * True on Node versions whose ClientRequest publishes `http.client.request.created` (added in
 * 22.12.0 and 23.2.0).
 *
 * @example
 * ```ts
 * hasRequestCreatedChannel('20.20.2'); // false: ctxprop wraps Agent#addRequest there
 * ```
 */
export function hasRequestCreatedChannel(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 2) || (major === 22 && minor >= 12);
}

function portFromHostHeader(host: unknown): number | undefined {
  if (typeof host !== 'string') return undefined;
  const colon = host.lastIndexOf(':');
  if (colon < 0 || colon < host.lastIndexOf(']')) return undefined;
  const port = Number(host.slice(colon + 1));
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

function targetOf(request: ClientRequest, options: { port?: unknown } | undefined): OutgoingTarget | undefined {
  const { method, path, host, protocol } = request as Partial<ClientRequest>;
  if (typeof method !== 'string' || typeof path !== 'string' || typeof host !== 'string' || typeof protocol !== 'string') return undefined;
  const proxied = absoluteFormTarget(method, path);
  if (proxied !== undefined) return proxied;
  const optionPort = Number(options?.port);
  const port = Number.isInteger(optionPort) && optionPort > 0 ? optionPort : portFromHostHeader(request.getHeader('host'));
  const hostname = host.startsWith('[') ? host.slice(1, -1) : host;
  return { method, protocol, hostname, port, path };
}

/** The headers of a ClientRequest not yet rendered, through its own accessors. */
class ClientRequestHeaders implements HeaderList {
  constructor(private readonly request: ClientRequest) {}

  get(name: string): string | string[] | undefined {
    const value = this.request.getHeader(name);
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.map(String) : String(value);
  }

  set(name: string, value: string): void {
    this.request.setHeader(name, value);
  }

  remove(name: string): void {
    this.request.removeHeader(name);
  }
}

function onRequestClose(this: ClientRequest): void {
  try {
    const span = spans.get(this);
    if (span === undefined) return;
    spans.delete(this);
    openSpans--;
    span.end();
    stopFollowingWhenDone();
  } catch {
    countDiagnostic('internal.error');
  }
}

function onClientRequest(request: ClientRequest, options: { port?: unknown } | undefined): void {
  try {
    const config = state.config;
    if (config === undefined || seen.has(request)) return;
    seen.add(request);
    if (request.headersSent) {
      // Headers given as an array, or `Expect: 100-continue`, are rendered in the constructor.
      countDiagnostic('inject.headers_already_sent');
      return;
    }
    const target = targetOf(request, options);
    if (target === undefined || target.method === 'CONNECT') return;
    const call = prepareOutgoingCall(config, target, new ClientRequestHeaders(request));
    if (call === undefined) return;
    // Headers the caller sets from now on, before they are sent, go through the same policy.
    calls.set(request, { call, guard: config.guard, fields: fieldsOf(config.propagator) });
    if (call.span === undefined) return;
    followSpans();
    spans.set(request, call.span);
    openSpans++;
    request.once('close', onRequestClose);
  } catch {
    countDiagnostic('internal.error');
  }
}

function onCreated(message: unknown): void {
  const request = (message as { request?: ClientRequest } | undefined)?.request;
  if (request !== undefined) onClientRequest(request, undefined);
}

function onResponse(message: unknown): void {
  recordResponseMessage(spans, message);
}

function onError(message: unknown): void {
  try {
    const { request, error } = (message ?? {}) as { request?: object; error?: unknown };
    const span = request === undefined ? undefined : spans.get(request);
    if (span !== undefined) recordFailure(span, error);
  } catch {
    countDiagnostic('internal.error');
  }
}

type AddRequest = (this: Agent, request: ClientRequest, options: unknown, ...rest: unknown[]) => unknown;

function patchAddRequest(): InstalledHook {
  const proto = Agent.prototype as unknown as { addRequest: AddRequest & { [PATCH_KEY]?: AddRequest } };
  const original = proto.addRequest;
  if (original[PATCH_KEY] !== undefined) {
    // Another copy of ctxprop patched it already; its wrapper reads the same shared state.
    return { uninstall() {} };
  }
  const addRequest: AddRequest & { [PATCH_KEY]?: AddRequest } = function addRequest(this: Agent, request, options, ...rest) {
    onClientRequest(request, options as { port?: unknown } | undefined);
    return original.call(this, request, options, ...rest);
  };
  addRequest[PATCH_KEY] = original;
  proto.addRequest = addRequest;
  return {
    uninstall() {
      // Restored only if nobody wrapped it since; otherwise our wrapper stays, idle (no config).
      if (proto.addRequest === addRequest) proto.addRequest = original;
    },
  };
}

// -- headers set after the request was created --

interface PolicedCall {
  readonly call: OutgoingCall;
  readonly guard: SensitiveDataGuard;
  readonly fields: { readonly trace: readonly string[]; readonly baggage: readonly string[] };
}

/** The requests ctxprop prepared, for the headers their callers set later. */
const calls = new WeakMap<object, PolicedCall>();
const UNCHANGED = Symbol('unchanged');

/**
 * What a header the caller sets after the request was created (`req.setHeader('baggage', ...)`
 * before `end()`: superagent sets its headers so) may carry: a baggage header filtered by the
 * destination policy and the sensitive-data guard, as one given in the options is; a trace header
 * nothing where the policy withholds the trace. `undefined` drops it, UNCHANGED lets it through.
 */
function lateHeader(request: object, name: unknown, value: unknown): unknown {
  // Anything else Node refuses itself (ERR_HTTP_INVALID_HEADER_VALUE).
  if (typeof name !== 'string' || (typeof value !== 'string' && typeof value !== 'number' && !Array.isArray(value))) return UNCHANGED;
  const policed = calls.get(request);
  // Once the headers were sent, Node refuses the write itself (ERR_HTTP_HEADERS_SENT).
  if (policed === undefined || (request as ClientRequest).headersSent) return UNCHANGED;
  const lower = name.toLowerCase();
  const { call, guard, fields } = policed;
  // Node writes a number as its digits, an array as one line each.
  if (fields.baggage.includes(lower)) return filterBaggageHeader(Array.isArray(value) ? value.map(String) : String(value), call.decision, guard, call.destination);
  if (fields.trace.includes(lower) && !call.decision.trace) {
    reportTraceWithheld(call.decision, call.destination);
    return undefined;
  }
  return UNCHANGED;
}

type HeaderWriter = (this: ClientRequest, name: string, value: unknown) => unknown;

/** Wraps `setHeader` and `appendHeader` of ClientRequest (`setHeaders` calls `setHeader`). */
function policeLateHeaders(): InstalledHook {
  const proto = ClientRequest.prototype as unknown as Record<string, HeaderWriter & { [LATE_PATCH_KEY]?: HeaderWriter }>;
  const restore: (() => void)[] = [];
  for (const method of ['setHeader', 'appendHeader'] as const) {
    const original = proto[method];
    // Another copy of ctxprop wrapped it already (its wrapper polices its own requests).
    if (typeof original !== 'function' || original[LATE_PATCH_KEY] !== undefined) continue;
    // Inherited from OutgoingMessage, shared with ServerResponse: shadowed on ClientRequest only.
    const own = Object.prototype.hasOwnProperty.call(proto, method);
    const dropped = method === 'setHeader' ? (request: ClientRequest, name: string) => request.removeHeader(name) : () => undefined;
    const writer: HeaderWriter & { [LATE_PATCH_KEY]?: HeaderWriter } = function (this: ClientRequest, name, value) {
      let allowed: unknown = UNCHANGED;
      try {
        allowed = lateHeader(this, name, value);
      } catch {
        countDiagnostic('internal.error');
      }
      if (allowed === UNCHANGED) return original.call(this, name, value);
      if (allowed === undefined) {
        dropped(this, name);
        return this;
      }
      return original.call(this, name, allowed);
    };
    Object.defineProperty(writer, 'name', { value: method });
    writer[LATE_PATCH_KEY] = original;
    proto[method] = writer;
    restore.push(() => {
      if (proto[method] !== writer) return;
      if (own) proto[method] = original;
      else delete proto[method];
    });
  }
  return { uninstall: () => restore.forEach((undo) => undo()) };
}

let lifecycleSubscribed = false;
/** Spans started and not ended yet: followed to their end even once propagation is turned off. */
let openSpans = 0;
let installed = false;

/** Subscribes to the response and error channels once the first span exists (none without an SDK). */
function followSpans(): void {
  if (lifecycleSubscribed) return;
  lifecycleSubscribed = true;
  subscribe(RESPONSE, onResponse);
  subscribe(ERROR, onError);
}

/** Unsubscribes from them once propagation is off and no span is left to end. */
function stopFollowingWhenDone(): void {
  if (installed || openSpans > 0 || !lifecycleSubscribed) return;
  lifecycleSubscribed = false;
  unsubscribe(RESPONSE, onResponse);
  unsubscribe(ERROR, onError);
}

/**
 * Hooks `node:http` and `node:https` client requests: the `http.client.request.created` channel
 * where Node has it, else a wrapper on `http.Agent.prototype.addRequest` (see the module
 * comment for why). Returns what removes the hook.
 *
 * @example
 * ```ts
 * const hook = installHttpHook();
 * hook.uninstall();
 * ```
 */
export function installHttpHook(): InstalledHook {
  const created = hasRequestCreatedChannel() ? (subscribe(CREATED, onCreated), undefined) : patchAddRequest();
  const late = policeLateHeaders();
  installed = true;
  return {
    uninstall() {
      late.uninstall();
      if (created === undefined) unsubscribe(CREATED, onCreated);
      else created.uninstall();
      installed = false;
      // Calls in flight (at shutdown) still end their spans, with the response's status.
      stopFollowingWhenDone();
    },
  };
}
