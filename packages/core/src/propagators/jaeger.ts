/**
 * Jaeger propagation: the `uber-trace-id` header and `uberctx-{key}` baggage headers.
 *
 * Spec: https://www.jaegertracing.io/docs/1.21/client-libraries/#propagation-format
 *
 * - Value `{trace-id}:{span-id}:{parent-span-id}:{flags}`. Ids are base16 "of variable length,
 *   shorter values are 0-padded on the left": up to 32 digits for the trace id, 16 for span ids.
 *   A zero trace or span id is invalid. Either letter case is read; ids are normalised to lower case.
 * - The URL-encoded form (`%3A` instead of `:`) that some HTTP clients produce is read too.
 * - `{parent-span-id}` is deprecated ("most Jaeger clients ignore on the receiving side"): it is
 *   validated as hex but not kept, and written as `0`.
 * - `{flags}` is one byte in hex: bit 0x01 sampled, 0x02 debug (debug implies sampled). The debug bit
 *   is remembered in the context and written back for the same trace.
 * - Baggage: each `uberctx-{key}: {value}` header is one entry; values are URL-encoded.
 */
import {
  createContextKey,
  trace,
  TraceFlags,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { isBaggageKey } from '../wire/baggage.js';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import { InvalidOptionError, rejectUnknownOptions } from '../errors.js';
import { byteToHex, hexByteAt, isAllZeros, isHex, padTraceId } from '../wire/hex.js';
import { hasValidIds } from '../wire/traceparent.js';
import { firstHeaderValue, getterFor, isTracingSuppressed, setterFor } from './carrier-access.js';
import { extractPrefixedBaggage, injectPrefixedBaggage } from './prefixed-baggage.js';
import { withRemoteParent } from './remote-parent.js';

/** The trace header's default name. */
const UBER_TRACE_ID_HEADER = 'uber-trace-id';
/** The baggage header prefix's default. */
const UBER_BAGGAGE_PREFIX = 'uberctx-';

/** Longest trace id (128 bits) and span id (64 bits) in hex digits. */
const MAX_TRACE_ID_LENGTH = 32;
const MAX_SPAN_ID_LENGTH = 16;
/** `{flags}`: "One byte bitmap, as two hex digits". */
const MAX_FLAGS_LENGTH = 2;
const FLAG_SAMPLED = 0x01;
const FLAG_DEBUG = 0x02;

const DEBUG_KEY = createContextKey('ctxprop.jaeger.debug');


/**
 * Options of {@link JaegerPropagator}.
 *
 * @example
 * ```ts
 * const options: JaegerPropagatorOptions = { traceHeader: 'x-trace-id', baggagePrefix: 'x-ctx-' };
 * const propagator = new JaegerPropagator(options); // reads and writes x-trace-id and x-ctx-{key}
 * ```
 */
export interface JaegerPropagatorOptions {
  /**
   * Name of the trace header (Jaeger clients allow changing it, e.g. for a legacy in-house name).
   * @default 'uber-trace-id'
   * @example new JaegerPropagator({ traceHeader: 'x-trace-id' })
   */
  traceHeader?: string;
  /**
   * Prefix of the baggage headers.
   * @default 'uberctx-'
   * @example new JaegerPropagator({ baggagePrefix: 'x-ctx-' })
   */
  baggagePrefix?: string;
}

/** The ids and flags of an `uber-trace-id` value. */
export interface JaegerTraceId {
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: number;
}

/**
 * Parses an `uber-trace-id` value, plain or URL-encoded. Returns `undefined` when invalid.
 *
 * @example
 * ```ts
 * parseUberTraceId('e457b5a2e4d86bd1:e457b5a2e4d86bd1:0:1');
 * // { traceId: '0000000000000000e457b5a2e4d86bd1', spanId: 'e457b5a2e4d86bd1', flags: 1 }
 * parseUberTraceId('e457b5a2e4d86bd1%3Ae457b5a2e4d86bd1%3A0%3A1'); // the same
 * ```
 */
export function parseUberTraceId(value: string): JaegerTraceId | undefined {
  // Field bounds: starts[i]..ends[i] for the four fields.
  const starts = [0, 0, 0, 0];
  const ends = [0, 0, 0, 0];
  let field = 0;
  let i = 0;
  const length = value.length;
  while (i < length) {
    const c = value.charCodeAt(i);
    let separator = 0;
    if (c === 0x3a) separator = 1; // ':'
    else if (c === 0x25 && value.charCodeAt(i + 1) === 0x33 && (value.charCodeAt(i + 2) | 0x20) === 0x61) separator = 3; // '%3A'
    if (separator === 0) {
      i++;
      continue;
    }
    ends[field] = i;
    field++;
    if (field > 3) return undefined;
    i += separator;
    starts[field] = i;
  }
  if (field !== 3) return undefined;
  ends[3] = length;
  const traceLength = ends[0]! - starts[0]!;
  const spanLength = ends[1]! - starts[1]!;
  const parentLength = ends[2]! - starts[2]!;
  const flagsLength = ends[3]! - starts[3]!;
  if (traceLength < 1 || traceLength > MAX_TRACE_ID_LENGTH || !isHex(value, starts[0], ends[0])) return undefined;
  if (spanLength < 1 || spanLength > MAX_SPAN_ID_LENGTH || !isHex(value, starts[1], ends[1])) return undefined;
  if (parentLength < 1 || parentLength > MAX_SPAN_ID_LENGTH || !isHex(value, starts[2], ends[2])) return undefined;
  if (flagsLength < 1 || flagsLength > MAX_FLAGS_LENGTH) return undefined;
  if (isAllZeros(value, starts[0], ends[0]) || isAllZeros(value, starts[1], ends[1])) return undefined;
  const flags = flagsLength === 2 ? hexByteAt(value, starts[3]!) : hexByteAt(`0${value[starts[3]!]}`, 0);
  if (flags < 0) return undefined;
  return {
    traceId: padTraceId(value.slice(starts[0], ends[0]).toLowerCase()),
    spanId: value.slice(starts[1], ends[1]).toLowerCase().padStart(MAX_SPAN_ID_LENGTH, '0'),
    flags,
  };
}

/**
 * Propagates trace context and baggage in Jaeger's format (`OTEL_PROPAGATORS=jaeger`): the
 * `uber-trace-id` header and one `uberctx-{key}` header per baggage entry. Extracted baggage is
 * merged into the context's baggage (an entry from the wire replaces one of the same key).
 *
 * @example
 * ```ts
 * const propagator = new JaegerPropagator();
 * const ctx = propagator.extract(ROOT_CONTEXT, req.headers, headerGetter);
 * ```
 */
export class JaegerPropagator implements TextMapPropagator {
  /** The trace header name in use, lower case. */
  readonly traceHeader: string;
  /** The baggage header prefix in use, lower case. */
  readonly baggagePrefix: string;

  /** Throws `InvalidOptionError` for a header name or prefix that is not an HTTP token. */
  constructor(options: JaegerPropagatorOptions = {}) {
    rejectUnknownOptions(options, ['traceHeader', 'baggagePrefix'], '', 'JaegerPropagator');
    this.traceHeader = headerNameOption('traceHeader', options.traceHeader ?? UBER_TRACE_ID_HEADER);
    this.baggagePrefix = headerNameOption('baggagePrefix', options.baggagePrefix ?? UBER_BAGGAGE_PREFIX);
  }

  /** Writes `uber-trace-id` (parent `0`) and an `uberctx-{key}` header per baggage entry. */
  inject(context: Context, carrier: unknown, setter?: TextMapSetter): void {
    try {
      if (isTracingSuppressed(context)) return;
      const set = setterFor(setter);
      const spanContext = trace.getSpanContext(context);
      if (spanContext !== undefined && hasValidIds(spanContext)) {
        const traceId = spanContext.traceId.toLowerCase();
        let flags = (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? FLAG_SAMPLED : 0;
        if (context.getValue(DEBUG_KEY) === traceId) flags = FLAG_SAMPLED | FLAG_DEBUG;
        set.set(carrier, this.traceHeader, `${traceId}:${spanContext.spanId.toLowerCase()}:0:${byteToHex(flags)}`);
      }
      injectPrefixedBaggage(context, carrier, set, this.baggagePrefix, encodeValue);
    } catch {
      // A throwing custom setter must not fail the request.
      countDiagnostic('internal.error');
    }
  }

  /**
   * Reads `uber-trace-id` and `uberctx-*`. An invalid trace header is counted as
   * `extract.trace.malformed`, an undecodable baggage value as `extract.baggage.invalid_member`;
   * nothing is thrown.
   */
  extract(context: Context, carrier: unknown, getter?: TextMapGetter): Context {
    try {
      const get = getterFor(getter);
      let next = context;
      const header = firstHeaderValue(get.get(carrier, this.traceHeader));
      if (header !== undefined) {
        const parsed = parseUberTraceId(header);
        if (parsed === undefined) {
          countDiagnostic('extract.trace.malformed');
        } else {
          const sampled = (parsed.flags & (FLAG_SAMPLED | FLAG_DEBUG)) !== 0;
          next = withRemoteParent(next, parsed.traceId, parsed.spanId, sampled);
          if ((parsed.flags & FLAG_DEBUG) !== 0) next = next.setValue(DEBUG_KEY, parsed.traceId);
          else if (next.getValue(DEBUG_KEY) !== undefined) next = next.deleteValue(DEBUG_KEY);
        }
      }
      return extractPrefixedBaggage(next, carrier, get, this.baggagePrefix, decodeValue);
    } catch {
      countDiagnostic('internal.error');
      return context;
    }
  }

  /** The trace header (baggage header names depend on the keys, so they are not listed). */
  fields(): string[] {
    return [this.traceHeader];
  }
}

/** URL-decodes a baggage value; undefined when it is not valid percent-encoded UTF-8. */
function decodeValue(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** URL-encodes a baggage value; a lone surrogate (which cannot be encoded) skips the entry. */
function encodeValue(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return encodeURIComponent(value);
  } catch {
    return undefined;
  }
}

function headerNameOption(option: string, value: unknown): string {
  if (typeof value !== 'string' || !isBaggageKey(value)) {
    throw new InvalidOptionError(option, 'a non-empty HTTP header name (letters, digits and !#$%&\'*+-.^_`|~)', value);
  }
  return value.toLowerCase();
}





