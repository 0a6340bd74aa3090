/**
 * pinoMixin() with real pino: a fresh object per line, merged with the user's own mixin, fields
 * captured inside the log call, so they are right even when a pino transport writes the line
 * later in a worker thread (issue #5, pino).
 */
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { diagnosticsSnapshot, ensureContextManager } from '@ctxprop/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { pinoMixin } from '@ctxprop/logging';
import { LineSink } from './support/capture';
import { callAll } from './support/call-all';
import { mismatches } from './support/expect-lines';
import { installPropagator, serve } from './support/servers';
import { endAndReadLines } from './support/transport-lines';

ensureContextManager();
installPropagator();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const active = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });

describe('pinoMixin()', () => {
  it('returns a fresh object on every call, which pino may change', () => {
    const mixin = pinoMixin();
    context.with(active, () => {
      const first = mixin({}, 30, undefined);
      Object.assign(first, { trace_id: 'overwritten by pino merge' });
      const second = mixin({}, 30, undefined);
      expect(second).not.toBe(first);
      expect(second).toEqual({ trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01' });
    });
  });

  it('follows the active context from call to call, back and forth (lines of requests that interleave)', () => {
    const mixin = pinoMixin({ baggageKeys: ['customer.tier'] });
    const otherSpan = 'a3ce929d0e0e4736';
    const other = propagation.setBaggage(
      trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: otherSpan, traceFlags: 0, isRemote: true }),
      propagation.createBaggage({ 'customer.tier': { value: 'gold' } }),
    );
    const seen = [active, other, active, ROOT_CONTEXT, other].map((ctx) => context.with(ctx, () => mixin({}, 30, undefined)));
    const forActive = { trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01' };
    const forOther = { trace_id: TRACE_ID, span_id: otherSpan, trace_flags: '00', 'customer.tier': 'gold' };
    expect(seen).toEqual([forActive, forOther, forActive, {}, forOther]);
  });

  it('counts a span whose context throws, writes no ids for it, and asks the span again on the next line', () => {
    const mixin = pinoMixin();
    let calls = 0;
    const flaky = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    const realContext = flaky.spanContext.bind(flaky);
    flaky.spanContext = () => {
      calls++;
      if (calls === 1) throw new Error('span context not ready');
      return realContext();
    };
    const ctx = trace.setSpan(ROOT_CONTEXT, flaky);
    const before = diagnosticsSnapshot()['internal.error'] ?? 0;
    const [first, second] = context.with(ctx, () => [mixin({}, 30, undefined), mixin({}, 30, undefined)]);
    expect(first).toEqual({});
    expect(second).toEqual({ trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01' });
    expect(calls).toBe(2);
    expect(diagnosticsSnapshot()['internal.error']).toBe(before + 1);
  });

  it('is a named function', () => {
    expect(pinoMixin().name).toBe('ctxpropPinoMixin');
  });

  it('adds the fields to real pino lines, and the log call own object still wins on a clash (pino merge order)', () => {
    const sink = new LineSink();
    const logger = pino({ mixin: pinoMixin() }, sink);
    context.with(active, () => {
      logger.info('plain');
      logger.info({ span_id: 'from-the-call' }, 'explicit');
    });
    const [plain, explicit] = sink.records();
    expect(plain).toMatchObject({ msg: 'plain', trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01' });
    expect(explicit).toMatchObject({ msg: 'explicit', trace_id: TRACE_ID, span_id: 'from-the-call' });
  });

  it('merges the user mixin: both sets of fields, theirs win on a clash, and it gets pino arguments', () => {
    const sink = new LineSink();
    const calls: unknown[][] = [];
    const shared = { region: 'eu-west-1', trace_flags: 'theirs' };
    const logger = pino(
      {
        mixin: pinoMixin({
          mixin: (mergeObject, level, instance) => {
            calls.push([mergeObject, level, instance]);
            return shared;
          },
        }),
      },
      sink,
    );
    context.with(active, () => logger.warn({ orderId: 7 }, 'slow'));
    expect(sink.records()[0]).toMatchObject({ orderId: 7, region: 'eu-west-1', trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: 'theirs' });
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toEqual({ orderId: 7 });
    expect(calls[0]![1]).toBe(40);
    expect(calls[0]![2]).toBe(logger);
    // pino assigns the call's object into the mixin result: the user's shared object is untouched.
    expect(shared).toEqual({ region: 'eu-west-1', trace_flags: 'theirs' });
  });

  it('works on child loggers, whose bindings do not hide the trace fields', () => {
    const sink = new LineSink();
    const child = pino({ mixin: pinoMixin({ preset: 'ecs' }) }, sink).child({ component: 'orders' });
    context.with(active, () => child.info('from child'));
    expect(sink.records()[0]).toMatchObject({ component: 'orders', 'trace.id': TRACE_ID, 'span.id': SPAN_ID });
  });
});

describe('pinoMixin() with a pino transport in a worker thread', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ctxprop-logging-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes each request ids, captured at the log call, although the worker writes the line later', async () => {
    const destination = join(dir, 'lines.ndjson');
    const transport = pino.transport({ target: join(__dirname, 'fixtures', 'line-file-transport.mjs'), options: { destination } });
    const logger = pino({ mixin: pinoMixin({ baggageKeys: ['customer.tier'] }) }, transport);
    const served = await serve('express 5', async (n) => {
      logger.info({ n }, 'start');
      await new Promise((resolve) => setTimeout(resolve, n % 3));
      logger.info({ n }, 'done');
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
