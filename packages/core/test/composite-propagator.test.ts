import {
  B3Propagator,
  BaggagePropagator,
  CompositePropagator,
  configureDiagnostics,
  diagnosticsSnapshot,
  JaegerPropagator,
  OTTracePropagator,
  resetDiagnostics,
  TraceContextPropagator,
  XRayPropagator,
} from '@ctxprop/core';
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type TextMapPropagator,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3Propagator as OtelB3Propagator } from '@opentelemetry/propagator-b3';
import { getB3SamplingDecision } from '../src/propagators/b3-sampling-decision';

const B3_TRACE = '80f198ee56343ba864fe8b2a57d3eff7';
const JAEGER_TRACE = '463ac35c9f6413ad48485a3953bb6124';
const SPAN = 'e457b5a2e4d86bd1';

const headers = {
  b3: `${B3_TRACE}-${SPAN}-d`,
  'uber-trace-id': `${JAEGER_TRACE}:${SPAN}:0:1`,
};

const warnings: { message: string; code: string }[] = [];
beforeAll(() => configureDiagnostics({ warn: (message, code) => warnings.push({ message, code }) }));
beforeEach(() => {
  resetDiagnostics();
  warnings.length = 0;
});

function extract(propagator: TextMapPropagator, carrier: Record<string, unknown>, ctx: Context = ROOT_CONTEXT): Context {
  return propagator.extract(ctx, carrier, defaultTextMapGetter);
}

function entriesOf(ctx: Context): Record<string, string> {
  return Object.fromEntries((propagation.getBaggage(ctx)?.getAllEntries() ?? []).map(([key, entry]) => [key, entry.value]));
}

describe('CompositePropagator extract(): trace context precedence', () => {
  it('takes the trace context of the first configured propagator that finds one', () => {
    expect(trace.getSpanContext(extract(new CompositePropagator([new B3Propagator(), new JaegerPropagator()]), headers))?.traceId).toBe(B3_TRACE);
    expect(trace.getSpanContext(extract(new CompositePropagator([new JaegerPropagator(), new B3Propagator()]), headers))?.traceId).toBe(JAEGER_TRACE);
  });

  it('checks the ids of a parsed traceparent again when a propagator changed them before returning it', () => {
    // A wrapping propagator that spoils the ids W3C parsing produced: the composite must not take
    // a span context it would reject from any other propagator, and falls back to the next one.
    const spoiling: TextMapPropagator = {
      inject: () => undefined,
      fields: () => ['traceparent'],
      extract(ctx, carrier, getter) {
        const extracted = new TraceContextPropagator().extract(ctx, carrier, getter);
        const spanContext = trace.getSpanContext(extracted);
        if (spanContext !== undefined) spanContext.traceId = '0'.repeat(32);
        return extracted;
      },
    };
    const carrier = { ...headers, traceparent: `00-${JAEGER_TRACE}-${SPAN}-01` };
    expect(trace.getSpanContext(extract(new CompositePropagator([spoiling, new B3Propagator()]), carrier))?.traceId).toBe(B3_TRACE);
    // Unspoiled, the parsed traceparent wins.
    expect(trace.getSpanContext(extract(new CompositePropagator([new TraceContextPropagator(), new B3Propagator()]), carrier))?.traceId).toBe(JAEGER_TRACE);
  });

  it('writes a parsed traceparent in every other format, and nothing once its ids were made invalid', () => {
    const translators = [new B3Propagator(), new JaegerPropagator(), new OTTracePropagator(), new XRayPropagator()];
    const parsed = extract(new TraceContextPropagator(), { traceparent: `00-${JAEGER_TRACE}-${SPAN}-01` });
    const out: Record<string, string> = {};
    for (const propagator of translators) propagator.inject(parsed, out, defaultTextMapSetter);
    expect(out).toEqual({
      b3: `${JAEGER_TRACE}-${SPAN}-1`,
      'uber-trace-id': `${JAEGER_TRACE}:${SPAN}:0:01`,
      'ot-tracer-traceid': JAEGER_TRACE.slice(16),
      'ot-tracer-spanid': SPAN,
      'ot-tracer-sampled': 'true',
      'x-amzn-trace-id': `Root=1-${JAEGER_TRACE.slice(0, 8)}-${JAEGER_TRACE.slice(8)};Parent=${SPAN};Sampled=1`,
    });
    // Someone sets the span context's ids to invalid ones after parsing: no format may carry them.
    for (const spoil of [{ traceId: '0'.repeat(32) }, { spanId: 'not-hex-not-hex!' }]) {
      const spoiled = extract(new TraceContextPropagator(), { traceparent: `00-${JAEGER_TRACE}-${SPAN}-01` });
      Object.assign(trace.getSpanContext(spoiled)!, spoil);
      const none: Record<string, string> = {};
      for (const propagator of translators) propagator.inject(spoiled, none, defaultTextMapSetter);
      expect(none).toEqual({});
    }
  });

  it('drops everything a later propagator found with its trace context (no B3 debug flag on the Jaeger trace)', () => {
    const composite = new CompositePropagator([new JaegerPropagator(), new B3Propagator()]);
    const out: Record<string, string> = {};
    new B3Propagator().inject(extract(composite, headers), out, defaultTextMapSetter);
    expect(out).toEqual({ b3: `${JAEGER_TRACE}-${SPAN}-1` });
  });

  it('keeps what the winner found besides the span context (its B3 debug flag)', () => {
    const composite = new CompositePropagator([new B3Propagator(), new JaegerPropagator()]);
    const out: Record<string, string> = {};
    composite.inject(extract(composite, headers), out, defaultTextMapSetter);
    expect(out).toEqual({ b3: `${B3_TRACE}-${SPAN}-d`, 'uber-trace-id': `${B3_TRACE}:${SPAN}:0:01` });
  });

  it('lets a later propagator win when the first one\'s header is malformed', () => {
    const composite = new CompositePropagator([new B3Propagator(), new JaegerPropagator()]);
    const ctx = extract(composite, { ...headers, b3: 'not-b3' });
    expect(trace.getSpanContext(ctx)?.traceId).toBe(JAEGER_TRACE);
    expect(diagnosticsSnapshot()).toEqual({ 'extract.trace.malformed': 1 });
  });

  it('replaces a span already in the context with the extracted one, and keeps it when none is found', () => {
    const existing = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 });
    const composite = new CompositePropagator([new JaegerPropagator()]);
    expect(trace.getSpanContext(extract(composite, headers, existing))?.traceId).toBe(JAEGER_TRACE);
    expect(trace.getSpanContext(extract(composite, {}, existing))?.traceId).toBe('a'.repeat(32));
  });

  it('hands OpenTelemetry\'s propagators the case-insensitive getter, so a Java producer\'s X-B3-TraceId is read (opentelemetry-js #3150)', () => {
    const carrier = { 'X-B3-TraceId': B3_TRACE, 'X-B3-SpanId': SPAN, 'X-B3-Sampled': '1' };
    expect(trace.getSpanContext(extract(new OtelB3Propagator(), carrier))).toBeUndefined();
    expect(trace.getSpanContext(extract(new CompositePropagator([new OtelB3Propagator()]), carrier))?.traceId).toBe(B3_TRACE);
  });

  it('works with OpenTelemetry\'s own propagators inside', () => {
    const composite = new CompositePropagator([new W3CTraceContextPropagator(), new B3Propagator()]);
    const ctx = extract(composite, { ...headers, traceparent: `00-${'c'.repeat(32)}-${SPAN}-01` });
    expect(trace.getSpanContext(ctx)?.traceId).toBe('c'.repeat(32));
  });
});

describe('CompositePropagator extract(): a B3 sampling decision sent without ids (b3: 0)', () => {
  const everyFormat = () => [new TraceContextPropagator(), new BaggagePropagator(), new JaegerPropagator(), new XRayPropagator()];

  it.each([
    ['single', { b3: '0' }, { b3: '0' }],
    ['single', { 'x-b3-sampled': '0' }, { b3: '0' }],
    ['multi', { b3: 'd' }, { 'x-b3-flags': '1' }],
    ['multi', { 'X-B3-Sampled': '1' }, { 'x-b3-sampled': '1' }],
  ] as const)('keeps it so that B3 (%s) forwards it, and the other formats write nothing', (encoding, carrier, expected) => {
    const composite = new CompositePropagator([...everyFormat(), new B3Propagator({ injectEncoding: encoding })]);
    const ctx = extract(composite, { ...carrier, baggage: 'tenant=acme' });
    expect(trace.getSpanContext(ctx)).toBeUndefined();
    expect(entriesOf(ctx)).toEqual({ tenant: 'acme' });
    const out: Record<string, string> = {};
    composite.inject(ctx, out, defaultTextMapSetter);
    // Baggage as before (Jaeger writes it as uberctx-*); no trace header but B3's.
    expect(out).toEqual({ baggage: 'tenant=acme', 'uberctx-tenant': 'acme', ...expected });
  });

  it.each([
    ['b3: 0', { b3: '0' }],
    ['X-B3-Sampled: 0 with B3 writing the single header', { 'x-b3-sampled': '0' }],
  ])('does not count %s as a request without trace context (extract.trace.missing)', (_name, carrier) => {
    resetDiagnostics();
    extract(new CompositePropagator([new TraceContextPropagator(), new B3Propagator()]), carrier);
    expect(diagnosticsSnapshot()['extract.trace.missing']).toBeUndefined();
  });

  it('keeps a span already in the context beside it', () => {
    const existing = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.SAMPLED });
    const ctx = extract(new CompositePropagator([new TraceContextPropagator(), new B3Propagator()]), { b3: '0' }, existing);
    expect(trace.getSpanContext(ctx)?.traceId).toBe('a'.repeat(32));
    expect(getB3SamplingDecision(ctx)).toBe('deny');
  });

  it.each([
    ['before', () => [new TraceContextPropagator(), new B3Propagator()]],
    ['after', () => [new B3Propagator(), new TraceContextPropagator()]],
  ])('lets a valid traceparent win whole when tracecontext is configured %s B3', (_order, propagators) => {
    const composite = new CompositePropagator(propagators());
    const ctx = extract(composite, { b3: '0', traceparent: `00-${JAEGER_TRACE}-${SPAN}-01` });
    expect(getB3SamplingDecision(ctx)).toBeUndefined();
    const out: Record<string, string> = {};
    composite.inject(ctx, out, defaultTextMapSetter);
    expect(out).toEqual({ traceparent: `00-${JAEGER_TRACE}-${SPAN}-01`, b3: `${JAEGER_TRACE}-${SPAN}-1` });
  });
});

describe('CompositePropagator extract(): baggage merge', () => {
  it('merges baggage of every format; for a key found twice the first configured format wins', () => {
    const composite = new CompositePropagator([new JaegerPropagator(), new OTTracePropagator()]);
    const ctx = extract(composite, { 'uberctx-a': 'jaeger', 'uberctx-shared': 'jaeger', 'ot-baggage-b': 'ot', 'ot-baggage-shared': 'ot' });
    expect(entriesOf(ctx)).toEqual({ a: 'jaeger', shared: 'jaeger', b: 'ot' });
  });

  it('merges baggage from a format that lost the trace context too', () => {
    const composite = new CompositePropagator([new B3Propagator(), new JaegerPropagator()]);
    const ctx = extract(composite, { ...headers, 'uberctx-user': 'alice' });
    expect(trace.getSpanContext(ctx)?.traceId).toBe(B3_TRACE);
    expect(entriesOf(ctx)).toEqual({ user: 'alice' });
  });

  it('replaces the context\'s baggage with the wire baggage, and keeps it when the wire has none', () => {
    const existing = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ old: { value: '1' } }));
    const composite = new CompositePropagator([new JaegerPropagator()]);
    expect(entriesOf(extract(composite, { 'uberctx-new': '2' }, existing))).toEqual({ new: '2' });
    expect(entriesOf(extract(composite, {}, existing))).toEqual({ old: '1' });
  });

  it('keeps the one contributing propagator\'s baggage object as it is', () => {
    const baggage = propagation.createBaggage({ k: { value: 'v' } });
    const fixed: TextMapPropagator = {
      inject() {},
      extract: (ctx) => propagation.setBaggage(ctx, baggage),
      fields: () => ['baggage'],
    };
    expect(propagation.getBaggage(extract(new CompositePropagator([fixed, new B3Propagator()]), {}))).toBe(baggage);
  });
});

describe('CompositePropagator extract(): diagnostics', () => {
  it('counts extract.trace.missing when no header of a configured format is present', () => {
    extract(new CompositePropagator([new B3Propagator(), new JaegerPropagator()]), { other: 'x' });
    expect(diagnosticsSnapshot()).toEqual({ 'extract.trace.missing': 1 });
  });

  it('counts a present but malformed header as malformed, not as missing', () => {
    extract(new CompositePropagator([new XRayPropagator()]), { 'x-amzn-trace-id': 'garbage' });
    expect(diagnosticsSnapshot()).toEqual({ 'extract.trace.malformed': 1 });
  });

  it('counts nothing when a trace context is found', () => {
    extract(new CompositePropagator([new B3Propagator()]), headers);
    expect(diagnosticsSnapshot()).toEqual({});
  });

  it('treats X-B3-* as configured for a single-encoding B3Propagator (it reads both encodings)', () => {
    extract(new CompositePropagator([new B3Propagator()]), { 'x-b3-traceid': 'bad', 'x-b3-spanid': 'bad' });
    expect(diagnosticsSnapshot()).toEqual({ 'extract.trace.malformed': 1 });
  });

  it.each([
    ['traceparent', `00-${B3_TRACE}-${SPAN}-01`, 'tracecontext'],
    ['b3', `${B3_TRACE}-${SPAN}-1`, 'b3'],
    ['x-b3-traceid', B3_TRACE, 'b3multi'],
    ['x-amzn-trace-id', `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${SPAN}`, 'xray'],
    ['ot-tracer-traceid', B3_TRACE, 'ottrace'],
  ])('counts a %s header of a format that is not configured and warns once naming the fix', (header, value, name) => {
    const composite = new CompositePropagator([new JaegerPropagator()], { names: ['jaeger'] });
    extract(composite, { [header]: value });
    extract(composite, { [header]: value });
    expect(diagnosticsSnapshot()).toEqual({ 'extract.trace.missing': 2, 'extract.format.unconfigured': 2 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain(`"${header}" header`);
    expect(warnings[0]!.message).toContain(`OTEL_PROPAGATORS=jaeger,${name}`);
  });

  it('suggests tracecontext,baggage plus the missing format when it was not told the configured names', () => {
    extract(new CompositePropagator([new JaegerPropagator()]), { 'Uber-Trace-Id': 'x', B3: `${B3_TRACE}-${SPAN}` });
    expect(warnings.map((warning) => warning.message).join('\n')).toContain('OTEL_PROPAGATORS=tracecontext,baggage,b3');
  });

  it('uses the fields of a third-party propagator to tell missing from present', () => {
    const custom: TextMapPropagator = { inject() {}, extract: (ctx) => ctx, fields: () => ['x-custom-trace'] };
    extract(new CompositePropagator([custom]), { 'x-custom-trace': 'unreadable' });
    expect(diagnosticsSnapshot()['extract.trace.missing']).toBeUndefined();
    extract(new CompositePropagator([custom]), {});
    expect(diagnosticsSnapshot()['extract.trace.missing']).toBe(1);
  });

  it('does not count missing when no trace format is configured (baggage only)', () => {
    const baggageOnly: TextMapPropagator = { inject() {}, extract: (ctx) => ctx, fields: () => ['baggage'] };
    extract(new CompositePropagator([baggageOnly]), {});
    expect(diagnosticsSnapshot()['extract.trace.missing']).toBeUndefined();
  });

  it('skips and counts a propagator that throws, so the request carries on', () => {
    const broken: TextMapPropagator = {
      inject() {
        throw new Error('boom');
      },
      extract() {
        throw new Error('boom');
      },
      fields: () => [],
    };
    const composite = new CompositePropagator([broken, new JaegerPropagator()]);
    expect(trace.getSpanContext(extract(composite, headers))?.traceId).toBe(JAEGER_TRACE);
    const out: Record<string, string> = {};
    composite.inject(extract(composite, headers), out, defaultTextMapSetter);
    expect(out['uber-trace-id']).toBe(`${JAEGER_TRACE}:${SPAN}:0:01`);
    expect(diagnosticsSnapshot()['internal.error']).toBe(3);
  });
});

describe('CompositePropagator inject() and fields()', () => {
  it('injects with every propagator', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: B3_TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED });
    const out: Record<string, string> = {};
    new CompositePropagator([new B3Propagator(), new XRayPropagator()]).inject(ctx, out, defaultTextMapSetter);
    expect(out).toEqual({
      b3: `${B3_TRACE}-${SPAN}-1`,
      'x-amzn-trace-id': `Root=1-${B3_TRACE.slice(0, 8)}-${B3_TRACE.slice(8)};Parent=${SPAN};Sampled=1`,
    });
  });

  it('lists the union of the fields without duplicates', () => {
    const composite = new CompositePropagator([new B3Propagator(), new B3Propagator(), new JaegerPropagator({ traceHeader: 'B3' }), new XRayPropagator()]);
    expect(composite.fields()).toEqual(['b3', 'x-amzn-trace-id']);
  });

  it('accepts OpenTelemetry\'s { propagators } config form', () => {
    expect(new CompositePropagator({ propagators: [new XRayPropagator()] }).fields()).toEqual(['x-amzn-trace-id']);
  });

  it('rejects something that is not a list of propagators', () => {
    expect(() => new CompositePropagator([{}] as never)).toThrow(/ctxprop: option "propagators" must be an array of TextMapPropagator/);
    expect(() => new CompositePropagator('b3' as never)).toThrow(/ctxprop: option "propagators"/);
  });
});
