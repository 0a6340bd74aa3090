/**
 * AWS X-Ray propagation: the `X-Amzn-Trace-Id` header.
 *
 * Spec: https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader
 *
 * `X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`
 *
 * - Fields are `key=value` separated by `;`, in any order, with optional whitespace around them.
 *   Keys are matched without regard to case; the first occurrence of a key wins; other keys
 *   (`Lineage`, `Self`, custom data) are ignored.
 * - `Root` is `1-{8 hex digits: epoch seconds}-{24 hex digits}`; the 128-bit trace id is the two hex
 *   parts joined. `Parent` is the 16-hex-digit parent segment id (the span id). Either letter case
 *   is read; ids are normalised to lower case.
 * - `Sampled=1` is sampled; `0`, `?` (the caller asks the receiver to decide) and absence are not.
 *   `?` and absence are forwarded as they came while the caller's span context is (no SDK).
 * - A header with a valid `Root` but no `Parent` (what a load balancer adds at the edge) carries no
 *   parent span, so it yields no span context; it is not counted as malformed.
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
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import { isAllZeros, isHex } from '../wire/hex.js';
import { hasValidIds } from '../wire/traceparent.js';
import { getterFor, isOws, isTracingSuppressed, setterFor } from './carrier-access.js';
import { withRemoteParent } from './remote-parent.js';

/** The header name, lower case as HTTP/2 requires (HTTP/1 reads it in any case). */
const XRAY_HEADER = 'x-amzn-trace-id';

/** `Root=1-{8 hex}-{24 hex}`: version, epoch-seconds part and unique part. */
const ROOT_VERSION = '1';
const ROOT_TIME_LENGTH = 8;
const ROOT_UNIQUE_LENGTH = 24;
const ROOT_LENGTH = 2 + ROOT_TIME_LENGTH + 1 + ROOT_UNIQUE_LENGTH;
/** `Parent` is a 64-bit segment id. */
const PARENT_LENGTH = 16;


/**
 * A sampling decision the caller left open (`Sampled=?`, or no field), kept with the span
 * context it came with: read as not sampled, but forwarded as it came (not as `Sampled=0`, which
 * would turn "the receiver decides" into a refusal downstream).
 */
interface UndecidedSampling {
  readonly traceId: string;
  readonly spanId: string;
  readonly field: '?' | undefined;
}

// createContextKey is Symbol.for-based: two copies of ctxprop in one process share the key.
const UNDECIDED_KEY = createContextKey('ctxprop.xray.undecided-sampling');

/** What an `X-Amzn-Trace-Id` value holds once parsed. */
export interface XRayTraceHeader {
  readonly traceId: string;
  /** Absent when the header has no `Parent` field (a new trace id assigned at the edge). */
  readonly spanId: string | undefined;
  readonly sampled: boolean;
  /**
   * The `Sampled` field: `'1'`, `'0'`, `'?'` (the caller asks the receiver to decide), or
   * undefined when the header has none (no decision) or another value.
   */
  readonly samplingField: '1' | '0' | '?' | undefined;
}

/**
 * Parses an `X-Amzn-Trace-Id` value. Returns `undefined` when `Root` is missing or invalid, or
 * `Parent` is present but invalid.
 *
 * @example
 * ```ts
 * parseXRayHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1');
 * // { traceId: '5759e988bd862e3fe1be46a994272793', spanId: '53995c3f42cd8ad8', sampled: true, samplingField: '1' }
 * ```
 */
export function parseXRayHeader(value: string): XRayTraceHeader | undefined {
  let root: string | undefined;
  let parent: string | undefined;
  let sampled: string | undefined;
  let position = 0;
  const length = value.length;
  while (position <= length) {
    let end = value.indexOf(';', position);
    if (end < 0) end = length;
    let equals = position;
    while (equals < end && value.charCodeAt(equals) !== 0x3d) equals++;
    if (equals > position && equals < end) {
      const key = trimmed(value, position, equals);
      const fieldValue = trimmed(value, equals + 1, end);
      if (key.length === 4 && root === undefined && key.toLowerCase() === 'root') root = fieldValue;
      else if (key.length === 6 && parent === undefined && key.toLowerCase() === 'parent') parent = fieldValue;
      else if (key.length === 7 && sampled === undefined && key.toLowerCase() === 'sampled') sampled = fieldValue;
    }
    position = end + 1;
  }
  if (root === undefined || !isValidRoot(root)) return undefined;
  const traceId = (root.slice(2, 2 + ROOT_TIME_LENGTH) + root.slice(3 + ROOT_TIME_LENGTH)).toLowerCase();
  if (isAllZeros(traceId)) return undefined;
  let spanId: string | undefined;
  if (parent !== undefined) {
    if (parent.length !== PARENT_LENGTH || !isHex(parent) || isAllZeros(parent)) return undefined;
    spanId = parent.toLowerCase();
  }
  const samplingField = sampled === '1' || sampled === '0' || sampled === '?' ? sampled : undefined;
  return { traceId, spanId, sampled: sampled === '1', samplingField };
}

function isValidRoot(root: string): boolean {
  return (
    root.length === ROOT_LENGTH &&
    root.startsWith(`${ROOT_VERSION}-`) &&
    root.charCodeAt(2 + ROOT_TIME_LENGTH) === 0x2d &&
    isHex(root, 2, 2 + ROOT_TIME_LENGTH) &&
    isHex(root, 3 + ROOT_TIME_LENGTH, ROOT_LENGTH)
  );
}

function trimmed(text: string, start: number, end: number): string {
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}


/**
 * Propagates trace context in the AWS X-Ray `X-Amzn-Trace-Id` header (`OTEL_PROPAGATORS=xray`).
 *
 * @example
 * ```ts
 * const propagator = new XRayPropagator();
 * propagator.inject(context.active(), outgoingHeaders, headerSetter);
 * // x-amzn-trace-id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1
 * ```
 */
export class XRayPropagator implements TextMapPropagator {
  /**
   * Writes `Root=1-{8}-{24};Parent={span id};Sampled={0|1}`; for the caller's own span context
   * extracted with `Sampled=?` or none, the field as it came.
   */
  inject(context: Context, carrier: unknown, setter?: TextMapSetter): void {
    try {
      const spanContext = trace.getSpanContext(context);
      if (spanContext === undefined || !hasValidIds(spanContext) || isTracingSuppressed(context)) return;
      const set = setterFor(setter);
      const traceId = spanContext.traceId.toLowerCase();
      const spanId = spanContext.spanId.toLowerCase();
      const root = `${ROOT_VERSION}-${traceId.slice(0, ROOT_TIME_LENGTH)}-${traceId.slice(ROOT_TIME_LENGTH)}`;
      // The caller's undecided sampling goes on as it came while its span context is forwarded
      // as it is (no SDK); a span of this service writes its own decision.
      const undecided = context.getValue(UNDECIDED_KEY) as UndecidedSampling | undefined;
      if (undecided !== undefined && undecided.traceId === traceId && undecided.spanId === spanId && spanContext.isRemote === true) {
        set.set(carrier, XRAY_HEADER, `Root=${root};Parent=${spanId}${undecided.field === '?' ? ';Sampled=?' : ''}`);
        return;
      }
      const sampled = (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '1' : '0';
      set.set(carrier, XRAY_HEADER, `Root=${root};Parent=${spanId};Sampled=${sampled}`);
    } catch {
      // A throwing custom setter must not fail the request.
      countDiagnostic('internal.error');
    }
  }

  /**
   * Reads `X-Amzn-Trace-Id`. An invalid header is counted as `extract.trace.malformed`; nothing is
   * thrown.
   */
  extract(context: Context, carrier: unknown, getter?: TextMapGetter): Context {
    try {
      const get = getterFor(getter);
      const header = firstValue(get.get(carrier, XRAY_HEADER));
      if (header === undefined) return context;
      const parsed = parseXRayHeader(header);
      if (parsed === undefined) {
        countDiagnostic('extract.trace.malformed');
        return context;
      }
      if (parsed.spanId === undefined) return context;
      const extracted = withRemoteParent(context, parsed.traceId, parsed.spanId, parsed.sampled);
      if (parsed.samplingField === '1' || parsed.samplingField === '0') return extracted.deleteValue(UNDECIDED_KEY);
      const undecided: UndecidedSampling = { traceId: parsed.traceId, spanId: parsed.spanId, field: parsed.samplingField === '?' ? '?' : undefined };
      return extracted.setValue(UNDECIDED_KEY, undecided);
    } catch {
      countDiagnostic('internal.error');
      return context;
    }
  }

  /** `['x-amzn-trace-id']`. */
  fields(): string[] {
    return [XRAY_HEADER];
  }
}

/**
 * The first value of a repeated header, trimmed: an array's first item, or the part before the
 * first comma of a folded value (X-Ray values hold no commas). Empty reads as absent.
 */
function firstValue(value: unknown): string | undefined {
  const raw: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string') return undefined;
  const comma = raw.indexOf(',');
  const text = trimmed(raw, 0, comma < 0 ? raw.length : comma);
  return text.length === 0 ? undefined : text;
}
