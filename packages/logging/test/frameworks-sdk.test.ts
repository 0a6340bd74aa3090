/**
 * OpenTelemetry SDK registered (BasicTracerProvider 2.x, InMemorySpanExporter, OTel's
 * AsyncLocalStorage context manager): every pino and winston line logged in a real Express 5,
 * Express 4 or Fastify 5 request carries the trace id the client sent and the id of the SERVER
 * span the test recorded, including under 1,000 concurrent requests (issue #5, Tests). Also the
 * ECS transaction.id, which needs an SDK span.
 */
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { createTraceFields } from '@ctxprop/logging';
import { capturedPino, capturedWinston } from './support/capture';
import { callAllRecorded } from './support/call-all';
import { mismatches } from './support/expect-lines';
import { startRecordingSdk } from './support/sdk';
import { FRAMEWORKS, installPropagator, serve, type Served } from './support/servers';

const sdk = startRecordingSdk();
installPropagator();
const tracer = trace.getTracer('ctxprop-logging-test');

afterAll(() => sdk.provider.shutdown());

const OPTIONS = { baggageKeys: ['customer.tier'] };
const pinoOut = capturedPino(OPTIONS);
const winstonOut = capturedWinston(OPTIONS);
const LINES_PER_REQUEST = 2;

async function work(n: number): Promise<void> {
  pinoOut.logger.info({ n }, 'start');
  winstonOut.logger.info('start', { n });
  await new Promise((resolve) => setTimeout(resolve, n % 5));
  pinoOut.logger.info({ n }, 'done');
  winstonOut.logger.info('done', { n });
}

beforeEach(() => {
  sdk.exporter.reset();
  pinoOut.sink.chunks.length = 0;
  winstonOut.sink.chunks.length = 0;
});

describe.each(FRAMEWORKS)('%s with the OpenTelemetry SDK', (framework) => {
  let served: Served;

  beforeAll(async () => {
    served = await serve(framework, work, tracer);
  });

  afterAll(() => served.close());

  it('writes the recorded server span id and the client trace id on every pino and winston line', async () => {
    const expected = await callAllRecorded(served, sdk.exporter, 20);
    for (const { sent, spanId } of expected.values()) expect(spanId).not.toBe(sent.parentId);
    expect(mismatches(pinoOut.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
    expect(mismatches(winstonOut.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
  });

  it('keeps every line of 1,000 concurrent requests on its own request span', async () => {
    const expected = await callAllRecorded(served, sdk.exporter, 1000);
    expect(sdk.exporter.getFinishedSpans()).toHaveLength(1000);
    expect(mismatches(pinoOut.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
    expect(mismatches(winstonOut.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
  });
});

describe('ecs preset with the SDK', () => {
  const ecs = createTraceFields({ preset: 'ecs' });
  const remoteParent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: 1,
    isRemote: true,
  });

  it('sets transaction.id to the entry span (remote parent) and leaves it out inside a child span', () => {
    const entry = tracer.startSpan('GET /orders', {}, remoteParent);
    const entryContext = trace.setSpan(remoteParent, entry);
    const child = tracer.startSpan('SELECT orders', {}, entryContext);
    const atEntry = context.with(entryContext, () => ecs());
    const inChild = ecs(trace.setSpan(entryContext, child));
    child.end();
    entry.end();
    expect(atEntry).toEqual({ 'trace.id': '4bf92f3577b34da6a3ce929d0e0e4736', 'span.id': entry.spanContext().spanId, 'transaction.id': entry.spanContext().spanId });
    expect(inChild).toEqual({ 'trace.id': '4bf92f3577b34da6a3ce929d0e0e4736', 'span.id': child.spanContext().spanId });
  });

  it('sets transaction.id for a root span', () => {
    const root = tracer.startSpan('job');
    const fields = ecs(trace.setSpan(ROOT_CONTEXT, root));
    root.end();
    expect(fields['transaction.id']).toBe(root.spanContext().spanId);
    expect(fields['trace.id']).toBe(root.spanContext().traceId);
  });
});
