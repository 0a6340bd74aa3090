/**
 * pino, fastest: the trace fields enter the line as a ready-made JSON fragment through pino's
 * `timestamp` option. pino calls the timestamp function synchronously inside the log call and
 * concatenates its string, unparsed, right after the level (`{"level":30` + time + bindings +
 * the call's fields + `}`), so the fragment costs one string concatenation per line, where a
 * mixin's fields cost pino a property walk and three string serializations on every line
 * (bench/logging.bench.mjs). The fragment is built once per span (and baggage) and reused.
 *
 * Why not pino's `hooks.streamWrite`: it receives the finished line, and inserting before its
 * closing `}` means slicing it, which makes V8 flatten pino's rope of concatenated pieces on
 * every line: measured at 1.4x to 1.5x bare pino against a no-op stream, where this path stays
 * under 1.1x.
 */
import { propagation, trace, type Baggage, type Context, type Span } from '@opentelemetry/api';
import { countDiagnostic, createActiveContextReader, InvalidOptionError } from '@ctxprop/core';
import { PINO_KEYS, resolveOptions, type TraceFieldsOptions } from './options.js';
import { createFieldsFactory, type FieldsFactory } from './trace-fields.js';

/**
 * pino's timestamp function type (`TimeFn`): returns a partial JSON string that starts with a
 * comma, such as `,"time":1493426328206`, or `''`.
 *
 * @example
 * ```ts
 * const isoTime: PinoTimestampFunction = () => `,"time":"${new Date().toISOString()}"`;
 * ```
 */
export type PinoTimestampFunction = () => string;

/**
 * Options of {@link pinoCorrelation}: the {@link TraceFieldsOptions} plus pino's `timestamp`,
 * which this path wraps.
 *
 * @example
 * ```ts
 * const options: PinoCorrelationOptions = { preset: 'datadog', timestamp: pino.stdTimeFunctions.isoTime };
 * ```
 */
export interface PinoCorrelationOptions extends TraceFieldsOptions {
  /**
   * The time written on each line, exactly as pino's own `timestamp` option: `true` for epoch
   * milliseconds (`,"time":1493426328206`), `false` for none, or a function such as
   * `pino.stdTimeFunctions.isoTime`. Give it here, not to pino: a `timestamp` set in the pino
   * options after `...pinoCorrelation()` replaces this one, and the trace fields with it.
   * @default true
   * @example { timestamp: pino.stdTimeFunctions.isoTime }
   */
  timestamp?: boolean | PinoTimestampFunction;
}

/**
 * The pino options that add the trace fields: spread them into `pino({ ... })`.
 *
 * @example
 * ```ts
 * const correlation: PinoCorrelation = pinoCorrelation();
 * const logger = pino({ ...correlation, level: 'debug' });
 * ```
 */
export interface PinoCorrelation {
  /** pino's `timestamp` option: the time, followed by the trace fields of the active context. */
  readonly timestamp: PinoTimestampFunction;
}

/** A fragment built for one span (or for "no span") under one baggage. */
interface CachedFragment {
  readonly baggage: Baggage | undefined;
  readonly fragment: string;
}

/** Returns `,"key":value` for every field of the active context. Never throws. */
type FragmentSource = () => string;

/** The cache key of lines logged with no span in their context. */
const NO_SPAN: object = {};

const noTime: PinoTimestampFunction = () => '';

/**
 * Creates pino options that write the trace fields of the active context on every line, the
 * fastest way: a JSON fragment prepared once per span, added to the line by pino's `timestamp`
 * option (the time is still written, as `timestamp` asks). Same fields, presets, baggage
 * allowlist, sensitive-data guard and `whenNoContext` as {@link pinoMixin}; see the README
 * ("Fastest: pinoCorrelation") for where the two differ. Options are validated here, once.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * import { pinoCorrelation } from '@ctxprop/logging';
 *
 * const logger = pino({ ...pinoCorrelation({ timestamp: pino.stdTimeFunctions.isoTime }), level: 'info' });
 * logger.info('order created');
 * // {"level":30,"time":"2025-…Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","trace_flags":"01","pid":…,"hostname":"…","msg":"order created"}
 * ```
 */
export function pinoCorrelation(options?: PinoCorrelationOptions): PinoCorrelation {
  if (typeof options === 'object' && options !== null && 'mixin' in options) {
    throw new InvalidOptionError('mixin', 'an option of pinoMixin() only', (options as { mixin?: unknown }).mixin, 'Give your mixin to pino itself: pino({ ...pinoCorrelation(), mixin }).');
  }
  const resolved = resolveOptions(options, ['timestamp'], PINO_KEYS);
  const fragmentOfActive = createFragmentSource(createFieldsFactory(resolved), resolved.baggageKeys.length > 0);
  const time = options?.timestamp ?? true;
  if (time === true) {
    return {
      timestamp: function ctxpropPinoTimestamp(): string {
        return `,"time":${Date.now()}` + fragmentOfActive();
      },
    };
  }
  if (time !== false && typeof time !== 'function') {
    throw new InvalidOptionError('timestamp', 'a boolean or a function returning a partial JSON string', time, 'Pass true, false or one of pino.stdTimeFunctions.');
  }
  const theirs = time === false ? noTime : time;
  return {
    timestamp: function ctxpropPinoTimestamp(this: unknown): string {
      // pino calls the timestamp function as a method of the logger: keep `this` for theirs.
      return theirs.call(this) + fragmentOfActive();
    },
  };
}

/**
 * Reads the active context and returns its fragment: the last span and baggage seen are
 * compared by identity first (the lines of one request share them), then a per-span cache
 * serves requests whose lines interleave. A span's context is the same for its whole life
 * (OpenTelemetry trace API, "Get Context") and baggage objects are immutable, so a fragment
 * built once for a (span, baggage) pair stays right.
 *
 * The same context object does not always mean the same baggage: a request's context made by
 * ctxprop's adapters reads its baggage from the request's scope, which `req.setBaggage()` changes
 * (core inbound/scoped-context.ts). So with `baggageKeys` the baggage is compared on every line
 * too; without them the fragment depends on the span alone, which a context cannot change, and
 * the context comparison stays the only per-line work.
 *
 * @see https://opentelemetry.io/docs/specs/otel/trace/api/#get-context
 */
function createFragmentSource(fieldsOf: FieldsFactory, readsBaggage: boolean): FragmentSource {
  const activeContext = createActiveContextReader();
  const bySpan = new WeakMap<object, CachedFragment>();
  // The same context object has the same span (a scoped request context's span is fixed too): with
  // no baggage read, the same fragment with no lookup.
  let lastContext: Context | undefined;
  // `null` until the first line, so that a first line with no span is computed too.
  let lastSpan: Span | undefined | null = null;
  let lastBaggage: Baggage | undefined;
  let lastFragment = '';

  function fragmentOf(ctx: Context, baggage: Baggage | undefined): string {
    const span = trace.getSpan(ctx);
    if (span !== lastSpan || baggage !== lastBaggage) {
      const key = span ?? NO_SPAN;
      let cached = bySpan.get(key);
      if (cached === undefined || cached.baggage !== baggage) {
        cached = { baggage, fragment: jsonFragment(fieldsOf(ctx)) };
        bySpan.set(key, cached);
      }
      lastSpan = span;
      lastBaggage = baggage;
      lastFragment = cached.fragment;
    }
    lastContext = ctx;
    return lastFragment;
  }

  if (!readsBaggage) {
    return function fragmentOfActive(): string {
      try {
        const ctx = activeContext();
        return ctx === lastContext ? lastFragment : fragmentOf(ctx, undefined);
      } catch {
        // A log call must never fail because of its trace fields.
        countDiagnostic('internal.error');
        return '';
      }
    };
  }
  return function fragmentOfActiveWithBaggage(): string {
    try {
      const ctx = activeContext();
      const baggage = propagation.getBaggage(ctx);
      return ctx === lastContext && baggage === lastBaggage ? lastFragment : fragmentOf(ctx, baggage);
    } catch {
      countDiagnostic('internal.error');
      return '';
    }
  };
}

/**
 * `,"key":value` for each field, JSON-escaped (keys come from options, baggage values from the
 * wire: quotes, backslashes, control characters and lone surrogates are all escaped by
 * `JSON.stringify`). Runs once per span, not per line.
 */
function jsonFragment(fields: Record<string, unknown>): string {
  let fragment = '';
  for (const key in fields) {
    const value = JSON.stringify(fields[key]);
    if (value !== undefined) fragment += `,${JSON.stringify(key)}:${value}`;
  }
  return fragment;
}
