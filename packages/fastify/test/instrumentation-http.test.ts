/**
 * Alongside OpenTelemetry's `@opentelemetry/instrumentation-http` (issue #3, "What each does on
 * every request" 3; DESIGN decision 1): when it made the SERVER span for a request, the plugin
 * makes no second one and does not re-extract; it names that span by the route, sets
 * `http.route`, and uses its context (trace and baggage) for the rest of the request.
 *
 * This file patches node:http through OpenTelemetry before any server is made, and restores it.
 */
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import type { FastifyInstance } from 'fastify';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS, listen, PARENT_ID, startDownstream, TRACE_ID, TRACEPARENT, waitFor, type Downstream } from './support/frameworks';
import { startRecordingSdk } from './support/sdk';

const sdk = startRecordingSdk();
const instrumentation = new HttpInstrumentation();
const unregister = registerInstrumentations({ instrumentations: [instrumentation], tracerProvider: sdk.provider });
// jest loads modules through its own registry, which require-in-the-middle does not see: apply
// the instrumentation's patches to node:http as it would when the app first requires it.
const http = require('node:http') as typeof import('node:http');
const httpDefinition = instrumentation.getModuleDefinitions().find((definition) => definition.name === 'http');
httpDefinition?.patch?.(http);

afterAll(async () => {
  httpDefinition?.unpatch?.(http);
  unregister();
  await sdk.provider.shutdown();
});

const INSTRUMENTATION_HTTP = '@opentelemetry/instrumentation-http';

/** The SERVER spans of the app under test (the downstream server is instrumented too). */
function appServerSpans() {
  return waitFor(
    () => sdk.exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER && span.attributes['url.path'] !== '/downstream'),
    (spans) => spans.length > 0,
  );
}

function get(url: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (response) => {
        response.resume();
        response.on('end', resolve);
      })
      .on('error', reject);
  });
}

test('node:http is patched by instrumentation-http in this file', () => {
  expect((http.Server.prototype.emit as { __wrapped?: boolean }).__wrapped).toBe(true);
});

describe.each(FRAMEWORKS)('%s', (_framework, createApp) => {
  let app: FastifyInstance;
  let base: string;
  let downstream: Downstream;

  beforeEach(async () => {
    sdk.exporter.reset();
    downstream = await startDownstream();
    app = createApp();
    await app.register(ctxprop);
    app.get('/orders/:id', async (request) => {
      request.setBaggage({ step: 'priced' });
      await trace.getTracer('test').startActiveSpan('work', async (span) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        span.end();
      });
      await fetch(downstream.url);
      await get(downstream.url, {});
      return {
        traceContext: request.traceContext,
        user: request.baggage.get('user.id') ?? null,
        activeStep: propagation.getBaggage(context.active())?.getEntry('step')?.value ?? null,
      };
    });
    app.get('/boom', async () => {
      throw new TypeError('boom');
    });
    base = await listen(app);
  });

  afterEach(async () => {
    await app.close();
    await downstream.close();
  });

  test("one SERVER span (instrumentation-http's), named by the route, continuing the inbound trace", async () => {
    const response = await fetch(`${base}/orders/42`, { headers: { traceparent: TRACEPARENT, baggage: 'user.id=alice' } });
    const body = (await response.json()) as { traceContext: { traceId: string; spanId: string }; user: string; activeStep: string };
    const [server, ...others] = await appServerSpans();

    expect(others).toHaveLength(0);
    expect(server!.instrumentationScope.name).toBe(INSTRUMENTATION_HTTP);
    expect(server!.name).toBe('GET /orders/:id');
    expect(server!.attributes['http.route']).toBe('/orders/:id');
    expect(server!.spanContext().traceId).toBe(TRACE_ID);
    expect(server!.parentSpanContext?.spanId).toBe(PARENT_ID);
    // The plugin used that span's context: the handler's trace context is the span's.
    expect(body.traceContext).toEqual(expect.objectContaining({ traceId: TRACE_ID, spanId: server!.spanContext().spanId }));
    expect(body.user).toBe('alice');
    expect(body.activeStep).toBe('priced');
  });

  test('spans and outbound calls made in the handler hang under that span, each outbound call with one traceparent', async () => {
    await fetch(`${base}/orders/42`, { headers: { traceparent: TRACEPARENT, baggage: 'user.id=alice' } });
    const [server] = await appServerSpans();
    const children = await waitFor(
      () => sdk.childrenOf(server!),
      (spans) => spans.some((span) => span.name === 'work') && spans.some((span) => span.kind === SpanKind.CLIENT),
    );

    expect(children.map((span) => span.name)).toContain('work');
    expect(downstream.received).toHaveLength(2);
    const ids = new Set([server!, ...children].map((span) => span.spanContext().spanId));
    for (const headers of downstream.received) {
      // One value, not two folded together (opentelemetry-js-contrib #3711).
      expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      const [, traceId, parentId] = String(headers.traceparent).split('-');
      expect(traceId).toBe(TRACE_ID);
      expect(ids.has(parentId!)).toBe(true);
      expect(String(headers.baggage)).toContain('step=priced');
    }
  });

  test('a thrown error is recorded on that span, which instrumentation-http ends in error', async () => {
    const response = await fetch(`${base}/boom`, { headers: { traceparent: TRACEPARENT } });
    expect(response.status).toBe(500);
    const [server, ...others] = await appServerSpans();

    expect(others).toHaveLength(0);
    expect(server!.name).toBe('GET /boom');
    expect(server!.status.code).toBe(2);
    expect(server!.events.find((event) => event.name === 'exception')?.attributes?.['exception.message']).toBe('boom');
  });

  test('inject() does not go through node:http, so the plugin records the SERVER span itself', async () => {
    await app.inject({ method: 'GET', url: '/orders/7', headers: { traceparent: TRACEPARENT } });
    const [server, ...others] = await appServerSpans();

    expect(others).toHaveLength(0);
    expect(server!.instrumentationScope.name).toBe('@ctxprop/fastify');
    expect(server!.name).toBe('GET /orders/:id');
    expect(server!.parentSpanContext?.spanId).toBe(PARENT_ID);
  });
});
