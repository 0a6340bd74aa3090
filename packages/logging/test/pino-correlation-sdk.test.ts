/**
 * pinoCorrelation() with the OpenTelemetry SDK registered (BasicTracerProvider 2.x,
 * InMemorySpanExporter, OTel's AsyncLocalStorage context manager): every line logged in a real
 * Express 5, Express 4 or Fastify 5 request carries the trace id the client sent and the id of
 * the SERVER span the test recorded, including under 1,000 concurrent requests (issue #5, Tests;
 * the fast pino path). Also the ECS transaction.id of the entry span, which needs an SDK span.
 */
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { capturedPinoCorrelation } from './support/capture';
import { callAllRecorded } from './support/call-all';
import { mismatches } from './support/expect-lines';
import { startRecordingSdk } from './support/sdk';
import { FRAMEWORKS, installPropagator, serve, type Served } from './support/servers';

const sdk = startRecordingSdk();
installPropagator();
const tracer = trace.getTracer('ctxprop-logging-test');

afterAll(() => sdk.provider.shutdown());

const out = capturedPinoCorrelation({ baggageKeys: ['customer.tier'] });
const LINES_PER_REQUEST = 2;

async function work(n: number): Promise<void> {
  out.logger.info({ n }, 'start');
  await new Promise((resolve) => setTimeout(resolve, n % 5));
  out.logger.info({ n }, 'done');
}

beforeEach(() => {
  sdk.exporter.reset();
  out.sink.chunks.length = 0;
});

describe.each(FRAMEWORKS)('%s with the OpenTelemetry SDK', (framework) => {
  let served: Served;

  beforeAll(async () => {
    served = await serve(framework, work, tracer);
  });

  afterAll(() => served.close());

  it('writes the recorded server span id and the client trace id on every line', async () => {
    const expected = await callAllRecorded(served, sdk.exporter, 20);
    for (const { sent, spanId } of expected.values()) expect(spanId).not.toBe(sent.parentId);
    expect(mismatches(out.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
  });

  it('keeps every line of 1,000 concurrent requests on its own request span', async () => {
    const expected = await callAllRecorded(served, sdk.exporter, 1000);
    expect(sdk.exporter.getFinishedSpans()).toHaveLength(1000);
    expect(mismatches(out.sink.records(), expected, LINES_PER_REQUEST)).toEqual([]);
  });
});

describe('ecs preset with the SDK', () => {
  it('writes transaction.id for the entry span (remote parent) and leaves it out inside a child span', () => {
    const ecs = capturedPinoCorrelation({ preset: 'ecs' });
    const remoteParent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
      isRemote: true,
    });
    const entry = tracer.startSpan('GET /orders', {}, remoteParent);
    const entryContext = trace.setSpan(remoteParent, entry);
    const child = tracer.startSpan('SELECT orders', {}, entryContext);
    context.with(entryContext, () => ecs.logger.info('at entry'));
    context.with(trace.setSpan(entryContext, child), () => ecs.logger.info('in child'));
    context.with(entryContext, () => ecs.logger.info('at entry again'));
    child.end();
    entry.end();
    const [atEntry, inChild, again] = ecs.sink.records();
    const entryId = entry.spanContext().spanId;
    expect(atEntry).toMatchObject({ 'trace.id': '4bf92f3577b34da6a3ce929d0e0e4736', 'span.id': entryId, 'transaction.id': entryId });
    expect(inChild).toMatchObject({ 'trace.id': '4bf92f3577b34da6a3ce929d0e0e4736', 'span.id': child.spanContext().spanId });
    expect(inChild).not.toHaveProperty(['transaction.id']);
    expect(again).toMatchObject({ 'span.id': entryId, 'transaction.id': entryId });
  });
});
