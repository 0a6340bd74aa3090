/**
 * Outbound propagation turned off (at shutdown) while calls are still in flight: their CLIENT
 * spans still end, with the response's status, and are exported.
 */
import * as http from 'node:http';
import { SpanKind, trace, type Span } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { enableOutboundPropagation } from '@ctxprop/core';
import { startServer, type TestServer } from './outbound-helpers';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');
let server: TestServer;

beforeAll(async () => {
  trace.setGlobalTracerProvider(provider);
  server = await startServer();
});

afterAll(async () => {
  await server.close();
  await provider.shutdown();
  trace.disable();
});

function httpGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    }).on('error', reject);
  });
}

const clients: [string, (url: string) => Promise<unknown>][] = [
  ['fetch', async (url) => (await fetch(url)).text()],
  ['node:http', httpGet],
];

it.each(clients)('%s: a call in flight when propagation is disabled still ends its span with the status', async (_name, call) => {
  exporter.reset();
  const handle = enableOutboundPropagation();
  await tracer.startActiveSpan('parent', async (parent: Span) => {
    const inFlight = call(`http://127.0.0.1:${server.port}/slow?delay=100&status=201`);
    await new Promise((resolve) => setTimeout(resolve, 30));
    handle.disable();
    await inFlight;
    parent.end();
  });
  let client: ReadableSpan | undefined;
  for (let i = 0; i < 100 && client === undefined; i++) {
    client = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.CLIENT);
    if (client === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(client?.attributes['http.response.status_code']).toBe(201);
});
