import {
  CompositePropagator,
  configureDiagnostics,
  createPropagator,
  diagnosticsSnapshot,
  InvalidOptionError,
  isCtxpropError,
  NonePropagator,
  PROPAGATOR_NAMES,
  resetDiagnostics,
} from '@ctxprop/core';
import { defaultTextMapGetter, defaultTextMapSetter, propagation, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';

// Names and defaults: OpenTelemetry "Environment Variable Specification", General SDK Configuration
// https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration
const SPEC_NAMES = ['tracecontext', 'baggage', 'b3', 'b3multi', 'jaeger', 'xray', 'ottrace', 'none'];

const W3C_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const B3_TRACE = '80f198ee56343ba864fe8b2a57d3eff7';
const SPAN = '00f067aa0ba902b7';

const saved = process.env.OTEL_PROPAGATORS;
afterEach(() => {
  if (saved === undefined) delete process.env.OTEL_PROPAGATORS;
  else process.env.OTEL_PROPAGATORS = saved;
  propagation.disable();
});
const warnings: string[] = [];
beforeAll(() => configureDiagnostics({ warn: (message) => warnings.push(message) }));
beforeEach(() => {
  resetDiagnostics();
  warnings.length = 0;
});

function extract(propagator: ReturnType<typeof createPropagator>, carrier: Record<string, unknown>): Context {
  return propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

function errorOf(run: () => unknown): Error & { code?: string } {
  try {
    run();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

describe('createPropagator() from OTEL_PROPAGATORS', () => {
  it.each([
    ['unset', undefined],
    ['empty ("an empty value ... the same way as when the variable is unset")', ''],
    ['only commas and spaces', ' , '],
  ])('uses tracecontext,baggage when the variable is %s', (_name, value) => {
    if (value === undefined) delete process.env.OTEL_PROPAGATORS;
    else process.env.OTEL_PROPAGATORS = value;
    const propagator = createPropagator();
    expect(propagator).toBeInstanceOf(CompositePropagator);
    expect(propagator.fields()).toEqual(['traceparent', 'tracestate', 'baggage']);
  });

  it('reads the names without regard to case or surrounding whitespace, and drops duplicates ("Values MUST be deduplicated")', () => {
    process.env.OTEL_PROPAGATORS = ' B3 , Jaeger,b3,XRAY ';
    expect(createPropagator().fields()).toEqual(['b3', 'uber-trace-id', 'x-amzn-trace-id']);
  });

  it('maps b3 to the single header and b3multi to the X-B3-* headers', () => {
    expect(createPropagator('b3').fields()).toEqual(['b3']);
    expect(createPropagator('b3multi').fields()).toEqual(['x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'x-b3-flags', 'x-b3-parentspanid']);
    expect(createPropagator('ottrace').fields()).toEqual(['ot-tracer-traceid', 'ot-tracer-spanid', 'ot-tracer-sampled']);
  });

  it('gives a propagator that does nothing for none ("No automatically configured propagator")', () => {
    process.env.OTEL_PROPAGATORS = 'None';
    const propagator = createPropagator();
    expect(propagator).toBeInstanceOf(NonePropagator);
    const out: Record<string, string> = {};
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: W3C_TRACE, spanId: SPAN, traceFlags: 1 });
    propagator.inject(ctx, out, defaultTextMapSetter);
    expect(out).toEqual({});
    expect(extract(propagator, { traceparent: `00-${W3C_TRACE}-${SPAN}-01` })).toBe(ROOT_CONTEXT);
  });

  it('refuses none together with other names (as OpenTelemetry Java does) and says how to fix it', () => {
    process.env.OTEL_PROPAGATORS = 'tracecontext,none';
    const error = errorOf(() => createPropagator());
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.message).toBe(
      'ctxprop: option "OTEL_PROPAGATORS" must be "none" alone, or a list of propagators without "none" (got "tracecontext,none"). ' +
        'Remove "none" to propagate with tracecontext, or use "none" alone to propagate nothing.',
    );
  });

  it('throws CTXPROP_UNKNOWN_PROPAGATOR naming the bad value, the variable and every valid name', () => {
    process.env.OTEL_PROPAGATORS = 'tracecontext,w3c';
    const error = errorOf(() => createPropagator());
    expect(isCtxpropError(error)).toBe(true);
    expect(error.code).toBe('CTXPROP_UNKNOWN_PROPAGATOR');
    expect(error.message).toMatch(/^ctxprop: unknown propagator "w3c" in the OTEL_PROPAGATORS environment variable \("tracecontext,w3c"\)/);
    expect(error.message).toContain(`Valid names: ${SPEC_NAMES.join(', ')}.`);
  });
});

describe('createPropagator(names)', () => {
  it('takes an array or a comma-separated string, and ignores OTEL_PROPAGATORS then', () => {
    process.env.OTEL_PROPAGATORS = 'xray';
    expect(createPropagator(['jaeger', 'b3']).fields()).toEqual(['uber-trace-id', 'b3']);
    expect(createPropagator('jaeger, b3').fields()).toEqual(['uber-trace-id', 'b3']);
  });

  it('names createPropagator() in the error for an unknown name', () => {
    const error = errorOf(() => createPropagator(['tracecontext', 'zipkin']));
    expect(error.code).toBe('CTXPROP_UNKNOWN_PROPAGATOR');
    expect(error.message).toContain('unknown propagator "zipkin" in the names given to createPropagator() ("tracecontext,zipkin")');
    expect(error.message).toContain(`Valid names: ${SPEC_NAMES.join(', ')}.`);
  });

  it('rejects an argument that is neither a string nor an array of strings', () => {
    expect(() => createPropagator(42 as never)).toThrow(InvalidOptionError);
    expect(() => createPropagator([42] as never)).toThrow(/ctxprop: option "names" must be an array of propagator names/);
  });

  it('exports the spec\'s names', () => {
    expect([...PROPAGATOR_NAMES]).toEqual(SPEC_NAMES);
  });
});

describe('createPropagator() composite behaviour', () => {
  const both = {
    traceparent: `00-${W3C_TRACE}-${SPAN}-01`,
    b3: `${B3_TRACE}-${SPAN}-1`,
  };

  it('lets the first configured format win when traceparent and b3 carry different ids', () => {
    expect(trace.getSpanContext(extract(createPropagator('tracecontext,b3'), both))?.traceId).toBe(W3C_TRACE);
    expect(trace.getSpanContext(extract(createPropagator('b3,tracecontext'), both))?.traceId).toBe(B3_TRACE);
  });

  it('merges baggage from the baggage header and Jaeger uberctx-* headers', () => {
    const ctx = extract(createPropagator('tracecontext,baggage,jaeger'), {
      baggage: 'tenant=acme,shared=w3c',
      'uberctx-user': 'alice',
      'uberctx-shared': 'jaeger',
    });
    const entries = Object.fromEntries(propagation.getBaggage(ctx)!.getAllEntries().map(([key, entry]) => [key, entry.value]));
    expect(entries).toEqual({ tenant: 'acme', shared: 'w3c', user: 'alice' });
  });

  it('injects every configured format', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: W3C_TRACE, spanId: SPAN, traceFlags: 1 });
    const out: Record<string, string> = {};
    createPropagator('tracecontext,b3multi,jaeger').inject(ctx, out, defaultTextMapSetter);
    expect(out).toEqual({
      traceparent: `00-${W3C_TRACE}-${SPAN}-01`,
      'x-b3-traceid': W3C_TRACE,
      'x-b3-spanid': SPAN,
      'x-b3-sampled': '1',
      'uber-trace-id': `${W3C_TRACE}:${SPAN}:0:01`,
    });
  });

  it('counts a b3 header as an unconfigured format with the default set', () => {
    extract(createPropagator(), { b3: both.b3 });
    expect(diagnosticsSnapshot()).toMatchObject({ 'extract.trace.missing': 1, 'extract.format.unconfigured': 1 });
    expect(warnings).toEqual([expect.stringContaining('OTEL_PROPAGATORS=tracecontext,baggage,b3')]);
  });

  it('works as the global propagator with the API\'s default getter, in any header case', () => {
    propagation.setGlobalPropagator(createPropagator('b3multi'));
    const ctx = propagation.extract(ROOT_CONTEXT, { 'X-B3-TraceId': B3_TRACE, 'X-B3-SpanId': SPAN, 'X-B3-Sampled': '1' });
    expect(trace.getSpanContext(ctx)).toMatchObject({ traceId: B3_TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
  });
});
