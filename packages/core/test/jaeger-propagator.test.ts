import { diagnosticsSnapshot, JaegerPropagator, resetDiagnostics } from '@ctxprop/core';
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type SpanContext,
} from '@opentelemetry/api';
import { JaegerPropagator as OtelJaegerPropagator } from '@opentelemetry/propagator-jaeger';
import fc from 'fast-check';

// Format: https://www.jaegertracing.io/docs/1.21/client-libraries/#propagation-format
// "{trace-id}:{span-id}:{parent-span-id}:{flags}"; ids are base16, "shorter values are 0-padded on
// the left"; flags bit 1 sampled, bit 2 debug ("Debug flag implies sampled flag");
// baggage "Key: uberctx-{baggage-key}", "Value: url-encoded string".
const TRACE_ID = '80f198ee56343ba864fe8b2a57d3eff7';
const SPAN_ID = 'e457b5a2e4d86bd1';

const jaeger = new JaegerPropagator();
const otelJaeger = new OtelJaegerPropagator();

function extract(headers: Record<string, unknown>, propagator = jaeger, ctx: Context = ROOT_CONTEXT): Context {
  return propagator.extract(ctx, headers, defaultTextMapGetter);
}

function spanContextOf(ctx: Context): Pick<SpanContext, 'traceId' | 'spanId' | 'traceFlags' | 'isRemote'> | undefined {
  const spanContext = trace.getSpanContext(ctx);
  if (spanContext === undefined) return undefined;
  const { traceId, spanId, traceFlags, isRemote } = spanContext;
  return { traceId, spanId, traceFlags, isRemote };
}

function inject(ctx: Context, propagator: { inject: JaegerPropagator['inject'] } = jaeger): Record<string, string> {
  const headers: Record<string, string> = {};
  propagator.inject(ctx, headers, defaultTextMapSetter);
  return headers;
}

function entriesOf(ctx: Context): Record<string, string> {
  return Object.fromEntries((propagation.getBaggage(ctx)?.getAllEntries() ?? []).map(([key, entry]) => [key, entry.value]));
}

beforeEach(() => resetDiagnostics());

describe('JaegerPropagator extract() of uber-trace-id (Jaeger "Trace/Span Identity")', () => {
  it.each([
    ['a 128-bit trace id, sampled', `${TRACE_ID}:${SPAN_ID}:0:1`, TRACE_ID, SPAN_ID, TraceFlags.SAMPLED],
    ['flags as two hex digits', `${TRACE_ID}:${SPAN_ID}:0:01`, TRACE_ID, SPAN_ID, TraceFlags.SAMPLED],
    ['a not-sampled trace', `${TRACE_ID}:${SPAN_ID}:0:0`, TRACE_ID, SPAN_ID, TraceFlags.NONE],
    ['a parent span id (deprecated, ignored)', `${TRACE_ID}:${SPAN_ID}:05e3ac9a4f6e3b90:1`, TRACE_ID, SPAN_ID, TraceFlags.SAMPLED],
    ['a 64-bit trace id, left-padded', `64fe8b2a57d3eff7:${SPAN_ID}:0:1`, '000000000000000064fe8b2a57d3eff7', SPAN_ID, TraceFlags.SAMPLED],
    ['variable-length ids, left-padded', 'deadbeef:beef:0:1', '000000000000000000000000deadbeef', '000000000000beef', TraceFlags.SAMPLED],
    ['the debug flag alone ("Debug flag implies sampled flag")', `${TRACE_ID}:${SPAN_ID}:0:2`, TRACE_ID, SPAN_ID, TraceFlags.SAMPLED],
    ['the URL-encoded form', `${TRACE_ID}%3A${SPAN_ID}%3A0%3A1`, TRACE_ID, SPAN_ID, TraceFlags.SAMPLED],
    ['the URL-encoded form in lower case', `${TRACE_ID}%3a${SPAN_ID}%3a0%3a1`, TRACE_ID, SPAN_ID, TraceFlags.SAMPLED],
    ['upper-case hex, normalised', `${TRACE_ID.toUpperCase()}:${SPAN_ID.toUpperCase()}:0:1`, TRACE_ID, SPAN_ID, TraceFlags.SAMPLED],
  ])('reads %s', (_name, header, traceId, spanId, traceFlags) => {
    expect(spanContextOf(extract({ 'uber-trace-id': header }))).toEqual({ traceId, spanId, traceFlags, isRemote: true });
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBeUndefined();
  });

  it.each([
    ['three fields', `${TRACE_ID}:${SPAN_ID}:1`],
    ['five fields', `${TRACE_ID}:${SPAN_ID}:0:1:1`],
    ['a zero trace id ("Value of 0 is invalid")', `0:${SPAN_ID}:0:1`],
    ['a zero span id', `${TRACE_ID}:0000000000000000:0:1`],
    ['a trace id of 33 digits', `f${TRACE_ID}:${SPAN_ID}:0:1`],
    ['a span id of 17 digits', `${TRACE_ID}:f${SPAN_ID}:0:1`],
    ['a non-hex trace id', `${TRACE_ID.slice(1)}x:${SPAN_ID}:0:1`],
    ['empty flags', `${TRACE_ID}:${SPAN_ID}:0:`],
    ['three-digit flags', `${TRACE_ID}:${SPAN_ID}:0:001`],
    ['non-hex flags', `${TRACE_ID}:${SPAN_ID}:0:zz`],
    ['an empty parent', `${TRACE_ID}:${SPAN_ID}::1`],
  ])('ignores and counts %s as malformed', (_name, header) => {
    expect(trace.getSpanContext(extract({ 'uber-trace-id': header }))).toBeUndefined();
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBe(1);
  });

  it('reads the header in any case and from Buffers ("Case-insensitive in HTTP")', () => {
    expect(spanContextOf(extract({ 'Uber-Trace-Id': Buffer.from(`${TRACE_ID}:${SPAN_ID}:0:1`) }))?.traceId).toBe(TRACE_ID);
  });

  it('reads a custom trace header name', () => {
    const custom = new JaegerPropagator({ traceHeader: 'X-Trace' });
    expect(spanContextOf(extract({ 'x-trace': `${TRACE_ID}:${SPAN_ID}:0:1` }, custom))?.traceId).toBe(TRACE_ID);
    expect(custom.fields()).toEqual(['x-trace']);
  });
});

describe('JaegerPropagator baggage (Jaeger "Baggage": uberctx-{key}, url-encoded values)', () => {
  it('turns uberctx-* headers into baggage entries with URL-decoded values', () => {
    const ctx = extract({ 'uberctx-user-id': 'alice', 'UberCtx-Tier': 'gold%20plus', other: 'x' });
    expect(entriesOf(ctx)).toEqual({ 'user-id': 'alice', Tier: 'gold plus' });
  });

  it('merges into the baggage the context already has (the wire wins for the same key)', () => {
    const existing = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ kept: { value: '1' }, tier: { value: 'old' } }));
    expect(entriesOf(extract({ 'uberctx-tier': 'new' }, jaeger, existing))).toEqual({ kept: '1', tier: 'new' });
  });

  it('drops and counts a value that is not valid URL encoding', () => {
    expect(entriesOf(extract({ 'uberctx-bad': '%E0%A4%A', 'uberctx-good': 'ok' }))).toEqual({ good: 'ok' });
    expect(diagnosticsSnapshot()['extract.baggage.invalid_member']).toBe(1);
  });

  it('keeps at most 64 entries and counts the rest (W3C Baggage limits)', () => {
    const headers = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`uberctx-k${i}`, 'v']));
    expect(Object.keys(entriesOf(extract(headers)))).toHaveLength(64);
    expect(diagnosticsSnapshot()['extract.baggage.over_limit']).toBe(6);
  });

  it('writes one uberctx-{key} header per entry, URL-encoded, and skips keys that are not header names', () => {
    const baggage = propagation.createBaggage({ 'user-id': { value: 'alice smith' }, 'bad key': { value: 'x' }, emoji: { value: '☕' } });
    const headers = inject(propagation.setBaggage(ROOT_CONTEXT, baggage));
    expect(headers).toEqual({ 'uberctx-user-id': 'alice%20smith', 'uberctx-emoji': '%E2%98%95' });
  });
});

describe('JaegerPropagator inject()', () => {
  it.each([
    [TraceFlags.SAMPLED, `${TRACE_ID}:${SPAN_ID}:0:01`],
    [TraceFlags.NONE, `${TRACE_ID}:${SPAN_ID}:0:00`],
  ])('writes trace flags %p with parent 0', (traceFlags, expected) => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags });
    expect(inject(ctx)).toEqual({ 'uber-trace-id': expected });
  });

  it('writes the debug flag back for the trace it was extracted with', () => {
    const ctx = extract({ 'uber-trace-id': `${TRACE_ID}:${SPAN_ID}:0:3` });
    expect(inject(ctx)).toEqual({ 'uber-trace-id': `${TRACE_ID}:${SPAN_ID}:0:03` });
    const other = trace.setSpanContext(ctx, { traceId: 'a'.repeat(32), spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
    expect(inject(other)).toEqual({ 'uber-trace-id': `${'a'.repeat(32)}:${SPAN_ID}:0:01` });
  });

  it('writes nothing when tracing is suppressed', () => {
    const ctx = trace
      .setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 })
      .setValue(Symbol.for('OpenTelemetry SDK Context Key SUPPRESS_TRACING'), true);
    expect(inject(ctx)).toEqual({});
  });

  it('rejects a header name that is not an HTTP token', () => {
    expect(() => new JaegerPropagator({ traceHeader: 'uber trace id' })).toThrow(/ctxprop: option "traceHeader" must be/);
    expect(() => new JaegerPropagator({ baggagePrefix: '' })).toThrow(/ctxprop: option "baggagePrefix" must be/);
  });
});

describe('JaegerPropagator interoperability with @opentelemetry/propagator-jaeger', () => {
  it.each([
    `${TRACE_ID}:${SPAN_ID}:0:1`,
    `${TRACE_ID}:${SPAN_ID}:0:00`,
    `${TRACE_ID}%3A${SPAN_ID}%3A0%3A1`,
    `64fe8b2a57d3eff7:${SPAN_ID}:0:1`,
    'deadbeef:beef:0:01',
    `${TRACE_ID}:${SPAN_ID}:05e3ac9a4f6e3b90:3`,
  ])('reads %p to the same span context as OpenTelemetry', (header) => {
    const ours = spanContextOf(extract({ 'uber-trace-id': header }));
    expect(ours).toBeDefined();
    expect(ours).toEqual(spanContextOf(otelJaeger.extract(ROOT_CONTEXT, { 'uber-trace-id': header }, defaultTextMapGetter)));
  });

  it('differs from OpenTelemetry only where the Jaeger doc says "Debug flag implies sampled flag"', () => {
    const header = `${TRACE_ID}:${SPAN_ID}:0:2`;
    expect(spanContextOf(extract({ 'uber-trace-id': header }))?.traceFlags).toBe(TraceFlags.SAMPLED);
    expect(spanContextOf(otelJaeger.extract(ROOT_CONTEXT, { 'uber-trace-id': header }, defaultTextMapGetter))?.traceFlags).toBe(TraceFlags.NONE);
  });

  it('writes trace and baggage headers that OpenTelemetry reads back, and reads what it writes', () => {
    fc.assert(
      fc.property(validIds(), fc.boolean(), fc.dictionary(baggageKey(), fc.string()), (ids, sampled, entries) => {
        const spanContext = { ...ids, traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true };
        const baggage = propagation.createBaggage(Object.fromEntries(Object.entries(entries).map(([k, value]) => [k, { value }])));
        const ctx = propagation.setBaggage(trace.setSpanContext(ROOT_CONTEXT, spanContext), baggage);
        const theirsRead = otelJaeger.extract(ROOT_CONTEXT, inject(ctx), defaultTextMapGetter);
        expect(spanContextOf(theirsRead)).toEqual(spanContext);
        expect(entriesOf(theirsRead)).toEqual(entries);
        const oursRead = extract(inject(ctx, otelJaeger));
        expect(spanContextOf(oursRead)).toEqual(spanContext);
        expect(entriesOf(oursRead)).toEqual(entries);
      }),
    );
  });
});

describe('JaegerPropagator properties', () => {
  const headerValue = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.array(fc.string()),
    fc.uint8Array().map((bytes) => Buffer.from(bytes)),
    fc.constantFrom(`${TRACE_ID}:${SPAN_ID}:0:1`, '%3A%3A%3A', ':::', '%', '%E0'),
  );

  it('never throws on arbitrary strings, arrays or Buffers in uber-trace-id and uberctx-* headers', () => {
    fc.assert(
      fc.property(headerValue, fc.dictionary(fc.string(), headerValue), (traceHeader, baggage) => {
        const headers: Record<string, unknown> = { 'uber-trace-id': traceHeader };
        for (const [key, value] of Object.entries(baggage)) headers[`uberctx-${key}`] = value;
        const spanContext = trace.getSpanContext(extract(headers));
        if (spanContext !== undefined) expect(isSpanContextValid(spanContext)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips inject -> extract', () => {
    fc.assert(
      fc.property(validIds(), fc.boolean(), (ids, sampled) => {
        const spanContext = { ...ids, traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true };
        expect(spanContextOf(extract(inject(trace.setSpanContext(ROOT_CONTEXT, spanContext))))).toEqual(spanContext);
      }),
    );
  });
});

function hex(length: number): fc.Arbitrary<string> {
  return fc
    .array(fc.constantFrom(...'0123456789abcdef'), { minLength: length, maxLength: length })
    .map((chars) => chars.join(''))
    .filter((id) => !/^0+$/.test(id));
}

function validIds(): fc.Arbitrary<{ traceId: string; spanId: string }> {
  return fc.record({ traceId: hex(32), spanId: hex(16) });
}

function baggageKey(): fc.Arbitrary<string> {
  // Lower case: HTTP does not keep header case, so Jaeger recommends lower-case keys.
  // Not `__proto__`: OpenTelemetry collects baggage in a plain object, where that key is lost.
  return fc.stringMatching(/^[a-z0-9_-]{1,12}$/).filter((key) => key !== '__proto__');
}
