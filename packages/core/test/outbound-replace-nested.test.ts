/**
 * `existingTraceparent: 'replace'` in a proxy that forwards the inbound request's headers
 * wholesale, with spans between the server span and the call (the handler's own span, or
 * instrumentation-express's request-handler span): the forwarded traceparent is the caller's, so
 * it is replaced by the one of ctxprop's CLIENT span, however deep the active span is. A header
 * an OpenTelemetry instrumentation wrote for its own span of the call is still kept. A real
 * node:http server with ctxprop's inbound handling and a real downstream server, with the SDK.
 * This file changes process globals (and patches node:http through OpenTelemetry) and restores them.
 */
import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { context, propagation, SpanKind, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createInboundHandler, resolveInboundOptions, type InboundRequestAccessors } from '@ctxprop/core';
import { startServer, type TestServer } from './outbound-helpers';

// The same module object instrumentation-http patches below: the proxy's server and client.
const http = require('node:http') as typeof import('node:http');

// W3C Trace Context §3.2 example ids: the upstream caller's span.
const INBOUND_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const INBOUND_SPAN_ID = '00f067aa0ba902b7';
const INBOUND_TRACEPARENT = `00-${INBOUND_TRACE_ID}-${INBOUND_SPAN_ID}-01`;

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('handler');
const contextManager = new AsyncLocalStorageContextManager();

const accessors: InboundRequestAccessors<IncomingMessage> = {
  headers: (request) => request.headers,
  lowercaseHeaders: true,
  method: (request) => request.method,
  target: (request) => request.url,
  scheme: () => 'http',
  clientAddress: (request) => request.socket.remoteAddress,
  route: () => '/proxy/:client/:depth',
  protocolVersion: (request) => request.httpVersion,
  connection: (request) => request.socket,
};

type Client = 'fetch' | 'http';

/** The proxy's own client call: the inbound headers as they came, minus the connection's own. */
async function forward(client: Client, url: string, inbound: IncomingHttpHeaders): Promise<void> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(inbound)) {
    if (name !== 'host' && name !== 'connection' && typeof value === 'string') headers[name] = value;
  }
  if (client === 'fetch') {
    await (await fetch(url, { headers })).text();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const req = http.request(url, { headers }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Proxy {
  /** The handler spans of the last request, outermost first. */
  readonly handlerSpans: Span[];
  /** Sends `GET /proxy/:client/:depth` with the inbound traceparent; resolves with the status. */
  send(client: Client, depth: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * A proxy with ctxprop's inbound handling (`outbound: { existingTraceparent: 'replace' }`) whose
 * `GET /proxy/:client/:depth` starts `depth` nested spans of its own and, inside the innermost,
 * forwards the request to `downstream`.
 */
async function startProxy(downstream: TestServer): Promise<Proxy> {
  const handler = createInboundHandler(
    resolveInboundOptions<IncomingMessage>({ outbound: { existingTraceparent: 'replace' }, detachIntervals: false }, { name: 'test-proxy', version: '1.0.0' }),
    accessors,
  );
  const handlerSpans: Span[] = [];
  const url = `http://127.0.0.1:${downstream.port}/downstream`;
  const nest = async (client: Client, depth: number, inbound: IncomingHttpHeaders): Promise<void> => {
    if (depth === 0) return forward(client, url, inbound);
    return tracer.startActiveSpan(`handler ${depth}`, async (span) => {
      handlerSpans.push(span);
      try {
        await nest(client, depth - 1, inbound);
      } finally {
        span.end();
      }
    });
  };
  const server: Server = http.createServer((req, res) => {
    const scope = handler.start(req, context.active(), res);
    res.on('finish', () => scope?.finish(res.statusCode));
    const [, , client, depth] = (req.url ?? '').split('/');
    handlerSpans.length = 0;
    context.with(scope?.context ?? context.active(), () =>
      nest(client as Client, Number(depth), req.headers).then(
        () => res.end('ok'),
        (error: unknown) => res.writeHead(500).end(String(error)),
      ),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    handlerSpans,
    // Over a plain socket, as a client in another process would: node:http's own outgoing
    // request would be adjusted by the outbound propagation this process has on.
    async send(client, depth) {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(`GET /proxy/${client}/${depth} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\ntraceparent: ${INBOUND_TRACEPARENT}\r\n\r\n`);
      let response = '';
      socket.setEncoding('latin1');
      for await (const chunk of socket) response += chunk as string;
      return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      handler.close();
    },
  };
}

async function finishedSpans(): Promise<ReadableSpan[]> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return exporter.getFinishedSpans();
}

/** The proxy's SERVER span (under instrumentation-http, the downstream server has one too), a child of the caller's span. */
function proxyServerSpan(spans: ReadableSpan[]): ReadableSpan {
  const servers = spans.filter((span) => span.kind === SpanKind.SERVER && String(span.attributes['url.path']).startsWith('/proxy/'));
  expect(servers).toHaveLength(1);
  expect(servers[0]!.parentSpanContext?.spanId).toBe(INBOUND_SPAN_ID);
  return servers[0]!;
}

/** The `traceparent` of a span, as it goes on the wire. */
const traceparentOf = (span: ReadableSpan): string => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;

let downstream: TestServer;

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  downstream = await startServer();
});

afterAll(async () => {
  await downstream.close();
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

beforeEach(() => exporter.reset());

describe("a proxy forwarding the inbound traceparent, existingTraceparent: 'replace'", () => {
  let proxy: Proxy;
  beforeAll(async () => {
    proxy = await startProxy(downstream);
  });
  afterAll(() => proxy.close());

  describe.each([['fetch'], ['http']] as const)('through %s', (client) => {
    it.each([
      ['directly in the server span', 0],
      ['inside a span of its own', 1],
      ['inside two nested spans of its own', 2],
    ])('sends its own CLIENT span as the parent, not the caller\'s span, when called %s', async (_label, depth) => {
      expect(await proxy.send(client, depth)).toBe(200);
      const spans = await finishedSpans();
      const clientSpans = spans.filter((span) => span.kind === SpanKind.CLIENT);
      expect(clientSpans.map((span) => span.instrumentationScope.name)).toEqual(['@ctxprop/core']);
      const [clientSpan] = clientSpans;
      expect(downstream.last('traceparent')).toEqual([traceparentOf(clientSpan!)]);

      // The CLIENT span is a child of the innermost active span, in the caller's trace.
      const server = proxyServerSpan(spans);
      expect(clientSpan!.spanContext().traceId).toBe(INBOUND_TRACE_ID);
      const parentId = depth === 0 ? server.spanContext().spanId : proxy.handlerSpans[depth - 1]!.spanContext().spanId;
      expect(clientSpan!.parentSpanContext?.spanId).toBe(parentId);
    });
  });
});

describe('with instrumentation-http (incoming and outgoing) patching node:http', () => {
  const instrumentation = new HttpInstrumentation();
  // jest loads modules through its own registry, which require-in-the-middle does not see: apply
  // the instrumentation's module patches as it would outside jest.
  const patched = [
    ['http', http],
    ['https', require('node:https')],
  ] as const;
  let unregister: () => void;
  let proxy: Proxy;

  beforeAll(async () => {
    unregister = registerInstrumentations({ instrumentations: [instrumentation], tracerProvider: provider });
    for (const [name, exports] of patched) instrumentation.getModuleDefinitions().find((def) => def.name === name)?.patch?.(exports);
    proxy = await startProxy(downstream);
  });

  afterAll(async () => {
    await proxy.close();
    for (const [name, exports] of patched) instrumentation.getModuleDefinitions().find((def) => def.name === name)?.unpatch?.(exports);
    unregister();
  });

  it("keeps OpenTelemetry's CLIENT span and its traceparent for node:http", async () => {
    expect(await proxy.send('http', 1)).toBe(200);
    const spans = await finishedSpans();
    // The proxy's server span is instrumentation-http's (ctxprop enriches it): otherwise this proves little.
    expect(proxyServerSpan(spans).instrumentationScope.name).toBe('@opentelemetry/instrumentation-http');
    const clientSpans = spans.filter((span) => span.kind === SpanKind.CLIENT);
    expect(clientSpans.map((span) => span.instrumentationScope.name)).toEqual(['@opentelemetry/instrumentation-http']);
    expect(downstream.last('traceparent')).toEqual([traceparentOf(clientSpans[0]!)]);
    expect(clientSpans[0]!.parentSpanContext?.spanId).toBe(proxy.handlerSpans[0]!.spanContext().spanId);
  });

  it("replaces the forwarded traceparent of a fetch call under OpenTelemetry's server span", async () => {
    expect(await proxy.send('fetch', 2)).toBe(200);
    const spans = await finishedSpans();
    expect(proxyServerSpan(spans).instrumentationScope.name).toBe('@opentelemetry/instrumentation-http');
    const clientSpans = spans.filter((span) => span.kind === SpanKind.CLIENT);
    expect(clientSpans.map((span) => span.instrumentationScope.name)).toEqual(['@ctxprop/core']);
    expect(downstream.last('traceparent')).toEqual([traceparentOf(clientSpans[0]!)]);
    expect(clientSpans[0]!.parentSpanContext?.spanId).toBe(proxy.handlerSpans[1]!.spanContext().spanId);
  });
});

describe('with instrumentation-undici registered before ctxprop', () => {
  let unregister: () => void;
  let proxy: Proxy;

  beforeAll(async () => {
    unregister = registerInstrumentations({ instrumentations: [new UndiciInstrumentation()], tracerProvider: provider });
    proxy = await startProxy(downstream);
  });

  afterAll(async () => {
    await proxy.close();
    unregister();
  });

  it("keeps OpenTelemetry's CLIENT span and its traceparent for fetch, and sends only that one", async () => {
    expect(await proxy.send('fetch', 2)).toBe(200);
    const clientSpans = (await finishedSpans()).filter((span) => span.kind === SpanKind.CLIENT);
    expect(clientSpans.map((span) => span.instrumentationScope.name)).toEqual(['@opentelemetry/instrumentation-undici']);
    expect(downstream.last('traceparent')).toEqual([traceparentOf(clientSpans[0]!)]);
    expect(clientSpans[0]!.parentSpanContext?.spanId).toBe(proxy.handlerSpans[1]!.spanContext().spanId);
  });
});
