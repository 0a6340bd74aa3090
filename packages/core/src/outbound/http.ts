/**
 * Outbound propagation for `node:http` and `node:https` client requests, and so for the clients
 * built on them (axios, got, node-fetch, superagent, ...).
 *
 * Node 22.12+ and 23.2+ publish `http.client.request.created` from the `ClientRequest`
 * constructor, before the headers are rendered: there the request is handled from the channel.
 * Node 20 has no such channel: its `http.client.request.start` is published from `_finish()`,
 * after the headers were rendered and flushed (setting one then throws ERR_HTTP_HEADERS_SENT). So
 * on those versions, and only there, ctxprop handles the request from a wrapper on
 * `http.Agent.prototype.addRequest`, which the `ClientRequest` constructor calls last, after the
 * caller's headers are set and before anything is sent. It covers `http.request`, `http.get`,
 * `https.*`, `new ClientRequest()` and ESM named imports alike; a request made with
 * `createConnection` and no agent is not seen.
 *
 * The channel's message carries the request alone, and a ClientRequest keeps its host but not
 * its port; its Host header is no substitute (a virtual host, `setHost: false`, a Host naming
 * another port). So with the channel too `Agent#addRequest` is wrapped, only to note the port
 * the request connects to (see `requestPorts`).
 *
 * A header the caller sets after the constructor (`setHeader`, `appendHeader`; `setHeaders` calls
 * `setHeader`) goes through the request's policy too (late-headers.ts).
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
import { absoluteFormTarget, recordFailure, recordResponse, recordResponseMessage, type OutgoingTarget } from './client-span.js';
import { outboundState, type InstalledHook } from './outbound-state.js';
import { fieldsOf, prepareOutgoingCall, type HeaderList } from './outgoing-call.js';
import { policeLateHeaders, policeRequest } from './late-headers.js';

const CREATED = 'http.client.request.created';
const RESPONSE = 'http.client.response.finish';
const ERROR = 'http.client.request.error';

const PATCH_KEY = Symbol.for('ctxprop.outbound.http.addRequest');
const REQUEST_PORTS_KEY = Symbol.for('ctxprop.outbound.http.requestPorts');

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

/**
 * The port each request connects to, noted by the `Agent#addRequest` wrapper on the Node versions
 * with the `created` channel. The ClientRequest constructor hands the agent its options, with
 * `port` resolved (`options.port || defaultPort || 80`), before it publishes the channel; the
 * request itself keeps no port (`req.host` is the host alone, `req.socket` is attached a tick
 * later). Shared through `Symbol.for` with another copy of ctxprop, whose wrapper may be the one
 * installed.
 */
const requestPorts = ((globalThis as Record<symbol, unknown>)[REQUEST_PORTS_KEY] ??= new WeakMap<object, unknown>()) as WeakMap<object, unknown>;

function validPort(value: unknown): number | undefined {
  const port = Number(value);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

/**
 * For a request no agent saw (`createConnection` without an agent): the port of its Host header
 * when that header names the host the request connects to, as the one Node writes does
 * (`host[:port]`, the port left out when it is the default). A Host naming another host (a
 * virtual host) says nothing about the port, nor does a missing one: the scheme's default then.
 */
function portFromOwnHostHeader(request: ClientRequest, hostname: string): number | undefined {
  const header = request.getHeader('host');
  if (typeof header !== 'string') return undefined;
  const close = header.startsWith('[') ? header.indexOf(']') : -1;
  const colon = close >= 0 ? (header.charCodeAt(close + 1) === 0x3a ? close + 1 : -1) : header.indexOf(':');
  if (close < 0 && colon >= 0 && header.includes(':', colon + 1)) return undefined;
  const named = close >= 0 ? header.slice(1, close) : colon >= 0 ? header.slice(0, colon) : header;
  if (named.toLowerCase() !== hostname.toLowerCase()) return undefined;
  return colon >= 0 ? validPort(header.slice(colon + 1)) : undefined;
}

function targetOf(request: ClientRequest, agentPort: unknown): OutgoingTarget | undefined {
  const { method, path, host, protocol } = request as Partial<ClientRequest>;
  if (typeof method !== 'string' || typeof path !== 'string' || typeof host !== 'string' || typeof protocol !== 'string') return undefined;
  const proxied = absoluteFormTarget(method, path);
  if (proxied !== undefined) return proxied;
  const hostname = host.startsWith('[') ? host.slice(1, -1) : host;
  const port = validPort(agentPort) ?? portFromOwnHostHeader(request, hostname);
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
    // An upgrade (101) publishes no response-finish message: its status is on the response Node
    // handed to the 'upgrade' listener, kept as `req.res`.
    const upgraded = this as unknown as { upgradeOrConnect?: unknown; res?: { statusCode?: unknown } | null };
    const response = upgraded.upgradeOrConnect === true ? upgraded.res : undefined;
    if (typeof response?.statusCode === 'number') recordResponse(span, response.statusCode);
    span.end();
    stopFollowingWhenDone();
  } catch {
    countDiagnostic('internal.error');
  }
}

/** `agentPort`: the port the agent was given for this request, `undefined` when no agent saw it. */
function onClientRequest(request: ClientRequest, agentPort: unknown): void {
  try {
    const config = state.config;
    if (config === undefined || seen.has(request)) return;
    seen.add(request);
    if (request.headersSent) {
      // Headers given as an array, or `Expect: 100-continue`, are rendered in the constructor.
      countDiagnostic('inject.headers_already_sent');
      return;
    }
    const target = targetOf(request, agentPort);
    if (target === undefined || target.method === 'CONNECT') return;
    const call = prepareOutgoingCall(config, target, new ClientRequestHeaders(request));
    if (call === undefined) return;
    // Headers the caller sets from now on, before they are sent, go through the same policy.
    policeRequest(request, {
      call,
      guard: config.guard,
      fields: fieldsOf(config.propagator),
      keep: config.existingTraceparent === 'keep',
      callersTrace: call.keptTrace,
    });
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
  if (request !== undefined) onClientRequest(request, requestPorts.get(request));
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

/** Notes the port an agent is given for a request, for `onCreated`. */
function notePort(request: ClientRequest, port: unknown): void {
  if (port !== undefined && state.config !== undefined) requestPorts.set(request, port);
}

/**
 * Wraps `http.Agent.prototype.addRequest` so that `onRequest` sees each request and the port its
 * agent connects to (`options.port`; the legacy `addRequest(req, host, port)` form passes it third).
 */
function patchAddRequest(onRequest: (request: ClientRequest, port: unknown) => void): InstalledHook {
  const proto = Agent.prototype as unknown as { addRequest: AddRequest & { [PATCH_KEY]?: AddRequest } };
  const original = proto.addRequest;
  if (original[PATCH_KEY] !== undefined) {
    // Another copy of ctxprop patched it already; its wrapper reads the same shared state.
    return { uninstall() {} };
  }
  const addRequest: AddRequest & { [PATCH_KEY]?: AddRequest } = function addRequest(this: Agent, request, options, ...rest) {
    try {
      onRequest(request, typeof options === 'string' ? rest[0] : (options as { port?: unknown } | null | undefined)?.port);
    } catch {
      countDiagnostic('internal.error');
    }
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

/** Drops ctxprop's span of `request`, never ended (so never exported): the caller's trace took its place. */
function dropSpan(request: ClientRequest): void {
  if (spans.delete(request)) {
    openSpans--;
    request.removeListener('close', onRequestClose);
    stopFollowingWhenDone();
  }
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
  const channel = hasRequestCreatedChannel();
  // With the channel, the wrapper only notes ports, and must be in place before the first request.
  const agents = patchAddRequest(channel ? notePort : onClientRequest);
  if (channel) subscribe(CREATED, onCreated);
  const late = policeLateHeaders(dropSpan);
  installed = true;
  return {
    uninstall() {
      late.uninstall();
      if (channel) unsubscribe(CREATED, onCreated);
      agents.uninstall();
      installed = false;
      // Calls in flight (at shutdown) still end their spans, with the response's status.
      stopFollowingWhenDone();
    },
  };
}
