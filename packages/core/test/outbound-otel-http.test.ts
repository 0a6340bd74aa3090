/**
 * Alongside OpenTelemetry's own `@opentelemetry/instrumentation-http`: each node:http call has
 * one CLIENT span (OpenTelemetry's), exactly one traceparent leaves (with that span's id), and
 * ctxprop's destination policy and sensitive-data guard still apply to the headers
 * OpenTelemetry injected. This file patches node:http through OpenTelemetry and restores it.
 */
import { context, propagation, SpanKind, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { enableOutboundPropagation, type OutboundHandle } from '@ctxprop/core';
import { lookupToLoopback, startServer, type TestServer } from './outbound-helpers';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');
const contextManager = new AsyncLocalStorageContextManager();
const instrumentation = new HttpInstrumentation({ disableIncomingRequestInstrumentation: true });
// jest loads modules through its own registry, which require-in-the-middle does not see: apply
// the instrumentation's module patches to node:http and node:https as it would outside jest.
const http = require('node:http') as typeof import('node:http');
const patched = [
  ['http', http],
  ['https', require('node:https')],
] as const;

let unregister: () => void;
let ours: OutboundHandle;
let server: TestServer;

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  unregister = registerInstrumentations({ instrumentations: [instrumentation], tracerProvider: provider });
  for (const [name, exports] of patched) instrumentation.getModuleDefinitions().find((def) => def.name === name)?.patch?.(exports);
  ours = enableOutboundPropagation({ destinations: { rules: [{ hosts: ['hidden.public.example'], trace: false, baggage: 'none' }] } });
  server = await startServer();
});

afterAll(async () => {
  ours.disable();
  for (const [name, exports] of patched) instrumentation.getModuleDefinitions().find((def) => def.name === name)?.unpatch?.(exports);
  unregister();
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

async function callInParent(host: string, baggage: Record<string, string>, headers: Record<string, string> = {}): Promise<Span> {
  const withBaggage = propagation.setBaggage(
    context.active(),
    propagation.createBaggage(Object.fromEntries(Object.entries(baggage).map(([key, value]) => [key, { value }]))),
  );
  return context.with(withBaggage, () =>
    tracer.startActiveSpan('parent', async (parent) => {
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host, port: server.port, path: '/x', headers, lookup: lookupToLoopback }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      });
      parent.end();
      return parent;
    }),
  );
}

describe('with instrumentation-http active', () => {
  it('is really patched by OpenTelemetry in this test (otherwise the rest proves nothing)', async () => {
    await callInParent('127.0.0.1', {});
    const spans = await clientSpans();
    expect(spans.map((span) => span.instrumentationScope.name)).toEqual(['@opentelemetry/instrumentation-http']);
  });

  it('leaves one CLIENT span and one traceparent with its id, and still refuses sensitive baggage', async () => {
    const parent = await callInParent('127.0.0.1', { tenant: 'acme', contact: 'jdoe@example.com' });
    const spans = await clientSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(server.last('traceparent')).toEqual([`00-${spans[0]!.spanContext().traceId}-${spans[0]!.spanContext().spanId}-01`]);
    expect(server.last('baggage')).toEqual(['tenant=acme']);
  });

  it('withholds the baggage OpenTelemetry injected from a public host', async () => {
    await callInParent('api.public.example', { tenant: 'acme' });
    expect(await clientSpans()).toHaveLength(1);
    expect(server.last('traceparent')).toHaveLength(1);
    expect(server.last('baggage')).toEqual([]);
  });

  it('withholds the trace headers OpenTelemetry injected where a rule says so', async () => {
    await callInParent('hidden.public.example', { tenant: 'acme' });
    expect(await clientSpans()).toHaveLength(1);
    expect(server.last('traceparent')).toEqual([]);
    expect(server.last('baggage')).toEqual([]);
  });

  it('sends one traceparent when the caller set one by hand', async () => {
    await callInParent('127.0.0.1', {}, { Traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` });
    expect(server.last('traceparent')).toHaveLength(1);
    expect(await clientSpans()).toHaveLength(1);
  });
});
