/**
 * OT Trace propagation: the headers of the OpenTracing "basic tracer" implementations
 * (`OTEL_PROPAGATORS=ottrace`).
 *
 * There is no formal spec; the OpenTelemetry propagator documentation describes the format:
 * https://github.com/open-telemetry/opentelemetry-js-contrib/tree/main/packages/propagator-ot-trace#ottrace-format
 *
 * | header | value |
 * |---|---|
 * | `ot-tracer-traceid` | 16 hex digits (also 32 on extract: newer tracers send 128-bit ids) |
 * | `ot-tracer-spanid` | 16 hex digits |
 * | `ot-tracer-sampled` | `true` / `false` (`1` / `0` from an old Go tracer are read too) |
 * | `ot-baggage-{key}` | one baggage entry; the value is the raw string |
 *
 * - A 64-bit trace id is left-padded to 128 bits on extract.
 * - On inject the trace id is truncated to 64 bits, as that documentation requires: "When
 *   truncating, the least significant (right-most) bits MUST be retained". So a 128-bit trace id
 *   does not survive an OT hop whole; a padded 64-bit one does.
 * - Baggage entries whose key or value would make an invalid HTTP header are not written.
 */
import {
  trace,
  TraceFlags,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import { isAllZeros, isHex, padTraceId } from '../wire/hex.js';
import { hasValidIds } from '../wire/traceparent.js';
import { firstHeaderValue, getterFor, isOws, isTracingSuppressed, setterFor } from './carrier-access.js';
import { extractPrefixedBaggage, injectPrefixedBaggage } from './prefixed-baggage.js';
import { withRemoteParent } from './remote-parent.js';

const OT_TRACE_ID_HEADER = 'ot-tracer-traceid';
const OT_SPAN_ID_HEADER = 'ot-tracer-spanid';
const OT_SAMPLED_HEADER = 'ot-tracer-sampled';
const OT_BAGGAGE_PREFIX = 'ot-baggage-';

/** "uint64 encoded as a string of 16 hex characters"; 128-bit ids (32) are read as well. */
const TRACE_ID_64_LENGTH = 16;
const TRACE_ID_128_LENGTH = 32;
const SPAN_ID_LENGTH = 16;

/** The ids and sampling decision of the `ot-tracer-*` headers. */
export interface OTTraceHeaders {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

/**
 * Parses the `ot-tracer-*` header values. Returns `undefined` when an id is missing or invalid.
 *
 * @example
 * ```ts
 * parseOTTraceHeaders('ee8e3e41b17ce105', '5b4185666d50f68b', 'true');
 * // { traceId: '0000000000000000ee8e3e41b17ce105', spanId: '5b4185666d50f68b', sampled: true }
 * ```
 */
export function parseOTTraceHeaders(
  traceId: string | undefined,
  spanId: string | undefined,
  sampled: string | undefined,
): OTTraceHeaders | undefined {
  if (traceId === undefined || spanId === undefined) return undefined;
  if (traceId.length !== TRACE_ID_64_LENGTH && traceId.length !== TRACE_ID_128_LENGTH) return undefined;
  if (spanId.length !== SPAN_ID_LENGTH || !isHex(traceId) || !isHex(spanId)) return undefined;
  if (isAllZeros(traceId) || isAllZeros(spanId)) return undefined;
  return {
    traceId: padTraceId(traceId.toLowerCase()),
    spanId: spanId.toLowerCase(),
    sampled: sampled === '1' || (sampled !== undefined && sampled.length === 4 && sampled.toLowerCase() === 'true'),
  };
}

/**
 * Propagates trace context and baggage in the OT Trace format of OpenTracing's basic tracers.
 *
 * @example
 * ```ts
 * const propagator = new OTTracePropagator();
 * const ctx = propagator.extract(ROOT_CONTEXT, { 'ot-tracer-traceid': '...', 'ot-tracer-spanid': '...' }, headerGetter);
 * ```
 */
export class OTTracePropagator implements TextMapPropagator {
  /** Writes `ot-tracer-traceid` (lower 64 bits), `ot-tracer-spanid`, `ot-tracer-sampled` and `ot-baggage-*`. */
  inject(context: Context, carrier: unknown, setter?: TextMapSetter): void {
    try {
      if (isTracingSuppressed(context)) return;
      const set = setterFor(setter);
      const spanContext = trace.getSpanContext(context);
      if (spanContext !== undefined && hasValidIds(spanContext)) {
        const traceId64 = spanContext.traceId.slice(TRACE_ID_128_LENGTH - TRACE_ID_64_LENGTH).toLowerCase();
        // Lower 64 bits of zero would be an invalid id downstream: write no trace headers then.
        if (!isAllZeros(traceId64)) {
          set.set(carrier, OT_TRACE_ID_HEADER, traceId64);
          set.set(carrier, OT_SPAN_ID_HEADER, spanContext.spanId.toLowerCase());
          const sampled = (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
          set.set(carrier, OT_SAMPLED_HEADER, sampled ? 'true' : 'false');
        }
      }
      injectPrefixedBaggage(context, carrier, set, OT_BAGGAGE_PREFIX, headerValueOrUndefined);
    } catch {
      // A throwing custom setter must not fail the request.
      countDiagnostic('internal.error');
    }
  }

  /**
   * Reads the `ot-tracer-*` and `ot-baggage-*` headers. Extracted baggage is merged into the
   * context's baggage. Invalid ids are counted as `extract.trace.malformed`; nothing is thrown.
   */
  extract(context: Context, carrier: unknown, getter?: TextMapGetter): Context {
    try {
      const get = getterFor(getter);
      let next = context;
      const traceId = firstHeaderValue(get.get(carrier, OT_TRACE_ID_HEADER));
      const spanId = firstHeaderValue(get.get(carrier, OT_SPAN_ID_HEADER));
      if (traceId !== undefined || spanId !== undefined) {
        const parsed = parseOTTraceHeaders(traceId, spanId, firstHeaderValue(get.get(carrier, OT_SAMPLED_HEADER)));
        if (parsed === undefined) {
          countDiagnostic('extract.trace.malformed');
        } else {
          next = withRemoteParent(next, parsed.traceId, parsed.spanId, parsed.sampled);
        }
      }
      return extractPrefixedBaggage(next, carrier, get, OT_BAGGAGE_PREFIX, keepValue);
    } catch {
      countDiagnostic('internal.error');
      return context;
    }
  }

  /** The trace headers (baggage header names depend on the keys, so they are not listed). */
  fields(): string[] {
    return [OT_TRACE_ID_HEADER, OT_SPAN_ID_HEADER, OT_SAMPLED_HEADER];
  }
}

/** OT baggage values are read as they are. */
function keepValue(raw: string): string {
  return raw;
}

/** OT baggage values are sent as they are, when they make a valid header value. */
function headerValueOrUndefined(value: string): string | undefined {
  return isHeaderValue(value) ? value : undefined;
}

/**
 * RFC 9110 field value limited to visible ASCII, space and tab, without leading or trailing
 * whitespace: https://www.rfc-editor.org/rfc/rfc9110#name-field-values. (obs-text is refused
 * because Node and fetch reject or mangle it.)
 */
function isHeaderValue(text: string): boolean {
  const length = text.length;
  if (length > 0 && (isOws(text.charCodeAt(0)) || isOws(text.charCodeAt(length - 1)))) return false;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (!(c === 0x09 || (c >= 0x20 && c <= 0x7e))) return false;
  }
  return true;
}
