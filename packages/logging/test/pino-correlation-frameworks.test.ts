/**
 * pinoCorrelation() with no OpenTelemetry SDK, in real Express 5, Express 4 and Fastify 5 requests
 * called with fetch: every line carries the ids of the traceparent its client sent (the
 * propagated inbound context) and its allowlisted baggage, including under 1,000 concurrent
 * requests whose lines interleave (issue #5, Tests; the fast pino path).
 */
import { context, trace } from '@opentelemetry/api';
import { ensureContextManager } from '@ctxprop/core';
import { capturedPinoCorrelation } from './support/capture';
import { callAll } from './support/call-all';
import { mismatches } from './support/expect-lines';
import { FRAMEWORKS, installPropagator, serve, type Served } from './support/servers';

ensureContextManager();
installPropagator();

const out = capturedPinoCorrelation({ baggageKeys: ['customer.tier'] });
const LINES_PER_REQUEST = 3;

async function work(n: number): Promise<void> {
  out.logger.info({ n, step: 1 }, 'start');
  await new Promise((resolve) => setTimeout(resolve, n % 5));
  out.logger.child({ component: 'orders' }).info({ n, step: 2 }, 'working');
  await new Promise((resolve) => setImmediate(resolve));
  out.logger.info({ n, step: 3 }, 'done');
}

beforeEach(() => {
  out.sink.chunks.length = 0;
});

describe.each(FRAMEWORKS)('%s with no SDK', (framework) => {
  let served: Served;

  beforeAll(async () => {
    served = await serve(framework, work);
  });

  afterAll(() => served.close());

  it('writes the traceparent the client sent and its baggage on every line', async () => {
    const expected = await callAll(served, 20);
    expect(mismatches(out.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
  });

  it('keeps every line of 1,000 concurrent requests on its own request ids', async () => {
    const expected = await callAll(served, 1000);
    const records = out.sink.records();
    expect(records).toHaveLength(1000 * LINES_PER_REQUEST);
    expect(mismatches(records, expected, LINES_PER_REQUEST)).toEqual([]);
    // The lines really interleave: a one-entry cache alone could not have served them.
    const switches = records.filter((record, i) => i > 0 && record.n !== records[i - 1]!.n).length;
    expect(switches).toBeGreaterThan(1000);
  });
});

describe('outside any request', () => {
  it('writes no trace or baggage fields', () => {
    expect(trace.getSpanContext(context.active())).toBeUndefined();
    out.logger.info('idle');
    const [record] = out.sink.records();
    expect(record).toMatchObject({ msg: 'idle' });
    for (const key of ['trace_id', 'span_id', 'trace_flags', 'customer.tier']) expect(record).not.toHaveProperty([key]);
  });
});
