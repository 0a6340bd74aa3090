/**
 * Alongside OpenTelemetry's own `@opentelemetry/instrumentation-undici`: whichever subscribed
 * first, each call has one CLIENT span (OpenTelemetry's), exactly one traceparent leaves (with
 * that span's id), and ctxprop's destination policy and sensitive-data guard still apply to the
 * headers OpenTelemetry injected. This file changes process globals and restores them.
 */
import { context, propagation, SpanKind, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Agent, request } from 'undici';
import { enableOutboundPropagation, type OutboundHandle } from '@ctxprop/core';
import { lookupToLoopback, startServer, type TestServer } from './outbound-helpers';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');
const contextManager = new AsyncLocalStorageContextManager();

let server: TestServer;
let publicAgent: Agent;

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  server = await startServer();
  publicAgent = new Agent({ connect: { lookup: lookupToLoopback } });
});

afterAll(async () => {
  await publicAgent.close();
  await server.close();
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

beforeEach(() => exporter.reset());

async function clientSpans(): Promise<ReadableSpan[]> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT);
}

/** Calls `url` inside an active parent span whose baggage is `baggage`. */
async function callInParent(url: string, baggage: Record<string, string>, options: Parameters<typeof request>[1] = {}): Promise<Span> {
  const withBaggage = propagation.setBaggage(
    context.active(),
    propagation.createBaggage(Object.fromEntries(Object.entries(baggage).map(([key, value]) => [key, { value }]))),
  );
  return context.with(withBaggage, () =>
    tracer.startActiveSpan('parent', async (parent) => {
      await (await request(url, options)).body.text();
      parent.end();
      return parent;
    }),
  );
}

function expectOneOtelClientSpanAsParent(spans: ReadableSpan[], parent: Span): void {
  expect(spans).toHaveLength(1);
  const [span] = spans;
  expect(span!.instrumentationScope.name).toBe('@opentelemetry/instrumentation-undici');
  expect(span!.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
  expect(server.last('traceparent')).toEqual([`00-${span!.spanContext().traceId}-${span!.spanContext().spanId}-01`]);
}

describe.each([
  ['registered before ctxprop', 'otel-first'],
  ['registered after ctxprop', 'ctxprop-first'],
])('with instrumentation-undici %s', (_label, order) => {
  let ours: OutboundHandle;
  let unregister: () => void;

  beforeAll(() => {
    const options = { destinations: { rules: [{ hosts: ['hidden.public.example'], trace: false }] } };
    if (order === 'ctxprop-first') ours = enableOutboundPropagation(options);
    unregister = registerInstrumentations({ instrumentations: [new UndiciInstrumentation()], tracerProvider: provider });
    if (order === 'otel-first') ours = enableOutboundPropagation(options);
  });

  afterAll(() => {
    unregister();
    ours.disable();
  });

  it('leaves one CLIENT span and one traceparent, and still refuses sensitive baggage', async () => {
    const parent = await callInParent(`http://127.0.0.1:${server.port}/a`, { tenant: 'acme', 'auth.token': 'secret' });
    expectOneOtelClientSpanAsParent(await clientSpans(), parent);
    expect(server.last('baggage')).toEqual(['tenant=acme']);
  });

  it('withholds the baggage OpenTelemetry injected from a public host', async () => {
    const parent = await callInParent(`http://api.public.example:${server.port}/p`, { tenant: 'acme' }, { dispatcher: publicAgent });
    expectOneOtelClientSpanAsParent(await clientSpans(), parent);
    expect(server.last('baggage')).toEqual([]);
  });

  it('withholds the traceparent OpenTelemetry injected where a rule says so', async () => {
    await callInParent(`http://hidden.public.example:${server.port}/h`, { tenant: 'acme' }, { dispatcher: publicAgent });
    expect(await clientSpans()).toHaveLength(1);
    expect(server.last('traceparent')).toEqual([]);
    // The rule gives no `baggage`, so its default, 'all', applies.
    expect(server.last('baggage')).toEqual(['tenant=acme']);
  });

  it('keeps OpenTelemetry\'s span and header with existingTraceparent: replace too', async () => {
    const replacing = enableOutboundPropagation({ existingTraceparent: 'replace' });
    try {
      const parent = await callInParent(`http://127.0.0.1:${server.port}/r`, { tenant: 'acme' });
      expectOneOtelClientSpanAsParent(await clientSpans(), parent);
    } finally {
      replacing.disable();
    }
  });

  it('sends one traceparent, the caller\'s, when the caller set one by hand (contrib #3711 appended a second)', async () => {
    const mine = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    await callInParent(`http://127.0.0.1:${server.port}/k`, {}, { headers: { traceparent: mine } });
    expect(server.last('traceparent')).toEqual([mine]);
    expect(await clientSpans()).toHaveLength(1);
  });
});
