/**
 * With an OpenTelemetry SDK registered and no other client instrumentation, each outbound call
 * gets a CLIENT span following the HTTP client semantic conventions, and the traceparent that
 * leaves carries that span's id.
 */
import * as http from 'node:http';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { request } from 'undici';
import { enableOutboundPropagation, type OutboundHandle } from '@ctxprop/core';
import { lookupToLoopback, startServer, type TestServer } from './outbound-helpers';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');

let server: TestServer;
let base: string;
let handle: OutboundHandle;

beforeAll(async () => {
  trace.setGlobalTracerProvider(provider);
  handle = enableOutboundPropagation({ destinations: { rules: [{ hosts: ['no-trace.localhost'], trace: false }] } });
  server = await startServer();
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  handle.disable();
  await server.close();
  await provider.shutdown();
  trace.disable();
});

beforeEach(() => exporter.reset());

async function clientSpans(count: number): Promise<ReadableSpan[]> {
  for (let i = 0; i < 100; i++) {
    const spans = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT);
    if (spans.length >= count) return spans;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT);
}

/** Runs `fn` inside an active parent span and returns that span. */
async function inParent(fn: () => Promise<unknown>): Promise<Span> {
  return tracer.startActiveSpan('parent', async (parent) => {
    try {
      await fn().catch(() => undefined);
    } finally {
      parent.end();
    }
    return parent;
  });
}

function httpGet(path: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path, method }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('CLIENT spans', () => {
  it.each([
    ['fetch', (path: string) => fetch(`${base}${path}`).then((res) => res.text())],
    ['undici request', (path: string) => request(`${base}${path}`).then((res) => res.body.text())],
    ['http.request', (path: string) => httpGet(path)],
  ])('%s: one CLIENT span named GET, child of the active span, whose id is the traceparent parent-id', async (_name, call) => {
    const parent = await inParent(() => call('/items?page=2'));
    const [span, ...others] = await clientSpans(1);
    expect(others).toHaveLength(0);
    expect(span!.name).toBe('GET');
    expect(span!.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(span!.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(server.last('traceparent')).toEqual([`00-${span!.spanContext().traceId}-${span!.spanContext().spanId}-01`]);
    expect(span!.attributes).toEqual({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': server.port,
      'url.full': `${base}/items?page=2`,
      'http.response.status_code': 200,
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.instrumentationScope.name).toBe('@ctxprop/core');
  });

  it.each([
    ['fetch', (path: string) => fetch(`${base}${path}`).then((res) => res.text())],
    ['http.request', (path: string) => httpGet(path)],
  ])('%s: a 503 answer sets status ERROR and error.type', async (_name, call) => {
    await inParent(() => call('/fail?status=503'));
    const [span] = await clientSpans(1);
    expect(span!.attributes['http.response.status_code']).toBe(503);
    expect(span!.attributes['error.type']).toBe('503');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it.each([
    ['undici request', (url: string) => request(url).then((res) => res.body.text())],
    [
      'http.request',
      (url: string) =>
        new Promise((resolve, reject) => {
          const req = http.get(url, resolve);
          req.on('error', reject);
        }),
    ],
  ])('%s: a refused connection records error.type, the exception and status ERROR', async (_name, call) => {
    const closed = await startServer();
    const port = closed.port;
    await closed.close();
    await inParent(() => call(`http://127.0.0.1:${port}/`));
    const [span] = await clientSpans(1);
    expect(span!.attributes['error.type']).toBe('ECONNREFUSED');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.events.some((event) => event.name === 'exception')).toBe(true);
  });

  it('names a span of an unknown method HTTP, with http.request.method _OTHER and the original method', async () => {
    await inParent(() => request(`${base}/purge`, { method: 'PURGE' }).then((res) => res.body.text()));
    const [span] = await clientSpans(1);
    expect(span!.name).toBe('HTTP');
    expect(span!.attributes['http.request.method']).toBe('_OTHER');
    expect(span!.attributes['http.request.method_original']).toBe('PURGE');
  });

  it('http.request: records the 101 of an upgraded connection (Node publishes no response-finish for it)', async () => {
    const upgrading = http.createServer();
    upgrading.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test-protocol\r\nConnection: Upgrade\r\n\r\n'));
    await new Promise<void>((resolve) => upgrading.listen(0, '127.0.0.1', resolve));
    const port = (upgrading.address() as { port: number }).port;
    try {
      await inParent(
        () =>
          new Promise<number | undefined>((resolve, reject) => {
            const req = http.request({ host: '127.0.0.1', port, path: '/ws', headers: { connection: 'Upgrade', upgrade: 'test-protocol' } });
            req.on('upgrade', (response, socket) => {
              socket.destroy();
              resolve(response.statusCode);
            });
            req.on('error', reject);
            req.end();
          }),
      );
      const [span] = await clientSpans(1);
      expect(span!.attributes['http.response.status_code']).toBe(101);
      expect(span!.attributes['error.type']).toBeUndefined();
      expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    } finally {
      await new Promise((resolve) => upgrading.close(resolve));
    }
  });

  it('redacts signature query values in url.full', async () => {
    await inParent(() => request(`${base}/o?X-Amz-Signature=abc&page=2&sig=s`).then((res) => res.body.text()));
    const [span] = await clientSpans(1);
    expect(span!.attributes['url.full']).toBe(`${base}/o?X-Amz-Signature=REDACTED&page=2&sig=REDACTED`);
    expect(server.last('traceparent')).toHaveLength(1);
  });

  it('redacts in url.full the query values the sensitive-data guard refuses, and sends the query unchanged', async () => {
    await inParent(() => request(`${base}/o?access_token=t0k&email=ana%40example.com&page=2`).then((res) => res.body.text()));
    const [span] = await clientSpans(1);
    expect(span!.attributes['url.full']).toBe(`${base}/o?access_token=REDACTED&email=REDACTED&page=2`);
    expect(server.received[server.received.length - 1]!.url).toBe('/o?access_token=t0k&email=ana%40example.com&page=2');
  });

  it('still records the span when the destination policy withholds trace headers, and sends none', async () => {
    await inParent(() => httpGetHost('no-trace.localhost'));
    const [span] = await clientSpans(1);
    expect(span!.attributes['server.address']).toBe('no-trace.localhost');
    expect(server.last('traceparent')).toEqual([]);
  });

  it('starts no span and sends nothing for requests made under suppressTracing (exporters)', async () => {
    await context.with(suppressTracing(trace.setSpan(context.active(), tracer.startSpan('outer'))), () =>
      request(`${base}/export`).then((res) => res.body.text()),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT)).toHaveLength(0);
    expect(server.last('traceparent')).toEqual([]);
  });
});

function httpGetHost(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: server.port, path: '/h', lookup: lookupToLoopback }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('with spans: false', () => {
  it('records no span and forwards the active span as the parent', async () => {
    const withoutSpans = enableOutboundPropagation({ spans: false });
    try {
      const parent = await inParent(() => request(`${base}/ns`).then((res) => res.body.text()));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT)).toHaveLength(0);
      expect(server.last('traceparent')).toEqual([`00-${parent.spanContext().traceId}-${parent.spanContext().spanId}-01`]);
    } finally {
      withoutSpans.disable();
    }
  });
});
