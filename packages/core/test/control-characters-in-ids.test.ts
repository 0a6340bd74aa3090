/**
 * Trace and span ids with a control character where a hex digit belongs: never a span context
 * (whose id would carry the character on into logs and headers), counted as
 * `extract.trace.malformed`. Node's HTTP parser refuses such bytes in a header, but message
 * carriers (a broker's headers, Buffers) and hand-built carriers do not. U+0010 to U+0019 are the
 * characters a case-folding shortcut (`c | 0x20`) would take for the digits `0` to `9`.
 */
import { defaultTextMapGetter, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { createPropagator, diagnosticsSnapshot, resetDiagnostics, type PropagatorName } from '@ctxprop/core';

const TRACE_ID = '80f198ee56343ba864fe8b2a57d3eff7';
const SPAN_ID = 'e457b5a2e4d86bd1';

/** Each format's trace headers, with `bad` (a control character) in place of one hex digit of the trace id. */
const CASES: ReadonlyArray<[PropagatorName, (bad: string) => Record<string, unknown>]> = [
  ['tracecontext', (bad) => ({ traceparent: `00-${TRACE_ID.slice(0, 31)}${bad}-${SPAN_ID}-01` })],
  ['b3', (bad) => ({ b3: Buffer.from(`${TRACE_ID.slice(0, 31)}${bad}-${SPAN_ID}-1`, 'latin1') })],
  ['b3multi', (bad) => ({ 'x-b3-traceid': `${TRACE_ID.slice(0, 31)}${bad}`, 'x-b3-spanid': SPAN_ID, 'x-b3-sampled': '1' })],
  ['jaeger', (bad) => ({ 'uber-trace-id': `${bad}${TRACE_ID.slice(1)}:${SPAN_ID}:0:1` })],
  ['xray', (bad) => ({ 'x-amzn-trace-id': `Root=1-${TRACE_ID.slice(0, 8)}-${TRACE_ID.slice(8, 31)}${bad};Parent=${SPAN_ID};Sampled=1` })],
  ['ottrace', (bad) => ({ 'ot-tracer-traceid': `${TRACE_ID.slice(0, 31)}${bad}`, 'ot-tracer-spanid': SPAN_ID, 'ot-tracer-sampled': 'true' })],
];

beforeEach(() => resetDiagnostics());

describe.each(CASES)('%s', (name, headers) => {
  it.each(Array.from({ length: 10 }, (_, i) => [`U+00${(0x10 + i).toString(16)}`, String.fromCharCode(0x10 + i)]))('refuses a trace id with %s and counts it as malformed', (_label, bad) => {
    const ctx = createPropagator(name).extract(ROOT_CONTEXT, headers(bad), defaultTextMapGetter);
    expect(trace.getSpanContext(ctx)).toBeUndefined();
    expect(diagnosticsSnapshot()['extract.trace.malformed']).toBe(1);
  });

  it('still reads the same headers with a digit there', () => {
    const ctx = createPropagator(name).extract(ROOT_CONTEXT, headers(TRACE_ID.at(-1)!), defaultTextMapGetter);
    expect(trace.getSpanContext(ctx)?.spanId).toBe(SPAN_ID);
  });
});
