/**
 * B3 (Zipkin) propagation: the single `b3` header and the multiple `X-B3-*` headers.
 *
 * Spec: https://github.com/openzipkin/b3-propagation (README, "Http Encodings").
 *
 * Decisions taken from that README:
 * - Extraction reads both encodings; the single `b3` header takes precedence, and the multiple
 *   headers are tried when it is absent, invalid, or carries only a sampling decision.
 * - "When extracting state headers, the first value wins": of a repeated header (an array, or a
 *   value folded with commas) only the first value is read.
 * - The README specifies lower-hex ids. Upper-case hex is accepted too and normalised to lower case,
 *   so that the ids can be forwarded as a valid W3C `traceparent`; ids are still opaque (no other
 *   rewriting), and 64-bit trace ids are left-padded to 128 bits.
 * - Sampling: `1` accept, `0` deny, `d` debug (an emphasised accept), absent = defer. Debug and
 *   defer cannot be expressed by W3C trace flags, so they are remembered in the context and written
 *   back by `inject` (see {@link B3Propagator.inject}).
 * - A sampling decision sent without ids (`b3: 0`, `b3: 1`, `b3: d`, or `X-B3-Sampled` /
 *   `X-B3-Flags: 1` without `X-B3-TraceId` and `X-B3-SpanId`) is valid ("Sampling state can also be
 *   sent on its own"). It yields no span context, but is kept in the context
 *   (`b3-sampling-decision.ts`) and sent on by `inject` when there is no span context to write:
 *   "If reject ("don't trace") isn't propagated, the system might receive only parts of the
 *   operation" (FAQ, "Why propagate a reject sampling decision?").
 *   Valid ids in the same carrier win over it, with their own sampling state.
 * - `X-B3-Sampled: true` / `false` are accepted ("a lenient implementation may accept them").
 * - The ParentSpanId is validated when present but not kept: the OpenTelemetry span context has no
 *   field for it, and it is never injected.
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
import { InvalidOptionError, rejectUnknownOptions } from '../errors.js';
import { isAllZeros, isHex, padTraceId } from '../wire/hex.js';
import { hasValidIds } from '../wire/traceparent.js';
import {
  deleteB3SamplingDecision,
  getB3SamplingDecision,
  setB3SamplingDecision,
  type B3SamplingDecision,
} from './b3-sampling-decision.js';
import { firstHeaderValue, getterFor, isTracingSuppressed, setterFor } from './carrier-access.js';
import { withRemoteParent } from './remote-parent.js';

/** The single-header name. https://github.com/openzipkin/b3-propagation#single-header */
const B3_SINGLE_HEADER = 'b3';
/** Multiple-header names, lower case as the README advises for case-sensitive transports. */
const B3_TRACE_ID_HEADER = 'x-b3-traceid';
const B3_SPAN_ID_HEADER = 'x-b3-spanid';
const B3_SAMPLED_HEADER = 'x-b3-sampled';
const B3_FLAGS_HEADER = 'x-b3-flags';
/** Read (validated) but never written: listed in `fields()` so that a caller's stale one is not sent beside other ids. */
const B3_PARENT_SPAN_ID_HEADER = 'x-b3-parentspanid';

/** A 64-bit trace id in hex. https://github.com/openzipkin/b3-propagation#traceid */
const TRACE_ID_64_LENGTH = 16;
/** A 128-bit trace id in hex. */
const TRACE_ID_128_LENGTH = 32;
/** Span and parent span ids are 64-bit. https://github.com/openzipkin/b3-propagation#spanid */
const SPAN_ID_LENGTH = 16;

const HYPHEN = 0x2d;

/**
 * How {@link B3Propagator} writes headers.
 *
 * @example
 * ```ts
 * const injectEncoding: B3InjectEncoding = process.env.ZIPKIN_LEGACY ? 'multi' : 'single';
 * const propagator = new B3Propagator({ injectEncoding });
 * ```
 */
export type B3InjectEncoding = 'single' | 'multi';

/**
 * Options of {@link B3Propagator}.
 *
 * @example
 * ```ts
 * const options: B3PropagatorOptions = { injectEncoding: 'multi' };
 * propagation.setGlobalPropagator(new B3Propagator(options)); // writes X-B3-TraceId, X-B3-SpanId, ...
 * ```
 */
export interface B3PropagatorOptions {
  /**
   * Which encoding `inject` writes: the single `b3` header, or the `X-B3-*` headers (for
   * older Zipkin instrumentation). Extraction always reads both.
   * @default 'single'
   * @example new B3Propagator({ injectEncoding: 'multi' })
   */
  injectEncoding?: B3InjectEncoding;
}

/** The four B3 sampling states. https://github.com/openzipkin/b3-propagation#sampling-state */
export type B3SamplingState = 'accept' | 'deny' | 'defer' | 'debug';

/** What a B3 header holds once parsed: normalised ids and the sampling state. */
export interface B3Context {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampling: B3SamplingState;
}

/**
 * Remembers a debug or defer decision that trace flags cannot hold. Debug applies to the whole
 * trace; defer only while the very span context that was extracted is injected again (no SDK
 * decided in between), since an SDK's own decision replaces it.
 */
interface SamplingMarker {
  readonly traceId: string;
  readonly spanId: string;
  readonly state: 'debug' | 'defer';
}

const SAMPLING_KEY = createContextKey('ctxprop.b3.sampling');

/**
 * Parses a single `b3` header value: `{TraceId}-{SpanId}[-{SamplingState}][-{ParentSpanId}]`, or
 * a bare sampling state. Returns the context, the decision of a bare sampling state (`'deny'` for
 * `0`), or `undefined` when invalid.
 * A ParentSpanId without a sampling state is accepted (a not-yet-sampled child span).
 *
 * @example
 * ```ts
 * parseB3Single('80f198ee56343ba864fe8b2a57d3eff7-05e3ac9a4f6e3b90-1-e457b5a2e4d86bd1');
 * // { traceId: '80f198ee56343ba864fe8b2a57d3eff7', spanId: '05e3ac9a4f6e3b90', sampling: 'accept' }
 * ```
 */
export function parseB3Single(value: string): B3Context | B3SamplingDecision | undefined {
  const length = value.length;
  if (length === 1) return singleSampling(value.charCodeAt(0)) as B3SamplingDecision | undefined;
  let traceIdLength: number;
  if (value.charCodeAt(TRACE_ID_64_LENGTH) === HYPHEN) traceIdLength = TRACE_ID_64_LENGTH;
  else if (value.charCodeAt(TRACE_ID_128_LENGTH) === HYPHEN) traceIdLength = TRACE_ID_128_LENGTH;
  else return undefined;
  const spanStart = traceIdLength + 1;
  const spanEnd = spanStart + SPAN_ID_LENGTH;
  if (length < spanEnd || !isHex(value, 0, traceIdLength) || !isHex(value, spanStart, spanEnd)) return undefined;
  let sampling: B3SamplingState = 'defer';
  if (length > spanEnd) {
    if (value.charCodeAt(spanEnd) !== HYPHEN) return undefined;
    const rest = spanEnd + 1;
    const remaining = length - rest;
    let parentStart = -1;
    if (remaining === 1 || (remaining === SPAN_ID_LENGTH + 2 && value.charCodeAt(rest + 1) === HYPHEN)) {
      const state = singleSampling(value.charCodeAt(rest));
      if (state === undefined) return undefined;
      sampling = state;
      if (remaining !== 1) parentStart = rest + 2;
    } else if (remaining === SPAN_ID_LENGTH) {
      parentStart = rest;
    } else {
      return undefined;
    }
    if (parentStart >= 0 && !isHex(value, parentStart, parentStart + SPAN_ID_LENGTH)) return undefined;
  }
  return makeContext(value.slice(0, traceIdLength), value.slice(spanStart, spanEnd), sampling);
}

/**
 * Parses the multiple-header encoding. Returns `undefined` when the ids are missing or invalid.
 *
 * @example
 * ```ts
 * parseB3Multi('463ac35c9f6413ad48485a3953bb6124', 'a2fb4a1d1a96d312', '1', undefined);
 * // { traceId: '463ac35c9f6413ad48485a3953bb6124', spanId: 'a2fb4a1d1a96d312', sampling: 'accept' }
 * ```
 */
export function parseB3Multi(
  traceId: string | undefined,
  spanId: string | undefined,
  sampled: string | undefined,
  flags: string | undefined,
): B3Context | undefined {
  if (traceId === undefined || spanId === undefined) return undefined;
  if (traceId.length !== TRACE_ID_64_LENGTH && traceId.length !== TRACE_ID_128_LENGTH) return undefined;
  if (spanId.length !== SPAN_ID_LENGTH || !isHex(traceId) || !isHex(spanId)) return undefined;
  // "Debug is encoded as X-B3-Flags: 1 ... Absent or any other value can be ignored."
  let sampling: B3SamplingState = 'defer';
  if (flags === '1') sampling = 'debug';
  else if (sampled !== undefined) sampling = multiSampling(sampled);
  return makeContext(traceId, spanId, sampling);
}

function makeContext(rawTraceId: string, rawSpanId: string, sampling: B3SamplingState): B3Context | undefined {
  if (isAllZeros(rawTraceId) || isAllZeros(rawSpanId)) return undefined;
  return { traceId: padTraceId(rawTraceId.toLowerCase()), spanId: rawSpanId.toLowerCase(), sampling };
}

/** Never `'defer'`: defer is the absence of the sampling field. */
function singleSampling(c: number): B3SamplingState | undefined {
  if (c === 0x31) return 'accept'; // 1
  if (c === 0x30) return 'deny'; // 0
  if (c === 0x64) return 'debug'; // d
  return undefined;
}

/**
 * The decision of `X-B3-Sampled` / `X-B3-Flags` sent without ids; `null` for an unknown
 * `X-B3-Sampled` value, `undefined` when neither header says anything.
 */
function multiSamplingOnly(sampled: string | undefined, flags: string | undefined): B3SamplingDecision | null | undefined {
  if (flags === '1') return 'debug';
  if (sampled === undefined) return undefined;
  const state = multiSampling(sampled);
  return state === 'defer' ? null : state;
}

function multiSampling(value: string): B3SamplingState {
  if (value === '1') return 'accept';
  if (value === '0') return 'deny';
  const lower = value.length === 4 || value.length === 5 ? value.toLowerCase() : '';
  if (lower === 'true') return 'accept';
  if (lower === 'false') return 'deny';
  // An unknown value neither accepts nor denies: the receiver decides.
  return 'defer';
}

/**
 * Propagates trace context in the B3 format of Zipkin. Extracts from the single `b3` header and
 * from `X-B3-*` headers in any letter case; injects one encoding. This is the propagator behind the
 * `OTEL_PROPAGATORS` names `b3` (single) and `b3multi` (multi).
 *
 * @example
 * ```ts
 * import { propagation } from '@opentelemetry/api';
 * propagation.setGlobalPropagator(new B3Propagator({ injectEncoding: 'multi' }));
 * ```
 */
export class B3Propagator implements TextMapPropagator {
  /** The encoding `inject` writes. */
  readonly injectEncoding: B3InjectEncoding;
  private readonly injectFields: string[];

  /** Throws `InvalidOptionError` for an unknown `injectEncoding`. */
  constructor(options: B3PropagatorOptions = {}) {
    rejectUnknownOptions(options, ['injectEncoding'], '', 'B3Propagator');
    const encoding = options.injectEncoding ?? 'single';
    if (encoding !== 'single' && encoding !== 'multi') {
      throw new InvalidOptionError('injectEncoding', '"single" or "multi"', encoding);
    }
    this.injectEncoding = encoding;
    this.injectFields =
      encoding === 'single' ? [B3_SINGLE_HEADER] : [B3_TRACE_ID_HEADER, B3_SPAN_ID_HEADER, B3_SAMPLED_HEADER, B3_FLAGS_HEADER, B3_PARENT_SPAN_ID_HEADER];
  }

  /**
   * Writes the active span context. A debug trace is written as `d` (single) or `X-B3-Flags: 1`
   * (multi); a deferred decision extracted from upstream is written back as deferred (no sampling
   * field) while the same span context is being forwarded.
   *
   * A sampling decision that came without ids (`b3: 0`) is written on its own (`b3: 0`, or
   * `X-B3-Sampled: 0`; debug as `b3: d` or `X-B3-Flags: 1`) when there is no valid span context.
   * When there is one (a span an SDK started, a new root), its sampled flag is written: that is the
   * decision made for that trace, by the SDK's sampler, and ctxprop does not overrule it; the
   * caller's debug only turns a sampled flag into `d`.
   */
  inject(context: Context, carrier: unknown, setter?: TextMapSetter): void {
    try {
      if (isTracingSuppressed(context)) return;
      const spanContext = trace.getSpanContext(context);
      const decision = getB3SamplingDecision(context);
      if (spanContext === undefined || !hasValidIds(spanContext)) {
        if (decision !== undefined) this.injectSamplingOnly(decision, carrier, setterFor(setter));
        return;
      }
      const set = setterFor(setter);
      const traceId = spanContext.traceId.toLowerCase();
      const spanId = spanContext.spanId.toLowerCase();
      let sampling: B3SamplingState = (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? 'accept' : 'deny';
      const marker = context.getValue(SAMPLING_KEY) as SamplingMarker | undefined;
      if (marker !== undefined && marker.traceId === traceId) {
        if (marker.state === 'debug') sampling = 'debug';
        else if (sampling === 'deny' && marker.spanId === spanId) sampling = 'defer';
      }
      // Debug is an emphasised accept: it may emphasise the sampler's accept, never replace a deny.
      if (sampling === 'accept' && decision === 'debug') sampling = 'debug';
      if (this.injectEncoding === 'single') {
        const suffix = sampling === 'accept' ? '-1' : sampling === 'deny' ? '-0' : sampling === 'debug' ? '-d' : '';
        set.set(carrier, B3_SINGLE_HEADER, `${traceId}-${spanId}${suffix}`);
        return;
      }
      set.set(carrier, B3_TRACE_ID_HEADER, traceId);
      set.set(carrier, B3_SPAN_ID_HEADER, spanId);
      this.injectMultiSampling(sampling, carrier, set);
    } catch {
      // A throwing custom setter must not fail the request.
      countDiagnostic('internal.error');
    }
  }

  /**
   * Reads `b3`, else `X-B3-*`. Returns `context` unchanged when neither holds valid ids nor a
   * sampling decision sent on its own (then kept, see {@link B3Propagator.inject}); an invalid
   * header is counted as `extract.trace.malformed` (never thrown).
   */
  extract(context: Context, carrier: unknown, getter?: TextMapGetter): Context {
    try {
      const get = getterFor(getter);
      let malformed = false;
      // The single header's own decision, when it holds no ids: it takes precedence over the
      // X-B3-* decision, but not over X-B3-* ids.
      let decision: B3SamplingDecision | undefined;
      const single = firstHeaderValue(get.get(carrier, B3_SINGLE_HEADER));
      if (single !== undefined) {
        const parsed = parseB3Single(single);
        if (typeof parsed === 'object') return withB3Context(context, parsed);
        if (parsed === undefined) {
          malformed = true;
          countDiagnostic('extract.trace.malformed');
        } else {
          decision = parsed;
        }
      }
      const traceId = firstHeaderValue(get.get(carrier, B3_TRACE_ID_HEADER));
      const spanId = firstHeaderValue(get.get(carrier, B3_SPAN_ID_HEADER));
      const sampled = firstHeaderValue(get.get(carrier, B3_SAMPLED_HEADER));
      const flags = firstHeaderValue(get.get(carrier, B3_FLAGS_HEADER));
      if (traceId !== undefined || spanId !== undefined) {
        const parsed = parseB3Multi(traceId, spanId, sampled, flags);
        if (parsed !== undefined) return withB3Context(context, parsed);
        // One malformed count per extract, even when both encodings are invalid.
        if (!malformed) countDiagnostic('extract.trace.malformed');
      } else if (decision === undefined) {
        const multiDecision = multiSamplingOnly(sampled, flags);
        if (multiDecision === null) {
          if (!malformed) countDiagnostic('extract.trace.malformed');
        } else {
          decision = multiDecision;
        }
      }
      return decision === undefined ? context : setB3SamplingDecision(context, decision);
    } catch {
      // A throwing custom getter must not fail the request.
      countDiagnostic('internal.error');
      return context;
    }
  }

  /** `b3: 0` / `X-B3-Sampled: 0` and the like: "Sampling state can also be sent on its own". */
  private injectSamplingOnly(decision: B3SamplingDecision, carrier: unknown, set: TextMapSetter): void {
    if (this.injectEncoding === 'single') {
      set.set(carrier, B3_SINGLE_HEADER, decision === 'accept' ? '1' : decision === 'deny' ? '0' : 'd');
    } else {
      this.injectMultiSampling(decision, carrier, set);
    }
  }

  private injectMultiSampling(sampling: B3SamplingState, carrier: unknown, set: TextMapSetter): void {
    // "Debug implies an accept decision, so don't also send the X-B3-Sampled header."
    if (sampling === 'debug') set.set(carrier, B3_FLAGS_HEADER, '1');
    else if (sampling !== 'defer') set.set(carrier, B3_SAMPLED_HEADER, sampling === 'accept' ? '1' : '0');
  }

  /**
   * The headers of the configured encoding: those `inject` writes, and for multi
   * `X-B3-ParentSpanId`, which it never writes (the span context has no parent id) but which
   * belongs to the ids it replaces (OpenTelemetry's B3 propagator lists it too).
   */
  fields(): string[] {
    return [...this.injectFields];
  }
}

function withB3Context(context: Context, parsed: B3Context): Context {
  const { traceId, spanId, sampling } = parsed;
  const sampled = sampling === 'accept' || sampling === 'debug';
  // Valid ids win over a decision sent without ids, kept from an earlier extraction.
  let next = withRemoteParent(deleteB3SamplingDecision(context), traceId, spanId, sampled);
  if (sampling === 'debug' || sampling === 'defer') {
    const marker: SamplingMarker = { traceId, spanId, state: sampling };
    next = next.setValue(SAMPLING_KEY, marker);
  } else if (next.getValue(SAMPLING_KEY) !== undefined) {
    next = next.deleteValue(SAMPLING_KEY);
  }
  return next;
}


