/**
 * Propagation diagnostics: counters of what went wrong on the wire or was withheld by policy,
 * readable as a snapshot and as OpenTelemetry metrics, plus warnings given once per kind, never
 * per request. The state lives under `Symbol.for(...)` so two copies of ctxprop share it.
 */
import { metrics, type Meter, type ObservableResult } from '@opentelemetry/api';
import { InvalidOptionError, rejectUnknownOptions } from '../errors.js';

/**
 * The events ctxprop counts. Other strings are accepted too (adapters add their own), but these
 * are the ones core and the official adapters use.
 *
 * @example
 * ```ts
 * const event: DiagnosticEvent = 'inject.baggage.withheld';
 * const withheld = diagnosticsSnapshot()[event] ?? 0;
 * countDiagnostic('grpc.metadata.unreadable'); // an adapter's own event
 * ```
 */
export type DiagnosticEvent =
  /** A request carried no trace context header of any configured format. */
  | 'extract.trace.missing'
  /** A traceparent (or B3, Jaeger, X-Ray, OT) header was present but invalid. */
  | 'extract.trace.malformed'
  /** A tracestate header was present but invalid and was discarded whole. */
  | 'extract.tracestate.malformed'
  /** A baggage member was invalid and dropped. */
  | 'extract.baggage.invalid_member'
  /** A baggage member was dropped because the list went over 64 members or 8192 bytes. */
  | 'extract.baggage.over_limit'
  /** Inbound baggage was dropped (or cut to its allowlist) because the trust policy distrusts the request. */
  | 'extract.baggage.untrusted'
  /** A header of a format that is not configured was seen (for example b3 with only tracecontext). */
  | 'extract.format.unconfigured'
  /** An outbound call was made with no active trace context. */
  | 'inject.no_context'
  /** The destination policy withheld trace headers from an outbound call. */
  | 'inject.trace.withheld'
  /** The destination policy withheld a baggage member from an outbound call. */
  | 'inject.baggage.withheld'
  /** An outbound baggage member could not be written (not a valid token key) and was left out. */
  | 'inject.baggage.invalid_member'
  /** An outbound baggage member was left out because the list went over 64 members or 8192 bytes. */
  | 'inject.baggage.over_limit'
  /** A header another party set on an outbound request held CR, LF or control characters and was dropped. */
  | 'inject.header.invalid'
  /** An outbound request had already sent its headers, so nothing could be added. */
  | 'inject.headers_already_sent'
  /** An outbound request came from a client ctxprop cannot write headers into. */
  | 'inject.unsupported_client'
  /** A baggage member looked like a secret or personal data and was refused. */
  | 'baggage.sensitive.refused'
  /** Code tried to set a baggage entry with an invalid key, value or property; it was skipped. */
  | 'baggage.invalid_set'
  /** An interval started during a request ticked after the request ended and left its context (once per interval). */
  | 'context.interval_detached'
  /**
   * A middleware, hook or body parser handed a request on from another context (a pooled
   * client's callback, say) and the adapter put the request's context back.
   */
  | 'context.restored'
  /** ctxprop caught an internal error and carried on without context. */
  | 'internal.error'
  | (string & {});

/**
 * A snapshot of the diagnostics counters: event name to count since start (or reset).
 *
 * @example
 * ```ts
 * const snapshot: DiagnosticsSnapshot = diagnosticsSnapshot();
 * for (const [event, count] of Object.entries(snapshot)) logger.info({ event, count }, 'ctxprop diagnostics');
 * ```
 */
export type DiagnosticsSnapshot = Readonly<Record<string, number>>;

/**
 * Where one-time warnings go.
 *
 * @example
 * ```ts
 * const warn: WarningHandler = (message, code) => logger.warn({ code }, message);
 * configureDiagnostics({ warn });
 * ```
 */
export type WarningHandler = (message: string, code: string) => void;

/**
 * Options of {@link configureDiagnostics}.
 *
 * @example
 * ```ts
 * const options: DiagnosticsOptions = { warn: false }; // keep counting, never warn
 * configureDiagnostics(options);
 * ```
 */
export interface DiagnosticsOptions {
  /**
   * Receives each warning once. `false` silences warnings (counters still count).
   * @default process.emitWarning
   * @example configureDiagnostics({ warn: (message) => logger.warn(message) })
   */
  warn?: WarningHandler | false;
}

interface DiagnosticsState {
  counts: Record<string, number>;
  warned: Set<string>;
  warn: WarningHandler | false;
  meters: WeakSet<Meter>;
  /**
   * Every event counted since the process started (not cleared by a reset): reported at 0 after
   * {@link resetDiagnostics} until counted again, or a metric reader would keep its last value.
   * Absent in the state an older copy of ctxprop made.
   */
  seen?: Set<string>;
}

const STATE_KEY = Symbol.for('ctxprop.diagnostics.v1');

function defaultWarn(message: string, code: string): void {
  process.emitWarning(message, { type: 'CtxpropWarning', code });
}

function state(): DiagnosticsState {
  const holder = globalThis as unknown as Record<symbol, DiagnosticsState | undefined>;
  let current = holder[STATE_KEY];
  if (current === undefined) {
    current = { counts: Object.create(null) as Record<string, number>, warned: new Set(), warn: defaultWarn, meters: new WeakSet() };
    holder[STATE_KEY] = current;
  }
  return current;
}

// Resolved once: the holder is created on first use and never replaced.
const shared = state();

/**
 * Adds `by` to the counter of `event`. Cheap enough for the hot path.
 *
 * @example
 * ```ts
 * countDiagnostic('extract.trace.malformed');
 * ```
 */
export function countDiagnostic(event: DiagnosticEvent, by = 1): void {
  const counts = shared.counts;
  counts[event] = (counts[event] ?? 0) + by;
}

/**
 * Returns a copy of all counters.
 *
 * @example
 * ```ts
 * const { 'extract.trace.malformed': malformed = 0 } = diagnosticsSnapshot();
 * ```
 */
export function diagnosticsSnapshot(): DiagnosticsSnapshot {
  return { ...shared.counts };
}

/**
 * Sets every counter back to zero and forgets which warnings were given (for tests and for
 * periodic reporting).
 *
 * @example
 * ```ts
 * resetDiagnostics();
 * ```
 */
export function resetDiagnostics(): void {
  shared.counts = Object.create(null) as Record<string, number>;
  shared.warned.clear();
}

/**
 * Gives `message` once per `code` for the life of the process (or until
 * {@link resetDiagnostics}). The message should say which rule acted and how to change it.
 *
 * @example
 * ```ts
 * warnOnce('CTXPROP_BAGGAGE_WITHHELD', 'ctxprop: baggage withheld from api.example.com ...');
 * ```
 */
export function warnOnce(code: string, message: string): void {
  if (shared.warned.has(code)) return;
  shared.warned.add(code);
  const warn = shared.warn;
  if (warn === false) return;
  try {
    warn(message, code);
  } catch {
    // A failing warning handler must never fail the request that triggered it.
  }
}

/**
 * Sets where warnings go.
 *
 * @example
 * ```ts
 * configureDiagnostics({ warn: (message, code) => pinoLogger.warn({ code }, message) });
 * ```
 */
export function configureDiagnostics(options: DiagnosticsOptions): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('options', 'an options object { warn }', options, 'Example: configureDiagnostics({ warn: (message) => logger.warn(message) }).');
  }
  rejectUnknownOptions(options, ['warn'], '', 'configureDiagnostics()');
  const warn = options.warn;
  if (warn !== undefined && warn !== false && typeof warn !== 'function') {
    throw new InvalidOptionError('warn', 'a function (message, code) => void, or false', warn, 'Pass e.g. (message) => logger.warn(message), or false to silence warnings.');
  }
  if (warn !== undefined) shared.warn = warn;
}

/**
 * Publishes the counters as the OpenTelemetry observable counter `ctxprop.propagation.events`
 * (attribute `ctxprop.event`). Uses the global MeterProvider unless a meter is given; calling it
 * again with the same meter does nothing.
 *
 * @example
 * ```ts
 * registerDiagnosticsMetrics(); // after the MeterProvider is registered
 * ```
 */
export function registerDiagnosticsMetrics(meter: Meter = metrics.getMeter('@ctxprop/core')): void {
  if (shared.meters.has(meter)) return;
  shared.meters.add(meter);
  const counter = meter.createObservableCounter('ctxprop.propagation.events', {
    description: 'Context propagation events: malformed or missing headers, withheld or refused baggage.',
    unit: '{event}',
  });
  counter.addCallback((result: ObservableResult) => {
    const seen = (shared.seen ??= new Set());
    const counts = shared.counts;
    for (const event of Object.keys(counts)) seen.add(event);
    for (const event of seen) result.observe(counts[event] ?? 0, { 'ctxprop.event': event });
  });
}
