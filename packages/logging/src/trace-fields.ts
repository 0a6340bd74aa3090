/**
 * The trace fields of the active context, for any logger. The context is read from
 * `@opentelemetry/api` only: with no SDK the active span is the propagated inbound context (the
 * caller's ids); with an SDK it is the active span. Everything that depends on the options is
 * worked out when the factory is created; a log call reads the context, formats the ids (cached
 * for the last span context seen) and builds a fresh object.
 */
import { propagation, trace, type Context, type Span, type SpanContext } from '@opentelemetry/api';
import { countDiagnostic, createActiveContextReader } from '@ctxprop/core';
import { createBaggageFieldWriter } from './baggage-fields.js';
import { createIdFieldsBuilder, type FormattedIds } from './id-fields.js';
import { SPAN_ID_HEX_LENGTH, TRACE_ID_HEX_LENGTH, ZERO_SPAN_ID, ZERO_TRACE_ID, low64Decimal, normalizeHexId, traceFlagsHex } from './ids.js';
import { resolveOptions, type ResolvedOptions, type TraceFieldsOptions } from './options.js';
import type { IdEncoding } from './presets.js';

/**
 * The log fields of one moment: key names per the preset, values are strings except
 * `trace_sampled` (a boolean). A fresh object on every call, yours to change.
 *
 * @example
 * ```ts
 * const fields: TraceFieldRecord = traceFields(); // { trace_id: '4bf9…', span_id: '00f0…', trace_flags: '01' }
 * ```
 */
export type TraceFieldRecord = Record<string, unknown>;

/**
 * Returns the trace fields of `ctx` (default: the active context) as a fresh object.
 *
 * @example
 * ```ts
 * const fields: TraceFieldsFunction = createTraceFields({ preset: 'ecs' });
 * log.info(fields(), 'order created');
 * ```
 */
export type TraceFieldsFunction = (ctx?: Context) => TraceFieldRecord;

/** Returns the trace fields of `ctx` as a fresh object. Never throws. */
export type FieldsFactory = (ctx: Context) => TraceFieldRecord;

/** Builds the hot-path factory for already validated options. */
export function createFieldsFactory(resolved: ResolvedOptions): FieldsFactory {
  const { transactionIdKey, staticFields, zeros } = resolved;
  const buildIds = createIdFieldsBuilder(resolved);
  const encodeTraceId = encoder(resolved.traceIdEncoding, resolved.projectId);
  const encodeSpanId = encoder(resolved.spanIdEncoding, resolved.projectId);
  const writeBaggage =
    resolved.baggageKeys.length > 0
      ? createBaggageFieldWriter(resolved.baggageKeys, resolved.baggageFieldNames, resolved.sensitiveDataGuard)
      : undefined;

  function format(traceId: string, spanId: string, flags: number): FormattedIds {
    return {
      traceId: encodeTraceId(traceId),
      spanId: encodeSpanId(spanId),
      spanHex: spanId,
      traceFlags: traceFlagsHex(flags),
      traceSampled: (flags & 1) === 1,
    };
  }

  const zeroIds = format(ZERO_TRACE_ID, ZERO_SPAN_ID, 0);

  // One-entry cache: the lines of one request share a span context, and comparing three
  // primitives is cheaper than validating and encoding the ids again (BigInt for Datadog).
  let lastTraceId: unknown;
  let lastSpanId: unknown;
  let lastFlags: unknown;
  let lastIds: FormattedIds | undefined;

  function idsOf(spanContext: SpanContext): FormattedIds | undefined {
    const { traceId, spanId, traceFlags } = spanContext;
    if (traceId === lastTraceId && spanId === lastSpanId && traceFlags === lastFlags) return lastIds;
    const trace = normalizeHexId(traceId, TRACE_ID_HEX_LENGTH);
    const span = normalizeHexId(spanId, SPAN_ID_HEX_LENGTH);
    const ids = trace !== undefined && span !== undefined ? format(trace, span, typeof traceFlags === 'number' ? traceFlags : 0) : undefined;
    lastTraceId = traceId;
    lastSpanId = spanId;
    lastFlags = traceFlags;
    lastIds = ids;
    return ids;
  }

  return function traceFieldsOf(ctx) {
    let fields: TraceFieldRecord | undefined;
    try {
      const span = trace.getSpan(ctx);
      const ids = span === undefined ? undefined : idsOf(span.spanContext());
      if (ids !== undefined) {
        fields = buildIds(ids, transactionIdKey !== undefined && isEntrySpan(span!) ? ids.spanHex : undefined);
      } else {
        fields = zeros ? buildIds(zeroIds, zeroIds.spanHex) : {};
      }
      for (let i = 0; i < staticFields.length; i++) fields[staticFields[i]![0]] = staticFields[i]![1];
      if (writeBaggage !== undefined) writeBaggage(fields, propagation.getBaggage(ctx));
      return fields;
    } catch {
      // A log call must never fail because of its trace fields: it gets what was made before the
      // throw.
      countDiagnostic('internal.error');
      return fields ?? {};
    }
  };
}

function encoder(encoding: IdEncoding, projectId: string | undefined): (hex: string) => string {
  switch (encoding) {
    case 'decimal':
      return low64Decimal;
    case 'gcp-trace': {
      const prefix = `projects/${projectId}/traces/`;
      return (hex) => prefix + hex;
    }
    default:
      return (hex) => hex;
  }
}

/**
 * True when `span` is the service's entry span: recorded by an SDK and started with no parent or
 * a remote one. Elastic APM makes such spans transactions, so ECS `transaction.id` is its id.
 * Without an SDK the active span is the caller's (remote) context, which is not ours: false.
 */
function isEntrySpan(span: Span): boolean {
  const sdkSpan = span as { parentSpanContext?: SpanContext; parentSpanId?: string };
  if ('parentSpanContext' in sdkSpan) {
    const parent = sdkSpan.parentSpanContext;
    return parent === undefined || parent.isRemote === true;
  }
  // SDK 1.x spans hold only the parent's id, so only a root span is known to be an entry span.
  if ('parentSpanId' in sdkSpan) return !sdkSpan.parentSpanId;
  return false;
}

/**
 * Validates `options` once and returns a function that gives the trace fields of the active
 * context (or of the context passed) as a fresh object: the form to use on a hot path.
 *
 * @example
 * ```ts
 * import bunyan from 'bunyan';
 * const fields = createTraceFields({ preset: 'ecs', serviceName: 'checkout' });
 * const log = bunyan.createLogger({ name: 'checkout' });
 * app.get('/orders', (req, res) => { log.info(fields(), 'listing orders'); res.json([]); });
 * ```
 */
export function createTraceFields(options?: TraceFieldsOptions): TraceFieldsFunction {
  const fieldsOf = createFieldsFactory(resolveOptions(options));
  const activeContext = createActiveContextReader();
  return function ctxpropTraceFields(ctx?: Context): TraceFieldRecord {
    return fieldsOf(ctx ?? activeContext());
  };
}

let defaultFields: TraceFieldsFunction | undefined;
const fieldsByOptions = new WeakMap<object, TraceFieldsFunction>();

/**
 * The trace fields of the active context, as a fresh object, for console, bunyan or any logger.
 * Options are validated on the first call with a given options object and remembered for that
 * object; to pass options inline on every call, prefer {@link createTraceFields}.
 *
 * @example
 * ```ts
 * console.log(JSON.stringify({ msg: 'order created', ...traceFields() }));
 * // {"msg":"order created","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","trace_flags":"01"}
 * ```
 */
export function traceFields(options?: TraceFieldsOptions): TraceFieldRecord {
  if (options === undefined || options === null) return (defaultFields ??= createTraceFields())();
  let fields = fieldsByOptions.get(options);
  if (fields === undefined) {
    fields = createTraceFields(options);
    fieldsByOptions.set(options, fields);
  }
  return fields();
}
