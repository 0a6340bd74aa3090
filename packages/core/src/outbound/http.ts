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
 * Spans: the response status comes from `http.client.response.finish`, a failure from
 * `http.client.request.error`, and the span ends on the request's `close` event (after the
 * response ended or the connection failed). No `error` listener is ever added: that would
 * change how the caller's unhandled errors behave.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent, type ClientRequest } from 'node:http';
import type { Span } from '@opentelemetry/api';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import { absoluteFormTarget, recordFailure, recordResponseMessage, type OutgoingTarget } from './client-span.js';
import { outboundState, type InstalledHook } from './outbound-state.js';
import { prepareOutgoingCall, type HeaderList } from './outgoing-call.js';

const CREATED = 'http.client.request.created';
const RESPONSE = 'http.client.response.finish';
const ERROR = 'http.client.request.error';

const PATCH_KEY = Symbol.for('ctxprop.outbound.http.addRequest');

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
    span.end();
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
    if (call?.span === undefined) return;
    followSpans();
    spans.set(request, call.span);
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

let lifecycleSubscribed = false;

/** Subscribes to the response and error channels once the first span exists (none without an SDK). */
function followSpans(): void {
  if (lifecycleSubscribed) return;
  lifecycleSubscribed = true;
  subscribe(RESPONSE, onResponse);
  subscribe(ERROR, onError);
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
  return {
    uninstall() {
      if (created === undefined) unsubscribe(CREATED, onCreated);
      else created.uninstall();
      if (!lifecycleSubscribed) return;
      lifecycleSubscribed = false;
      unsubscribe(RESPONSE, onResponse);
      unsubscribe(ERROR, onError);
    },
  };
}
