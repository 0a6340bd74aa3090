/**
 * A setInterval started in a request, with the OpenTelemetry SDK recording: the CLIENT spans of
 * the ticks while the request is in flight are children of its SERVER span; those of the ticks
 * after the response are not: each begins its own trace and carries no baggage, so a polling
 * loop started by a request does not grow that request's trace forever (DESIGN, "what users of
 * the anchors complain about").
 */
import { SpanKind } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS, listen, startDownstream, TRACE_ID, TRACEPARENT, waitFor, type Downstream } from './support/frameworks';
import { startRecordingSdk } from './support/sdk';

const sdk = startRecordingSdk();

afterAll(() => sdk.provider.shutdown());

/** Intervals the app started, cleared after each test whatever happened. */
const timers: NodeJS.Timeout[] = [];

afterEach(() => {
  for (const timer of timers.splice(0)) clearInterval(timer);
});

interface Tick {
  afterResponse: boolean;
}

describe.each(FRAMEWORKS)('%s: setInterval in a request, with the SDK', (_framework, createApp) => {
  let app: FastifyInstance;
  let downstream: Downstream;
  let polled: Promise<Tick[]>;

  beforeEach(async () => {
    sdk.exporter.reset();
    resetDiagnostics();
    downstream = await startDownstream();
    app = createApp();
    await app.register(ctxprop);
    let finished!: (ticks: Tick[]) => void;
    polled = new Promise((resolve) => (finished = resolve));
    // Polls downstream every 5 ms, one call at a time; answers after two polls, polls twice more.
    app.get('/poll', (_request, reply) => {
      const ticks: Tick[] = [];
      let busy = false;
      const timer = setInterval(async () => {
        if (busy) return;
        busy = true;
        const afterResponse = reply.raw.writableEnded;
        await fetch(downstream.url);
        ticks.push({ afterResponse });
        busy = false;
        if (ticks.length === 2) reply.send({ ok: true });
        if (ticks.filter((tick) => tick.afterResponse).length === 2) {
          clearInterval(timer);
          finished(ticks);
        }
      }, 5);
      timers.push(timer);
    });
  });

  afterEach(async () => {
    await app.close();
    await downstream.close();
  });

  it("records the in-flight polls under the request's span and each later poll in a trace of its own", async () => {
    const url = await listen(app);
    const response = await fetch(`${url}/poll`, { headers: { traceparent: TRACEPARENT, baggage: 'customer.tier=gold' } });
    expect(response.status).toBe(200);
    const ticks = await polled;
    expect(ticks.map((tick) => tick.afterResponse)).toEqual([false, false, true, true]);

    const [server] = await sdk.serverSpans(1);
    const clients = await waitFor(
      () => sdk.exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT),
      (spans) => spans.length === 4,
    );
    expect(clients).toHaveLength(4);
    const [first, second, third, fourth] = clients.sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);

    for (const span of [first!, second!]) {
      expect(span.spanContext().traceId).toBe(TRACE_ID);
      expect(span.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
    }
    for (const span of [third!, fourth!]) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.spanContext().traceId).not.toBe(TRACE_ID);
    }
    expect(third!.spanContext().traceId).not.toBe(fourth!.spanContext().traceId);

    // Downstream saw the request's trace and baggage from the in-flight polls only.
    const received = downstream.received;
    expect(received).toHaveLength(4);
    expect(received.slice(0, 2).map((headers) => [headers.traceparent?.slice(3, 35), headers.baggage])).toEqual([
      [TRACE_ID, 'customer.tier=gold'],
      [TRACE_ID, 'customer.tier=gold'],
    ]);
    expect(received.slice(2).map((headers) => [headers.traceparent?.slice(3, 35), headers.baggage])).toEqual([
      [third!.spanContext().traceId, undefined],
      [fourth!.spanContext().traceId, undefined],
    ]);
    expect(diagnosticsSnapshot()['context.interval_detached']).toBe(1);
  });
});
