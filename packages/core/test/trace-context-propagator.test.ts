import { diagnosticsSnapshot, parseTraceparent, parseTracestate, resetDiagnostics, TraceContextPropagator, TraceStateList } from '@ctxprop/core';
import {
  context,
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  trace,
  type Context,
  type SpanContext,
  type TextMapGetter,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { suppressTracing, TraceState } from '@opentelemetry/core';
import fc from 'fast-check';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const HEADER = `00-${TRACE_ID}-${SPAN_ID}-01`;
const propagator = new TraceContextPropagator();

function extract(carrier: unknown, getter: TextMapGetter | undefined = defaultTextMapGetter, parent: Context = ROOT_CONTEXT): Context {
  return propagator.extract(parent, carrier, getter as TextMapGetter);
}

function inject(spanContext: SpanContext, carrier: Record<string, unknown> = {}, base: Context = ROOT_CONTEXT): Record<string, unknown> {
  propagator.inject(trace.setSpanContext(base, spanContext), carrier, defaultTextMapSetter);
  return carrier;
}

function counts(): Record<string, number> {
  return { ...diagnosticsSnapshot() };
}

beforeEach(() => resetDiagnostics());

describe('TraceContextPropagator fields()', () => {
  it('lists traceparent and tracestate', () => {
    expect(propagator.fields()).toEqual(['traceparent', 'tracestate']);
  });
});

describe('TraceContextPropagator extract()', () => {
  it('reads a valid traceparent into a remote span context', () => {
    expect(trace.getSpanContext(extract({ traceparent: HEADER }))).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
    expect(counts()).toEqual({});
  });

  it('reads the tracestate next to it', () => {
    const spanContext = trace.getSpanContext(extract({ traceparent: HEADER, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' }));
    expect(spanContext?.traceState?.get('congo')).toBe('t61rcWkgMzE');
    expect(spanContext?.traceState?.serialize()).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
  });

  it.each([
    ['a plain object in mixed case', { TraceParent: HEADER, TraceState: 'congo=1' }],
    ['a plain object in upper case', { TRACEPARENT: HEADER, TRACESTATE: 'congo=1' }],
    ['fetch Headers', new Headers({ traceparent: HEADER, tracestate: 'congo=1' })],
    ['a Map in mixed case', new Map([['TraceParent', HEADER], ['TraceState', 'congo=1']])],
    ['Buffer values (Kafka, AMQP)', { traceparent: Buffer.from(HEADER), tracestate: Buffer.from('congo=1') }],
    ['an object without a prototype', Object.assign(Object.create(null) as object, { traceparent: HEADER, tracestate: 'congo=1' })],
  ])('3.2.1 expects the header names in any case: reads %s', (_name, carrier) => {
    for (const getter of [defaultTextMapGetter, undefined]) {
      const spanContext = trace.getSpanContext(extract(carrier, getter));
      expect(spanContext?.traceId).toBe(TRACE_ID);
      expect(spanContext?.traceState?.get('congo')).toBe('1');
    }
  });

  it('uses a custom getter as given', () => {
    const getter: TextMapGetter<Record<string, string>> = { keys: Object.keys, get: (carrier, key) => carrier[`x-${key}`] };
    expect(trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { 'x-traceparent': HEADER }, getter))?.spanId).toBe(SPAN_ID);
    expect(trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent: HEADER }, getter))).toBeUndefined();
  });

  it('keeps the values of the parent context', () => {
    const key = createContextKey('test key');
    const extracted = extract({ traceparent: HEADER }, defaultTextMapGetter, ROOT_CONTEXT.setValue(key, 'kept'));
    expect(extracted.getValue(key)).toBe('kept');
  });

  it.each([
    ['no header', {}],
    ['an empty header', { traceparent: '' }],
    ['a tracestate without a traceparent (4.2: discarded)', { tracestate: 'congo=1' }],
  ])('leaves the context as it is and counts nothing for %s (the composite counts missing headers)', (_name, carrier) => {
    const parent = ROOT_CONTEXT.setValue(createContextKey('parent'), 1);
    expect(extract(carrier, defaultTextMapGetter, parent)).toBe(parent);
    expect(counts()).toEqual({});
  });

  it.each([
    ['3.2.2.1 version ff', `ff-${TRACE_ID}-${SPAN_ID}-01`],
    ['3.2.2.3 an all-zero trace-id', `00-00000000000000000000000000000000-${SPAN_ID}-01`],
    ['3.2.2.4 an uppercase parent-id', `00-${TRACE_ID}-${SPAN_ID.toUpperCase()}-01`],
    ['two traceparent headers', [HEADER, HEADER]],
    ['two traceparent headers folded with a comma', `${HEADER}, ${HEADER}`],
  ])('leaves the context as it is and counts extract.trace.malformed for %s', (_name, traceparent) => {
    const parent = ROOT_CONTEXT.setValue(createContextKey('parent'), 1);
    expect(extract({ traceparent, tracestate: 'congo=1' }, defaultTextMapGetter, parent)).toBe(parent);
    expect(counts()).toEqual({ 'extract.trace.malformed': 1 });
  });

  it('3.3 keeps a valid traceparent when the tracestate is invalid, drops the tracestate whole, and counts it', () => {
    const spanContext = trace.getSpanContext(extract({ traceparent: HEADER, tracestate: 'congo=1,Bad=2' }));
    expect(spanContext?.traceId).toBe(TRACE_ID);
    expect(spanContext?.traceState).toBeUndefined();
    expect(counts()).toEqual({ 'extract.tracestate.malformed': 1 });
  });

  it('3.3.1.1 accepts an empty tracestate without counting anything and attaches no trace state', () => {
    const spanContext = trace.getSpanContext(extract({ traceparent: HEADER, tracestate: '' }));
    expect(spanContext?.traceId).toBe(TRACE_ID);
    expect(spanContext?.traceState).toBeUndefined();
    expect(counts()).toEqual({});
  });

  it('never throws on a carrier whose getters throw: counts internal.error and returns the context', () => {
    const getter: TextMapGetter = { keys: () => [], get: () => { throw new Error('boom'); } };
    expect(propagator.extract(ROOT_CONTEXT, {}, getter)).toBe(ROOT_CONTEXT);
    expect(counts()).toEqual({ 'internal.error': 1 });
    const hostile = new Proxy({}, { get: () => { throw new Error('boom'); } });
    expect(() => extract(hostile)).not.toThrow();
  });
});

describe('the context extract() returns', () => {
  const key = createContextKey('other key');
  const extracted = () => extract({ traceparent: HEADER });

  it('behaves like the context trace.setSpanContext returns for every read and write', () => {
    const expected = trace.setSpanContext(ROOT_CONTEXT, parseTraceparent(HEADER)!);
    for (const ctx of [extracted(), expected]) {
      const withValue = ctx.setValue(key, 'v');
      expect(withValue.getValue(key)).toBe('v');
      expect(trace.getSpanContext(withValue)?.spanId).toBe(SPAN_ID);
      expect(ctx.getValue(key)).toBeUndefined();
      expect(trace.getSpan(trace.deleteSpan(ctx))).toBeUndefined();
      expect(trace.getSpanContext(ctx.deleteValue(key))?.spanId).toBe(SPAN_ID);
      const other = { ...INVALID_SPAN_CONTEXT, traceId: '1'.repeat(32), spanId: '2'.repeat(16) };
      expect(trace.getSpanContext(trace.setSpanContext(ctx, other))?.spanId).toBe('2'.repeat(16));
      expect(trace.getSpanContext(ctx)?.spanId).toBe(SPAN_ID);
    }
  });

  it('is the active context inside context.with()', () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    try {
      const ctx = extracted();
      context.with(ctx, () => expect(trace.getSpanContext(context.active())?.traceId).toBe(TRACE_ID));
    } finally {
      context.disable();
    }
  });
});

describe('TraceContextPropagator inject()', () => {
  it('writes a version 00 traceparent for a valid span context', () => {
    expect(inject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 })).toEqual({ traceparent: HEADER });
  });

  it.each([
    [0x02, '02'],
    [0x04, '00'],
    [0x10, '00'],
    [0x81, '01'],
    [0x85, '01'],
    [0xff, '03'],
  ])('writes flags %i as %s: sampled and random kept, reserved bits zero (3.2.2.5 "Vendors MUST set those to zero")', (traceFlags, digits) => {
    expect(inject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags }).traceparent).toBe(`00-${TRACE_ID}-${SPAN_ID}-${digits}`);
  });

  it('writes the tracestate when it is not empty, from our list or from OpenTelemetry\'s', () => {
    const ours = new TraceStateList().set('rojo', '1').set('congo', '2');
    expect(inject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, traceState: ours })).toEqual({ traceparent: HEADER, tracestate: 'congo=2,rojo=1' });
    expect(inject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, traceState: new TraceState('a=1,b=2') }).tracestate).toBe('a=1,b=2');
  });

  it('3.3.1.1 does not send an empty tracestate', () => {
    expect(inject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, traceState: new TraceStateList() })).toEqual({ traceparent: HEADER });
  });

  it('3.2.2 writes an id an SDK keeps in uppercase in lowercase', () => {
    expect(inject({ traceId: TRACE_ID.toUpperCase(), spanId: SPAN_ID.toUpperCase(), traceFlags: 1 }).traceparent).toBe(HEADER);
  });

  it.each([
    ['the invalid span context', INVALID_SPAN_CONTEXT],
    ['an all-zero trace-id', { traceId: '0'.repeat(32), spanId: SPAN_ID, traceFlags: 1 }],
    ['an all-zero span-id', { traceId: TRACE_ID, spanId: '0'.repeat(16), traceFlags: 1 }],
    ['a short trace-id', { traceId: TRACE_ID.slice(1), spanId: SPAN_ID, traceFlags: 1 }],
    ['a span-id with a newline', { traceId: TRACE_ID, spanId: `${SPAN_ID.slice(1)}\n`, traceFlags: 1 }],
    ['ids that are not strings', { traceId: 1 as unknown as string, spanId: SPAN_ID, traceFlags: 1 }],
  ])('writes nothing for %s', (_name, spanContext) => {
    expect(inject(spanContext)).toEqual({});
  });

  it('writes nothing without a span and when tracing is suppressed (an exporter\'s own calls)', () => {
    const carrier = {};
    propagator.inject(ROOT_CONTEXT, carrier, defaultTextMapSetter);
    expect(carrier).toEqual({});
    expect(inject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 }, {}, suppressTracing(ROOT_CONTEXT))).toEqual({});
  });

  it('replaces a header of the same name in another case instead of adding a second one', () => {
    expect(inject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 }, { TraceParent: 'old', other: 'kept' })).toEqual({ traceparent: HEADER, other: 'kept' });
    const headers = new Headers({ Traceparent: 'old' });
    propagator.inject(trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 }), headers, defaultTextMapSetter);
    expect(headers.get('traceparent')).toBe(HEADER);
  });

  it('uses a custom setter as given', () => {
    const written: [string, string][] = [];
    propagator.inject(trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 }), {}, { set: (_c, key, value) => written.push([key, value]) });
    expect(written).toEqual([['traceparent', `00-${TRACE_ID}-${SPAN_ID}-00`]]);
  });

  it('never throws when the setter throws: counts internal.error', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    expect(() => propagator.inject(ctx, {}, { set: () => { throw new Error('boom'); } })).not.toThrow();
    expect(counts()).toEqual({ 'internal.error': 1 });
  });
});

describe('reading a plain object that holds a header twice, in two cases (message headers, hand-built carriers)', () => {
  const OTHER = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;

  it.each([
    ['traceparent and TraceParent', { traceparent: HEADER, TraceParent: OTHER }],
    ['Traceparent and TRACEPARENT', { Traceparent: HEADER, TRACEPARENT: OTHER }],
    ['the same value twice', { traceparent: HEADER, TraceParent: HEADER }],
  ])('refuses two traceparent lines as it refuses an array of two (%s)', (_name, carrier) => {
    const parent = ROOT_CONTEXT.setValue(createContextKey('parent'), 1);
    expect(extract(carrier, defaultTextMapGetter, parent)).toBe(parent);
    expect(counts()).toEqual({ 'extract.trace.malformed': 1 });
  });

  it('combines tracestate lines in two cases into one list, as it combines an array', () => {
    const spanContext = trace.getSpanContext(extract({ traceparent: HEADER, tracestate: 'congo=1', TraceState: 'rojo=2' }));
    expect(spanContext?.traceState?.serialize()).toBe('congo=1,rojo=2');
  });
});

describe('forwarding an extracted context', () => {
  it('writes back the header it read', () => {
    const out: Record<string, string> = {};
    propagator.inject(extract({ traceparent: HEADER, tracestate: 'congo=1, rojo=2' }), out, defaultTextMapSetter);
    expect(out).toEqual({ traceparent: HEADER, tracestate: 'congo=1,rojo=2' });
  });

  it('3.4 downgrades a higher version to 00 and drops the fields and flags it does not know', () => {
    const out: Record<string, string> = {};
    propagator.inject(extract({ traceparent: `cc-${TRACE_ID}-${SPAN_ID}-ff-future` }), out, defaultTextMapSetter);
    expect(out).toEqual({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-03` });
  });

  it('3.2.2.5.3 drops reserved flags of a version 00 header', () => {
    const out: Record<string, string> = {};
    propagator.inject(extract({ traceparent: ` 00-${TRACE_ID}-${SPAN_ID}-09\t` }), out, defaultTextMapSetter);
    expect(out).toEqual({ traceparent: HEADER });
  });

  it('writes the current ids when the extracted span context was changed after extraction', () => {
    const spanContext = trace.getSpanContext(extract({ traceparent: HEADER }))!;
    const ctx = trace.setSpanContext(ROOT_CONTEXT, spanContext);
    spanContext.spanId = 'b7ad6b7169203331';
    spanContext.traceFlags = 0;
    const out: Record<string, string> = {};
    propagator.inject(ctx, out, defaultTextMapSetter);
    expect(out.traceparent).toBe(`00-${TRACE_ID}-b7ad6b7169203331-00`);
    spanContext.spanId = 'not hex';
    const none: Record<string, string> = {};
    propagator.inject(ctx, none, defaultTextMapSetter);
    expect(none).toEqual({});
  });
});

const lowerHex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length }).filter((id) => /[^0]/.test(id));

describe('TraceContextPropagator properties', () => {
  it('extract never throws on arbitrary strings, arrays and Buffers in the carrier', () => {
    const value = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.array(fc.string()),
      fc.uint8Array().map((bytes) => Buffer.from(bytes)),
      fc.array(fc.uint8Array().map((bytes) => Buffer.from(bytes))),
      fc.constantFrom(undefined, null, 42, HEADER, [HEADER], Buffer.from(HEADER)),
    );
    fc.assert(
      fc.property(value, value, fc.constantFrom('traceparent', 'TraceParent', 'TRACEPARENT'), (traceparent, tracestate, name) => {
        const carrier = { [name]: traceparent, tracestate };
        expect(() => extract(carrier)).not.toThrow();
        expect(() => extract(new Map(Object.entries(carrier)))).not.toThrow();
      }),
      { numRuns: 1000 },
    );
    expect(diagnosticsSnapshot()['internal.error']).toBeUndefined();
  });

  it('a header it writes always parses back to the span context (flags as the spec defines them)', () => {
    fc.assert(
      fc.property(lowerHex(32), lowerHex(16), fc.integer({ min: 0, max: 255 }), (traceId, spanId, traceFlags) => {
        const out = inject({ traceId, spanId, traceFlags });
        expect(parseTraceparent(out.traceparent as string)).toEqual({ traceId, spanId, traceFlags: traceFlags & 3, isRemote: true });
      }),
    );
  });

  it('extract then inject writes back any valid canonical header unchanged', () => {
    fc.assert(
      fc.property(lowerHex(32), lowerHex(16), fc.constantFrom('00', '01', '02', '03'), (traceId, spanId, flags) => {
        const header = `00-${traceId}-${spanId}-${flags}`;
        const out: Record<string, string> = {};
        propagator.inject(extract({ traceparent: header }), out, defaultTextMapSetter);
        expect(out.traceparent).toBe(header);
        expect(parseTracestate(out.tracestate)).toBeUndefined();
      }),
    );
  });
});
