/**
 * Several propagators acting as one, with a precedence rule for trace context and a merge rule for
 * baggage, and the diagnostics that tell a missing trace header from one of a format nobody
 * configured.
 */
import {
  propagation,
  trace,
  type Baggage,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { countDiagnostic, warnOnce } from '../diagnostics/diagnostics.js';
import { InvalidOptionError, rejectUnknownOptions } from '../errors.js';
import { hasValidIds } from '../wire/traceparent.js';
import { B3Propagator } from './b3.js';
import { getB3SamplingDecision, setB3SamplingDecision, type B3SamplingDecision } from './b3-sampling-decision.js';
import { getterFor, setterFor } from './carrier-access.js';

/**
 * Options of {@link CompositePropagator}.
 *
 * @example
 * ```ts
 * const options: CompositePropagatorOptions = { names: ['tracecontext', 'b3'] };
 * const propagator = new CompositePropagator([new TraceContextPropagator(), new B3Propagator()], options);
 * ```
 */
export interface CompositePropagatorOptions {
  /**
   * The `OTEL_PROPAGATORS` names the propagators were built from; only used to suggest a complete
   * value in the warning about an unconfigured format. `createPropagator()` sets it.
   * @default undefined (the warning suggests `tracecontext,baggage,{missing name}`)
   * @example new CompositePropagator([new B3Propagator()], { names: ['b3'] })
   */
  names?: readonly string[];
}

/** The trace header of each known format, and the `OTEL_PROPAGATORS` name that reads it. */
const KNOWN_TRACE_HEADERS: readonly { readonly header: string; readonly name: string }[] = [
  { header: 'traceparent', name: 'tracecontext' },
  { header: 'b3', name: 'b3' },
  { header: 'x-b3-traceid', name: 'b3multi' },
  { header: 'uber-trace-id', name: 'jaeger' },
  { header: 'x-amzn-trace-id', name: 'xray' },
  { header: 'ot-tracer-traceid', name: 'ottrace' },
];

/** Fields that do not carry a trace context by themselves. */
const NON_TRACE_FIELDS: ReadonlySet<string> = new Set(['baggage', 'tracestate']);

/**
 * Runs several propagators as one.
 *
 * - **extract**: the *first* propagator (in the configured order) that yields a valid span context
 *   wins; a later one cannot override it (its other context values are dropped too). Baggage from
 *   *every* propagator is merged into one baggage; for a key found by several, the first configured
 *   propagator's entry wins. Each propagator runs on a context without span and baggage, so what it
 *   returns is what it found. When none finds a trace context, `extract.trace.missing` is counted
 *   if no trace header of a configured format was present, and `extract.format.unconfigured` (with
 *   a one-time warning) for each header of a known format that is not configured.
 * - **inject**: every propagator, in order.
 * - **fields**: the union of the propagators' fields, without duplicates.
 *
 * A propagator that throws is skipped and counted as `internal.error`: propagation never fails a
 * request.
 *
 * @example
 * ```ts
 * const propagator = new CompositePropagator([new B3Propagator(), new JaegerPropagator()]);
 * propagation.setGlobalPropagator(propagator);
 * ```
 */
export class CompositePropagator implements TextMapPropagator {
  private readonly propagators: readonly TextMapPropagator[];
  private readonly names: readonly string[] | undefined;
  private readonly fieldList: readonly string[];
  /** Headers whose presence means "a configured format's trace header was sent". */
  private readonly traceFields: readonly string[];
  /** Known trace headers that no configured propagator reads. */
  private readonly unconfigured: readonly { readonly header: string; readonly name: string }[];

  /**
   * @param propagators - the propagators, in precedence order; OpenTelemetry's
   *   `{ propagators: [...] }` config form is accepted too.
   */
  constructor(
    propagators: readonly TextMapPropagator[] | { readonly propagators: readonly TextMapPropagator[] },
    options: CompositePropagatorOptions = {},
  ) {
    if (!Array.isArray(propagators) && typeof propagators === 'object' && propagators !== null) {
      propagators = (propagators as { readonly propagators: readonly TextMapPropagator[] }).propagators;
    }
    if (!Array.isArray(propagators) || !propagators.every(isPropagator)) {
      throw new InvalidOptionError(
        'propagators',
        'an array of TextMapPropagator objects (each with inject, extract and fields methods)',
        propagators,
      );
    }
    rejectUnknownOptions(options, ['names'], '', 'CompositePropagator');
    this.propagators = [...propagators];
    this.names = options.names;
    const fields: string[] = [];
    const seen = new Set<string>();
    for (const propagator of propagators) {
      for (const field of propagator.fields()) {
        const lower = field.toLowerCase();
        if (seen.has(lower)) continue;
        seen.add(lower);
        fields.push(field);
      }
    }
    this.fieldList = fields;
    // Whatever its inject encoding, a B3Propagator reads both the single and the multiple headers.
    if (propagators.some((propagator) => propagator instanceof B3Propagator)) {
      seen.add('b3');
      seen.add('x-b3-traceid');
    }
    this.traceFields = [...seen].filter((field) => !NON_TRACE_FIELDS.has(field));
    this.unconfigured = KNOWN_TRACE_HEADERS.filter((known) => !seen.has(known.header));
  }

  /** Calls every propagator's `inject`, in order. */
  inject(context: Context, carrier: unknown, setter?: TextMapSetter): void {
    // Core's case-insensitive setter/getter replace the API's defaults for every propagator,
    // OpenTelemetry's included (opentelemetry-js #3150).
    const set = setterFor(setter);
    for (const propagator of this.propagators) {
      try {
        propagator.inject(context, carrier, set);
      } catch {
        countDiagnostic('internal.error');
      }
    }
  }

  /** See the class description for the precedence and merge rules. */
  extract(context: Context, carrier: unknown, getter?: TextMapGetter): Context {
    const get = getterFor(getter);
    const originalSpan = trace.getSpan(context);
    const originalBaggage = propagation.getBaggage(context);
    // Every propagator reads on the same base, with no span and no baggage, so that what it returns
    // holds only what it found. Inbound requests start from an empty context: no copy is made then.
    let base = context;
    if (originalSpan !== undefined) base = trace.deleteSpan(base);
    if (originalBaggage !== undefined) base = propagation.deleteBaggage(base);
    let winner: Context | undefined;
    let baggage: Baggage | undefined;
    let samplingDecision: B3SamplingDecision | undefined;
    for (const propagator of this.propagators) {
      let result: Context;
      try {
        result = propagator.extract(base, carrier, get);
      } catch {
        countDiagnostic('internal.error');
        continue;
      }
      if (result === base) continue;
      const found = propagation.getBaggage(result);
      if (found !== undefined) baggage = baggage === undefined ? found : mergeBaggage(baggage, found);
      // Only the first valid span context counts; a later (or invalid) one is dropped whole, with
      // anything else its format keeps in the context (a B3 debug flag).
      if (winner === undefined) {
        const span = trace.getSpan(result);
        if (span !== undefined && hasValidIds(span.spanContext())) winner = result;
        else samplingDecision ??= getB3SamplingDecision(result);
      }
    }
    if (winner === undefined) {
      // A bare B3 decision is trace context of a kind: not "missing", whatever headers held it.
      this.diagnoseNoTraceContext(carrier, get, samplingDecision === undefined);
      // With no trace context found, a B3 decision sent without ids (`b3: 0`) is kept, so that
      // B3 sends it on; a valid trace context of any format wins over it (dropped with the loser).
      const kept = samplingDecision === undefined ? context : setB3SamplingDecision(context, samplingDecision);
      return baggage === undefined ? kept : propagation.setBaggage(kept, baggage);
    }
    // The winner's own context (its span over `base`), with the merged baggage (or the original one
    // when no format carried any): at most one more context copy.
    const finalBaggage = baggage ?? originalBaggage;
    if (propagation.getBaggage(winner) === finalBaggage) return winner;
    return finalBaggage === undefined ? propagation.deleteBaggage(winner) : propagation.setBaggage(winner, finalBaggage);
  }

  /** The union of every propagator's fields. */
  fields(): string[] {
    return [...this.fieldList];
  }

  private diagnoseNoTraceContext(carrier: unknown, get: TextMapGetter, countMissing: boolean): void {
    try {
      if (countMissing && this.traceFields.length > 0 && !this.traceFields.some((field) => isPresent(get.get(carrier, field)))) {
        countDiagnostic('extract.trace.missing');
      }
      for (const { header, name } of this.unconfigured) {
        if (!isPresent(get.get(carrier, header))) continue;
        countDiagnostic('extract.format.unconfigured');
        warnOnce(`CTXPROP_FORMAT_UNCONFIGURED_${name.toUpperCase()}`, this.unconfiguredMessage(header, name));
      }
    } catch {
      countDiagnostic('internal.error');
    }
  }

  private unconfiguredMessage(header: string, name: string): string {
    const current = this.names?.filter((configured) => configured !== 'none') ?? ['tracecontext', 'baggage'];
    const suggestion = [...current, name].join(',');
    return (
      `ctxprop: a request carried a "${header}" header, but the "${name}" propagator is not configured, ` +
      `so its trace context was ignored. To accept it, add "${name}" to OTEL_PROPAGATORS ` +
      `(for example OTEL_PROPAGATORS=${suggestion}) or to the names given to createPropagator().`
    );
  }
}

/** `first` plus the entries of `second` whose keys `first` lacks (metadata kept). */
function mergeBaggage(first: Baggage, second: Baggage): Baggage {
  let merged = first;
  for (const [key, entry] of second.getAllEntries()) {
    if (merged.getEntry(key) === undefined) merged = merged.setEntry(key, entry);
  }
  return merged;
}

function isPresent(value: unknown): boolean {
  const raw: unknown = Array.isArray(value) ? value[0] : value;
  return typeof raw === 'string' && raw.trim().length > 0;
}

function isPropagator(value: unknown): value is TextMapPropagator {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof TextMapPropagator, unknown>>;
  return typeof candidate.inject === 'function' && typeof candidate.extract === 'function' && typeof candidate.fields === 'function';
}
