/**
 * Options are validated once, when the mixin, format or fields function is created: a bad one
 * throws InvalidOptionError (code CTXPROP_INVALID_OPTION) whose message starts "ctxprop:", names
 * the option and says how to fix it. Nothing is thrown at log time.
 */
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { ensureContextManager, isCtxpropError } from '@ctxprop/core';
import { captureWinstonContext, createTraceFields, pinoCorrelation, pinoMixin, traceFields, winstonFormat } from '@ctxprop/logging';
import pino from 'pino';
import { LineSink } from './support/capture';

function errorOf(create: () => unknown): { option?: string; code?: string; message: string } {
  try {
    create();
  } catch (err) {
    expect(isCtxpropError(err)).toBe(true);
    return err as { option?: string; code?: string; message: string };
  }
  throw new Error('expected an InvalidOptionError');
}

const SAVED_PROJECT = process.env.GOOGLE_CLOUD_PROJECT;
beforeEach(() => {
  delete process.env.GOOGLE_CLOUD_PROJECT;
});
afterAll(() => {
  if (SAVED_PROJECT !== undefined) process.env.GOOGLE_CLOUD_PROJECT = SAVED_PROJECT;
});

const BAD: ReadonlyArray<[description: string, options: unknown, option: string, hint: string]> = [
  ['an unknown option (a typo)', { presets: 'ecs' }, 'presets', 'Did you mean "preset"?'],
  ['an unknown option like no known one', { colour: 'blue' }, 'colour', 'preset, fields,'],
  ['an unknown preset', { preset: 'elastic' }, 'preset', '"otel", "ecs", "datadog", "gcp"'],
  ['a field role the preset does not write', { fields: { transactionId: 'tx' } }, 'fields.transactionId', 'Roles of "otel"'],
  ['an empty field name', { fields: { traceId: '' } }, 'fields.traceId', 'non-empty string'],
  ['two roles with one name', { fields: { traceId: 'id', spanId: 'id' } }, 'fields', 'distinct'],
  ['gcp with no project', { preset: 'gcp' }, 'projectId', 'GOOGLE_CLOUD_PROJECT'],
  ['a project id with a slash', { preset: 'gcp', projectId: 'a/b' }, 'projectId', 'projectId: "my-project"'],
  ['a project id without gcp', { projectId: 'p' }, 'projectId', 'preset: "gcp"'],
  ['an empty service name', { serviceName: '' }, 'serviceName', 'non-empty string'],
  ['baggageKeys not an array', { baggageKeys: 'customer.tier' }, 'baggageKeys', '["customer.tier"]'],
  ['a baggage key that clashes with a trace field', { baggageKeys: ['trace_id'] }, 'baggageKeys', 'baggagePrefix'],
  ['a baggage key that is a key the logger writes itself ("level")', { baggageKeys: ['level'] }, 'baggageKeys', 'baggagePrefix'],
  ['a baggage key whose prefixed field is a key the logger writes itself', { baggageKeys: ['vel'], baggagePrefix: 'le' }, 'baggageKeys', 'baggagePrefix'],
  ['a baggage prefix that is not a string', { baggagePrefix: 1 }, 'baggagePrefix', 'baggage.'],
  ['a guard that is not a function', { sensitiveDataGuard: true }, 'sensitiveDataGuard', 'createSensitiveDataGuard'],
  ['an unknown whenNoContext', { whenNoContext: 'empty' }, 'whenNoContext', '"omit" or "zeros"'],
  ['options that are not an object', 'ecs', 'options', 'preset'],
];

describe.each([
  ['createTraceFields()', (options: unknown) => createTraceFields(options as never)],
  ['traceFields()', (options: unknown) => traceFields(options as never)],
  ['pinoMixin()', (options: unknown) => pinoMixin(options as never)],
  ['winstonFormat()', (options: unknown) => winstonFormat(options as never)],
])('%s', (_name, create) => {
  it.each(BAD)('throws at creation for %s, naming the option and the fix', (_description, options, option, hint) => {
    const error = errorOf(() => create(options));
    expect(error.code).toBe('CTXPROP_INVALID_OPTION');
    expect(error.option).toBe(option);
    expect(error.message.startsWith('ctxprop: ')).toBe(true);
    expect(error.message).toContain(`"${option}"`);
    expect(error.message).toContain(hint);
  });

  it('accepts no options', () => {
    expect(() => create(undefined)).not.toThrow();
  });
});

describe('pinoMixin()', () => {
  it('rejects a mixin option that is not a function', () => {
    const error = errorOf(() => pinoMixin({ mixin: 'x' as never }));
    expect(error.option).toBe('mixin');
  });
});

describe('winstonFormat()', () => {
  it('rejects the pino-only mixin option', () => {
    expect(errorOf(() => winstonFormat({ mixin: () => ({}) } as never)).option).toBe('mixin');
  });
});

describe('captureWinstonContext()', () => {
  it('rejects something that is not a logger', () => {
    expect(errorOf(() => captureWinstonContext({} as never)).option).toBe('logger');
  });
});

describe('baggage field names the loggers write themselves', () => {
  // pino writes level, time, msg, pid and hostname; winston level and message, its timestamp() format timestamp.
  const RESERVED = ['level', 'time', 'msg', 'pid', 'hostname', 'message', 'timestamp'];

  it.each(RESERVED)('refuses "%s" as a baggage field, naming the key and suggesting baggagePrefix', (key) => {
    const error = errorOf(() => createTraceFields({ baggageKeys: ['tenant', key] }));
    expect(error.option).toBe('baggageKeys');
    expect(error.message).toContain(`"${key}"`);
    expect(error.message).toContain('baggagePrefix');
  });

  it('refuses, for each logger, only the keys that logger writes', () => {
    for (const key of ['level', 'time', 'msg', 'pid', 'hostname']) expect(errorOf(() => pinoMixin({ baggageKeys: [key] })).option).toBe('baggageKeys');
    for (const key of ['level', 'message', 'timestamp']) expect(errorOf(() => winstonFormat({ baggageKeys: [key] })).option).toBe('baggageKeys');
    // pino writes no `message`; winston no `pid`, `hostname`, `time` or `msg`.
    expect(() => pinoMixin({ baggageKeys: ['message'] })).not.toThrow();
    expect(() => pinoCorrelation({ baggageKeys: ['timestamp'] })).not.toThrow();
    expect(() => winstonFormat({ baggageKeys: ['hostname', 'pid', 'time', 'msg'] })).not.toThrow();
  });

  it.each(RESERVED)('accepts "%s" under a baggage prefix', (key) => {
    expect(() => createTraceFields({ baggageKeys: [key], baggagePrefix: 'baggage.' })).not.toThrow();
  });

  it.each([
    ['pinoMixin()', (sink: LineSink) => pino({ base: null, timestamp: false, mixin: pinoMixin({ baggageKeys: ['msg'], baggagePrefix: 'baggage.' }) }, sink)],
    ['pinoCorrelation()', (sink: LineSink) => pino({ base: null, ...pinoCorrelation({ timestamp: false, baggageKeys: ['msg'], baggagePrefix: 'baggage.' }) }, sink)],
  ])('with a prefix, %s keeps the message the log call gave and logs the baggage value beside it', (_name, create) => {
    ensureContextManager();
    const sink = new LineSink();
    const logger = create(sink);
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true });
    context.with(propagation.setBaggage(ctx, propagation.createBaggage({ msg: { value: 'from-baggage' } })), () => {
      logger.info('real message');
      logger.info({ x: 1 });
    });
    expect(sink.chunks.map((line) => line.match(/"msg":/g)?.length ?? 0)).toEqual([1, 0]);
    expect(sink.records()).toEqual([
      expect.objectContaining({ msg: 'real message', 'baggage.msg': 'from-baggage' }),
      expect.not.objectContaining({ msg: expect.anything() }),
    ]);
  });
});
