import { diagnosticsSnapshot, resetDiagnostics, XRayPropagator } from '@ctxprop/core';
import { defaultTextMapGetter, defaultTextMapSetter, isSpanContextValid, ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';
import fc from 'fast-check';

// Vectors from the AWS X-Ray developer guide, "Tracing header":
// https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader
const ROOT = '1-5759e988-bd862e3fe1be46a994272793';
const TRACE_ID = '5759e988bd862e3fe1be46a994272793';
const PARENT = '53995c3f42cd8ad8';

const xray = new XRayPropagator();

function extract(headers: Record<string, unknown>): Context {
  return xray.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

function inject(ctx: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  xray.inject(ctx, headers, defaultTextMapSetter);
  return headers;
}

function spanContextOf(ctx: Context) {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && { traceId: spanContext.traceId, spanId: spanContext.spanId, traceFlags: spanContext.traceFlags, isRemote: spanContext.isRemote };
}

beforeEach(() => resetDiagnostics());

describe('XRayPropagator extract()', () => {
  it.each([
    ['the guide\'s example with a parent, sampled', `Root=${ROOT};Parent=${PARENT};Sampled=1`, TraceFlags.SAMPLED],
    ['Sampled=0', `Root=${ROOT};Parent=${PARENT};Sampled=0`, TraceFlags.NONE],
    ['Sampled=? (the receiver decides) as not sampled', `Root=${ROOT};Parent=${PARENT};Sampled=?`, TraceFlags.NONE],
    ['no Sampled field as not sampled', `Root=${ROOT};Parent=${PARENT}`, TraceFlags.NONE],
    ['fields in another order', `Sampled=1;Parent=${PARENT};Root=${ROOT}`, TraceFlags.SAMPLED],
    ['optional whitespace around fields and separators', ` Root = ${ROOT} ;\tParent=${PARENT} ; Sampled=1 `, TraceFlags.SAMPLED],
    ['a Lineage field (ignored)', `Root=${ROOT};Parent=${PARENT};Sampled=1;Lineage=a87bd80c:1|68fd508a:5|c512fbe3:2`, TraceFlags.SAMPLED],
    ['a Self field and custom data (ignored)', `Self=1-67891234-12456789abcdef012345678;Root=${ROOT};Parent=${PARENT};Sampled=1;CustomerId=42`, TraceFlags.SAMPLED],
    ['keys in lower case', `root=${ROOT};parent=${PARENT};sampled=1`, TraceFlags.SAMPLED],
    ['a trailing separator', `Root=${ROOT};Parent=${PARENT};Sampled=1;`, TraceFlags.SAMPLED],
    ['upper-case hex, normalised', `Root=${ROOT.toUpperCase()};Parent=${PARENT.toUpperCase()};Sampled=1`, TraceFlags.SAMPLED],
  ])('reads %s', (_name, header, traceFlags) => {
    expect(spanContextOf(extract({ 'x-amzn-trace-id': header }))).toEqual({ traceId: TRACE_ID, spanId: PARENT, traceFlags, isRemote: true });
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBeUndefined();
  });

  it('reads the header as AWS spells it (X-Amzn-Trace-Id) and from a Buffer', () => {
    expect(spanContextOf(extract({ 'X-Amzn-Trace-Id': Buffer.from(`Root=${ROOT};Parent=${PARENT};Sampled=1`) }))?.traceId).toBe(TRACE_ID);
  });

  it('takes the first of repeated fields', () => {
    const header = `Root=${ROOT};Parent=${PARENT};Root=1-00000000-000000000000000000000001;Sampled=1`;
    expect(spanContextOf(extract({ 'x-amzn-trace-id': header }))?.traceId).toBe(TRACE_ID);
  });

  it('yields no span context for a Root without Parent (the guide\'s first example, added at the edge), and counts nothing', () => {
    expect(trace.getSpanContext(extract({ 'x-amzn-trace-id': `Root=${ROOT};Sampled=1` }))).toBeUndefined();
    expect(diagnosticsSnapshot()).toEqual({});
  });

  it.each([
    ['no Root', `Parent=${PARENT};Sampled=1`],
    ['a Root of version 2', `Root=2-5759e988-bd862e3fe1be46a994272793;Parent=${PARENT}`],
    ['a Root with a short time part', `Root=1-5759e98-bd862e3fe1be46a994272793;Parent=${PARENT}`],
    ['a Root with a long unique part', `Root=1-5759e988-bd862e3fe1be46a9942727931;Parent=${PARENT}`],
    ['a Root without the second hyphen', `Root=1-5759e988bd862e3fe1be46a994272793;Parent=${PARENT}`],
    ['a non-hex Root', `Root=1-5759e98g-bd862e3fe1be46a994272793;Parent=${PARENT}`],
    ['an all-zero Root', `Root=1-00000000-000000000000000000000000;Parent=${PARENT}`],
    ['a Parent of 15 digits', `Root=${ROOT};Parent=${PARENT.slice(1)}`],
    ['a non-hex Parent', `Root=${ROOT};Parent=${PARENT.slice(1)}x`],
    ['an all-zero Parent', `Root=${ROOT};Parent=0000000000000000`],
    ['no key=value at all', 'garbage'],
  ])('ignores and counts %s as malformed', (_name, header) => {
    expect(trace.getSpanContext(extract({ 'x-amzn-trace-id': header }))).toBeUndefined();
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBe(1);
  });

  it('leaves the context unchanged without the header', () => {
    expect(extract({})).toBe(ROOT_CONTEXT);
  });
});

describe('XRayPropagator inject()', () => {
  it.each([
    [TraceFlags.SAMPLED, `Root=${ROOT};Parent=${PARENT};Sampled=1`],
    [TraceFlags.NONE, `Root=${ROOT};Parent=${PARENT};Sampled=0`],
  ])('writes the guide\'s form for trace flags %p', (traceFlags, expected) => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: PARENT, traceFlags });
    expect(inject(ctx)).toEqual({ 'x-amzn-trace-id': expected });
  });

  it.each([
    ['Sampled=? (the receiver is asked to decide)', 'Sampled=?', ';Sampled=?'],
    ['no Sampled field (no decision)', '', ''],
  ])('forwards %s as it came, not as Sampled=0, while the span context is the one extracted', (_name, field, written) => {
    const extracted = extract({ 'x-amzn-trace-id': `Root=${ROOT};Parent=${PARENT}${field === '' ? '' : ';' + field}` });
    expect(inject(extracted)['x-amzn-trace-id']).toBe(`Root=${ROOT};Parent=${PARENT}${written}`);
    // A span of this service (a child, with its own sampling decision) writes that decision.
    const child = trace.setSpanContext(extracted, { traceId: TRACE_ID, spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE, isRemote: false });
    expect(inject(child)['x-amzn-trace-id']).toBe(`Root=${ROOT};Parent=b7ad6b7169203331;Sampled=0`);
  });

  it('writes nothing without a valid span context or when tracing is suppressed', () => {
    expect(inject(ROOT_CONTEXT)).toEqual({});
    const suppressed = trace
      .setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: PARENT, traceFlags: 1 })
      .setValue(Symbol.for('OpenTelemetry SDK Context Key SUPPRESS_TRACING'), true);
    expect(inject(suppressed)).toEqual({});
  });

  it('lists x-amzn-trace-id as its field', () => {
    expect(xray.fields()).toEqual(['x-amzn-trace-id']);
  });
});

describe('XRayPropagator properties', () => {
  const headerValue = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.array(fc.string()),
    fc.uint8Array().map((bytes) => Buffer.from(bytes)),
    fc
      .array(fc.oneof(fc.constantFrom(`Root=${ROOT}`, `Parent=${PARENT}`, 'Sampled=1', '=', ';', ' '), fc.string()))
      .map((parts) => parts.join(';')),
  );

  it('never throws on arbitrary strings, arrays or Buffers, and yields only valid span contexts', () => {
    fc.assert(
      fc.property(headerValue, (value) => {
        const spanContext = trace.getSpanContext(extract({ 'x-amzn-trace-id': value }));
        if (spanContext !== undefined) expect(isSpanContextValid(spanContext)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips inject -> extract', () => {
    const hex = (length: number) =>
      fc
        .array(fc.constantFrom(...'0123456789abcdef'), { minLength: length, maxLength: length })
        .map((chars) => chars.join(''))
        .filter((id) => !/^0+$/.test(id));
    fc.assert(
      fc.property(hex(32), hex(16), fc.boolean(), (traceId, spanId, sampled) => {
        const spanContext = { traceId, spanId, traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true };
        expect(spanContextOf(extract(inject(trace.setSpanContext(ROOT_CONTEXT, spanContext))))).toEqual(spanContext);
      }),
    );
  });

  it('parses a long run of separators in linear time', () => {
    const header = `${';'.repeat(100_000)}Root=${ROOT};Parent=${PARENT}`;
    const started = process.hrtime.bigint();
    expect(spanContextOf(extract({ 'x-amzn-trace-id': header }))?.traceId).toBe(TRACE_ID);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(200);
  });
});
