import { B3Propagator, diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type SpanContext,
} from '@opentelemetry/api';
import { B3InjectEncoding as OtelEncoding, B3Propagator as OtelB3Propagator } from '@opentelemetry/propagator-b3';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  ParentBasedSampler,
  SamplingDecision,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { getB3SamplingDecision } from '../src/propagators/b3-sampling-decision';

// Vectors come from https://github.com/openzipkin/b3-propagation (README) unless noted.
const README_TRACE_ID = '80f198ee56343ba864fe8b2a57d3eff7';
const README_SPAN_ID = '05e3ac9a4f6e3b90';
const README_PARENT_ID = 'e457b5a2e4d86bd1';

const single = new B3Propagator();
const multi = new B3Propagator({ injectEncoding: 'multi' });

function extract(headers: Record<string, unknown>, propagator = single): Context {
  return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

function spanContextOf(ctx: Context): Pick<SpanContext, 'traceId' | 'spanId' | 'traceFlags' | 'isRemote'> | undefined {
  const spanContext = trace.getSpanContext(ctx);
  if (spanContext === undefined) return undefined;
  const { traceId, spanId, traceFlags, isRemote } = spanContext;
  return { traceId, spanId, traceFlags, isRemote };
}

function inject(ctx: Context, propagator = single): Record<string, string> {
  const headers: Record<string, string> = {};
  propagator.inject(ctx, headers, defaultTextMapSetter);
  return headers;
}

beforeEach(() => resetDiagnostics());

describe('B3Propagator extract() of the single b3 header (README "Single Header")', () => {
  it.each([
    ['TraceId-SpanId-Sampled-ParentSpanId ("ParentSpanId" section)', `${README_TRACE_ID}-${README_SPAN_ID}-1-${README_PARENT_ID}`, TraceFlags.SAMPLED],
    ['TraceId-SpanId-Sampled ("TraceId" section)', `${README_TRACE_ID}-${README_SPAN_ID}-1`, TraceFlags.SAMPLED],
    ['a debug decision d ("Sampling State" section)', `${README_TRACE_ID}-${README_SPAN_ID}-d`, TraceFlags.SAMPLED],
    ['a deny decision 0', `${README_TRACE_ID}-${README_SPAN_ID}-0`, TraceFlags.NONE],
    ['no sampling state (defer)', `${README_TRACE_ID}-${README_SPAN_ID}`, TraceFlags.NONE],
    ['a not-yet-sampled child: TraceId-SpanId-ParentSpanId (Brave B3SingleFormat)', `${README_TRACE_ID}-${README_SPAN_ID}-${README_PARENT_ID}`, TraceFlags.NONE],
  ])('reads %s', (_name, header, traceFlags) => {
    expect(spanContextOf(extract({ b3: header }))).toEqual({ traceId: README_TRACE_ID, spanId: README_SPAN_ID, traceFlags, isRemote: true });
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBeUndefined();
  });

  it('left-pads a 64-bit trace id to 128 bits ("32 or 16 lower-hex characters")', () => {
    expect(spanContextOf(extract({ b3: `64fe8b2a57d3eff7-${README_SPAN_ID}-1` }))?.traceId).toBe('000000000000000064fe8b2a57d3eff7');
  });

  it('reads upper-case hex and writes it back in lower case', () => {
    const ctx = extract({ b3: `${README_TRACE_ID.toUpperCase()}-${README_SPAN_ID.toUpperCase()}-1` });
    expect(spanContextOf(ctx)?.traceId).toBe(README_TRACE_ID);
    expect(inject(ctx)).toEqual({ b3: `${README_TRACE_ID}-${README_SPAN_ID}-1` });
  });

  it.each(['0', '1', 'd'])('treats a bare sampling state %p as no trace context, not as malformed', (header) => {
    expect(trace.getSpanContext(extract({ b3: header }))).toBeUndefined();
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBeUndefined();
  });

  it.each([
    ['an unknown sampling state', `${README_TRACE_ID}-${README_SPAN_ID}-x`],
    ['an unknown bare sampling state', '2'],
    ['a trace id of 15 digits', `${README_TRACE_ID.slice(0, 15)}-${README_SPAN_ID}-1`],
    ['a trace id of 20 digits', `${README_TRACE_ID.slice(0, 20)}-${README_SPAN_ID}-1`],
    ['a span id of 15 digits', `${README_TRACE_ID}-${README_SPAN_ID.slice(1)}-1`],
    ['a non-hex trace id', `${README_TRACE_ID.slice(0, 31)}g-${README_SPAN_ID}-1`],
    ['an all-zero trace id', `${'0'.repeat(32)}-${README_SPAN_ID}-1`],
    ['an all-zero span id', `${README_TRACE_ID}-${'0'.repeat(16)}-1`],
    ['a trailing hyphen', `${README_TRACE_ID}-${README_SPAN_ID}-`],
    ['a fifth field', `${README_TRACE_ID}-${README_SPAN_ID}-1-${README_PARENT_ID}-1`],
    ['a non-hex parent span id', `${README_TRACE_ID}-${README_SPAN_ID}-1-${README_PARENT_ID.slice(1)}z`],
    ['underscores for hyphens', `${README_TRACE_ID}_${README_SPAN_ID}_1`],
  ])('ignores and counts %s as malformed', (_name, header) => {
    expect(trace.getSpanContext(extract({ b3: header }))).toBeUndefined();
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBe(1);
  });
});

describe('B3Propagator extract() of the X-B3-* headers (README "Multiple Headers")', () => {
  const traceId = '463ac35c9f6413ad48485a3953bb6124';
  const spanId = 'a2fb4a1d1a96d312';

  it.each([
    ['X-B3-Sampled: 1', { 'x-b3-sampled': '1' }, TraceFlags.SAMPLED],
    ['X-B3-Sampled: 0', { 'x-b3-sampled': '0' }, TraceFlags.NONE],
    ['no X-B3-Sampled (defer)', {}, TraceFlags.NONE],
    ['X-B3-Flags: 1 (debug implies accept)', { 'x-b3-flags': '1' }, TraceFlags.SAMPLED],
    ['the lenient X-B3-Sampled: true', { 'x-b3-sampled': 'true' }, TraceFlags.SAMPLED],
    ['the lenient X-B3-Sampled: false', { 'x-b3-sampled': 'false' }, TraceFlags.NONE],
  ])('reads %s', (_name, extra, traceFlags) => {
    const headers = { 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-parentspanid': '0020000000000001', ...extra };
    expect(spanContextOf(extract(headers))).toEqual({ traceId, spanId, traceFlags, isRemote: true });
  });

  it('reads the headers a Java producer sends in mixed case (opentelemetry-js #3150)', () => {
    const ctx = extract({ 'X-B3-TraceId': traceId, 'X-B3-SpanId': spanId, 'X-B3-Sampled': '1' });
    expect(spanContextOf(ctx)).toEqual({ traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  });

  it('reads Buffer values (Kafka headers) and takes the first of repeated values ("the first value wins")', () => {
    const ctx = extract({ 'x-b3-traceid': [Buffer.from(traceId), Buffer.from('1'.repeat(32))], 'x-b3-spanid': `${spanId}, ${'2'.repeat(16)}` });
    expect(spanContextOf(ctx)).toMatchObject({ traceId, spanId });
  });

  it('counts an X-B3-TraceId without X-B3-SpanId as malformed', () => {
    expect(trace.getSpanContext(extract({ 'x-b3-traceid': traceId }))).toBeUndefined();
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBe(1);
  });

  it('gives the single header precedence over the multiple headers ("Http Encodings")', () => {
    const ctx = extract({ b3: `${README_TRACE_ID}-${README_SPAN_ID}-1`, 'x-b3-traceid': traceId, 'x-b3-spanid': spanId });
    expect(spanContextOf(ctx)?.traceId).toBe(README_TRACE_ID);
  });

  it('falls back to valid multiple headers when the single header is invalid, and counts it once', () => {
    const ctx = extract({ b3: 'garbage', 'x-b3-traceid': traceId, 'x-b3-spanid': spanId });
    expect(spanContextOf(ctx)?.traceId).toBe(traceId);
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBe(1);
  });

  it('leaves the context unchanged when no B3 header is present', () => {
    expect(extract({ traceparent: 'x' })).toBe(ROOT_CONTEXT);
    expect(diagnosticsSnapshot()).toEqual({});
  });
});

describe('B3Propagator inject()', () => {
  const sampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: README_TRACE_ID, spanId: README_SPAN_ID, traceFlags: TraceFlags.SAMPLED });
  const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: README_TRACE_ID, spanId: README_SPAN_ID, traceFlags: TraceFlags.NONE });

  it.each([
    ['single', sampled, { b3: `${README_TRACE_ID}-${README_SPAN_ID}-1` }],
    ['single', unsampled, { b3: `${README_TRACE_ID}-${README_SPAN_ID}-0` }],
    ['multi', sampled, { 'x-b3-traceid': README_TRACE_ID, 'x-b3-spanid': README_SPAN_ID, 'x-b3-sampled': '1' }],
    ['multi', unsampled, { 'x-b3-traceid': README_TRACE_ID, 'x-b3-spanid': README_SPAN_ID, 'x-b3-sampled': '0' }],
  ] as const)('writes the %s encoding', (encoding, ctx, expected) => {
    expect(inject(ctx, encoding === 'single' ? single : multi)).toEqual(expected);
  });

  it('writes a debug trace back as d (single) and as X-B3-Flags: 1 without X-B3-Sampled (multi)', () => {
    const ctx = extract({ b3: `${README_TRACE_ID}-${README_SPAN_ID}-d` });
    expect(inject(ctx)).toEqual({ b3: `${README_TRACE_ID}-${README_SPAN_ID}-d` });
    expect(inject(ctx, multi)).toEqual({ 'x-b3-traceid': README_TRACE_ID, 'x-b3-spanid': README_SPAN_ID, 'x-b3-flags': '1' });
  });

  it('keeps debug for a child span of the same trace, and drops it for another trace', () => {
    const ctx = extract({ b3: `${README_TRACE_ID}-${README_SPAN_ID}-d` });
    const child = trace.setSpanContext(ctx, { traceId: README_TRACE_ID, spanId: 'aaaaaaaaaaaaaaaa', traceFlags: TraceFlags.SAMPLED });
    expect(inject(child).b3).toBe(`${README_TRACE_ID}-aaaaaaaaaaaaaaaa-d`);
    const other = trace.setSpanContext(ctx, { traceId: 'b'.repeat(32), spanId: 'aaaaaaaaaaaaaaaa', traceFlags: TraceFlags.SAMPLED });
    expect(inject(other).b3).toBe(`${'b'.repeat(32)}-aaaaaaaaaaaaaaaa-1`);
  });

  it('forwards a deferred decision as deferred while the extracted span context is passed through (no SDK)', () => {
    const ctx = extract({ 'x-b3-traceid': README_TRACE_ID, 'x-b3-spanid': README_SPAN_ID });
    expect(inject(ctx)).toEqual({ b3: `${README_TRACE_ID}-${README_SPAN_ID}` });
    expect(inject(ctx, multi)).toEqual({ 'x-b3-traceid': README_TRACE_ID, 'x-b3-spanid': README_SPAN_ID });
    // Once an SDK made a decision for a child span, that decision is written.
    const child = trace.setSpanContext(ctx, { traceId: README_TRACE_ID, spanId: 'aaaaaaaaaaaaaaaa', traceFlags: TraceFlags.NONE });
    expect(inject(child).b3).toBe(`${README_TRACE_ID}-aaaaaaaaaaaaaaaa-0`);
  });

  it('writes nothing for an invalid span context or when tracing is suppressed', () => {
    expect(inject(ROOT_CONTEXT)).toEqual({});
    const suppressed = sampled.setValue(Symbol.for('OpenTelemetry SDK Context Key SUPPRESS_TRACING'), true);
    expect(inject(suppressed)).toEqual({});
  });

  it('lists the headers of its inject encoding as fields', () => {
    expect(single.fields()).toEqual(['b3']);
    expect(multi.fields()).toEqual(['x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'x-b3-flags', 'x-b3-parentspanid']);
  });

  it('rejects an unknown inject encoding at construction', () => {
    expect(() => new B3Propagator({ injectEncoding: 'both' as never })).toThrow(/ctxprop: option "injectEncoding" must be "single" or "multi"/);
  });
});

describe('B3Propagator: a sampling decision sent without ids (README "Single Header", "Why propagate a reject sampling decision?")', () => {
  const OTHER_TRACE_ID = 'b'.repeat(32);
  const OTHER_SPAN_ID = 'c'.repeat(16);

  it.each([
    ['b3: 0', { b3: '0' }, 'deny', { b3: '0' }, { 'x-b3-sampled': '0' }],
    ['b3: 1', { b3: '1' }, 'accept', { b3: '1' }, { 'x-b3-sampled': '1' }],
    ['b3: d', { b3: 'd' }, 'debug', { b3: 'd' }, { 'x-b3-flags': '1' }],
    ['X-B3-Sampled: 0', { 'X-B3-Sampled': '0' }, 'deny', { b3: '0' }, { 'x-b3-sampled': '0' }],
    ['X-B3-Sampled: 1', { 'X-B3-Sampled': '1' }, 'accept', { b3: '1' }, { 'x-b3-sampled': '1' }],
    ['the lenient X-B3-Sampled: false', { 'x-b3-sampled': 'false' }, 'deny', { b3: '0' }, { 'x-b3-sampled': '0' }],
    ['X-B3-Flags: 1 (debug)', { 'X-B3-Flags': '1' }, 'debug', { b3: 'd' }, { 'x-b3-flags': '1' }],
    ['X-B3-Flags: 1 with X-B3-Sampled: 0 (debug implies accept)', { 'x-b3-flags': '1', 'x-b3-sampled': '0' }, 'debug', { b3: 'd' }, { 'x-b3-flags': '1' }],
    ['b3: 0 with X-B3-Sampled: 1 (the single header takes precedence)', { b3: '0', 'x-b3-sampled': '1' }, 'deny', { b3: '0' }, { 'x-b3-sampled': '0' }],
  ])('keeps %s with no span context, and writes it back in either encoding', (_name, headers, decision, singleOut, multiOut) => {
    const ctx = extract(headers);
    expect(trace.getSpanContext(ctx)).toBeUndefined();
    expect(getB3SamplingDecision(ctx)).toBe(decision);
    expect(diagnosticsSnapshot()).toEqual({});
    expect(inject(ctx, single)).toEqual(singleOut);
    expect(inject(ctx, multi)).toEqual(multiOut);
  });

  it.each(['0', '1', 'd'])('round-trips b3: %s through extract -> inject -> extract in both encodings', (state) => {
    const decision = getB3SamplingDecision(extract({ b3: state }));
    for (const writer of [single, multi]) {
      const again = extract(inject(extract({ b3: state }), writer));
      expect(trace.getSpanContext(again)).toBeUndefined();
      expect(getB3SamplingDecision(again)).toBe(decision);
    }
  });

  it('keeps the decision of a valid b3: 0 and counts the malformed X-B3-* ids beside it', () => {
    const ctx = extract({ b3: '0', 'x-b3-traceid': README_TRACE_ID });
    expect(getB3SamplingDecision(ctx)).toBe('deny');
    expect(inject(ctx)).toEqual({ b3: '0' });
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBe(1);
  });

  it('falls back to X-B3-Sampled: 0 when the b3 header is malformed, and counts it once', () => {
    const ctx = extract({ b3: 'garbage', 'x-b3-sampled': '0' });
    expect(getB3SamplingDecision(ctx)).toBe('deny');
    expect(diagnosticsSnapshot()).toEqual({ 'extract.trace.malformed': 1 });
  });

  it('ignores X-B3-Flags other than 1 on its own ("Absent or any other value can be ignored")', () => {
    expect(extract({ 'x-b3-flags': '0' })).toBe(ROOT_CONTEXT);
    expect(diagnosticsSnapshot()).toEqual({});
  });

  it('counts an unknown X-B3-Sampled value on its own as malformed and keeps nothing', () => {
    expect(extract({ 'x-b3-sampled': 'yes' })).toBe(ROOT_CONTEXT);
    expect(diagnosticsSnapshot()).toEqual({ 'extract.trace.malformed': 1 });
  });

  it('lets valid X-B3-* ids in the same carrier win over a sampling-only b3 header, with their own decision', () => {
    const sampledIds = extract({ b3: '0', 'x-b3-traceid': README_TRACE_ID, 'x-b3-spanid': README_SPAN_ID, 'x-b3-sampled': '1' });
    expect(spanContextOf(sampledIds)).toEqual({ traceId: README_TRACE_ID, spanId: README_SPAN_ID, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    expect(getB3SamplingDecision(sampledIds)).toBeUndefined();
    expect(inject(sampledIds)).toEqual({ b3: `${README_TRACE_ID}-${README_SPAN_ID}-1` });
    const deferredIds = extract({ b3: '0', 'x-b3-traceid': README_TRACE_ID, 'x-b3-spanid': README_SPAN_ID });
    expect(inject(deferredIds, multi)).toEqual({ 'x-b3-traceid': README_TRACE_ID, 'x-b3-spanid': README_SPAN_ID });
  });

  it('drops a decision kept earlier when a later extraction finds valid ids', () => {
    const denied = extract({ b3: '0' });
    const later = single.extract(denied, { b3: `${README_TRACE_ID}-${README_SPAN_ID}-1` }, defaultTextMapGetter);
    expect(getB3SamplingDecision(later)).toBeUndefined();
    expect(inject(later)).toEqual({ b3: `${README_TRACE_ID}-${README_SPAN_ID}-1` });
    expect(inject(multi.extract(denied, { 'x-b3-traceid': README_TRACE_ID, 'x-b3-spanid': README_SPAN_ID, 'x-b3-sampled': '1' }, defaultTextMapGetter), multi)).toEqual({
      'x-b3-traceid': README_TRACE_ID,
      'x-b3-spanid': README_SPAN_ID,
      'x-b3-sampled': '1',
    });
  });

  // With a span context to write, its sampled flag is the decision that was made for that trace
  // (by the SDK's sampler, or by upstream with ids); the caller's decision adds only debug's emphasis.
  it.each([
    ['0', TraceFlags.SAMPLED, '1', { 'x-b3-sampled': '1' }],
    ['0', TraceFlags.NONE, '0', { 'x-b3-sampled': '0' }],
    ['1', TraceFlags.SAMPLED, '1', { 'x-b3-sampled': '1' }],
    ['1', TraceFlags.NONE, '0', { 'x-b3-sampled': '0' }],
    ['d', TraceFlags.SAMPLED, 'd', { 'x-b3-flags': '1' }],
    ['d', TraceFlags.NONE, '0', { 'x-b3-sampled': '0' }],
  ] as const)('after b3: %s, writes a span context with trace flags %i as %p (single) and %p (multi)', (state, traceFlags, singleState, multiSampling) => {
    const ctx = trace.setSpanContext(extract({ b3: state }), { traceId: OTHER_TRACE_ID, spanId: OTHER_SPAN_ID, traceFlags });
    expect(inject(ctx)).toEqual({ b3: `${OTHER_TRACE_ID}-${OTHER_SPAN_ID}-${singleState}` });
    expect(inject(ctx, multi)).toEqual({ 'x-b3-traceid': OTHER_TRACE_ID, 'x-b3-spanid': OTHER_SPAN_ID, ...multiSampling });
  });

  it('leaves the decision to the SDK: a ParentBased sampler sees no parent and its root sampler decides', () => {
    const denied = extract({ b3: '0' });
    const tracer = new BasicTracerProvider({ sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }) }).getTracer('test');
    const span = tracer.startSpan('GET /', {}, denied);
    expect(span.spanContext().traceFlags).toBe(TraceFlags.SAMPLED);
    expect(inject(trace.setSpan(denied, span)).b3).toBe(`${span.spanContext().traceId}-${span.spanContext().spanId}-1`);
  });

  it('lets a root sampler that reads the decision honour the caller\'s deny', () => {
    const honouring: Sampler = {
      shouldSample: (ctx) => ({
        decision: getB3SamplingDecision(ctx) === 'deny' ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED,
      }),
      toString: () => 'HonourB3Deny',
    };
    const tracer = new BasicTracerProvider({ sampler: new ParentBasedSampler({ root: honouring }) }).getTracer('test');
    const denied = extract({ b3: '0' });
    const span = tracer.startSpan('GET /', {}, denied);
    expect(inject(trace.setSpan(denied, span), multi)).toEqual({
      'x-b3-traceid': span.spanContext().traceId,
      'x-b3-spanid': span.spanContext().spanId,
      'x-b3-sampled': '0',
    });
  });

  it('writes nothing when tracing is suppressed', () => {
    const suppressed = extract({ b3: '0' }).setValue(Symbol.for('OpenTelemetry SDK Context Key SUPPRESS_TRACING'), true);
    expect(inject(suppressed)).toEqual({});
    expect(inject(suppressed, multi)).toEqual({});
  });
});

describe('B3Propagator interoperability with @opentelemetry/propagator-b3', () => {
  const otelSingle = new OtelB3Propagator();
  const otelMulti = new OtelB3Propagator({ injectEncoding: OtelEncoding.MULTI_HEADER });

  it.each([
    { b3: `${README_TRACE_ID}-${README_SPAN_ID}-1-${README_PARENT_ID}` },
    { b3: `${README_TRACE_ID}-${README_SPAN_ID}-0` },
    { b3: `${README_TRACE_ID}-${README_SPAN_ID}-d` },
    { b3: `${README_TRACE_ID}-${README_SPAN_ID}` },
    { b3: `64fe8b2a57d3eff7-${README_SPAN_ID}-1` },
    { 'x-b3-traceid': '463ac35c9f6413ad48485a3953bb6124', 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '1' },
    { 'x-b3-traceid': '463ac35c9f6413ad48485a3953bb6124', 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-flags': '1' },
    { 'x-b3-traceid': '48485a3953bb6124', 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '0' },
  ])('reads %p to the same span context as OpenTelemetry', (headers) => {
    const ours = spanContextOf(extract(headers));
    const theirs = spanContextOf(otelSingle.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
    expect(ours).toBeDefined();
    expect(ours).toEqual(theirs);
  });

  it('writes headers (single and multi) that OpenTelemetry reads back to the same span context', () => {
    fc.assert(
      fc.property(validIds(), fc.boolean(), (ids, sampledFlag) => {
        const spanContext = { ...ids, traceFlags: sampledFlag ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true };
        const ctx = trace.setSpanContext(ROOT_CONTEXT, spanContext);
        for (const ours of [single, multi]) {
          const read = otelSingle.extract(ROOT_CONTEXT, inject(ctx, ours), defaultTextMapGetter);
          expect(spanContextOf(read)).toEqual(spanContext);
        }
      }),
    );
  });

  it('reads what OpenTelemetry writes (single and multi) to the same span context', () => {
    fc.assert(
      fc.property(validIds(), fc.boolean(), (ids, sampledFlag) => {
        const spanContext = { ...ids, traceFlags: sampledFlag ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true };
        for (const theirs of [otelSingle, otelMulti]) {
          const headers: Record<string, string> = {};
          theirs.inject(trace.setSpanContext(ROOT_CONTEXT, spanContext), headers, defaultTextMapSetter);
          expect(spanContextOf(extract(headers))).toEqual(spanContext);
        }
      }),
    );
  });
});

describe('B3Propagator properties', () => {
  const headerValue = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.array(fc.string()),
    fc.uint8Array().map((bytes) => Buffer.from(bytes)),
    fc.constantFrom(`${README_TRACE_ID}-${README_SPAN_ID}-1`, '0', 'd', README_TRACE_ID, README_SPAN_ID),
  );

  it('never throws on arbitrary strings, arrays or Buffers in any B3 header, and yields only valid lower-case ids', () => {
    fc.assert(
      fc.property(
        fc.record(
          { b3: headerValue, 'X-B3-TraceId': headerValue, 'x-b3-spanid': headerValue, 'x-b3-sampled': headerValue, 'x-b3-flags': headerValue },
          { requiredKeys: [] },
        ),
        (headers) => {
          const spanContext = trace.getSpanContext(extract(headers));
          if (spanContext !== undefined) {
            expect(isSpanContextValid(spanContext)).toBe(true);
            expect(spanContext.traceId).toBe(spanContext.traceId.toLowerCase());
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('round-trips inject -> extract for both encodings', () => {
    fc.assert(
      fc.property(validIds(), fc.boolean(), (ids, sampledFlag) => {
        const spanContext = { ...ids, traceFlags: sampledFlag ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true };
        const ctx = trace.setSpanContext(ROOT_CONTEXT, spanContext);
        expect(spanContextOf(extract(inject(ctx, single)))).toEqual(spanContext);
        expect(spanContextOf(extract(inject(ctx, multi)))).toEqual(spanContext);
      }),
    );
  });
});

function validIds(): fc.Arbitrary<{ traceId: string; spanId: string }> {
  const hex = (length: number) =>
    fc
      .array(fc.constantFrom(...'0123456789abcdef'), { minLength: length, maxLength: length })
      .map((chars) => chars.join(''))
      .filter((id) => !/^0+$/.test(id));
  return fc.record({ traceId: hex(32), spanId: hex(16) });
}
