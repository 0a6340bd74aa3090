import { parseTracestate, TraceContextPropagator, TraceStateList } from '@ctxprop/core';
import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  trace,
  type Context,
  type SpanContext,
  type TextMapPropagator,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TraceState, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import fc from 'fast-check';

// OpenTelemetry JS 2.x (@opentelemetry/core, sdk-trace-base, sdk-trace-node) is the independent
// implementation our headers must interoperate with, in both directions.
const ours = new TraceContextPropagator();
const otel = new W3CTraceContextPropagator();

const lowerHex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length }).filter((id) => /[^0]/.test(id));
const keyChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789_-*/');
const stateKey = fc.tuple(fc.constantFrom(...'abcxyz'), fc.string({ unit: keyChar, maxLength: 8 })).map(([first, rest]) => first + rest);
const stateValue = fc.string({ unit: fc.constantFrom(...'abcXYZ0189+/!~'), minLength: 1, maxLength: 12 });
// OpenTelemetry keeps at most 512 characters of tracestate; 8 short members stay below that.
const statePairs = fc.uniqueArray(fc.tuple(stateKey, stateValue), { selector: ([key]) => key, maxLength: 8 });

function roundTrip(writer: TextMapPropagator, reader: TextMapPropagator, spanContext: SpanContext): SpanContext | undefined {
  const carrier: Record<string, string> = {};
  writer.inject(trace.setSpanContext(ROOT_CONTEXT, spanContext), carrier, defaultTextMapSetter);
  return trace.getSpanContext(reader.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
}

function plain(spanContext: SpanContext | undefined) {
  return spanContext && {
    traceId: spanContext.traceId,
    spanId: spanContext.spanId,
    traceFlags: spanContext.traceFlags,
    isRemote: spanContext.isRemote,
    traceState: spanContext.traceState?.serialize(),
  };
}

describe('interop with OpenTelemetry W3CTraceContextPropagator', () => {
  it('reads every header we write as we meant it, trace state included', () => {
    fc.assert(
      fc.property(lowerHex(32), lowerHex(16), fc.integer({ min: 0, max: 255 }), statePairs, (traceId, spanId, traceFlags, pairs) => {
        let traceState = new TraceStateList();
        for (const [key, value] of pairs.slice().reverse()) traceState = traceState.set(key, value);
        const read = roundTrip(ours, otel, { traceId, spanId, traceFlags, traceState });
        // Reserved flags are written as zero (Level 2 §3.2.2.5.3): sampled and random go through.
        expect(plain(read)).toEqual({ traceId, spanId, traceFlags: traceFlags & 3, isRemote: true, traceState: pairs.length > 0 ? traceState.serialize() : undefined });
      }),
    );
  });

  it('reads every header OpenTelemetry writes as it meant it (flags defined by Level 2)', () => {
    fc.assert(
      fc.property(lowerHex(32), lowerHex(16), fc.integer({ min: 0, max: 3 }), statePairs, (traceId, spanId, traceFlags, pairs) => {
        const traceState = pairs.length > 0 ? new TraceState(pairs.map(([key, value]) => `${key}=${value}`).join(',')) : undefined;
        const read = roundTrip(otel, ours, { traceId, spanId, traceFlags, traceState });
        expect(plain(read)).toEqual({ traceId, spanId, traceFlags, isRemote: true, traceState: traceState?.serialize() });
      }),
    );
  });

  it('writes flags 0x10 and above as two hex digits with the reserved bits zero, where OpenTelemetry writes three digits that no one can read', () => {
    const spanContext = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 0x11 };
    const theirs: Record<string, string> = {};
    otel.inject(trace.setSpanContext(ROOT_CONTEXT, spanContext), theirs, defaultTextMapSetter);
    expect(theirs.traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011');
    expect(roundTrip(otel, otel, spanContext)).toBeUndefined();
    expect(plain(roundTrip(ours, otel, spanContext))?.traceFlags).toBe(0x01);
  });

  it('reads OpenTelemetry\'s tracestate as OpenTelemetry does when the header is valid', () => {
    fc.assert(
      fc.property(statePairs, (pairs) => {
        const header = pairs.map(([key, value]) => `${key}=${value}`).join(',');
        const theirs = new TraceState(header);
        const mine = parseTracestate(header)!;
        for (const [key] of pairs) expect(mine.get(key)).toBe(theirs.get(key));
        expect(mine.serialize()).toBe(theirs.serialize());
      }),
    );
  });

  it('discards a tracestate with one bad member whole, where OpenTelemetry keeps the rest (DESIGN.md)', () => {
    const header = 'rojo=1,Bad Key=2,congo=3';
    expect(new TraceState(header).get('rojo')).toBe('1');
    expect(parseTracestate(header)).toBeUndefined();
  });
});

describe('our propagator in an OpenTelemetry SDK', () => {
  const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
  const PARENT_ID = 'b7ad6b7169203331';

  afterEach(() => {
    propagation.disable();
    trace.disable();
    context.disable();
  });

  function startChild(inbound: Record<string, string>, provider: { getTracer(name: string): ReturnType<typeof trace.getTracer> }): { ctx: Context; out: Record<string, string> } {
    const parent = propagation.extract(ROOT_CONTEXT, inbound);
    const span = provider.getTracer('test').startSpan('child', {}, parent);
    const ctx = trace.setSpan(parent, span);
    const out: Record<string, string> = {};
    context.with(ctx, () => propagation.inject(context.active(), out));
    span.end();
    return { ctx, out };
  }

  it('gives a span started from an extracted context the right trace and parent (BasicTracerProvider, setGlobalPropagator)', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(ours);

    const { out } = startChild({ TraceParent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate: 'congo=t61rcWkgMzE' }, provider);
    const [span] = exporter.getFinishedSpans();
    expect(span?.spanContext().traceId).toBe(TRACE_ID);
    expect(span?.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(span?.parentSpanContext?.isRemote).toBe(true);
    expect(span?.spanContext().traceState?.serialize()).toBe('congo=t61rcWkgMzE');
    // The outbound header carries the child span, read back by OpenTelemetry's own propagator.
    const downstream = trace.getSpanContext(otel.extract(ROOT_CONTEXT, out, defaultTextMapGetter));
    expect(downstream?.traceId).toBe(TRACE_ID);
    expect(downstream?.spanId).toBe(span?.spanContext().spanId);
    expect(downstream?.traceFlags).toBe(1);
    expect(out.tracestate).toBe('congo=t61rcWkgMzE');
  });

  it('keeps the caller\'s decision not to sample (ParentBased sampler) and forwards it', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(ours);

    const { out } = startChild({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` }, provider);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(out.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
    expect(out.traceparent).not.toContain(PARENT_ID);
  });

  it('works as the propagator registered with NodeTracerProvider.register()', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    provider.register({ propagator: ours });

    const parent = propagation.extract(ROOT_CONTEXT, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` });
    context.with(parent, () => trace.getTracer('test').startActiveSpan('child', (span) => span.end()));
    const [span] = exporter.getFinishedSpans();
    expect(span?.spanContext().traceId).toBe(TRACE_ID);
    expect(span?.parentSpanContext?.spanId).toBe(PARENT_ID);
  });

  it('starts a new trace when the inbound traceparent is invalid', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    propagation.setGlobalPropagator(ours);
    startChild({ traceparent: `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01` }, provider);
    const [span] = exporter.getFinishedSpans();
    expect(span?.spanContext().traceId).not.toBe(TRACE_ID);
    expect(span?.parentSpanContext).toBeUndefined();
  });
});
