/**
 * pinoCorrelation() with real pino (issue #5, pino; the fast path): the trace fields enter each
 * line through pino's `timestamp` option as a prepared JSON fragment. Every line is parsed as
 * JSON; ids are those of the span context the test made active (W3C Trace Context examples),
 * encoded per each preset's public convention, and the same fields pinoMixin() writes. Also:
 * pino's own options around it (timestamp, child loggers, formatters, nestedKey, crlf, hooks,
 * mixin), the duplicate-key behaviour the README documents, and a real pino transport.
 */
import { context, propagation, ROOT_CONTEXT, trace, type Context, type Span } from '@opentelemetry/api';
import { configureDiagnostics, diagnosticsSnapshot, ensureContextManager, isCtxpropError, resetDiagnostics } from '@ctxprop/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { pinoCorrelation, pinoMixin, type PinoCorrelationOptions } from '@ctxprop/logging';
import { LineSink, type LogRecord } from './support/capture';
import { callAll } from './support/call-all';
import { mismatches } from './support/expect-lines';
import { installPropagator, serve } from './support/servers';
import { endAndReadLines } from './support/transport-lines';

ensureContextManager();
installPropagator();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const OTHER_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const OTHER_SPAN_ID = 'b7ad6b7169203331';
const LOW_64 = (1n << 64n) - 1n;
const decimal = (hex: string): string => (BigInt(`0x${hex}`) & LOW_64).toString(10);

function remote(traceId: string, spanId: string, traceFlags: number, ctx: Context = ROOT_CONTEXT): Context {
  return trace.setSpanContext(ctx, { traceId, spanId, traceFlags, isRemote: true });
}

function withBaggage(entries: Record<string, string>, ctx: Context = ROOT_CONTEXT): Context {
  const baggage = propagation.createBaggage(Object.fromEntries(Object.entries(entries).map(([key, value]) => [key, { value }])));
  return propagation.setBaggage(ctx, baggage);
}

const active = remote(TRACE_ID, SPAN_ID, 1);

/** Logs one line per context with `options`, and returns the parsed lines. */
function linesOf(options: pino.LoggerOptions, contexts: readonly Context[], log = (logger: pino.Logger): void => logger.info('line')): { records: LogRecord[]; raw: string[] } {
  const sink = new LineSink();
  const logger = pino(options, sink);
  for (const ctx of contexts) context.with(ctx, () => log(logger));
  return { records: sink.records(), raw: sink.chunks };
}

/** The trace fields of a record: everything pino writes on its own left out. */
function traceFieldsOf(record: LogRecord): LogRecord {
  const { level: _level, time: _time, pid: _pid, hostname: _hostname, msg: _msg, ...rest } = record;
  return rest;
}

const SAVED_ENV = { ...process.env };
beforeEach(() => {
  for (const name of ['OTEL_SERVICE_NAME', 'DD_SERVICE', 'DD_ENV', 'DD_VERSION', 'GOOGLE_CLOUD_PROJECT']) delete process.env[name];
});
afterEach(() => {
  process.env = { ...SAVED_ENV };
});

describe('pinoCorrelation()', () => {
  it('returns pino options holding a named timestamp function', () => {
    const options = pinoCorrelation();
    expect(Object.keys(options)).toEqual(['timestamp']);
    expect(options.timestamp.name).toBe('ctxpropPinoTimestamp');
  });

  it('writes the active span context ids on a real pino line, right after the epoch time', () => {
    const before = Date.now();
    const { records, raw } = linesOf({ ...pinoCorrelation() }, [active]);
    const after = Date.now();
    expect(raw[0]).toMatch(/^\{"level":30,"time":\d+,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","trace_flags":"01","pid":/);
    expect(records[0]).toMatchObject({ level: 30, msg: 'line', trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01', pid: process.pid });
    expect(records[0]!.time).toBeGreaterThanOrEqual(before);
    expect(records[0]!.time).toBeLessThanOrEqual(after);
  });

  it.each([
    [0x00, '00'],
    [0x01, '01'],
    [0x10, '10'],
    [0xff, 'ff'],
  ])('writes trace flags %p as the two hex digits %p (W3C trace-flags)', (flags, expected) => {
    expect(linesOf({ ...pinoCorrelation() }, [remote(TRACE_ID, SPAN_ID, flags)]).records[0]!.trace_flags).toBe(expected);
  });

  describe('keeps pino timestamp choices', () => {
    it('with pino.stdTimeFunctions.isoTime, an ISO 8601 time', () => {
      const { records } = linesOf({ ...pinoCorrelation({ timestamp: pino.stdTimeFunctions.isoTime }) }, [active]);
      expect(typeof records[0]!.time).toBe('string');
      expect(new Date(records[0]!.time as string).toISOString()).toBe(records[0]!.time);
      expect(records[0]).toMatchObject({ trace_id: TRACE_ID, span_id: SPAN_ID });
    });

    it('with false, no time at all but the ids', () => {
      const { records } = linesOf({ ...pinoCorrelation({ timestamp: false }) }, [active]);
      expect(records[0]).not.toHaveProperty('time');
      expect(records[0]).toMatchObject({ trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01' });
    });

    it('with a function of yours, called as pino calls it (this is the logger)', () => {
      const seen: unknown[] = [];
      const timestamp = function (this: unknown): string {
        seen.push(this);
        return ',"ts":"fixed"';
      };
      const sink = new LineSink();
      const logger = pino({ ...pinoCorrelation({ timestamp }) }, sink);
      context.with(active, () => logger.info('line'));
      expect(sink.records()[0]).toMatchObject({ ts: 'fixed', trace_id: TRACE_ID });
      expect(seen[seen.length - 1]).toBe(logger);
    });
  });

  describe('writes each preset per its public convention', () => {
    const CASES: ReadonlyArray<[name: string, options: PinoCorrelationOptions, expected: LogRecord]> = [
      ['otel (OpenTelemetry non-OTLP log formats)', { serviceName: 'checkout' }, { trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01', 'service.name': 'checkout' }],
      ['ecs (no transaction.id for a remote span context)', { preset: 'ecs', environment: 'prod' }, { 'trace.id': TRACE_ID, 'span.id': SPAN_ID, 'service.environment': 'prod' }],
      [
        'datadog (decimal low 64 bits)',
        { preset: 'datadog', serviceName: 'checkout', environment: 'prod', serviceVersion: '1.2.3' },
        { 'dd.trace_id': '11803532876627986230', 'dd.span_id': '67667974448284343', 'dd.service': 'checkout', 'dd.env': 'prod', 'dd.version': '1.2.3' },
      ],
      [
        'gcp (projects/PROJECT/traces/ID)',
        { preset: 'gcp', projectId: 'shop-prod' },
        {
          'logging.googleapis.com/trace': `projects/shop-prod/traces/${TRACE_ID}`,
          'logging.googleapis.com/spanId': SPAN_ID,
          'logging.googleapis.com/trace_sampled': true,
        },
      ],
      ['renamed and dropped fields', { fields: { traceId: 'traceId', spanId: 'spanId', traceFlags: false } }, { traceId: TRACE_ID, spanId: SPAN_ID }],
    ];

    it.each(CASES)('%s', (_name, options, expected) => {
      const { records } = linesOf({ ...pinoCorrelation(options) }, [active]);
      expect(traceFieldsOf(records[0]!)).toEqual(expected);
    });

    it('datadog decimals are the low 64 bits of the ids (BigInt arithmetic)', () => {
      const { records } = linesOf({ ...pinoCorrelation({ preset: 'datadog' }) }, [remote(OTHER_TRACE_ID, OTHER_SPAN_ID, 1)]);
      expect(records[0]).toMatchObject({ 'dd.trace_id': decimal(OTHER_TRACE_ID), 'dd.span_id': decimal(OTHER_SPAN_ID) });
      expect(records[0]!['dd.trace_id']).toBe('9532127138774266268');
    });

    it.each<[string, PinoCorrelationOptions]>([
      ['otel', {}],
      ['ecs', { preset: 'ecs', serviceName: 's', serviceVersion: '1', environment: 'e' }],
      ['datadog', { preset: 'datadog', serviceName: 's' }],
      ['gcp', { preset: 'gcp', projectId: 'p' }],
      ['baggage with a prefix', { baggageKeys: ['customer.tier'], baggagePrefix: 'baggage.' }],
      ['zeros outside a trace', { whenNoContext: 'zeros', preset: 'gcp', projectId: 'p' }],
    ])('writes the same fields as pinoMixin() with the %s options', (_name, options) => {
      const contexts = [active, withBaggage({ 'customer.tier': 'gold' }, active), ROOT_CONTEXT, remote(OTHER_TRACE_ID, OTHER_SPAN_ID, 0)];
      const fast = linesOf({ ...pinoCorrelation(options) }, contexts).records.map(traceFieldsOf);
      const viaMixin = linesOf({ mixin: pinoMixin(options) }, contexts).records.map(traceFieldsOf);
      expect(fast).toEqual(viaMixin);
    });
  });

  describe('outside any trace context', () => {
    it('leaves the id fields out by default, and still writes the service fields', () => {
      const { records } = linesOf({ ...pinoCorrelation({ serviceName: 'checkout' }) }, [ROOT_CONTEXT]);
      expect(traceFieldsOf(records[0]!)).toEqual({ 'service.name': 'checkout' });
    });

    it('leaves the line as pino writes it when there is nothing to add', () => {
      const { raw } = linesOf({ ...pinoCorrelation(), base: null, timestamp: false }, [ROOT_CONTEXT]);
      expect(raw[0]).toBe('{"level":30,"msg":"line"}\n');
    });

    it('writes zero ids with whenNoContext: "zeros" (32 and 16 zeros, flags 00)', () => {
      const { records } = linesOf({ ...pinoCorrelation({ whenNoContext: 'zeros' }) }, [ROOT_CONTEXT, remote('0'.repeat(32), SPAN_ID, 1)]);
      for (const record of records) expect(traceFieldsOf(record)).toEqual({ trace_id: '0'.repeat(32), span_id: '0'.repeat(16), trace_flags: '00' });
    });
  });

  describe('baggage', () => {
    const warnings: string[] = [];
    beforeAll(() => configureDiagnostics({ warn: (message) => warnings.push(message) }));
    beforeEach(() => {
      resetDiagnostics();
      warnings.length = 0;
    });

    it('writes only the allowlisted keys, and keeps values the sensitive-data guard refuses out', () => {
      const ctx = withBaggage({ 'customer.tier': 'gold', 'user.email': 'ana@example.com', other: 'x' }, active);
      const { records } = linesOf({ ...pinoCorrelation({ baggageKeys: ['customer.tier', 'user.email'] }) }, [ctx, ctx]);
      for (const record of records) expect(traceFieldsOf(record)).toEqual({ trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01', 'customer.tier': 'gold' });
      expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBe(1);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).not.toContain('ana@example.com');
    });

    it('follows a baggage change under the same span', () => {
      const contexts = [withBaggage({ 'customer.tier': 'gold' }, active), withBaggage({ 'customer.tier': 'silver' }, active), active];
      const { records } = linesOf({ ...pinoCorrelation({ baggageKeys: ['customer.tier'] }) }, contexts);
      expect(records.map((record) => record['customer.tier'])).toEqual(['gold', 'silver', undefined]);
      for (const record of records) expect(record.span_id).toBe(SPAN_ID);
    });
  });

  it('escapes keys and values so that every line stays valid JSON', () => {
    const tricky = 'a "quoted" \\ back\nslash \u0001 é \u2028 😀 \ud800';
    const ctx = withBaggage({ note: tricky }, active);
    const options: PinoCorrelationOptions = { serviceName: tricky, baggageKeys: ['note'], baggagePrefix: 'b"\\.', sensitiveDataGuard: () => undefined };
    const { records } = linesOf({ ...pinoCorrelation(options) }, [ctx]);
    expect(records[0]).toMatchObject({ 'service.name': tricky, 'b"\\.note': tricky, trace_id: TRACE_ID });
  });

  it('gives every line its own context ids when contexts alternate (cache per span and per context)', () => {
    const a = remote(TRACE_ID, SPAN_ID, 1);
    const b = remote(OTHER_TRACE_ID, OTHER_SPAN_ID, 0);
    // A second context object holding span a's span (a child context), and a second span object for the same ids.
    const aChild = a.setValue(Symbol('unrelated'), 1);
    const aAgain = remote(TRACE_ID, SPAN_ID, 1);
    const order = [a, b, a, aChild, b, ROOT_CONTEXT, aAgain, b, a, ROOT_CONTEXT, b];
    const { records } = linesOf({ ...pinoCorrelation() }, order);
    const expected = order.map((ctx) => (ctx === b ? [OTHER_TRACE_ID, OTHER_SPAN_ID, '00'] : ctx === ROOT_CONTEXT ? [undefined, undefined, undefined] : [TRACE_ID, SPAN_ID, '01']));
    expect(records.map((record) => [record.trace_id, record.span_id, record.trace_flags])).toEqual(expected);
  });

  it('writes the fields on child loggers, below their bindings in the line, and on grandchildren', () => {
    const sink = new LineSink();
    const child = pino({ ...pinoCorrelation({ preset: 'ecs' }) }, sink).child({ component: 'orders' });
    context.with(active, () => {
      child.info('from child');
      child.child({ step: 2 }, { level: 'debug' }).debug('from grandchild');
    });
    const [first, second] = sink.records();
    expect(first).toMatchObject({ component: 'orders', 'trace.id': TRACE_ID, 'span.id': SPAN_ID });
    expect(second).toMatchObject({ component: 'orders', step: 2, 'trace.id': TRACE_ID, 'span.id': SPAN_ID, level: 20 });
  });

  it('works with pino formatters (level, bindings, log), which do not see the trace fields', () => {
    const seenByLog: string[][] = [];
    const options: pino.LoggerOptions = {
      ...pinoCorrelation(),
      formatters: {
        level: (label) => ({ severity: label.toUpperCase() }),
        bindings: (bindings) => ({ host: bindings.hostname }),
        log: (object) => {
          seenByLog.push(Object.keys(object));
          return { ...object, formatted: true };
        },
      },
    };
    const { records } = linesOf(options, [active], (logger) => logger.warn({ orderId: 7 }, 'slow'));
    expect(records[0]).toMatchObject({ severity: 'WARN', host: expect.any(String), orderId: 7, formatted: true, trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01' });
    expect(seenByLog).toEqual([['orderId']]);
  });

  it('keeps the fields at the top level with nestedKey, and ends lines with \\r\\n under crlf', () => {
    const { records, raw } = linesOf({ ...pinoCorrelation(), nestedKey: 'payload', crlf: true }, [active], (logger) => logger.info({ orderId: 7 }, 'nested'));
    expect(raw[0]!.endsWith('}\r\n')).toBe(true);
    expect(records[0]).toMatchObject({ payload: { orderId: 7 }, trace_id: TRACE_ID, span_id: SPAN_ID });
  });

  it('composes with your own mixin and streamWrite hook, which sees the final line', () => {
    const hooked: string[] = [];
    const options: pino.LoggerOptions = {
      ...pinoCorrelation(),
      mixin: () => ({ region: 'eu-west-1' }),
      hooks: {
        streamWrite: (line) => {
          hooked.push(line);
          return line.replace('"eu-west-1"', '"eu"');
        },
      },
    };
    const { records } = linesOf(options, [active]);
    expect(records[0]).toMatchObject({ region: 'eu', trace_id: TRACE_ID, span_id: SPAN_ID });
    expect(JSON.parse(hooked[0]!)).toMatchObject({ trace_id: TRACE_ID, region: 'eu-west-1' });
  });

  describe('a key the line already has (README, Behaviour)', () => {
    it('appears twice when the log call passes it; the call value comes later, so JSON.parse keeps it', () => {
      const { records, raw } = linesOf({ ...pinoCorrelation() }, [active], (logger) => logger.info({ trace_id: 'from-the-call' }, 'explicit'));
      expect(raw[0]!.split('"trace_id":').length - 1).toBe(2);
      expect(records[0]).toMatchObject({ trace_id: 'from-the-call', span_id: SPAN_ID });
    });

    it('appears twice when a child binding has it; the binding comes later, so JSON.parse keeps it', () => {
      const sink = new LineSink();
      const child = pino({ ...pinoCorrelation() }, sink).child({ span_id: 'bound' });
      context.with(active, () => child.info('bound'));
      expect(sink.chunks[0]!.split('"span_id":').length - 1).toBe(2);
      expect(sink.records()[0]).toMatchObject({ trace_id: TRACE_ID, span_id: 'bound' });
    });
  });

  it('never throws at log time: a span whose spanContext() throws gives a line without ids, counted', () => {
    resetDiagnostics();
    const broken = {
      spanContext() {
        throw new Error('broken span');
      },
    } as unknown as Span;
    const { records } = linesOf({ ...pinoCorrelation() }, [trace.setSpan(ROOT_CONTEXT, broken), active]);
    expect(traceFieldsOf(records[0]!)).toEqual({});
    expect(records[1]).toMatchObject({ trace_id: TRACE_ID });
    expect(diagnosticsSnapshot()['internal.error']).toBeGreaterThanOrEqual(1);
  });

  describe('options', () => {
    it.each<[string, unknown, string, string]>([
      ['a timestamp that is neither a boolean nor a function', { timestamp: 'iso' }, 'timestamp', 'pino.stdTimeFunctions'],
      ['the pinoMixin-only mixin option', { mixin: () => ({}) }, 'mixin', 'pino({ ...pinoCorrelation(), mixin })'],
      ['an unknown preset', { preset: 'elastic' }, 'preset', '"otel"'],
    ])('throws InvalidOptionError for %s', (_name, options, option, hint) => {
      let error: unknown;
      try {
        pinoCorrelation(options as PinoCorrelationOptions);
      } catch (err) {
        error = err;
      }
      expect(isCtxpropError(error)).toBe(true);
      expect(error).toMatchObject({ code: 'CTXPROP_INVALID_OPTION', option });
      expect((error as Error).message).toMatch(/^ctxprop: /);
      expect((error as Error).message).toContain(hint);
    });
  });
});

describe('pinoCorrelation() with a pino transport in a worker thread', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ctxprop-logging-correlation-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes each request ids, captured in the main thread at the log call, although the worker writes the line later', async () => {
    const destination = join(dir, 'lines.ndjson');
    const transport = pino.transport({ target: join(__dirname, 'fixtures', 'line-file-transport.mjs'), options: { destination } });
    const logger = pino({ ...pinoCorrelation({ baggageKeys: ['customer.tier'] }) }, transport);
    const served = await serve('express 5', async (n) => {
      logger.info({ n }, 'start');
      await new Promise((resolve) => setTimeout(resolve, n % 3));
      logger.child({ step: 'end' }).info({ n }, 'done');
    });
    let expected;
    try {
      expected = await callAll(served, 100);
    } finally {
      await served.close();
    }
    const records = await endAndReadLines(transport, destination);
    expect(records).toHaveLength(200);
    expect(mismatches(records, expected, 2)).toEqual([]);
  });
});
