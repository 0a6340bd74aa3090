/**
 * Trace and span ids as log fields: validation of what the active span context holds, and the
 * encodings the presets write (lowercase hex, two-digit flags, Datadog's decimal low 64 bits).
 * Hand-written char-code loops, no regex: these run once per distinct span context.
 */

/**
 * Hex digits of a trace id.
 * @see https://www.w3.org/TR/trace-context/#trace-id
 */
export const TRACE_ID_HEX_LENGTH = 32;

/**
 * Hex digits of a span (parent) id.
 * @see https://www.w3.org/TR/trace-context/#parent-id
 */
export const SPAN_ID_HEX_LENGTH = 16;

/** A trace id of all zeros, written for `whenNoContext: 'zeros'`. */
export const ZERO_TRACE_ID = '0'.repeat(TRACE_ID_HEX_LENGTH);

/** A span id of all zeros, written for `whenNoContext: 'zeros'`. */
export const ZERO_SPAN_ID = '0'.repeat(SPAN_ID_HEX_LENGTH);

/**
 * Returns `id` as lowercase hex when it is `length` hex digits and not all zeros, else
 * `undefined`. Uppercase input is lowered, because the OpenTelemetry log spec asks for lowercase.
 *
 * @see https://opentelemetry.io/docs/specs/otel/compatibility/logging_trace_context/
 */
export function normalizeHexId(id: unknown, length: number): string | undefined {
  if (typeof id !== 'string' || id.length !== length) return undefined;
  let zeros = true;
  let upper = false;
  for (let i = 0; i < length; i++) {
    const c = id.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (c !== 48) zeros = false;
    } else if (c >= 97 && c <= 102) {
      zeros = false;
    } else if (c >= 65 && c <= 70) {
      zeros = false;
      upper = true;
    } else {
      return undefined;
    }
  }
  if (zeros) return undefined;
  return upper ? id.toLowerCase() : id;
}

const BYTE_HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Trace flags as two lowercase hex digits, the W3C `trace-flags` form: `1` gives `'01'`, `0x10`
 * gives `'10'`, never `'010'` (the `` `0${n.toString(16)}` `` bug).
 *
 * @see https://www.w3.org/TR/trace-context/#trace-flags
 */
export function traceFlagsHex(flags: number): string {
  return BYTE_HEX[flags & 0xff]!;
}

/**
 * The unsigned decimal value of the last 16 hex digits of `hex` (its low 64 bits), the form
 * Datadog uses for `dd.trace_id` and `dd.span_id`. `hex` must already be valid hex.
 *
 * @see https://docs.datadoghq.com/tracing/other_telemetry/connect_logs_and_traces/opentelemetry/
 */
export function low64Decimal(hex: string): string {
  return BigInt(`0x${hex.length > 16 ? hex.slice(hex.length - 16) : hex}`).toString(10);
}
