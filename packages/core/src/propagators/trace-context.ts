/**
 * The W3C Trace Context propagator (`tracecontext` in `OTEL_PROPAGATORS`): reads and writes
 * `traceparent` and `tracestate`. A drop-in for OpenTelemetry's `W3CTraceContextPropagator` that
 * follows Level 2 more strictly (an invalid tracestate is discarded whole, flags are written as
 * two hex digits, headers in any case are read) and never throws.
 *
 * Spec: https://www.w3.org/TR/trace-context-2/
 */
import {
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Context,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { otherSpellingOf, readHeader, writeHeader } from '../carrier/headers.js';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import {
  formatTraceparent,
  normalizeId,
  ParsedSpanContext,
  parseTraceparent,
  PARENT_ID_LENGTH,
  TRACE_ID_LENGTH,
  TRACEPARENT_HEADER,
} from '../wire/traceparent.js';
import { parseTracestate, TRACESTATE_HEADER } from '../wire/tracestate.js';
import { overlayContext } from '../context/overlay-context.js';
import { isTracingSuppressed } from './carrier-access.js';

// The API's span key and the key OpenTelemetry's SDK sets (suppressTracing) so that an exporter's
// own requests carry no trace headers. Context keys are `Symbol.for(description)`, so these are the
// very keys the API and @opentelemetry/core use.
const SPAN_KEY = createContextKey('OpenTelemetry Context Key SPAN');

/**
 * Propagates the active span context in the W3C `traceparent` / `tracestate` headers. Hand it to
 * `propagation.setGlobalPropagator`, to an OpenTelemetry SDK (`provider.register({ propagator })`),
 * or use it through ctxprop's adapters.
 *
 * - extract: a valid `traceparent` gives a remote span context; a malformed one leaves the context
 *   unchanged and counts `extract.trace.malformed`; an invalid `tracestate` next to a valid
 *   `traceparent` is dropped whole and counts `extract.tracestate.malformed`; a missing header
 *   counts nothing here (the composite propagator counts `extract.trace.missing`).
 * - inject: writes `traceparent` (version `00`) for a valid span context, and `tracestate` when it
 *   is not empty; nothing when tracing is suppressed.
 * - Header names are matched without regard to case when the API's default getter/setter is used.
 * - Never throws: an unexpected error counts `internal.error`.
 *
 * @example
 * ```ts
 * import { propagation, ROOT_CONTEXT } from '@opentelemetry/api';
 * propagation.setGlobalPropagator(new TraceContextPropagator());
 * const ctx = propagation.extract(ROOT_CONTEXT, { TraceParent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
 * ```
 */
export class TraceContextPropagator implements TextMapPropagator {
  /**
   * Writes the span context of `context` into `carrier`.
   *
   * @example
   * ```ts
   * const headers: Record<string, string> = {};
   * new TraceContextPropagator().inject(context.active(), headers, defaultTextMapSetter);
   * ```
   */
  inject(context: Context, carrier: unknown, setter?: TextMapSetter): void {
    try {
      const spanContext = trace.getSpanContext(context);
      if (spanContext === undefined || isTracingSuppressed(context)) return;
      const traceparent = traceparentOf(spanContext);
      if (traceparent === undefined) return;
      const traceState = spanContext.traceState;
      const tracestate = traceState === undefined ? '' : traceState.serialize();
      // §3.3.1.1: empty tracestate headers SHOULD NOT be sent.
      const withState = typeof tracestate === 'string' && tracestate !== '';
      if (setter === undefined || setter === defaultTextMapSetter) {
        writeDefault(carrier, TRACEPARENT_HEADER, traceparent);
        if (withState) writeDefault(carrier, TRACESTATE_HEADER, tracestate);
      } else {
        setter.set(carrier, TRACEPARENT_HEADER, traceparent);
        if (withState) setter.set(carrier, TRACESTATE_HEADER, tracestate);
      }
    } catch {
      countDiagnostic('internal.error');
    }
  }

  /**
   * Returns `context` with the remote span context read from `carrier`, or `context` itself when
   * there is no valid `traceparent`.
   *
   * @example
   * ```ts
   * const ctx = new TraceContextPropagator().extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
   * trace.getSpanContext(ctx)?.traceId;
   * ```
   */
  extract(context: Context, carrier: unknown, getter?: TextMapGetter): Context {
    try {
      const byDefault = getter === undefined || getter === defaultTextMapGetter;
      const header = byDefault ? readDefault(carrier, TRACEPARENT_HEADER) : getter.get(carrier, TRACEPARENT_HEADER);
      // An absent or empty header carries no context: "missing", counted by the composite.
      if (header === undefined || header === '' || (Array.isArray(header) && header.length === 0)) return context;
      const spanContext = parseTraceparent(header);
      if (spanContext === undefined) {
        countDiagnostic('extract.trace.malformed');
        return context;
      }
      // §3.3: tracestate is read only after a valid traceparent, and a bad one never affects it.
      const stateHeader = byDefault ? readDefault(carrier, TRACESTATE_HEADER) : getter.get(carrier, TRACESTATE_HEADER);
      if (stateHeader !== undefined) {
        const traceState = parseTracestate(stateHeader);
        if (traceState === undefined) countDiagnostic('extract.tracestate.malformed');
        else if (traceState.size > 0) spanContext.traceState = traceState;
      }
      return withRemoteSpan(context, trace.wrapSpanContext(spanContext));
    } catch {
      countDiagnostic('internal.error');
      return context;
    }
  }

  /**
   * The headers this propagator reads and writes.
   *
   * @example
   * ```ts
   * new TraceContextPropagator().fields(); // ['traceparent', 'tracestate']
   * ```
   */
  fields(): string[] {
    return [TRACEPARENT_HEADER, TRACESTATE_HEADER];
  }
}

/** The header for a span context, or `undefined` when its ids are invalid (as isSpanContextValid). */
function traceparentOf(spanContext: SpanContext): string | undefined {
  // A span context read by extract and forwarded unchanged keeps the header it came in.
  if (spanContext instanceof ParsedSpanContext) {
    const unchanged = spanContext.unchangedTraceparent();
    if (unchanged !== undefined) return unchanged;
  }
  const traceId = normalizeId(spanContext.traceId, TRACE_ID_LENGTH);
  if (traceId === undefined) return undefined;
  const spanId = normalizeId(spanContext.spanId, PARENT_ID_LENGTH);
  if (spanId === undefined) return undefined;
  return formatTraceparent({ traceId, spanId, traceFlags: spanContext.traceFlags });
}

/**
 * `trace.setSpanContext(context, spanContext)` without its cost: the API's context copies its
 * whole Map and allocates three closures on every `setValue`. With it, a traceparent
 * extract+inject measured about 1.8x OpenTelemetry's throughput; with an overlay, about 3.3x
 * (bench/core.bench.mjs). The overlay reads and writes exactly as the API's context.
 */
function withRemoteSpan(context: Context, span: Span): Context {
  return overlayContext(context, SPAN_KEY, span);
}

/**
 * Core's case-insensitive `readHeader`, with a shortcut for the hot path: a plain object that holds
 * the header as a string under its lowercase name only (Node's IncomingHttpHeaders), or no header
 * of that name in any case. The same name in another case is a second header line: readHeader
 * returns both.
 */
function readDefault(carrier: unknown, name: string): string | string[] | undefined {
  if (isPlainObject(carrier)) {
    const value = carrier[name];
    if ((typeof value === 'string' || value === undefined) && otherSpellingOf(carrier, name) === undefined) return value as string | undefined;
  }
  return readHeader(carrier, name);
}

/** Core's `writeHeader` (which replaces a same-named header in another case), with a shortcut. */
function writeDefault(carrier: unknown, name: string, value: string): void {
  if (isPlainObject(carrier) && otherSpellingOf(carrier, name) === undefined) carrier[name] = value;
  else writeHeader(carrier, name, value);
}

function isPlainObject(carrier: unknown): carrier is Record<string, unknown> {
  // `constructor` is one inline-cached load, cheaper than Object.getPrototypeOf; an object without
  // Object.prototype (or any other carrier) simply takes core's general path.
  return typeof carrier === 'object' && carrier !== null && (carrier as { constructor?: unknown }).constructor === Object;
}
