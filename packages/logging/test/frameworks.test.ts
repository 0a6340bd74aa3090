/**
 * No OpenTelemetry SDK: real pino and winston inside real Express 5, Express 4 and Fastify 5
 * requests called with fetch. Every line carries the ids of the traceparent its client sent
 * (the propagated inbound context) and its allowlisted baggage, including under 1,000
 * concurrent requests (issue #5, Tests).
 */
import { context, trace } from '@opentelemetry/api';
import { ensureContextManager } from '@ctxprop/core';
import { capturedPino, capturedWinston } from './support/capture';
import { callAll } from './support/call-all';
import { mismatches } from './support/expect-lines';
import { FRAMEWORKS, installPropagator, serve, type Served } from './support/servers';

ensureContextManager();
installPropagator();

const OPTIONS = { baggageKeys: ['customer.tier'] };
const pinoOut = capturedPino(OPTIONS);
const winstonOut = capturedWinston(OPTIONS);
const LINES_PER_REQUEST = 3;

async function work(n: number): Promise<void> {
  pinoOut.logger.info({ n, step: 1 }, 'start');
  winstonOut.logger.info('start', { n, step: 1 });
  await new Promise((resolve) => setTimeout(resolve, n % 5));
  pinoOut.logger.info({ n, step: 2 }, 'working');
  winstonOut.logger.info('working', { n, step: 2 });
  await new Promise((resolve) => setImmediate(resolve));
  pinoOut.logger.info({ n, step: 3 }, 'done');
  winstonOut.logger.info('done', { n, step: 3 });
}

beforeEach(() => {
  pinoOut.sink.chunks.length = 0;
  winstonOut.sink.chunks.length = 0;
});

describe.each(FRAMEWORKS)('%s with no SDK', (framework) => {
  let served: Served;

  beforeAll(async () => {
    served = await serve(framework, work);
  });

  afterAll(() => served.close());

  it('writes the traceparent the client sent and its baggage on every pino and winston line', async () => {
    const expected = await callAll(served, 20);
    expect(mismatches(pinoOut.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
    expect(mismatches(winstonOut.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
  });

  it('keeps every line of 1,000 concurrent requests on its own request ids', async () => {
    const expected = await callAll(served, 1000);
    expect(pinoOut.sink.records()).toHaveLength(1000 * LINES_PER_REQUEST);
    expect(mismatches(pinoOut.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
    expect(mismatches(winstonOut.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
  });
});

describe('outside any request', () => {
  it('writes no trace fields on pino and winston lines', () => {
    expect(trace.getSpanContext(context.active())).toBeUndefined();
    pinoOut.logger.info('idle');
    winstonOut.logger.info('idle');
    for (const record of [...pinoOut.sink.records(), ...winstonOut.sink.records()]) {
      expect(record).not.toHaveProperty('trace_id');
      expect(record).not.toHaveProperty('span_id');
      expect(record).not.toHaveProperty('trace_flags');
      expect(record).not.toHaveProperty(['customer.tier']);
    }
  });
});
