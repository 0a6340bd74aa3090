/**
 * The W3C Trace Context `traceparent` header (Level 2): a hand-written parser that checks the
 * length first, reads each char code once and allocates only the two id strings and the result,
 * and a formatter that always writes version `00`.
 *
 * Section numbers in comments are those of the Recommendation's text
 * (https://www.w3.org/TR/trace-context-2/#traceparent-header).
 */
import { isSpanContextValid, type SpanContext, type TraceState } from '@opentelemetry/api';
import { byteToHex, isAllZeros, isHex } from './hex.js';

/**
 * Header name of the trace parent: matched without regard to case when read, written in lowercase.
 * @see https://www.w3.org/TR/trace-context-2/#header-name
 *
 * @example
 * ```ts
 * headers[TRACEPARENT_HEADER] = formatTraceparent(span.spanContext());
 * ```
 */
export const TRACEPARENT_HEADER = 'traceparent';

/**
 * The version this implementation writes, and the highest it knows.
 * @see https://www.w3.org/TR/trace-context-2/#version
 *
 * @example
 * ```ts
 * header.startsWith(`${TRACEPARENT_VERSION}-`);
 * ```
 */
export const TRACEPARENT_VERSION = '00';

/**
 * Length of a version `00` header (`2 + 1 + 32 + 1 + 16 + 1 + 2`); a higher version is at least
 * this long.
 * @see https://www.w3.org/TR/trace-context-2/#versioning-of-traceparent
 *
 * @example
 * ```ts
 * formatTraceparent(spanContext).length === TRACEPARENT_LENGTH; // true
 * ```
 */
export const TRACEPARENT_LENGTH = 55;

/**
 * Longest header read, blanks and the fields of a higher version included. The spec sets no limit
 * but lets a parser "disallow prohibitively large headers"; rejecting them before reading a single
 * character keeps a hostile megabyte from costing anything.
 * @see https://www.w3.org/TR/trace-context-2/#versioning-of-traceparent
 *
 * @example
 * ```ts
 * parseTraceparent(`00-${'a'.repeat(MAX_TRACEPARENT_LENGTH)}`); // undefined, in constant time
 * ```
 */
export const MAX_TRACEPARENT_LENGTH = 512;

/**
 * Hex digits of a `trace-id` (16 bytes).
 * @see https://www.w3.org/TR/trace-context-2/#trace-id
 *
 * @example
 * ```ts
 * spanContext.traceId.length === TRACE_ID_LENGTH; // true
 * ```
 */
export const TRACE_ID_LENGTH = 32;

/**
 * Hex digits of a `parent-id` (8 bytes).
 * @see https://www.w3.org/TR/trace-context-2/#parent-id
 *
 * @example
 * ```ts
 * spanContext.spanId.length === PARENT_ID_LENGTH; // true
 * ```
 */
export const PARENT_ID_LENGTH = 16;

/**
 * The `sampled` trace flag.
 * @see https://www.w3.org/TR/trace-context-2/#sampled-flag
 *
 * @example
 * ```ts
 * const sampled = (spanContext.traceFlags & TRACE_FLAG_SAMPLED) === TRACE_FLAG_SAMPLED;
 * ```
 */
export const TRACE_FLAG_SAMPLED = 0x01;

/**
 * The `random-trace-id` trace flag, new in Level 2: at least the right-most 7 bytes of the
 * trace-id were chosen at random.
 * @see https://www.w3.org/TR/trace-context-2/#random-trace-id-flag
 *
 * @example
 * ```ts
 * const random = (spanContext.traceFlags & TRACE_FLAG_RANDOM) !== 0;
 * ```
 */
export const TRACE_FLAG_RANDOM = 0x02;

/**
 * The flags Level 2 defines. Every other bit is reserved ("Vendors MUST set those to zero"), so the
 * parser keeps only these.
 * @see https://www.w3.org/TR/trace-context-2/#other-flags
 *
 * @example
 * ```ts
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff')?.traceFlags === KNOWN_TRACE_FLAGS; // true
 * ```
 */
export const KNOWN_TRACE_FLAGS = TRACE_FLAG_SAMPLED | TRACE_FLAG_RANDOM;

const DASH = 0x2d;
const COMMA = 0x2c;
const SPACE = 0x20;
const TAB = 0x09;
// Offsets of the fields, counted from the first character of the value.
const TRACE_ID_START = 3;
const TRACE_ID_END = TRACE_ID_START + TRACE_ID_LENGTH; // 35, the dash after trace-id
const PARENT_ID_START = TRACE_ID_END + 1;
const PARENT_ID_END = PARENT_ID_START + PARENT_ID_LENGTH; // 52, the dash after parent-id
const FLAGS_START = PARENT_ID_END + 1;

// 1 for `0-9a-f`. A table lookup is cheaper than range tests in the hot loop; char codes past the
// table read `undefined`, which `| 0` turns into 0 (invalid).
const LOWER_HEX = new Uint8Array(128);
for (let code = 48; code <= 57; code++) LOWER_HEX[code] = 1;
for (let code = 97; code <= 102; code++) LOWER_HEX[code] = 1;

/**
 * Parses a `traceparent` header into a remote `SpanContext` (without `traceState`), or returns
 * `undefined` when the header is missing or invalid. Never throws; reads at most
 * {@link MAX_TRACEPARENT_LENGTH} characters.
 *
 * - version `00` has exactly four fields (55 characters); version `ff` is invalid; a higher
 *   version is read by its first four fields when they are followed by the end or a `-`;
 * - only lowercase hex is accepted; an all-zero trace-id or parent-id is invalid;
 * - trace-flags keep the `sampled` and `random-trace-id` bits only;
 * - two headers (an array of two or more values, or two values folded with a comma) are invalid;
 * - spaces and tabs around the value are ignored;
 * - a header longer than {@link MAX_TRACEPARENT_LENGTH} is invalid.
 *
 * @example
 * ```ts
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
 * // { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true }
 * ```
 */
export function parseTraceparent(header: string | readonly string[] | undefined): SpanContext | undefined {
  if (typeof header === 'string') return parseValue(header);
  // A traceparent is not a list: two field lines are two parents, and the trace must restart
  // (W3C test suite, test_traceparent_duplicated).
  if (Array.isArray(header) && header.length === 1 && typeof header[0] === 'string') return parseValue(header[0]);
  return undefined;
}

function parseValue(text: string): SpanContext | undefined {
  let start = 0;
  let end = text.length;
  if (end > MAX_TRACEPARENT_LENGTH) return undefined;
  // RFC 7230 §3.2.4: the optional whitespace (SP / HTAB) around a field value is not part of it.
  // HTTP servers strip it; other carriers (Kafka, AMQP, hand-built objects) may not, and the W3C
  // test suite sends " 00-…", "00-…\t" and "\t 00-… \t" and expects them accepted
  // (test_traceparent_ows_handling). So any run of spaces and tabs on either side is ignored,
  // not only the one space OpenTelemetry JS tolerates.
  if (end !== TRACEPARENT_LENGTH) {
    while (start < end && isBlank(text.charCodeAt(start))) start++;
    while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
  }
  const length = end - start;
  if (length < TRACEPARENT_LENGTH) return undefined;

  // §3.2.2.1 version: 2 lowercase hex digits, `ff` forbidden.
  const version = lowerHexByte(text, start);
  if (version < 0 || version === 0xff) return undefined;
  if (version === 0) {
    // §3.2.2.2 version-format: version 00 has exactly four fields.
    if (length !== TRACEPARENT_LENGTH) return undefined;
  } else if (length > TRACEPARENT_LENGTH) {
    // §3.2.4: a higher version may append fields after a dash; nothing else may follow the flags.
    if (text.charCodeAt(start + TRACEPARENT_LENGTH) !== DASH) return undefined;
    // A comma means two header lines folded into one (RFC 7230 §3.2.2), not a future field.
    for (let i = start + TRACEPARENT_LENGTH + 1; i < end; i++) if (text.charCodeAt(i) === COMMA) return undefined;
  }
  if (
    text.charCodeAt(start + 2) !== DASH ||
    text.charCodeAt(start + TRACE_ID_END) !== DASH ||
    text.charCodeAt(start + PARENT_ID_END) !== DASH
  ) {
    return undefined;
  }
  // §3.2.2.5 trace-flags: 2 lowercase hex digits.
  const flags = lowerHexByte(text, start + FLAGS_START);
  if (flags < 0) return undefined;
  // §3.2.2.3 trace-id and §3.2.2.4 parent-id: lowercase hex, not all zeros.
  if (!isLowerHexRun(text, start + TRACE_ID_START, start + TRACE_ID_END)) return undefined;
  if (!isLowerHexRun(text, start + PARENT_ID_START, start + PARENT_ID_END)) return undefined;
  // On the header, not the substrings: a real id stops the loop at its first digit or so, where
  // comparing a substring (a sliced string) with the all-zero id goes through V8's slow path.
  if (isAllZeros(text, start + TRACE_ID_START, start + TRACE_ID_END) || isAllZeros(text, start + PARENT_ID_START, start + PARENT_ID_END)) {
    return undefined;
  }
  const traceId = text.substring(start + TRACE_ID_START, start + TRACE_ID_END);
  const spanId = text.substring(start + PARENT_ID_START, start + PARENT_ID_END);
  // §3.2.2.5.3 / §3.2.4: reserved and unknown flags are not passed on.
  const traceFlags = flags & KNOWN_TRACE_FLAGS;
  // Kept when it is exactly what formatTraceparent would write for this span context.
  const canonical = version === 0 && length === text.length && traceFlags === flags;
  return new ParsedSpanContext(traceId, spanId, traceFlags, canonical ? text : undefined);
}

/**
 * Writes a version `00` `traceparent` value. The ids are written as given: pass valid lowercase
 * ids (`TraceContextPropagator` checks and lowercases them first). Of the flags, only those the
 * spec defines (sampled, random) are written, as two lowercase hex digits: the others are reserved,
 * and "Vendors MUST set those to zero" (§3.2.2.5.3).
 *
 * @example
 * ```ts
 * formatTraceparent({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 });
 * // '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
 * ```
 */
export function formatTraceparent(spanContext: { readonly traceId: string; readonly spanId: string; readonly traceFlags: number }): string {
  return '00-' + spanContext.traceId + '-' + spanContext.spanId + '-' + byteToHex(spanContext.traceFlags & KNOWN_TRACE_FLAGS);
}

/**
 * The span context `parseTraceparent` returns: to its readers a plain remote `SpanContext`; it
 * also remembers the ids and flags it was parsed with (known valid) and the header that encodes
 * them, so forwarding it unchanged (a service without an SDK passing the inbound trace on) writes
 * that header again without checking or encoding anything. Not exported from the package.
 *
 * @example
 * ```ts
 * const parsed = parseTraceparent(header);
 * if (parsed instanceof ParsedSpanContext) parsed.unchangedTraceparent(); // header, or undefined once changed
 * ```
 */
export class ParsedSpanContext implements SpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote: boolean;
  // Declared only: like OpenTelemetry's span contexts, the property exists once a state is set.
  declare traceState?: TraceState;
  readonly #traceId: string;
  readonly #spanId: string;
  readonly #traceFlags: number;
  #traceparent: string | undefined;

  constructor(traceId: string, spanId: string, traceFlags: number, traceparent: string | undefined) {
    this.traceId = this.#traceId = traceId;
    this.spanId = this.#spanId = spanId;
    this.traceFlags = this.#traceFlags = traceFlags;
    this.isRemote = true;
    this.#traceparent = traceparent;
  }

  /** True while the ids are the parsed ones (known valid): nobody assigned others since. */
  hasParsedIds(): boolean {
    return this.traceId === this.#traceId && this.spanId === this.#spanId;
  }

  /** The header of this span context while its ids and flags are the parsed ones, else `undefined`. */
  unchangedTraceparent(): string | undefined {
    if (!this.hasParsedIds() || this.traceFlags !== this.#traceFlags) return undefined;
    return (this.#traceparent ??= formatTraceparent(this));
  }
}

/**
 * The API's `isSpanContextValid`, without checking the ids again of a span context
 * {@link parseTraceparent} made (it checked them) while they are the ids it parsed. The API's
 * check walks all 48 hex digits on every call; the composite propagator makes it on every
 * extraction.
 *
 * @example
 * ```ts
 * hasValidIds(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')!); // true, no second check
 * ```
 */
export function hasValidIds(spanContext: SpanContext): boolean {
  return (spanContext instanceof ParsedSpanContext && spanContext.hasParsedIds()) || isSpanContextValid(spanContext);
}

/**
 * The id in lowercase when it is hex (either case) of `length` digits and not all zeros, else
 * `undefined`: the API's `isValidTraceId` / `isValidSpanId`, plus the lowercasing §3.2.2 asks for
 * before an id an SDK keeps in uppercase can be written.
 *
 * @example
 * ```ts
 * normalizeId('4BF92F3577B34DA6A3CE929D0E0E4736', TRACE_ID_LENGTH); // '4bf92f3577b34da6a3ce929d0e0e4736'
 * ```
 */
export function normalizeId(id: unknown, length: number): string | undefined {
  if (typeof id !== 'string' || id.length !== length) return undefined;
  if (isLowerHexRun(id, 0, length)) return id.charCodeAt(0) === 48 && isAllZeros(id) ? undefined : id;
  if (!isHex(id, 0, length)) return undefined;
  return id.toLowerCase(); // not all zeros: zeros have no case, so some digit here is A-F
}

function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
}

/** Two lowercase hex digits at `at` as a byte, or -1 (uppercase is not HEXDIGLC). */
function lowerHexByte(text: string, at: number): number {
  const high = lowerHexDigit(text.charCodeAt(at));
  const low = lowerHexDigit(text.charCodeAt(at + 1));
  return high < 0 || low < 0 ? -1 : (high << 4) | low;
}

function lowerHexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** True when `text[from..to)` is lowercase hex (unrolled by four: this is the hot loop). */
function isLowerHexRun(text: string, from: number, to: number): boolean {
  let count = 0;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    count +=
      (LOWER_HEX[text.charCodeAt(i)]! | 0) +
      (LOWER_HEX[text.charCodeAt(i + 1)]! | 0) +
      (LOWER_HEX[text.charCodeAt(i + 2)]! | 0) +
      (LOWER_HEX[text.charCodeAt(i + 3)]! | 0);
  }
  for (; i < to; i++) count += LOWER_HEX[text.charCodeAt(i)]! | 0;
  return count === to - from;
}
