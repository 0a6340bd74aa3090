// The list of known HTTP methods (semconv http-spans: "If the HTTP instrumentation could end up
// converting valid HTTP request methods to `_OTHER`, then it MUST provide a way to override the
// list of known HTTP methods", by OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS when by an environment
// variable): WebDAV's PROPFIND, a CDN's PURGE are valid methods Node's parser accepts.
import * as http from 'node:http';
import { metrics, SpanKind, trace } from '@opentelemetry/api';
import { MeterProvider, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { enableOutboundPropagation, METRIC_HTTP_SERVER_REQUEST_DURATION, resolveInboundOptions } from '@ctxprop/core';
import { fakeRequest, handlerFor, TestReader } from './inbound-support';
import { invalidOptionOf } from './invalid-option';
import { startServer, type TestServer } from './outbound-helpers';
import { useRecordingTracer } from './recording-tracer';

const { exporter } = useRecordingTracer();
const ENV_VAR = 'OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS';
const ADAPTER = { name: '@ctxprop/test', version: '0.0.0' };

afterEach(() => {
  delete process.env[ENV_VAR];
});

function serverSpan(method: string, options: Parameters<typeof handlerFor>[0] = {}): ReadableSpan {
  exporter.reset();
  handlerFor(options).start(fakeRequest({}, { method, route: '/files/*' }))!.finish(207);
  return exporter.getFinishedSpans()[0]!;
}

describe('the known methods of the server span', () => {
  it("are RFC 9110's and PATCH by default: PROPFIND is _OTHER, the span is named HTTP, the method kept in method_original", () => {
    const span = serverSpan('PROPFIND');
    expect(span.name).toBe('HTTP /files/*');
    expect(span.attributes['http.request.method']).toBe('_OTHER');
    expect(span.attributes['http.request.method_original']).toBe('PROPFIND');
    expect(serverSpan('PATCH').attributes['http.request.method']).toBe('PATCH');
  });

  it('are replaced whole by the knownMethods option, case-sensitive', () => {
    const options = { knownMethods: ['GET', 'PROPFIND'] };
    const propfind = serverSpan('PROPFIND', options);
    expect(propfind.name).toBe('PROPFIND /files/*');
    expect(propfind.attributes['http.request.method']).toBe('PROPFIND');
    expect(propfind.attributes['http.request.method_original']).toBeUndefined();
    // Not in the list: POST is _OTHER now, and so is a method in another case.
    expect(serverSpan('POST', options).attributes).toMatchObject({ 'http.request.method': '_OTHER', 'http.request.method_original': 'POST' });
    expect(serverSpan('propfind', options).attributes).toMatchObject({ 'http.request.method': '_OTHER', 'http.request.method_original': 'propfind' });
  });

  it('are read from OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS (comma-separated, spaces and empty items ignored)', () => {
    process.env[ENV_VAR] = ' GET, PROPFIND ,,MKCOL';
    expect(serverSpan('MKCOL').attributes['http.request.method']).toBe('MKCOL');
    expect(serverSpan('PROPFIND').attributes['http.request.method']).toBe('PROPFIND');
    expect(serverSpan('POST').attributes['http.request.method']).toBe('_OTHER');
  });

  it('take the option over the environment variable, and the default for an empty variable', () => {
    process.env[ENV_VAR] = 'GET,MKCOL';
    expect(serverSpan('MKCOL', { knownMethods: ['PROPFIND'] }).attributes['http.request.method']).toBe('_OTHER');
    process.env[ENV_VAR] = ' , ';
    expect(serverSpan('POST').attributes['http.request.method']).toBe('POST');
    expect(serverSpan('MKCOL').attributes['http.request.method']).toBe('_OTHER');
  });

  it('name the histogram method the same way', async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(meterProvider);
    try {
      const handler = handlerFor({ knownMethods: ['GET', 'PROPFIND'] });
      handler.start(fakeRequest({}, { method: 'PROPFIND', route: '/files/*' }))!.finish(207);
      handler.start(fakeRequest({}, { method: 'POST', route: '/files/*' }))!.finish(201);
      const { resourceMetrics } = await reader.collect();
      const metric = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === METRIC_HTTP_SERVER_REQUEST_DURATION) as HistogramMetricData;
      expect(metric.dataPoints.map((point) => point.attributes['http.request.method']).sort()).toEqual(['PROPFIND', '_OTHER']);
    } finally {
      await meterProvider.shutdown();
      metrics.disable();
    }
  });
});

describe('bad known-methods configuration', () => {
  it.each([
    ['a string', 'GET,POST'],
    ['an empty array', []],
    ['a method with a space', ['GET', 'MK COL']],
    ['an empty method', ['GET', '']],
    ['a method that is not a string', ['GET', 7]],
  ])('throws InvalidOptionError naming knownMethods for %s', (_name, knownMethods) => {
    const error = invalidOptionOf(() => resolveInboundOptions({ knownMethods } as never, ADAPTER));
    expect(error.option).toBe('knownMethods');
    expect(error.message).toMatch(/^ctxprop: option "knownMethods" must be a non-empty array of HTTP methods/);
  });

  it('throws at start-up, naming the environment variable and the bad item, for a method that is not a token', () => {
    process.env[ENV_VAR] = 'GET,PROP/FIND';
    const error = invalidOptionOf(() => resolveInboundOptions(undefined, ADAPTER));
    expect(error.option).toBe(ENV_VAR);
    expect(error.message).toContain('"PROP/FIND" is not a method');
  });

  it('names the outbound option by its path', () => {
    const error = invalidOptionOf(() => resolveInboundOptions({ outbound: { knownMethods: 'PURGE' } } as never, ADAPTER));
    expect(error.option).toBe('outbound.knownMethods');
  });
});

describe('the known methods of CLIENT spans', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server.close();
  });

  async function clientSpanOf(call: () => Promise<unknown>): Promise<ReadableSpan> {
    exporter.reset();
    await trace.getTracer('test').startActiveSpan('parent', async (parent) => {
      await call();
      parent.end();
    });
    for (let i = 0; i < 100 && !exporter.getFinishedSpans().some((span) => span.kind === SpanKind.CLIENT); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    return exporter.getFinishedSpans().find((span) => span.kind === SpanKind.CLIENT)!;
  }

  const purgeWithFetch = () => fetch(`http://127.0.0.1:${server.port}/cache/1`, { method: 'PURGE' }).then((response) => response.text());
  const purgeWithHttp = () =>
    new Promise<void>((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port: server.port, path: '/cache/1', method: 'PURGE' }, (response) => {
          response.resume();
          response.on('end', resolve);
        })
        .on('error', reject)
        .end();
    });

  it.each([
    ['fetch', purgeWithFetch],
    ['http.request', purgeWithHttp],
  ])('%s: follow the outbound knownMethods option', async (_name, purge) => {
    const handle = enableOutboundPropagation({ knownMethods: ['GET', 'PURGE'] });
    try {
      const span = await clientSpanOf(purge);
      expect(span.name).toBe('PURGE');
      expect(span.attributes['http.request.method']).toBe('PURGE');
      expect(span.attributes['http.request.method_original']).toBeUndefined();
    } finally {
      handle.disable();
    }
  });

  it('are inherited from the inbound knownMethods option where the instance sets the outbound configuration, unless the outbound options give their own', () => {
    expect(resolveInboundOptions({ knownMethods: ['GET', 'PURGE'], outbound: { spans: true } }, ADAPTER).outbound).toEqual({ spans: true, knownMethods: ['GET', 'PURGE'] });
    expect(resolveInboundOptions({ knownMethods: ['GET', 'PURGE'], outbound: { knownMethods: ['GET'] } }, ADAPTER).outbound).toEqual({ knownMethods: ['GET'] });
    // Alone, it does not make the instance replace the configuration in force (its destination policy, guard).
    expect(resolveInboundOptions({ knownMethods: ['GET', 'PURGE'] }, ADAPTER).outbound).toBe(true);
  });

  it('follow OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS when the outbound options give none', async () => {
    process.env[ENV_VAR] = 'GET,PURGE';
    const handle = enableOutboundPropagation({ spans: true });
    try {
      expect((await clientSpanOf(purgeWithFetch)).attributes['http.request.method']).toBe('PURGE');
    } finally {
      handle.disable();
    }
  });
});
