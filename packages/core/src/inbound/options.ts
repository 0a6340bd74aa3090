/**
 * The options every inbound adapter (`@ctxprop/express`, `@ctxprop/fastify`) accepts, and their
 * validation. Options are read once, when the middleware or plugin is created: a wrong one throws
 * `InvalidOptionError` naming it and the fix, and nothing is parsed per request.
 */
import type { TextMapPropagator } from '@opentelemetry/api';
import type { BaggageEntries } from '../baggage/active-baggage.js';
import { InvalidOptionError, isCtxpropError, rejectUnknownOptions } from '../errors.js';
import { resolveOutboundOptions, type OutboundOptions } from '../outbound/enable.js';
import { createSensitiveDataGuard, type SensitiveDataGuard, type SensitiveDataOptions } from '../policy/sensitive-data.js';
import { createTrustPolicy, type TrustOption, type TrustPolicy } from '../policy/trust.js';
import { createPropagator } from '../propagators/create-propagator.js';
import { resolveKnownMethods } from '../semconv/known-methods.js';

/**
 * Options of the Express middleware and the Fastify plugin. `Request` is the framework's request
 * type, for the `baggage` function.
 *
 * @example
 * ```ts
 * app.use(ctxprop({
 *   trust: { trustedAddresses: ['private'] },
 *   baggage: (req) => ({ 'customer.tier': req.user?.tier ?? 'free' }),
 *   spanAttributesFromBaggage: ['customer.tier'],
 * }));
 * ```
 */
export interface InboundOptions<Request = unknown> {
  /**
   * How inbound context is read: `OTEL_PROPAGATORS` names (an array or a comma-separated string),
   * or any `TextMapPropagator` (ctxprop's or OpenTelemetry's).
   * @default process.env.OTEL_PROPAGATORS, else ['tracecontext', 'baggage']
   * @example ['tracecontext', 'baggage', 'b3multi']
   */
  propagators?: string | readonly string[] | TextMapPropagator;
  /**
   * Whether the trace context and baggage callers send are trusted (continue the trace), linked
   * (new trace, root span links to theirs) or ignored, per request. See `TrustOption`.
   * @default 'trust'
   * @example { trustedAddresses: ['private'], untrusted: 'link' }
   */
  trust?: TrustOption;
  /**
   * Origin baggage: entries to add to every request's baggage, computed from the request (for an
   * edge service that knows the customer). They replace inbound entries of the same key. Entries
   * that look like secrets or personal data are refused (see `sensitiveData`).
   * @default undefined
   * @example (req) => ({ 'customer.tier': req.user?.tier ?? 'free' })
   */
  baggage?: (request: Request) => BaggageEntries | undefined;
  /**
   * Baggage keys copied onto the server span as attributes (same name) and onto the
   * `http.server.request.duration` histogram, so traces, metrics and logs share dimensions.
   * Keep them low-cardinality.
   * @default []
   * @example ['customer.tier', 'tenant.id']
   */
  spanAttributesFromBaggage?: readonly string[];
  /**
   * The sensitive-data guard for baggage added during the request (the `baggage` option and
   * `req.setBaggage()`), and for the values the server span records in `url.query`.
   * @default { enabled: true }
   * @example { allowKeys: ['session.region'] }
   */
  sensitiveData?: SensitiveDataOptions;
  /**
   * Outbound propagation (fetch/undici and node:http calls carry the request's context):
   * `true`, `false`, or the options of `enableOutboundPropagation`. With `true`, a configuration
   * already in force (from your own `enableOutboundPropagation(options)`) is kept; when
   * `propagators` is given, outbound calls write the same formats unless the outbound options
   * name a propagator.
   * @default true
   * @example false
   */
  outbound?: boolean | OutboundOptions;
  /**
   * Whether to record the `http.server.request.duration` histogram when a MeterProvider is
   * registered.
   * @default true
   * @example false
   */
  metrics?: boolean;
  /**
   * Whether the server span records `url.query` (the HTTP conventions require it when a request
   * has a query). Sensitive values are always replaced by `REDACTED`: those of the signing keys the
   * conventions name (`AWSAccessKeyId`, `Signature`, `sig`, `X-Goog-Signature`) and those the
   * `sensitiveData` guard refuses (credential keys, e-mail addresses, tokens, card numbers).
   * `false` leaves the attribute out, for services whose queries carry data no span should hold.
   * @default true
   * @example false
   */
  urlQuery?: boolean;
  /**
   * Whether a `setInterval` started during a request stops running in the request's context once
   * the response has ended: its later ticks run in the root context (no span, no baggage), so a
   * polling loop started by a request builds no endless trace and sends no stale baggage. Ticks
   * while the request is in flight keep its context. `false` leaves the intervals of this
   * adapter's requests as AsyncLocalStorage has them: in the request's context for as long as they
   * run (see `enableIntervalDetachment`).
   * @default true
   * @example false
   */
  detachIntervals?: boolean;
  /**
   * Whether the request's context is put back when a middleware, hook or body parser hands the
   * request on from another context: `next()` or `done()` called from the callback of a client
   * whose connection was opened elsewhere (a pooled database or cache client, a session store).
   * AsyncLocalStorage then gives the rest of the request the context the connection was opened
   * in: none, or the request that opened it, whose trace and baggage would be forwarded by this
   * one. Restored at the next middleware (Express) or at each later hook, content-type parser, the
   * error handler and the route handler (Fastify), to the request's latest context (baggage set
   * with `context.with` kept), and counted as `context.restored`. `false` leaves the context as the callback had it.
   * @default true
   * @example false
   */
  restoreContext?: boolean;
  /**
   * The HTTP methods the server span and the duration histogram name as they are; any other is
   * `_OTHER` (with `http.request.method_original` on the span, and the span named `HTTP`), as the
   * semantic conventions ask. Case-sensitive; replaces the default list whole. Outbound CLIENT
   * spans use the same list where this instance sets the outbound configuration (an `outbound`
   * options object, or `propagators`) and the `outbound` options give none of their own; otherwise
   * the configuration in force's (`OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` by default).
   * @default process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS (comma-separated), else RFC 9110's methods and PATCH
   * @example ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'MKCOL']
   */
  knownMethods?: readonly string[];
}

/**
 * Who is resolving the options: the adapter's package name and version, and its own extra options.
 *
 * @example
 * ```ts
 * const adapter: InboundAdapterInfo = { name: '@ctxprop/fastify', version: '0.1.0', extraOptions: ['hooks'] };
 * ```
 */
export interface InboundAdapterInfo {
  /** The package name, used as the tracer and meter name and in messages. */
  readonly name: string;
  readonly version: string;
  /** Option names the adapter accepts beyond {@link InboundOptions}; they are left to it. */
  readonly extraOptions?: readonly string[];
}

/**
 * Validated options, ready for {@link createInboundHandler}.
 *
 * @example
 * ```ts
 * const resolved = resolveInboundOptions(options, { name: '@ctxprop/express', version: '0.1.0' });
 * resolved.metrics; // true
 * ```
 */
export interface ResolvedInboundOptions<Request = unknown> {
  readonly adapter: InboundAdapterInfo;
  readonly propagator: TextMapPropagator;
  readonly trust: TrustPolicy;
  readonly originBaggage: ((request: Request) => BaggageEntries | undefined) | undefined;
  readonly baggageAttributeKeys: readonly string[];
  readonly sensitiveDataGuard: SensitiveDataGuard;
  /** `false`: leave outbound calls alone; `true`: turn on with the configuration in force; or options. */
  readonly outbound: OutboundOptions | boolean;
  readonly metrics: boolean;
  readonly urlQuery: boolean;
  /** Turn on interval detachment (`enableIntervalDetachment`). */
  readonly detachIntervals: boolean;
  /** Put the request's context back at the adapter's hand-off points (`InboundScope.contextToRestore`). */
  readonly restoreContext: boolean;
  /** The methods named as they are in spans and metrics; any other is `_OTHER`. */
  readonly knownMethods: ReadonlySet<string>;
}

const KNOWN_OPTIONS: readonly string[] = ['propagators', 'trust', 'baggage', 'spanAttributesFromBaggage', 'sensitiveData', 'outbound', 'metrics', 'urlQuery', 'detachIntervals', 'restoreContext', 'knownMethods'];

function isPropagator(value: unknown): value is TextMapPropagator {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<TextMapPropagator>;
  return typeof candidate.extract === 'function' && typeof candidate.inject === 'function' && typeof candidate.fields === 'function';
}

function resolvePropagator(value: unknown): TextMapPropagator {
  if (isPropagator(value)) return value;
  if (value !== undefined && typeof value !== 'string' && !Array.isArray(value)) {
    throw new InvalidOptionError(
      'propagators',
      'propagator names (an array or a comma-separated string) or a TextMapPropagator',
      value,
      `Example: ['tracecontext', 'baggage', 'b3multi'].`,
    );
  }
  try {
    return createPropagator(value as string | readonly string[] | undefined);
  } catch (error) {
    if (!isCtxpropError(error) || value === undefined) throw error;
    // createPropagator names its own argument; say which option of ours it came from.
    throw new InvalidOptionError('propagators', 'known propagator names', value, error.message.replace(/^ctxprop: /, ''));
  }
}

function resolveKeys(value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((key) => typeof key === 'string' && key !== '')) {
    throw new InvalidOptionError('spanAttributesFromBaggage', 'an array of baggage keys (non-empty strings)', value, `Example: ['customer.tier'].`);
  }
  return Object.freeze([...new Set(value as string[])]);
}

/**
 * The `outbound` option, checked now under its full path (`outbound.destinations.rules[0]...`):
 * `enableOutboundPropagation`, called when the handler starts, takes the result as it is.
 */
function resolveOutbound(value: unknown, inherited: Pick<OutboundOptions, 'propagator' | 'knownMethods'>): OutboundOptions | boolean {
  if (value === false) return false;
  const given: Partial<Pick<OutboundOptions, 'propagator' | 'knownMethods'>> = {};
  if (inherited.propagator !== undefined) given.propagator = inherited.propagator;
  if (inherited.knownMethods !== undefined) given.knownMethods = inherited.knownMethods;
  // `knownMethods` alone does not make this instance set the process-wide configuration (its
  // destination policy, guard): it goes along only where this instance sets it anyway.
  if (value === undefined || value === true) return given.propagator === undefined ? true : resolveOutboundOptions(given, 'outbound');
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    // The options' own propagator and knownMethods win over those inherited from the adapter's.
    return resolveOutboundOptions({ ...given, ...(value as OutboundOptions) }, 'outbound');
  }
  throw new InvalidOptionError('outbound', 'true, false or an options object', value, 'Use outbound: false to leave outbound calls alone.');
}

/**
 * Validates the adapter options once, at start-up. Throws `InvalidOptionError` naming the option
 * (and suggesting the fix) for anything it cannot use, unknown option names included.
 *
 * @example
 * ```ts
 * resolveInboundOptions({ metrics: 'yes' }, { name: '@ctxprop/express', version: '0.1.0' });
 * // throws: ctxprop: option "metrics" must be true or false (got "yes").
 * ```
 */
export function resolveInboundOptions<Request = unknown>(
  options: InboundOptions<Request> | undefined,
  adapter: InboundAdapterInfo,
): ResolvedInboundOptions<Request> {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new InvalidOptionError('options', 'an object or undefined', options, `Call ${adapter.name}'s factory with no argument for the defaults.`);
  }
  const given = options ?? {};
  const extra = adapter.extraOptions ?? [];
  rejectUnknownOptions(given, [...KNOWN_OPTIONS, ...extra], '', adapter.name);
  if (given.baggage !== undefined && typeof given.baggage !== 'function') {
    throw new InvalidOptionError('baggage', 'a function (request) => entries', given.baggage, `Example: baggage: (req) => ({ 'customer.tier': 'gold' }).`);
  }
  if (given.metrics !== undefined && typeof given.metrics !== 'boolean') {
    throw new InvalidOptionError('metrics', 'true or false', given.metrics);
  }
  if (given.urlQuery !== undefined && typeof given.urlQuery !== 'boolean') {
    throw new InvalidOptionError('urlQuery', 'true or false', given.urlQuery, 'Sensitive values are redacted either way; false leaves url.query out.');
  }
  if (given.detachIntervals !== undefined && typeof given.detachIntervals !== 'boolean') {
    throw new InvalidOptionError('detachIntervals', 'true or false', given.detachIntervals, 'false keeps intervals in the request\'s context after the response.');
  }
  if (given.restoreContext !== undefined && typeof given.restoreContext !== 'boolean') {
    throw new InvalidOptionError('restoreContext', 'true or false', given.restoreContext, "false leaves the rest of a request in whatever context a middleware's callback ran in.");
  }
  if (given.sensitiveData !== undefined && (typeof given.sensitiveData !== 'object' || given.sensitiveData === null || Array.isArray(given.sensitiveData))) {
    throw new InvalidOptionError('sensitiveData', 'an options object', given.sensitiveData, `Example: { allowKeys: ['session.region'] }.`);
  }
  const propagator = resolvePropagator(given.propagators);
  const knownMethods = resolveKnownMethods(given.knownMethods, 'knownMethods');
  return Object.freeze({
    adapter,
    propagator,
    trust: createTrustPolicy(given.trust, 'trust'),
    originBaggage: given.baggage,
    baggageAttributeKeys: resolveKeys(given.spanAttributesFromBaggage),
    sensitiveDataGuard: createSensitiveDataGuard(given.sensitiveData, 'sensitiveData'),
    outbound: resolveOutbound(given.outbound, {
      propagator: given.propagators === undefined ? undefined : propagator,
      knownMethods: given.knownMethods === undefined ? undefined : [...knownMethods],
    }),
    metrics: given.metrics ?? true,
    urlQuery: given.urlQuery ?? true,
    detachIntervals: given.detachIntervals ?? true,
    restoreContext: given.restoreContext ?? true,
    knownMethods,
  });
}
