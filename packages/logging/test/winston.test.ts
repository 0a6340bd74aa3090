/**
 * winstonFormat() with real winston: usable in format.combine() and on a transport, run inside
 * the log call when transports keep up; with a slow transport winston runs formats later, and
 * captureWinstonContext() keeps each entry on its caller's context (issue #5, winston).
 */
import { context, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { ensureContextManager } from '@ctxprop/core';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import winston from 'winston';
import { captureWinstonContext, winstonFormat } from '@ctxprop/logging';
import { capturedWinston } from './support/capture';

ensureContextManager();

const MESSAGE = Symbol.for('message');
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

function remote(traceId: string, spanId: string): Context {
  return trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: 1, isRemote: true });
}

// winston exports its base transport class (winston-transport) as `Transport` at run time; its
// types do not declare that name, so the class is typed from what `logger.add()` takes.
type TransportInstance = Parameters<winston.Logger['add']>[0];
const TransportBase = (winston as unknown as { Transport: new () => TransportInstance }).Transport;

/** A transport that takes `delayMs` to write each entry, so winston buffers behind it. */
class SlowTransport extends TransportBase {
  readonly records: Record<string, unknown>[] = [];

  constructor(private readonly delayMs: number) {
    super();
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    setTimeout(() => {
      this.records.push(JSON.parse(info[MESSAGE] as string) as Record<string, unknown>);
      callback();
    }, this.delayMs);
  }
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function logInManyContexts(logger: winston.Logger, count: number): Map<number, string> {
  const traces = new Map<number, string>();
  for (let n = 0; n < count; n++) {
    const traceId = randomBytes(16).toString('hex');
    traces.set(n, traceId);
    context.with(remote(traceId, randomBytes(8).toString('hex')), () => logger.info('entry', { n }));
  }
  return traces;
}

describe('winstonFormat()', () => {
  it('adds the fields in format.combine(), keeping keys the call itself set', () => {
    const { logger, sink } = capturedWinston();
    context.with(remote(TRACE_ID, SPAN_ID), () => {
      logger.info('plain');
      logger.info('explicit', { span_id: 'from-the-call' });
    });
    const [plain, explicit] = sink.records();
    expect(plain).toEqual({ level: 'info', message: 'plain', trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01' });
    expect(explicit).toMatchObject({ message: 'explicit', trace_id: TRACE_ID, span_id: 'from-the-call' });
  });

  it('runs inside the log call when the transports keep up (winston formats synchronously)', () => {
    let inCall = false;
    const seen: boolean[] = [];
    const spy = winston.format((info) => {
      seen.push(inCall);
      return info;
    });
    const logger = winston.createLogger({
      format: winston.format.combine(winstonFormat(), spy(), winston.format.json()),
      transports: [new winston.transports.Stream({ stream: new PassThrough() })],
    });
    inCall = true;
    logger.info('now');
    inCall = false;
    expect(seen).toEqual([true]);
  });

  it('works as a transport format', () => {
    const transport = new SlowTransport(0);
    transport.format = winston.format.combine(winstonFormat({ preset: 'ecs' }), winston.format.json());
    const logger = winston.createLogger({ transports: [transport] });
    context.with(remote(TRACE_ID, SPAN_ID), () => logger.info('on transport'));
    return until(() => transport.records.length === 1).then(() => {
      expect(transport.records[0]).toMatchObject({ 'trace.id': TRACE_ID, 'span.id': SPAN_ID });
    });
  });

  it('writes no fields outside any trace context', () => {
    const { logger, sink } = capturedWinston();
    logger.info('idle');
    expect(sink.records()[0]).toEqual({ level: 'info', message: 'idle' });
  });
});

describe('behind a slow transport', () => {
  const COUNT = 200;

  it('shows why captureWinstonContext exists: winston runs the format later, in another context', async () => {
    const transport = new SlowTransport(1);
    const logger = winston.createLogger({ format: winston.format.combine(winstonFormat(), winston.format.json()), transports: [transport] });
    const traces = logInManyContexts(logger, COUNT);
    await until(() => transport.records.length === COUNT);
    const wrong = transport.records.filter((record) => record.trace_id !== traces.get(record.n as number));
    expect(wrong.length).toBeGreaterThan(0);
  });

  it('with captureWinstonContext(logger), every entry carries the ids of its own log call', async () => {
    const transport = new SlowTransport(1);
    const logger = captureWinstonContext(
      winston.createLogger({ format: winston.format.combine(winstonFormat(), winston.format.json()), transports: [transport] }),
    );
    const traces = logInManyContexts(logger, COUNT);
    await until(() => transport.records.length === COUNT);
    const wrong = transport.records.filter((record) => record.trace_id !== traces.get(record.n as number));
    expect(wrong).toEqual([]);
  });

  it('with captureWinstonContext(logger), child loggers are covered too, and capturing twice is harmless', async () => {
    const transport = new SlowTransport(1);
    const logger = captureWinstonContext(
      captureWinstonContext(winston.createLogger({ format: winston.format.combine(winstonFormat(), winston.format.json()), transports: [transport] })),
    );
    const child = logger.child({ component: 'orders' });
    const traces = logInManyContexts(child, COUNT);
    await until(() => transport.records.length === COUNT);
    expect(transport.records.every((record) => record.component === 'orders')).toBe(true);
    expect(transport.records.filter((record) => record.trace_id !== traces.get(record.n as number))).toEqual([]);
  });
});
