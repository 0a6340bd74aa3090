import {
  context,
  createContextKey,
  metrics,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
  type TextMapPropagator,
} from '@opentelemetry/api';
import { DataPointType, MeterProvider, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { HTTP_SERVER_DURATION_BUCKETS, METRIC_HTTP_SERVER_REQUEST_DURATION, type InboundRequestAccessors } from '@ctxprop/core';
import { fakeAccessors, fakeRequest, handlerFor, INBOUND_SPAN_ID, INBOUND_TRACE_ID, INBOUND_TRACEPARENT, TestReader, type FakeRequest } from './inbound-support';
import { useRecordingTracer } from './recording-tracer';

const { exporter, provider } = useRecordingTracer();

describe('the SERVER span', () => {
  it("is a child of the caller's span, with the HTTP semantic-convention attributes (semconv http-spans §HTTP server)", () => {
    const request = fakeRequest(
      { traceparent: INBOUND_TRACEPARENT, host: 'api.example.com:8443', 'user-agent': 'curl/8.5.0' },
      { ip: '10.0.0.5', scheme: 'https', route: '/users/:id', httpVersion: '1.1', socket: { remoteAddress: '10.0.0.9', remotePort: 51234 } },
    );
    const scope = handlerFor().start(request)!;
    expect(scope.spanOrigin).toBe('own');
    expect(scope.needsResponse).toBe(true);
    scope.finish(200);
    const [span] = exporter.getFinishedSpans();
    expect(span).toBeDefined();
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.name).toBe('GET /users/:id');
    expect(span!.spanContext().traceId).toBe(INBOUND_TRACE_ID);
    expect(span!.parentSpanContext?.spanId).toBe(INBOUND_SPAN_ID);
    expect(span!.instrumentationScope).toMatchObject({ name: 'test-adapter', version: '1.2.3' });
    expect(span!.attributes).toEqual({
      'http.request.method': 'GET',
      'url.path': '/users/7',
      'url.scheme': 'https',
      'server.address': 'api.example.com',
      'server.port': 8443,
      'user_agent.original': 'curl/8.5.0',
      'client.address': '10.0.0.5',
      'url.query': 'expand=1',
      'network.protocol.version': '1.1',
      'network.peer.address': '10.0.0.9',
      'network.peer.port': 51234,
      'http.route': '/users/:id',
      'http.response.status_code': 200,
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it.each([
    ['http://api.example.com:81/users/1?x=1', '/users/1', 'x=1'],
    ['https://api.example.com', '/', undefined],
    ['http://api.example.com?x=1', '/', 'x=1'],
    ['HTTP://api.example.com/a/b', '/a/b', undefined],
  ])('takes url.path of the absolute-form target %s (RFC 9112 §3.2.2) from its path, not the whole URL', (url, path, query) => {
    handlerFor().start(fakeRequest({}, { url }))!.finish(200);
    const [span] = exporter.getFinishedSpans();
    expect(span!.attributes['url.path']).toBe(path);
    expect(span!.attributes['url.query']).toBe(query);
  });

  it.each([
    ['http://api.example.com:81/users/1', 'api.example.com', 81],
    ['https://user:secret@api.example.com/a', 'api.example.com', 443],
    ['http://[2001:db8::1]:8080/a?x=1', '2001:db8::1', 8080],
    ['HTTP://api.example.com?x=1', 'api.example.com', 80],
  ])('takes server.address and server.port of the absolute-form target %s from its authority, not from Host (RFC 9112 §3.2.2)', (url, address, port) => {
    handlerFor().start(fakeRequest({ host: 'other.example.net:9999' }, { url }))!.finish(200);
    const [span] = exporter.getFinishedSpans();
    expect(span!.attributes['server.address']).toBe(address);
    expect(span!.attributes['server.port']).toBe(port);
  });

  it('keeps server.address from Host for an origin-form target, and for an absolute-form target without an authority', () => {
    handlerFor().start(fakeRequest({ host: 'api.example.com:8443' }, { url: '/users/1?x=http://evil.example/' }))!.finish(200);
    handlerFor().start(fakeRequest({ host: 'api.example.com:8443' }, { url: 'urn:x:y' }))!.finish(200);
    for (const span of exporter.getFinishedSpans()) {
      expect(span.attributes['server.address']).toBe('api.example.com');
      expect(span.attributes['server.port']).toBe(8443);
    }
  });

  it("starts a new trace for a request without traceparent, not a child of the span active when the server started", () => {
    const startup = provider.getTracer('app').startSpan('startup');
    startup.end();
    const active = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, startup), propagation.createBaggage({ 'deploy.secret': { value: 'x' } }));
    const scope = handlerFor({ spanAttributesFromBaggage: ['deploy.secret'] }).start(fakeRequest(), active)!;
    scope.finish(200);
    const span = exporter.getFinishedSpans().find((finished) => finished.name === 'GET')!;
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe(startup.spanContext().traceId);
    expect(span.attributes['deploy.secret']).toBeUndefined();
    expect(scope.baggageView.size).toBe(0);
  });

  it("keeps instrumentation-http's unrecorded span for this request as the parent: its sampler's decision stands (no second, re-sampled span)", () => {
    // What instrumentation-http leaves active for a request its sampler dropped: a non-recording
    // span, named by the RPC metadata it sets for this request.
    const dropped = trace.wrapSpanContext({ traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), traceFlags: 0 });
    const active = trace.setSpan(ROOT_CONTEXT, dropped).setValue(createContextKey('OpenTelemetry SDK Context Key RPC_METADATA'), { type: 'http', span: dropped });
    const scope = handlerFor().start(fakeRequest(), active)!;
    expect(trace.getSpanContext(scope.context)?.traceId).toBe('c'.repeat(32));
    expect(scope.span?.isRecording()).toBe(false);
    scope.finish(200);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it("takes nothing from another request's context active when a request starts (a pooled connection opened by that request ran the middleware before ctxprop)", () => {
    const handler = handlerFor({ spanAttributesFromBaggage: ['who'] });
    const first = handler.start(fakeRequest({ traceparent: INBOUND_TRACEPARENT, baggage: 'who=A' }))!;
    const second = handler.start(fakeRequest({ baggage: 'who=B' }), first.context)!;
    expect(second).not.toBe(first);
    expect(second.spanOrigin).toBe('own');
    expect(second.baggageView.toJSON()).toEqual({ who: 'B' });
    second.finish(200);
    first.finish(200);
    const [secondSpan, firstSpan] = exporter.getFinishedSpans();
    expect(secondSpan!.spanContext().spanId).not.toBe(firstSpan!.spanContext().spanId);
    expect(secondSpan!.spanContext().traceId).not.toBe(INBOUND_TRACE_ID);
    expect(secondSpan!.parentSpanContext).toBeUndefined();
    expect(secondSpan!.attributes['who']).toBe('B');
  });

  it('is named by the method alone while no route is known', () => {
    handlerFor().start(fakeRequest({}, { method: 'POST' }))!.finish(404);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe('POST');
    expect(span!.attributes['http.route']).toBeUndefined();
    expect(span!.attributes['error.type']).toBeUndefined();
    // 4xx is not a server error (semconv http-spans §Status).
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('takes the route given by setRoute() before the response ends', () => {
    const scope = handlerFor().start(fakeRequest())!;
    scope.setRoute('/orders/:orderId');
    scope.finish(201);
    expect(exporter.getFinishedSpans()[0]!.name).toBe('GET /orders/:orderId');
  });

  describe('with accessors whose route is known at start (routeAtStart)', () => {
    const routeAtStart = (routes: (string | undefined)[]) => {
      const asked: FakeRequest[] = [];
      const accessors: InboundRequestAccessors<FakeRequest> = {
        ...fakeAccessors,
        route: (request) => (asked.push(request), routes.shift()),
        routeAtStart: true,
      };
      return { handler: handlerFor({}, accessors), asked };
    };

    it('starts the span with its final name and http.route, and asks for the route once', () => {
      const { handler, asked } = routeAtStart(['/users/:id']);
      const request = fakeRequest({ traceparent: INBOUND_TRACEPARENT });
      const scope = handler.start(request)!;
      // The span is named before anything else runs: what a sampler or a span processor's onStart sees.
      expect((scope.span as unknown as ReadableSpan).name).toBe('GET /users/:id');
      expect((scope.span as unknown as ReadableSpan).attributes['http.route']).toBe('/users/:id');
      expect(scope.route).toBe('/users/:id');
      scope.setRoute('/users/:id');
      scope.finish(200);
      expect(asked).toEqual([request]);
      expect(exporter.getFinishedSpans()[0]).toMatchObject({ name: 'GET /users/:id', attributes: expect.objectContaining({ 'http.route': '/users/:id' }) });
    });

    it('names the span by the method while the route is unknown (no route matched), and still takes one given later', () => {
      const { handler } = routeAtStart([undefined, '']);
      const scope = handler.start(fakeRequest())!;
      expect((scope.span as unknown as ReadableSpan).name).toBe('GET');
      expect(scope.route).toBeUndefined();
      scope.setRoute('/fallback/*');
      scope.finish(404);
      expect(exporter.getFinishedSpans()[0]).toMatchObject({ name: 'GET /fallback/*', attributes: expect.objectContaining({ 'http.route': '/fallback/*' }) });
    });

    it('does not ask for the route at start without an SDK recording, where nothing would use it', () => {
      const { handler, asked } = routeAtStart(['/users/:id']);
      trace.disable();
      try {
        const scope = handler.start(fakeRequest())!;
        expect(scope.span).toBeUndefined();
        expect(asked).toEqual([]);
      } finally {
        trace.setGlobalTracerProvider(provider);
      }
    });
  });

  it("reports an unknown method as _OTHER and names the span 'HTTP'", () => {
    handlerFor().start(fakeRequest({}, { method: 'PURGE' }))!.finish(200);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe('HTTP');
    expect(span!.attributes['http.request.method']).toBe('_OTHER');
    expect(span!.attributes['http.request.method_original']).toBe('PURGE');
  });

  it('sets error status and error.type to the status code for a 5xx', () => {
    handlerFor().start(fakeRequest())!.finish(503);
    const [span] = exporter.getFinishedSpans();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes['error.type']).toBe('503');
  });

  it('records an exception, and takes its type for error.type when the response is a 5xx', () => {
    const scope = handlerFor().start(fakeRequest())!;
    scope.recordException(new TypeError('x is not a function'));
    scope.finish(500);
    const [span] = exporter.getFinishedSpans();
    expect(span!.events.map((event) => event.name)).toEqual(['exception']);
    expect(span!.events[0]!.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'x is not a function' });
    expect(span!.attributes['error.type']).toBe('TypeError');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('records an error reported twice once (two error middlewares), and different errors once each, error.type from the later', () => {
    const scope = handlerFor().start(fakeRequest())!;
    const first = new RangeError('first');
    const second = new TypeError('second');
    scope.recordException(first);
    scope.recordException(first);
    // Thrown strings compare by value.
    scope.recordException('failed');
    scope.recordException('failed');
    scope.recordException(second);
    scope.recordException(second);
    // Seen before: still not a new exception, and error.type stays the latest new one's.
    scope.recordException(first);
    scope.finish(500);
    const [span] = exporter.getFinishedSpans();
    expect(span!.events.map((event) => [event.name, event.attributes?.['exception.type'] ?? event.attributes?.['exception.message']])).toEqual([
      ['exception', 'RangeError'],
      ['exception', 'failed'],
      ['exception', 'TypeError'],
    ]);
    expect(span!.attributes['error.type']).toBe('TypeError');
  });

  it("ends in error with error.type 'aborted' and no status code when the client goes away", () => {
    const scope = handlerFor().start(fakeRequest())!;
    scope.abort();
    scope.finish(200);
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.attributes['error.type']).toBe('aborted');
    expect(spans[0]!.attributes['http.response.status_code']).toBeUndefined();
    expect(spans[0]!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('gives the request a trace context of the server span, not of the caller', () => {
    const scope = handlerFor().start(fakeRequest({ traceparent: INBOUND_TRACEPARENT }))!;
    const own = scope.span!.spanContext();
    expect(own.spanId).not.toBe(INBOUND_SPAN_ID);
    expect(scope.traceContext).toMatchObject({
      traceId: INBOUND_TRACE_ID,
      spanId: own.spanId,
      sampled: true,
      isRemote: false,
      traceparent: `00-${INBOUND_TRACE_ID}-${own.spanId}-01`,
    });
    expect(trace.getSpan(scope.context)).toBe(scope.span);
  });

  it('is the active span of the request context, until a derived context sets or deletes its own', () => {
    const scope = handlerFor().start(fakeRequest({ traceparent: INBOUND_TRACEPARENT }))!;
    const child = trace.getTracer('test').startSpan('child', {}, scope.context);
    expect(child.spanContext().traceId).toBe(INBOUND_TRACE_ID);
    expect((child as unknown as ReadableSpan).parentSpanContext?.spanId).toBe(scope.span!.spanContext().spanId);
    const derived = trace.setSpan(scope.context, child);
    expect(trace.getSpan(derived)).toBe(child);
    expect(trace.getSpan(trace.deleteSpan(scope.context))).toBeUndefined();
    expect(trace.getSpan(scope.context.setValue(Symbol('other'), 1))).toBe(scope.span);
    child.end();
  });

  it('is not recorded when the caller did not sample, and nothing waits for the response', () => {
    const scope = handlerFor().start(fakeRequest({ traceparent: `00-${INBOUND_TRACE_ID}-${INBOUND_SPAN_ID}-00` }))!;
    expect(scope.span?.isRecording()).toBe(false);
    expect(scope.needsResponse).toBe(false);
    expect(scope.traceContext?.sampled).toBe(false);
    expect(scope.traceContext?.traceId).toBe(INBOUND_TRACE_ID);
  });

  it('carries allowlisted baggage keys as attributes, with their values at the end of the request', () => {
    const scope = handlerFor({ spanAttributesFromBaggage: ['customer.tier', 'tenant'] }).start(fakeRequest({ baggage: 'customer.tier=gold,secret.sauce=x' }))!;
    scope.setBaggage({ tenant: 'acme' });
    scope.finish(200);
    const attributes = exporter.getFinishedSpans()[0]!.attributes;
    expect(attributes['customer.tier']).toBe('gold');
    expect(attributes['tenant']).toBe('acme');
    expect(attributes['secret.sauce']).toBeUndefined();
  });
});

describe('url.query (semconv http-spans: conditionally required, sensitive values scrubbed)', () => {
  function queryOf(url: string, options: Parameters<typeof handlerFor>[0] = {}): unknown {
    exporter.reset();
    handlerFor(options).start(fakeRequest({}, { url }))!.finish(200);
    return exporter.getFinishedSpans()[0]!.attributes['url.query'];
  }

  it('is the query as received, without the "?" and without a fragment', () => {
    expect(queryOf('/search?q=OpenTelemetry&page=2')).toBe('q=OpenTelemetry&page=2');
    expect(queryOf('/search?q=a%20b+c#top')).toBe('q=a%20b+c');
  });

  it('is left out when the request had no query, or an empty one', () => {
    expect(queryOf('/search')).toBeUndefined();
    expect(queryOf('/search?')).toBeUndefined();
  });

  it('replaces the values of the keys the conventions name with REDACTED, keeping the keys', () => {
    expect(queryOf('/o?q=x&AWSAccessKeyId=AKIA1&Signature=abc&sig=def&X-Goog-Signature=ghi')).toBe(
      'q=x&AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED',
    );
    // And the credential parts of AWS Signature Version 4 presigned URLs.
    expect(queryOf('/o?X-Amz-Credential=AKIA%2F20260101&X-Amz-Signature=abc&X-Amz-Expires=60')).toBe('X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Expires=60');
  });

  it('replaces values the sensitive-data guard refuses: credential keys, e-mail addresses, JWTs', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';
    expect(queryOf(`/u?access_token=abc&email=ana%40example.com&id=${jwt}&page=2`)).toBe('access_token=REDACTED&email=REDACTED&id=REDACTED&page=2');
    // Decoded before the check: an encoded key, or a "+" for a space, does not hide it.
    expect(queryOf('/u?api%5Fkey=1&auth=Bearer+abc123&q=Bearer')).toBe('api%5Fkey=REDACTED&auth=REDACTED&q=Bearer');
    // A bare item is checked as a value.
    expect(queryOf(`/u?${jwt}&debug`)).toBe('REDACTED&debug');
  });

  it('keeps undecodable and empty items as received', () => {
    expect(queryOf('/u?q=%ZZ&x=&&y')).toBe('q=%ZZ&x=&&y');
  });

  it('follows the sensitiveData option (allowKeys, keyPatterns)', () => {
    expect(queryOf('/u?session=eu-1&customer=7', { sensitiveData: { allowKeys: ['session'], keyPatterns: ['customer'] } })).toBe('session=eu-1&customer=REDACTED');
  });

  it('is never recorded with urlQuery: false', () => {
    expect(queryOf('/search?q=x', { urlQuery: false })).toBeUndefined();
  });
});

describe('network and HTTP/2 attributes', () => {
  function attributesOf(request: FakeRequest): Record<string, unknown> {
    exporter.reset();
    handlerFor().start(request)!.finish(200);
    return exporter.getFinishedSpans()[0]!.attributes;
  }

  it('writes network.protocol.version as the conventions spell it (1.0, 1.1, 2, 3)', () => {
    expect(attributesOf(fakeRequest({}, { httpVersion: '1.0' }))['network.protocol.version']).toBe('1.0');
    expect(attributesOf(fakeRequest({}, { httpVersion: '2.0' }))['network.protocol.version']).toBe('2');
    expect(attributesOf(fakeRequest({}, { httpVersion: '3.0' }))['network.protocol.version']).toBe('3');
    expect(attributesOf(fakeRequest({}, {}))['network.protocol.version']).toBeUndefined();
  });

  it('takes server.address and server.port from the :authority pseudo-header of an HTTP/2 request', () => {
    const attributes = attributesOf(fakeRequest({ ':authority': 'api.example.com:8443' }, { httpVersion: '2.0' }));
    expect(attributes).toMatchObject({ 'server.address': 'api.example.com', 'server.port': 8443 });
  });

  it('prefers the Host header when both are present', () => {
    const attributes = attributesOf(fakeRequest({ host: 'www.example.com:8080', ':authority': 'api.example.com:8443' }));
    expect(attributes['server.address']).toBe('www.example.com');
    expect(attributes['server.port']).toBe(8080);
  });

  it("gives server.port the scheme's default port when the host names none (RFC 9110 §4.2)", () => {
    expect(attributesOf(fakeRequest({ host: 'api.example.com' }, { scheme: 'http' }))).toMatchObject({ 'server.address': 'api.example.com', 'server.port': 80 });
    expect(attributesOf(fakeRequest({ host: 'api.example.com' }, { scheme: 'https' }))).toMatchObject({ 'server.address': 'api.example.com', 'server.port': 443 });
    expect(attributesOf(fakeRequest({ host: '[2001:db8::1]' }, { scheme: 'https' }))).toMatchObject({ 'server.address': '2001:db8::1', 'server.port': 443 });
    // No server.address, no server.port.
    expect(attributesOf(fakeRequest({}, { scheme: 'https' }))['server.port']).toBeUndefined();
  });

  it("takes server.address and server.port from the accessors' host (a trusted proxy's X-Forwarded-Host) before the Host header", () => {
    const withHost = (host: string | undefined): Record<string, unknown> => {
      exporter.reset();
      handlerFor({}, { ...fakeAccessors, host: () => host }).start(fakeRequest({ host: 'internal:3000' }))!.finish(200);
      return exporter.getFinishedSpans()[0]!.attributes;
    };
    expect(withHost('shop.example.com:8443')).toMatchObject({ 'server.address': 'shop.example.com', 'server.port': 8443 });
    expect(withHost('[2001:db8::1]')).toMatchObject({ 'server.address': '2001:db8::1' });
    expect(withHost('')).toMatchObject({ 'server.address': 'internal', 'server.port': 3000 });
    expect(withHost(undefined)).toMatchObject({ 'server.address': 'internal', 'server.port': 3000 });
  });

  it('leaves out network.peer.* when the connection is unknown or closed', () => {
    const attributes = attributesOf(fakeRequest({}, { socket: {} }));
    expect(attributes['network.peer.address']).toBeUndefined();
    expect(attributes['network.peer.port']).toBeUndefined();
  });
});

describe('trust modes with an SDK', () => {
  it("'link' starts a new trace whose root span links to the caller's span, and keeps the baggage", () => {
    const scope = handlerFor({ trust: 'link' }).start(fakeRequest({ traceparent: INBOUND_TRACEPARENT, baggage: 'a=1' }))!;
    expect(scope.baggageView.get('a')).toBe('1');
    scope.finish(200);
    const [span] = exporter.getFinishedSpans();
    expect(span!.spanContext().traceId).not.toBe(INBOUND_TRACE_ID);
    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.links).toHaveLength(1);
    expect(span!.links[0]!.context).toMatchObject({ traceId: INBOUND_TRACE_ID, spanId: INBOUND_SPAN_ID, isRemote: true });
  });

  it("'ignore' starts a new trace with no link and no baggage", () => {
    const scope = handlerFor({ trust: 'ignore' }).start(fakeRequest({ traceparent: INBOUND_TRACEPARENT, baggage: 'a=1' }))!;
    expect(scope.baggageView.size).toBe(0);
    scope.finish(200);
    const [span] = exporter.getFinishedSpans();
    expect(span!.spanContext().traceId).not.toBe(INBOUND_TRACE_ID);
    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.links).toEqual([]);
  });

  it('trusts callers on the private network and links the others', () => {
    const handler = handlerFor({ trust: { trustedAddresses: ['private'] } });
    handler.start(fakeRequest({ traceparent: INBOUND_TRACEPARENT }, { ip: '192.168.3.4' }))!.finish(200);
    handler.start(fakeRequest({ traceparent: INBOUND_TRACEPARENT }, { ip: '198.51.100.4' }))!.finish(200);
    const [inside, outside] = exporter.getFinishedSpans();
    expect(inside!.spanContext().traceId).toBe(INBOUND_TRACE_ID);
    expect(outside!.spanContext().traceId).not.toBe(INBOUND_TRACE_ID);
    expect(outside!.links[0]!.context.spanId).toBe(INBOUND_SPAN_ID);
  });
});

describe("alongside instrumentation-http's SERVER span", () => {
  const RPC_METADATA_KEY = createContextKey('OpenTelemetry SDK Context Key RPC_METADATA');

  function instrumentationHttpContext(): { span: Span; metadata: { type: string; route?: string; span: Span }; ctx: ReturnType<typeof trace.setSpan> } {
    // What instrumentation-http sets up before the request handler runs (see its http.ts).
    const span = trace.getTracer('@opentelemetry/instrumentation-http').startSpan('GET', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET' } });
    const metadata = { type: 'http', span };
    return { span, metadata, ctx: trace.setSpan(ROOT_CONTEXT.setValue(RPC_METADATA_KEY, metadata), span) };
  }

  it('creates no second span, does not extract again, and enriches the existing one', () => {
    const extract = jest.fn((ctx) => ctx);
    const spy: TextMapPropagator = { extract, inject: () => undefined, fields: () => ['traceparent'] };
    const { span, metadata, ctx } = instrumentationHttpContext();
    const scope = context.with(ctx, () => handlerFor({ propagators: spy }).start(fakeRequest({ traceparent: INBOUND_TRACEPARENT }, { route: '/items/:id' })))!;
    expect(extract).not.toHaveBeenCalled();
    expect(scope.span).toBe(span);
    expect(scope.spanOrigin).toBe('enriched');
    expect(trace.getSpan(scope.context)).toBe(span);
    scope.finish(200);
    // instrumentation-http ends its own span, on 'close', reading the route from its RPC metadata.
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(metadata.route).toBe('/items/:id');
    span.end();
    const [ended] = exporter.getFinishedSpans();
    expect(ended!.name).toBe('GET /items/:id');
    expect(ended!.attributes['http.route']).toBe('/items/:id');
    expect(ended!.attributes['http.response.status_code']).toBeUndefined();
  });

  it('still applies the baggage rule of the trust policy to the baggage it extracted', () => {
    const { ctx } = instrumentationHttpContext();
    const withBaggage = propagation.setBaggage(ctx, propagation.createBaggage({ 'customer.tier': { value: 'platinum' } }));
    const ignored = context.with(withBaggage, () => handlerFor({ trust: 'ignore' }).start(fakeRequest()))!;
    expect(ignored.baggageView.size).toBe(0);
    const trusted = context.with(withBaggage, () => handlerFor().start(fakeRequest()))!;
    expect(trusted.baggageView.get('customer.tier')).toBe('platinum');
  });
});

describe('the http.server.request.duration histogram', () => {
  it('is recorded in seconds with the semconv buckets, the HTTP attributes and allowlisted baggage keys', async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(meterProvider);
    try {
      const handler = handlerFor({ spanAttributesFromBaggage: ['customer.tier'] });
      const ok = handler.start(fakeRequest({ baggage: 'customer.tier=gold,other=1' }, { route: '/users/:id' }))!;
      ok.finish(200);
      const failed = handler.start(fakeRequest({}, { method: 'POST', scheme: 'https', httpVersion: '2.0' }))!;
      failed.finish(502);
      const { resourceMetrics } = await reader.collect();
      const metric = resourceMetrics.scopeMetrics.flatMap((scopeMetrics) => scopeMetrics.metrics).find((m) => m.descriptor.name === METRIC_HTTP_SERVER_REQUEST_DURATION) as HistogramMetricData;
      expect(metric).toBeDefined();
      expect(metric.descriptor.unit).toBe('s');
      expect(metric.dataPointType).toBe(DataPointType.HISTOGRAM);
      // https://opentelemetry.io/docs/specs/semconv/http/http-metrics/#metric-httpserverrequestduration
      expect(HTTP_SERVER_DURATION_BUCKETS).toEqual([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);
      expect(metric.dataPoints[0]!.value.buckets.boundaries).toEqual([...HTTP_SERVER_DURATION_BUCKETS]);
      const attributes = metric.dataPoints.map((point) => point.attributes);
      expect(attributes).toEqual(
        expect.arrayContaining([
          { 'http.request.method': 'GET', 'url.scheme': 'http', 'http.route': '/users/:id', 'http.response.status_code': 200, 'customer.tier': 'gold' },
          { 'http.request.method': 'POST', 'url.scheme': 'https', 'http.response.status_code': 502, 'error.type': '502', 'network.protocol.version': '2' },
        ]),
      );
      expect(attributes).toHaveLength(2);
      for (const point of metric.dataPoints) {
        expect(point.value.count).toBe(1);
        expect(point.value.sum).toBeGreaterThanOrEqual(0);
        expect(point.value.sum).toBeLessThan(5);
      }
    } finally {
      await meterProvider.shutdown();
      metrics.disable();
    }
  });

  it('is not recorded with metrics: false', async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(meterProvider);
    try {
      handlerFor({ metrics: false }).start(fakeRequest())!.finish(200);
      const { resourceMetrics } = await reader.collect();
      expect(resourceMetrics.scopeMetrics.flatMap((scopeMetrics) => scopeMetrics.metrics)).toEqual([]);
    } finally {
      await meterProvider.shutdown();
      metrics.disable();
    }
  });
});
