/**
 * winstonFormat() with real winston: usable in format.combine() and on a transport, run inside
 * the log call when transports keep up; with a slow transport winston runs formats later, and
 * captureWinstonContext() keeps each entry on its caller's context (issue #5, winston).
 */
import { context, propagation, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { ensureContextManager } from '@ctxprop/core';
import { ctxprop } from '@ctxprop/express';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import winston from 'winston';
import { captureWinstonContext, winstonFormat } from '@ctxprop/logging';
import { capturedWinston } from './support/capture';
import { MemoryTransport, SlowTransport, until } from './support/winston-transports';

ensureContextManager();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const OTHER_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const OTHER_SPAN_ID = 'b7ad6b7169203331';

function remote(traceId: string, spanId: string): Context {
  return trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: 1, isRemote: true });
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

  it('reads the context of each log call when the caller logs the same object again', () => {
    const { logger, sink } = capturedWinston();
    const heartbeat = { level: 'info', message: 'heartbeat' };
    context.with(remote(TRACE_ID, SPAN_ID), () => logger.log(heartbeat));
    context.with(remote(OTHER_TRACE_ID, OTHER_SPAN_ID), () => logger.log(heartbeat));
    logger.log(heartbeat);
    const [first, second, outside] = sink.records();
    expect(first).toMatchObject({ trace_id: TRACE_ID, span_id: SPAN_ID });
    expect(second).toMatchObject({ trace_id: OTHER_TRACE_ID, span_id: OTHER_SPAN_ID });
    expect(outside).toEqual({ level: 'info', message: 'heartbeat' });
  });

  it('still keeps a field the caller set on an object it logs again', () => {
    const { logger, sink } = capturedWinston();
    const entry = { level: 'info', message: 'replayed', span_id: 'from-the-caller' };
    context.with(remote(TRACE_ID, SPAN_ID), () => logger.log(entry));
    context.with(remote(OTHER_TRACE_ID, OTHER_SPAN_ID), () => logger.log(entry));
    expect(sink.records().map((record) => [record.trace_id, record.span_id])).toEqual([
      [TRACE_ID, 'from-the-caller'],
      [OTHER_TRACE_ID, 'from-the-caller'],
    ]);
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

describe('captureWinstonContext()', () => {
  it('keeps the captured context out of a transport whose format does not take it (prettyPrint prints every field)', () => {
    const withIds = new MemoryTransport();
    withIds.format = winston.format.combine(winstonFormat(), winston.format.json());
    const pretty = new MemoryTransport();
    pretty.format = winston.format.prettyPrint();
    const logger = captureWinstonContext(winston.createLogger({ transports: [withIds, pretty] }));
    const secret = propagation.setBaggage(remote(TRACE_ID, SPAN_ID), propagation.createBaggage({ 'user.token': { value: 'secret-abc' } }));
    context.with(secret, () => logger.info('hello'));
    expect(JSON.parse(withIds.lines[0]!)).toMatchObject({ message: 'hello', trace_id: TRACE_ID });
    expect(pretty.lines[0]).toContain('hello');
    expect(pretty.lines[0]).not.toContain('secret-abc');
    expect(pretty.lines[0]).not.toContain(TRACE_ID);
  });

  it('captures the context of each log call when the caller logs the same object again (the format on a transport)', async () => {
    const transport = new SlowTransport(1);
    transport.format = winston.format.combine(winstonFormat(), winston.format.json());
    const logger = captureWinstonContext(winston.createLogger({ transports: [transport] }));
    const heartbeat = { level: 'info', message: 'heartbeat' };
    context.with(remote(TRACE_ID, SPAN_ID), () => logger.log(heartbeat));
    context.with(remote(OTHER_TRACE_ID, OTHER_SPAN_ID), () => logger.log(heartbeat));
    await until(() => transport.records.length === 2);
    expect(transport.records.map((record) => record.trace_id)).toEqual([TRACE_ID, OTHER_TRACE_ID]);
  });

  it("keeps the baggage of the log call when the request's baggage changes before winston formats the entry (req.setBaggage)", async () => {
    const transport = new SlowTransport(2);
    const logger = captureWinstonContext(
      winston.createLogger({ format: winston.format.combine(winstonFormat({ baggageKeys: ['customer.tier'] }), winston.format.json()), transports: [transport] }),
    );
    const app = express();
    const middleware = ctxprop({ outbound: false });
    app.use(middleware);
    app.get('/upgrade', (req, res) => {
      // Enough entries that winston buffers the next ones behind the transport.
      for (let i = 0; i < 40; i++) logger.info('filler');
      logger.info('before');
      req.setBaggage({ 'customer.tier': 'gold' });
      logger.info('after');
      res.end();
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/upgrade`, { headers: { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, baggage: 'customer.tier=free' } });
      expect(response.status).toBe(200);
      await until(() => transport.records.length === 42);
      expect(transport.records.filter((record) => record.message !== 'filler').map((record) => [record.message, record['customer.tier'], record.trace_id])).toEqual([
        ['before', 'free', TRACE_ID],
        ['after', 'gold', TRACE_ID],
      ]);
    } finally {
      middleware.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
