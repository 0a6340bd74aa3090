/**
 * The process-wide state of outbound propagation, under `Symbol.for(...)` so that two copies of
 * ctxprop in one process install their hooks once and share one configuration (DESIGN decision 3).
 */
import type { TextMapPropagator } from '@opentelemetry/api';
import { createPropagator } from '../propagators/create-propagator.js';
import { defaultDestinationPolicy, type DestinationPolicy } from '../policy/destination.js';
import { defaultSensitiveDataGuard, type SensitiveDataGuard } from '../policy/sensitive-data.js';
import { KNOWN_METHODS_ENV_VAR, resolveKnownMethods } from '../semconv/known-methods.js';

/**
 * What a trace header the caller (or another instrumentation) already set becomes.
 *
 * @example
 * ```ts
 * const mode: ExistingTraceparentMode = 'replace'; // a proxy that forwards inbound headers wholesale
 * enableOutboundPropagation({ existingTraceparent: mode });
 * ```
 */
export type ExistingTraceparentMode = 'keep' | 'replace';

/** The resolved configuration the hooks and `inject()` read on every call. */
export interface OutboundConfig {
  readonly propagator: TextMapPropagator;
  readonly policy: DestinationPolicy;
  readonly guard: SensitiveDataGuard;
  readonly existingTraceparent: ExistingTraceparentMode;
  readonly spans: boolean;
  /** The methods CLIENT spans name as they are (others are `_OTHER`); absent in a configuration an older copy of ctxprop made. */
  readonly knownMethods?: ReadonlySet<string>;
}

/** Something installed that must be removed when the last handle is disabled. */
export interface InstalledHook {
  uninstall(): void;
}

interface OutboundState {
  /** The configuration in force: the latest of `configured`, else the defaults; none when off. */
  config: OutboundConfig | undefined;
  /** Configurations of live handles that gave options, oldest first. */
  configured: { readonly config: OutboundConfig }[];
  /** Enabled handles not yet disabled. */
  refs: number;
  hooks: InstalledHook[];
  fallback: OutboundConfig | undefined;
}

const STATE_KEY = Symbol.for('ctxprop.outbound.v1');

/**
 * The shared state, created on first use.
 *
 * @example
 * ```ts
 * outboundState().refs; // 0 until enableOutboundPropagation() is called
 * ```
 */
export function outboundState(): OutboundState {
  const holder = globalThis as unknown as Record<symbol, OutboundState | undefined>;
  let state = holder[STATE_KEY];
  if (state === undefined) {
    state = { config: undefined, configured: [], refs: 0, hooks: [], fallback: undefined };
    holder[STATE_KEY] = state;
  }
  return state;
}

/**
 * The configuration in force: the one `enableOutboundPropagation()` set, else the defaults
 * (`createPropagator()`, the default destination policy and sensitive-data guard). May throw
 * only when `OTEL_PROPAGATORS` or `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` is invalid; callers on
 * the request path catch.
 *
 * @example
 * ```ts
 * currentOutboundConfig().policy('http://orders.svc/').baggage; // 'all'
 * ```
 */
export function currentOutboundConfig(): OutboundConfig {
  return outboundState().config ?? defaultOutboundConfig();
}

/**
 * The default configuration, made once: `createPropagator()`, the default destination policy
 * and sensitive-data guard, `existingTraceparent: 'keep'`, spans on, the known methods of
 * `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` or the conventions' default.
 *
 * @example
 * ```ts
 * defaultOutboundConfig().existingTraceparent; // 'keep'
 * ```
 */
export function defaultOutboundConfig(): OutboundConfig {
  const state = outboundState();
  state.fallback ??= {
    propagator: createPropagator(),
    policy: defaultDestinationPolicy,
    guard: defaultSensitiveDataGuard,
    existingTraceparent: 'keep',
    spans: true,
    knownMethods: resolveKnownMethods(undefined, KNOWN_METHODS_ENV_VAR),
  };
  return state.fallback;
}
