/**
 * More than one winstonFormat() on an entry, and more than one copy of the package in a process,
 * with real winston: a logger that writes otel and Datadog fields, or has one format on the logger
 * and another on a transport, gets every format's fields from its own log call's context, also
 * behind a slow transport with captureWinstonContext(); a context pinned by one copy's
 * captureWinstonContext() is used by the other copy's format (ESM and CJS builds side by side).
 */
import { context, propagation, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { ensureContextManager } from '@ctxprop/core';
import { randomBytes } from 'node:crypto';
import winston from 'winston';
import * as logging from '@ctxprop/logging';
import { captureWinstonContext, winstonFormat } from '@ctxprop/logging';
import { MemoryTransport, SlowTransport, until } from './support/winston-transports';

ensureContextManager();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const OTHER_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const OTHER_SPAN_ID = 'b7ad6b7169203331';
const COUNT = 200;

function remote(traceId: string, spanId: string, baggage?: Record<string, string>): Context {
  const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: 1, isRemote: true });
  if (baggage === undefined) return ctx;
  return propagation.setBaggage(ctx, propagation.createBaggage(Object.fromEntries(Object.entries(baggage).map(([key, value]) => [key, { value }]))));
}

/** Datadog's decimal form of an OpenTelemetry id: the low 64 bits, unsigned. */
function datadogId(hex: string): string {
  return BigInt(`0x${hex.slice(-16)}`).toString();
}

function jsonLogger(...formats: logging.WinstonTraceFormat[]): { logger: winston.Logger; transport: MemoryTransport } {
  const transport = new MemoryTransport();
  const logger = winston.createLogger({ format: winston.format.combine(...formats, winston.format.json()), transports: [transport] });
  return { logger, transport };
}

interface Call {
  readonly traceId: string;
  readonly spanId: string;
  readonly tenant: string;
}

/** Logs `count` entries, each from its own context (trace and `tenant` baggage), numbered `n`. */
function logInManyContexts(logger: winston.Logger, count: number): Map<number, Call> {
  const calls = new Map<number, Call>();
  for (let n = 0; n < count; n++) {
    const call = { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), tenant: `tenant-${n}` };
    calls.set(n, call);
    context.with(remote(call.traceId, call.spanId, { tenant: call.tenant }), () => logger.info('entry', { n }));
  }
  return calls;
}

describe('two winstonFormat() on one entry', () => {
  it('each writes its own fields in one format.combine() (otel ids and Datadog ids)', () => {
    const { logger, transport } = jsonLogger(winstonFormat(), winstonFormat({ preset: 'datadog' }));
    context.with(remote(TRACE_ID, SPAN_ID), () => logger.info('otel and datadog'));
    expect(JSON.parse(transport.lines[0]!)).toEqual({
      level: 'info',
      message: 'otel and datadog',
      trace_id: TRACE_ID,
      span_id: SPAN_ID,
      trace_flags: '01',
      'dd.trace_id': datadogId(TRACE_ID),
      'dd.span_id': datadogId(SPAN_ID),
    });
  });

  it('an id format and a baggage-only format both write their fields', () => {
    const { logger, transport } = jsonLogger(
      winstonFormat({ preset: 'ecs' }),
      winstonFormat({ baggageKeys: ['tenant'], fields: { traceId: false, spanId: false, traceFlags: false } }),
    );
    context.with(remote(TRACE_ID, SPAN_ID, { tenant: 'acme' }), () => logger.info('ecs and baggage'));
    expect(JSON.parse(transport.lines[0]!)).toEqual({ level: 'info', message: 'ecs and baggage', 'trace.id': TRACE_ID, 'span.id': SPAN_ID, tenant: 'acme' });
  });

  it('an object logged again gets both formats\' fields of each call, and none outside a trace', () => {
    const { logger, transport } = jsonLogger(winstonFormat(), winstonFormat({ preset: 'datadog' }));
    const heartbeat = { level: 'info', message: 'heartbeat' };
    context.with(remote(TRACE_ID, SPAN_ID), () => logger.log(heartbeat));
    context.with(remote(OTHER_TRACE_ID, OTHER_SPAN_ID), () => logger.log(heartbeat));
    logger.log(heartbeat);
    const [first, second, outside] = transport.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toMatchObject({ trace_id: TRACE_ID, span_id: SPAN_ID, 'dd.trace_id': datadogId(TRACE_ID), 'dd.span_id': datadogId(SPAN_ID) });
    expect(second).toMatchObject({ trace_id: OTHER_TRACE_ID, span_id: OTHER_SPAN_ID, 'dd.trace_id': datadogId(OTHER_TRACE_ID), 'dd.span_id': datadogId(OTHER_SPAN_ID) });
    expect(outside).toEqual({ level: 'info', message: 'heartbeat' });
  });

  it('a format on the logger and another on a slow transport, with captureWinstonContext: every line has its own call\'s ids and baggage', async () => {
    const transport = new SlowTransport(1);
    transport.format = winston.format.combine(winstonFormat({ preset: 'datadog', baggageKeys: ['tenant'] }), winston.format.json());
    const logger = captureWinstonContext(winston.createLogger({ format: winstonFormat(), transports: [transport] }));
    const calls = logInManyContexts(logger, COUNT);
    await until(() => transport.records.length === COUNT);
    const wrong = transport.records.filter((record) => {
      const call = calls.get(record.n as number)!;
      return record.trace_id !== call.traceId || record['dd.trace_id'] !== datadogId(call.traceId) || record.tenant !== call.tenant;
    });
    expect(wrong).toEqual([]);
  });

  it('the pinned context stays out of the line after the formats ran (json leaves it out, prettyPrint shows only a label)', () => {
    const json = new MemoryTransport();
    json.format = winston.format.json();
    const pretty = new MemoryTransport();
    pretty.format = winston.format.prettyPrint();
    const logger = captureWinstonContext(winston.createLogger({ format: winston.format.combine(winstonFormat(), winstonFormat({ preset: 'ecs' })), transports: [json, pretty] }));
    context.with(remote(TRACE_ID, SPAN_ID, { 'user.token': 'secret-abc' }), () => logger.info('hello'));
    expect(JSON.parse(json.lines[0]!)).toEqual({ level: 'info', message: 'hello', trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01', 'trace.id': TRACE_ID, 'span.id': SPAN_ID });
    expect(json.lines[0]).not.toContain('secret-abc');
    expect(pretty.lines[0]).toContain(TRACE_ID);
    expect(pretty.lines[0]).not.toContain('secret-abc');
  });
});

describe('two copies of @ctxprop/logging in one process', () => {
  let other: typeof logging;
  beforeAll(() => {
    jest.isolateModules(() => {
      // A second module instance of the package's sources, as an app gets from its ESM and CJS builds.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      other = require('@ctxprop/logging') as typeof logging;
    });
    if (other.winstonFormat === logging.winstonFormat || other.captureWinstonContext === logging.captureWinstonContext) {
      throw new Error('expected two copies of @ctxprop/logging');
    }
  });

  type Copy = 'this' | 'the other';
  const copy = (name: Copy): typeof logging => (name === 'this' ? logging : other);

  it.each<[capturedBy: Copy[], formatOf: Copy]>([
    [['this'], 'the other'],
    [['the other'], 'this'],
    [['this', 'the other'], 'the other'],
  ])('behind a slow transport, a logger captured by %p copy gets its own call\'s ids from the format of %s copy', async (capturedBy, formatOf) => {
    const transport = new SlowTransport(1);
    let logger = winston.createLogger({ format: winston.format.combine(copy(formatOf).winstonFormat({ baggageKeys: ['tenant'] }), winston.format.json()), transports: [transport] });
    for (const name of capturedBy) logger = copy(name).captureWinstonContext(logger);
    const calls = logInManyContexts(logger, COUNT);
    await until(() => transport.records.length === COUNT);
    const wrong = transport.records.filter((record) => {
      const call = calls.get(record.n as number)!;
      return record.trace_id !== call.traceId || record.span_id !== call.spanId || record.tenant !== call.tenant;
    });
    expect(wrong).toEqual([]);
  });
});
