/**
 * Field presets against their public specifications, on explicit contexts (no SDK):
 * - otel: https://opentelemetry.io/docs/specs/otel/compatibility/logging_trace_context/
 *   (trace_id, span_id lowercase hex; trace_flags in the W3C two-hex-digit form,
 *   https://www.w3.org/TR/trace-context/#trace-flags)
 * - ecs: https://www.elastic.co/docs/reference/ecs/ecs-tracing
 * - datadog: https://docs.datadoghq.com/tracing/other_telemetry/connect_logs_and_traces/opentelemetry/
 *   (dd.trace_id / dd.span_id: the unsigned 64-bit integer of the low 64 bits, in decimal)
 * - gcp: https://cloud.google.com/logging/docs/structured-logging#structured_logging_special_fields
 * Ids are the W3C Trace Context spec's examples. Expected decimals come from BigInt arithmetic
 * in the test (masking, not slicing) and from literal values computed outside this code.
 */
import { context, ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { ensureContextManager } from '@ctxprop/core';
import fc from 'fast-check';
import { createTraceFields, traceFields, type TraceFieldsOptions } from '@ctxprop/logging';

ensureContextManager();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const DD_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const DD_SPAN_ID = 'b7ad6b7169203331';
const LOW_64 = (1n << 64n) - 1n;

function remote(traceId: string, spanId: string, traceFlags: number): Context {
  return trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags, isRemote: true });
}

function fieldsOf(options: TraceFieldsOptions, ctx: Context): Record<string, unknown> {
  return createTraceFields(options)(ctx);
}

const SAVED_ENV = { ...process.env };
afterEach(() => {
  process.env = { ...SAVED_ENV };
});
beforeEach(() => {
  for (const name of ['OTEL_SERVICE_NAME', 'DD_SERVICE', 'DD_ENV', 'DD_VERSION', 'GOOGLE_CLOUD_PROJECT']) delete process.env[name];
});

describe('otel preset (OpenTelemetry "Trace Context in non-OTLP Log Formats")', () => {
  it('writes trace_id, span_id and trace_flags as lowercase hex', () => {
    expect(fieldsOf({}, remote(TRACE_ID, SPAN_ID, TraceFlags.SAMPLED))).toEqual({ trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01' });
  });

  it.each([
    [0x00, '00'],
    [0x01, '01'],
    [0x02, '02'],
    [0x03, '03'],
    [0x10, '10'],
    [0x11, '11'],
    [0xff, 'ff'],
  ])('writes trace flags 0x%s as two hex digits %p (W3C trace-flags), never "010"', (flags, expected) => {
    expect(fieldsOf({ preset: 'otel' }, remote(TRACE_ID, SPAN_ID, flags)).trace_flags).toBe(expected);
  });

  it('lowers uppercase ids, since the spec asks for lowercase hex', () => {
    expect(fieldsOf({}, remote(TRACE_ID.toUpperCase(), SPAN_ID.toUpperCase(), 1))).toEqual({ trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01' });
  });
});

describe('ecs preset (Elastic Common Schema tracing fields)', () => {
  it('writes trace.id and span.id; no transaction.id for a remote (caller) span context', () => {
    expect(fieldsOf({ preset: 'ecs' }, remote(TRACE_ID, SPAN_ID, 1))).toEqual({ 'trace.id': TRACE_ID, 'span.id': SPAN_ID });
  });
});

describe('datadog preset (decimal low 64 bits)', () => {
  it.each([
    [DD_TRACE_ID, DD_SPAN_ID, '9532127138774266268', '13235353014750950193'],
    [TRACE_ID, SPAN_ID, '11803532876627986230', '67667974448284343'],
    ['ffffffffffffffffffffffffffffffff', 'ffffffffffffffff', '18446744073709551615', '18446744073709551615'],
    ['00000000000000010000000000000000', '0000000000000001', '0', '1'],
  ])('trace %s span %s gives dd.trace_id %s and dd.span_id %s', (traceId, spanId, ddTrace, ddSpan) => {
    const fields = fieldsOf({ preset: 'datadog' }, remote(traceId, spanId, 1));
    expect(fields).toEqual({ 'dd.trace_id': ddTrace, 'dd.span_id': ddSpan });
    expect(fields['dd.trace_id']).toBe((BigInt(`0x${traceId}`) & LOW_64).toString(10));
    expect(fields['dd.span_id']).toBe(BigInt(`0x${spanId}`).toString(10));
  });

  it('adds dd.service, dd.env and dd.version from DD_SERVICE, DD_ENV and DD_VERSION', () => {
    Object.assign(process.env, { DD_SERVICE: 'checkout', DD_ENV: 'prod', DD_VERSION: '1.2.3', OTEL_SERVICE_NAME: 'ignored' });
    expect(fieldsOf({ preset: 'datadog' }, ROOT_CONTEXT)).toEqual({ 'dd.service': 'checkout', 'dd.version': '1.2.3', 'dd.env': 'prod' });
  });

  it('prefers the options to the environment, and falls back to OTEL_SERVICE_NAME for the service', () => {
    Object.assign(process.env, { DD_ENV: 'prod', OTEL_SERVICE_NAME: 'from-otel' });
    expect(fieldsOf({ preset: 'datadog', environment: 'staging', serviceVersion: '2.0.0' }, ROOT_CONTEXT)).toEqual({
      'dd.service': 'from-otel',
      'dd.version': '2.0.0',
      'dd.env': 'staging',
    });
  });
});

describe('gcp preset (Cloud Logging special fields)', () => {
  it('writes projects/PROJECT/traces/TRACE_ID, the span id in hex and trace_sampled as a boolean', () => {
    expect(fieldsOf({ preset: 'gcp', projectId: 'shop-prod' }, remote(TRACE_ID, SPAN_ID, 1))).toEqual({
      'logging.googleapis.com/trace': `projects/shop-prod/traces/${TRACE_ID}`,
      'logging.googleapis.com/spanId': SPAN_ID,
      'logging.googleapis.com/trace_sampled': true,
    });
    expect(fieldsOf({ preset: 'gcp', projectId: 'shop-prod' }, remote(TRACE_ID, SPAN_ID, 0))['logging.googleapis.com/trace_sampled']).toBe(false);
  });

  it('takes the project from GOOGLE_CLOUD_PROJECT', () => {
    process.env.GOOGLE_CLOUD_PROJECT = 'from-env';
    expect(fieldsOf({ preset: 'gcp' }, remote(TRACE_ID, SPAN_ID, 1))['logging.googleapis.com/trace']).toBe(`projects/from-env/traces/${TRACE_ID}`);
  });
});

describe('custom key names', () => {
  it('renames the keys and keeps the otel encodings', () => {
    expect(fieldsOf({ fields: { traceId: 'traceId', spanId: 'spanId', traceFlags: 'traceFlags' } }, remote(TRACE_ID, SPAN_ID, 0x10))).toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: '10',
    });
  });

  it('leaves a field out when its name is false', () => {
    expect(fieldsOf({ fields: { traceFlags: false } }, remote(TRACE_ID, SPAN_ID, 1))).toEqual({ trace_id: TRACE_ID, span_id: SPAN_ID });
  });

  it('renames a preset field and keeps its encoding (datadog decimal)', () => {
    expect(fieldsOf({ preset: 'datadog', fields: { traceId: 'trace_id' } }, remote(DD_TRACE_ID, DD_SPAN_ID, 1))).toEqual({
      trace_id: '9532127138774266268',
      'dd.span_id': '13235353014750950193',
    });
  });
});

describe('service name', () => {
  it('comes from OTEL_SERVICE_NAME, or the serviceName option before it', () => {
    process.env.OTEL_SERVICE_NAME = 'orders';
    expect(fieldsOf({}, remote(TRACE_ID, SPAN_ID, 1))['service.name']).toBe('orders');
    expect(fieldsOf({ serviceName: 'billing' }, remote(TRACE_ID, SPAN_ID, 1))['service.name']).toBe('billing');
    expect(fieldsOf({ preset: 'ecs', serviceVersion: '3.1.0', environment: 'prod' }, ROOT_CONTEXT)).toEqual({
      'service.name': 'orders',
      'service.version': '3.1.0',
      'service.environment': 'prod',
    });
  });
});

describe('outside any trace context', () => {
  const INVALID: ReadonlyArray<[string, Context]> = [
    ['no span', ROOT_CONTEXT],
    ['the API invalid span context', remote('00000000000000000000000000000000', '0000000000000000', 0)],
    ['a trace id of the wrong length', remote('4bf92f3577b34da6a3ce929d0e0e473', SPAN_ID, 1)],
    ['a span id with a non-hex digit', remote(TRACE_ID, '00f067aa0ba902bz', 1)],
    ['an all-zero span id', remote(TRACE_ID, '0000000000000000', 1)],
  ];

  it.each(INVALID)('omits the fields by default (%s)', (_name, ctx) => {
    expect(fieldsOf({}, ctx)).toEqual({});
    expect(fieldsOf({ preset: 'datadog' }, ctx)).toEqual({});
  });

  it.each<[TraceFieldsOptions, Record<string, unknown>]>([
    [{ preset: 'otel' }, { trace_id: '00000000000000000000000000000000', span_id: '0000000000000000', trace_flags: '00' }],
    [{ preset: 'ecs' }, { 'trace.id': '00000000000000000000000000000000', 'span.id': '0000000000000000', 'transaction.id': '0000000000000000' }],
    [{ preset: 'datadog' }, { 'dd.trace_id': '0', 'dd.span_id': '0' }],
    [
      { preset: 'gcp', projectId: 'p' },
      {
        'logging.googleapis.com/trace': 'projects/p/traces/00000000000000000000000000000000',
        'logging.googleapis.com/spanId': '0000000000000000',
        'logging.googleapis.com/trace_sampled': false,
      },
    ],
  ])('writes zero ids with whenNoContext "zeros" (%o)', (options, expected) => {
    expect(fieldsOf({ ...options, whenNoContext: 'zeros' }, ROOT_CONTEXT)).toEqual(expected);
  });
});

describe('createTraceFields()', () => {
  it('returns a fresh object on every call', () => {
    const fields = createTraceFields();
    const ctx = remote(TRACE_ID, SPAN_ID, 1);
    const first = fields(ctx);
    first.trace_id = 'changed';
    const second = fields(ctx);
    expect(second).not.toBe(first);
    expect(second.trace_id).toBe(TRACE_ID);
  });

  it('gives each of many interleaved span contexts its own ids (the one-entry cache never mixes them up)', () => {
    const fields = createTraceFields({ preset: 'datadog' });
    const ids = [DD_TRACE_ID, TRACE_ID, DD_TRACE_ID.replace('0a', '1b')];
    for (let round = 0; round < 3; round++) {
      for (const id of ids) {
        expect(fields(remote(id, DD_SPAN_ID, 1))['dd.trace_id']).toBe((BigInt(`0x${id}`) & LOW_64).toString());
      }
    }
  });

  it('never throws, and writes ids only for valid hex ids, lowered (property)', () => {
    const otel = createTraceFields();
    const datadog = createTraceFields({ preset: 'datadog' });
    const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: length, maxLength: length });
    fc.assert(
      fc.property(fc.oneof(hex(32), fc.string()), fc.oneof(hex(16), fc.string()), fc.integer({ min: -1, max: 300 }), (traceId, spanId, flags) => {
        const ctx = remote(traceId, spanId, flags);
        const fields = otel(ctx);
        const valid = /^[0-9a-f]{32}$/i.test(traceId) && /^[0-9a-f]{16}$/i.test(spanId) && !/^0+$/.test(traceId) && !/^0+$/.test(spanId);
        if (!valid) {
          expect(fields).toEqual({});
          return;
        }
        expect(fields).toEqual({ trace_id: traceId.toLowerCase(), span_id: spanId.toLowerCase(), trace_flags: (flags & 0xff).toString(16).padStart(2, '0') });
        expect(datadog(ctx)).toEqual({
          'dd.trace_id': BigInt.asUintN(64, BigInt(`0x${traceId}`)).toString(),
          'dd.span_id': BigInt(`0x${spanId}`).toString(),
        });
      }),
    );
  });
});

describe('traceFields()', () => {
  it('reads the active context', () => {
    expect(context.with(remote(TRACE_ID, SPAN_ID, 1), () => traceFields())).toEqual({ trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01' });
    expect(traceFields()).toEqual({});
  });

  it('resolves a given options object once: later environment changes do not reach it', () => {
    const options: TraceFieldsOptions = { preset: 'ecs' };
    process.env.OTEL_SERVICE_NAME = 'first';
    expect(traceFields(options)).toEqual({ 'service.name': 'first' });
    process.env.OTEL_SERVICE_NAME = 'second';
    expect(traceFields(options)).toEqual({ 'service.name': 'first' });
    expect(traceFields({ preset: 'ecs' })).toEqual({ 'service.name': 'second' });
  });
});
