import { diagnosticsSnapshot, OTTracePropagator, resetDiagnostics } from '@ctxprop/core';
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
} from '@opentelemetry/api';
import fc from 'fast-check';

// Format: the OT Trace propagator documentation ("OT Trace Format" table and "Interop and trace
// ids"), https://www.npmjs.com/package/@opentelemetry/propagator-ot-trace and the Ruby gem's
// README (128-bit ids on extract, 'true'/'false'/'1'/'0' for ot-tracer-sampled).
const DOC_TRACE_ID_128 = '3c3039f4d78d5c02ee8e3e41b17ce105';
const DOC_TRACE_ID_64 = 'ee8e3e41b17ce105';
const SPAN_ID = '5b4185666d50f68b';

const ot = new OTTracePropagator();

function extract(headers: Record<string, unknown>, ctx: Context = ROOT_CONTEXT): Context {
  return ot.extract(ctx, headers, defaultTextMapGetter);
}

function inject(ctx: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  ot.inject(ctx, headers, defaultTextMapSetter);
  return headers;
}

function spanContextOf(ctx: Context) {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && { traceId: spanContext.traceId, spanId: spanContext.spanId, traceFlags: spanContext.traceFlags, isRemote: spanContext.isRemote };
}

function entriesOf(ctx: Context): Record<string, string> {
  return Object.fromEntries((propagation.getBaggage(ctx)?.getAllEntries() ?? []).map(([key, entry]) => [key, entry.value]));
}

beforeEach(() => resetDiagnostics());

describe('OTTracePropagator extract()', () => {
  it.each([
    ['a 64-bit trace id, left-padded', DOC_TRACE_ID_64, 'true', `0000000000000000${DOC_TRACE_ID_64}`, TraceFlags.SAMPLED],
    ['a 128-bit trace id', DOC_TRACE_ID_128, 'true', DOC_TRACE_ID_128, TraceFlags.SAMPLED],
    ['sampled false', DOC_TRACE_ID_64, 'false', `0000000000000000${DOC_TRACE_ID_64}`, TraceFlags.NONE],
    ['the bit form 1 of old Go tracers', DOC_TRACE_ID_64, '1', `0000000000000000${DOC_TRACE_ID_64}`, TraceFlags.SAMPLED],
    ['the bit form 0', DOC_TRACE_ID_64, '0', `0000000000000000${DOC_TRACE_ID_64}`, TraceFlags.NONE],
    ['no sampled header', DOC_TRACE_ID_64, undefined, `0000000000000000${DOC_TRACE_ID_64}`, TraceFlags.NONE],
    ['True in another case', DOC_TRACE_ID_64, 'True', `0000000000000000${DOC_TRACE_ID_64}`, TraceFlags.SAMPLED],
  ])('reads %s', (_name, traceId, sampled, expectedTraceId, traceFlags) => {
    const headers: Record<string, string> = { 'ot-tracer-traceid': traceId, 'ot-tracer-spanid': SPAN_ID };
    if (sampled !== undefined) headers['ot-tracer-sampled'] = sampled;
    expect(spanContextOf(extract(headers))).toEqual({ traceId: expectedTraceId, spanId: SPAN_ID, traceFlags, isRemote: true });
  });

  it.each([
    ['a trace id without a span id', { 'ot-tracer-traceid': DOC_TRACE_ID_64 }],
    ['a span id without a trace id', { 'ot-tracer-spanid': SPAN_ID }],
    ['a trace id of 20 digits', { 'ot-tracer-traceid': DOC_TRACE_ID_128.slice(0, 20), 'ot-tracer-spanid': SPAN_ID }],
    ['a non-hex span id', { 'ot-tracer-traceid': DOC_TRACE_ID_64, 'ot-tracer-spanid': `${SPAN_ID.slice(1)}q` }],
    ['an all-zero trace id', { 'ot-tracer-traceid': '0'.repeat(16), 'ot-tracer-spanid': SPAN_ID }],
    ['an all-zero span id', { 'ot-tracer-traceid': DOC_TRACE_ID_64, 'ot-tracer-spanid': '0'.repeat(16) }],
  ])('ignores and counts %s as malformed', (_name, headers) => {
    expect(trace.getSpanContext(extract(headers))).toBeUndefined();
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBe(1);
  });

  it('reads the headers in any case', () => {
    expect(spanContextOf(extract({ 'OT-Tracer-TraceId': DOC_TRACE_ID_128, 'Ot-Tracer-Spanid': Buffer.from(SPAN_ID) }))?.traceId).toBe(DOC_TRACE_ID_128);
  });

  it('turns ot-baggage-* headers into baggage entries with raw values, merged into existing baggage', () => {
    const existing = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ kept: { value: '1' } }));
    const ctx = extract({ 'ot-baggage-user': 'alice%20smith', 'OT-Baggage-tier': 'gold', other: 'x' }, existing);
    expect(entriesOf(ctx)).toEqual({ kept: '1', user: 'alice%20smith', tier: 'gold' });
  });
});

describe('OTTracePropagator inject()', () => {
  it('truncates a 128-bit trace id to its right-most 64 bits ("Interop and trace ids")', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: DOC_TRACE_ID_128, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
    expect(inject(ctx)).toEqual({ 'ot-tracer-traceid': DOC_TRACE_ID_64, 'ot-tracer-spanid': SPAN_ID, 'ot-tracer-sampled': 'true' });
  });

  it('writes sampled false for an unsampled span context', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: DOC_TRACE_ID_128, spanId: SPAN_ID, traceFlags: TraceFlags.NONE });
    expect(inject(ctx)['ot-tracer-sampled']).toBe('false');
  });

  it('writes no trace headers when the lower 64 bits of the trace id are zero (invalid downstream)', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: `${DOC_TRACE_ID_64}0000000000000000`, spanId: SPAN_ID, traceFlags: 1 });
    expect(inject(ctx)).toEqual({});
  });

  it('writes one ot-baggage-{key} header per entry, skipping keys and values that are not valid in a header', () => {
    const baggage = propagation.createBaggage({
      user: { value: 'alice' },
      'bad key': { value: 'x' },
      newline: { value: 'a\r\nb' },
      nonascii: { value: 'café' },
      padded: { value: ' x ' },
    });
    expect(inject(propagation.setBaggage(ROOT_CONTEXT, baggage))).toEqual({ 'ot-baggage-user': 'alice' });
  });

  it('lists the trace headers as fields', () => {
    expect(ot.fields()).toEqual(['ot-tracer-traceid', 'ot-tracer-spanid', 'ot-tracer-sampled']);
  });
});

describe('OTTracePropagator properties', () => {
  const headerValue = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.array(fc.string()),
    fc.uint8Array().map((bytes) => Buffer.from(bytes)),
    fc.constantFrom(DOC_TRACE_ID_64, DOC_TRACE_ID_128, SPAN_ID, 'true'),
  );

  it('never throws on arbitrary strings, arrays or Buffers in any OT header', () => {
    fc.assert(
      fc.property(
        fc.record({ 'ot-tracer-traceid': headerValue, 'ot-tracer-spanid': headerValue, 'ot-tracer-sampled': headerValue }, { requiredKeys: [] }),
        fc.dictionary(fc.string(), headerValue),
        (headers, baggage) => {
          const carrier: Record<string, unknown> = { ...headers };
          for (const [key, value] of Object.entries(baggage)) carrier[`ot-baggage-${key}`] = value;
          const spanContext = trace.getSpanContext(extract(carrier));
          if (spanContext !== undefined) expect(isSpanContextValid(spanContext)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('round-trips inject -> extract for 64-bit trace ids, and keeps the lower 64 bits of 128-bit ones', () => {
    const hex = (length: number) =>
      fc
        .array(fc.constantFrom(...'0123456789abcdef'), { minLength: length, maxLength: length })
        .map((chars) => chars.join(''))
        .filter((id) => !/^0+$/.test(id));
    fc.assert(
      fc.property(hex(16), hex(16), hex(16), fc.boolean(), (high, low, spanId, sampled) => {
        const traceFlags = sampled ? TraceFlags.SAMPLED : TraceFlags.NONE;
        const padded = { traceId: `0000000000000000${low}`, spanId, traceFlags, isRemote: true };
        expect(spanContextOf(extract(inject(trace.setSpanContext(ROOT_CONTEXT, padded))))).toEqual(padded);
        const full = { ...padded, traceId: `${high}${low}` };
        expect(spanContextOf(extract(inject(trace.setSpanContext(ROOT_CONTEXT, full))))).toEqual(padded);
      }),
    );
  });
});
