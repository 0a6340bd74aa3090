/**
 * One call turns on outbound propagation for `fetch`, undici and `node:http(s)`:
 * `enableOutboundPropagation()`. The Express and Fastify adapters call it by default.
 */
import type { TextMapPropagator } from '@opentelemetry/api';
import { ensureContextManager } from '../context/runtime.js';
import { InvalidOptionError, rejectUnknownOptions } from '../errors.js';
import { createPropagator } from '../propagators/create-propagator.js';
import { resolveKnownMethods } from '../semconv/known-methods.js';
import { createDestinationPolicy, type DestinationPolicy, type DestinationPolicyOptions } from '../policy/destination.js';
import { createSensitiveDataGuard, type SensitiveDataGuard, type SensitiveDataOptions } from '../policy/sensitive-data.js';
import { installHttpHook } from './http.js';
import { defaultOutboundConfig, outboundState, type ExistingTraceparentMode, type OutboundConfig } from './outbound-state.js';
import { installUndiciHook } from './undici.js';

/**
 * Options of {@link enableOutboundPropagation}.
 *
 * @example
 * ```ts
 * const options: OutboundOptions = {
 *   propagator: createPropagator('tracecontext,baggage,b3multi'),
 *   sensitiveData: { allowKeys: ['session.region'] },
 *   spans: false,
 * };
 * enableOutboundPropagation(options);
 * ```
 */
export interface OutboundOptions {
  /**
   * The propagator that writes the headers.
   * @default createPropagator() — `OTEL_PROPAGATORS`, else tracecontext + baggage
   * @example { propagator: createPropagator('tracecontext,baggage,b3multi') }
   */
  propagator?: TextMapPropagator;
  /**
   * The destination policy: which destinations get trace headers and which baggage keys, as
   * options of `createDestinationPolicy()` or a policy it made.
   * @default trace headers everywhere; all baggage to internal hosts, none to public hosts
   * @example { destinations: { rules: [{ hosts: ['*.partner.example'], baggage: ['tenant.id'] }] } }
   */
  destinations?: DestinationPolicyOptions | DestinationPolicy;
  /**
   * The sensitive-data guard: options of `createSensitiveDataGuard()`, a guard function, or
   * `false` to send baggage that looks like secrets or personal data.
   * @default the built-in guard
   * @example { sensitiveData: { allowKeys: ['session.region'] } }
   */
  sensitiveData?: SensitiveDataOptions | SensitiveDataGuard | false;
  /**
   * What happens to a trace header (`traceparent`, ...) the request already has: `'keep'` sends
   * it as it is (and ctxprop starts no span for that call), `'replace'` writes the current
   * context's instead. Never appended. Either way the destination policy applies to it.
   * @default 'keep'
   * @example { existingTraceparent: 'replace' } // a proxy that forwards inbound headers wholesale
   */
  existingTraceparent?: ExistingTraceparentMode;
  /**
   * Whether to record a CLIENT span per outbound call when an OpenTelemetry SDK is registered
   * (and no other instrumentation records one).
   * @default true
   */
  spans?: boolean;
  /**
   * The HTTP methods CLIENT spans name as they are; any other is `_OTHER` (with
   * `http.request.method_original`), as the semantic conventions ask. Case-sensitive; replaces the
   * default list whole.
   * @default process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS (comma-separated), else RFC 9110's methods and PATCH
   * @example { knownMethods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PURGE'] }
   */
  knownMethods?: readonly string[];
}

/**
 * Turns outbound propagation off again.
 *
 * @example
 * ```ts
 * const outbound: OutboundHandle = enableOutboundPropagation();
 * afterAll(() => outbound.disable());
 * ```
 */
export interface OutboundHandle {
  /**
   * Releases this handle; the hooks are removed when every handle is released. Calling it twice
   * does nothing the second time.
   */
  disable(): void;
}

const KNOWN_OPTIONS: readonly string[] = ['propagator', 'destinations', 'sensitiveData', 'existingTraceparent', 'spans', 'knownMethods'];

/**
 * Configurations built by {@link resolveOutboundOptions}, by the (frozen) options object it
 * returned: `enableOutboundPropagation` takes them as they are instead of checking and building
 * them again, so the configuration in force is the one checked under the caller's option names.
 */
const resolvedConfigs = new WeakMap<OutboundOptions, OutboundConfig>();

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks outbound options and builds their configuration. `path` is where the options sit in the
 * caller's options: empty for `enableOutboundPropagation(options)`, where the names are its own
 * (`destinations.rules[0].hosts[0]`); `'outbound'` for the adapters' `outbound` option, where they
 * are `outbound.destinations.rules[0].hosts[0]`.
 */
function resolveConfig(options: OutboundOptions, path: string): OutboundConfig {
  if (!isPlainObject(options)) {
    throw new InvalidOptionError(path || 'outbound', 'an options object, or false to turn outbound propagation off', options);
  }
  const name = (option: string): string => (path === '' ? option : `${path}.${option}`);
  rejectUnknownOptions(options, KNOWN_OPTIONS, path, path || 'enableOutboundPropagation()');
  const { propagator, destinations, sensitiveData, existingTraceparent = 'keep', spans = true, knownMethods } = options;
  if (
    propagator !== undefined &&
    (typeof propagator !== 'object' || propagator === null || typeof propagator.inject !== 'function' || typeof propagator.fields !== 'function')
  ) {
    throw new InvalidOptionError(name('propagator'), 'a TextMapPropagator (with inject, extract and fields)', propagator, 'Pass createPropagator(...) or an OpenTelemetry propagator.');
  }
  if (destinations !== undefined && typeof destinations !== 'function' && !isPlainObject(destinations)) {
    throw new InvalidOptionError(
      name('destinations'),
      'options of createDestinationPolicy() or a policy it made',
      destinations,
      `Example: { rules: [{ hosts: ['*.partner.example'], baggage: ['tenant.id'] }] }.`,
    );
  }
  if (sensitiveData !== undefined && sensitiveData !== false && typeof sensitiveData !== 'function' && !isPlainObject(sensitiveData)) {
    throw new InvalidOptionError(
      name('sensitiveData'),
      'options of createSensitiveDataGuard(), a guard function, or false',
      sensitiveData,
      `Example: { allowKeys: ['session.region'] }; false sends baggage that looks like secrets.`,
    );
  }
  if (existingTraceparent !== 'keep' && existingTraceparent !== 'replace') {
    throw new InvalidOptionError(name('existingTraceparent'), '"keep" or "replace"', existingTraceparent);
  }
  if (typeof spans !== 'boolean') throw new InvalidOptionError(name('spans'), 'true or false', spans);
  let guard: SensitiveDataGuard;
  if (sensitiveData === false) guard = createSensitiveDataGuard({ enabled: false });
  else if (typeof sensitiveData === 'function') guard = sensitiveData;
  else guard = createSensitiveDataGuard(sensitiveData ?? {}, name('sensitiveData'));
  return {
    propagator: propagator ?? createPropagator(),
    policy: typeof destinations === 'function' ? destinations : createDestinationPolicy(destinations ?? {}, name('destinations')),
    guard,
    existingTraceparent,
    spans,
    knownMethods: resolveKnownMethods(knownMethods, name('knownMethods')),
  };
}

/**
 * Checks outbound options given inside another API's options, naming them by their `path` there
 * (`outbound.destinations.rules[0].hosts[0]`), and returns a frozen copy that
 * {@link enableOutboundPropagation} later puts in force without checking it again. Throws
 * {@link InvalidOptionError} for a bad option.
 *
 * @example
 * ```ts
 * const outbound = resolveOutboundOptions({ spans: false }, 'outbound'); // at start-up
 * enableOutboundPropagation(outbound); // when the handler starts
 * ```
 */
export function resolveOutboundOptions(options: OutboundOptions, path: string): OutboundOptions {
  const config = resolveConfig(options, path);
  const resolved = Object.freeze({ ...options });
  resolvedConfigs.set(resolved, config);
  return resolved;
}

/**
 * Turns on outbound propagation: every `fetch`, undici and `node:http(s)` request made inside a
 * context carries that context's trace headers and baggage, as the destination policy and the
 * sensitive-data guard allow; with an OpenTelemetry SDK registered, each call gets a CLIENT span.
 *
 * Idempotent: the hooks are installed once per process, even across two copies of ctxprop.
 * A call with options sets the configuration (the latest live one wins; disabling its handle
 * brings back the one before); a call without options keeps the configuration in force (the
 * defaults if none was given). Each call returns a handle; the hooks go when every handle is
 * disabled. `false` returns a handle that does nothing. Options are validated now: a bad one
 * throws {@link InvalidOptionError}.
 *
 * @example
 * ```ts
 * const outbound = enableOutboundPropagation({
 *   destinations: { rules: [{ hosts: ['*.partner.example'], baggage: ['tenant.id'] }] },
 * });
 * // ... later, in tests or at shutdown
 * outbound.disable();
 * ```
 */
export function enableOutboundPropagation(options?: OutboundOptions | false): OutboundHandle {
  if (options === false) return { disable() {} };
  const entry = options === undefined ? undefined : { config: resolvedConfigs.get(options) ?? resolveConfig(options, '') };
  const state = outboundState();
  state.configured ??= [];
  if (entry !== undefined) state.configured.push(entry);
  state.config = state.configured[state.configured.length - 1]?.config ?? state.config ?? defaultOutboundConfig();
  ensureContextManager();
  state.refs++;
  if (state.hooks.length === 0) state.hooks.push(installUndiciHook(), installHttpHook());
  let released = false;
  return {
    disable() {
      if (released) return;
      released = true;
      state.refs--;
      if (entry !== undefined) {
        const index = state.configured.indexOf(entry);
        if (index >= 0) state.configured.splice(index, 1);
      }
      if (state.refs > 0) {
        state.config = state.configured[state.configured.length - 1]?.config ?? defaultOutboundConfig();
        return;
      }
      for (const hook of state.hooks.splice(0)) hook.uninstall();
      state.configured.length = 0;
      state.config = undefined;
    },
  };
}
