/**
 * Trust at the edge (issue #3, "Trust at the edge"): per request, inbound context is trusted
 * (the trace continues), linked (a new trace whose root span links to the caller's) or ignored,
 * by client address (CIDR), by a header, or by a function; untrusted callers lose their baggage
 * except allowlisted keys. Decided on `request.ip`, so Fastify's `trustProxy` applies.
 */
import { SpanKind } from '@opentelemetry/api';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { ctxprop, type CtxpropOptions, type TrustRequestInfo } from '@ctxprop/fastify';
import { FRAMEWORKS, PARENT_ID, TRACE_ID, TRACEPARENT } from './support/frameworks';
import { startRecordingSdk } from './support/sdk';

const sdk = startRecordingSdk();

afterAll(() => sdk.provider.shutdown());

const PUBLIC_CLIENT = '203.0.113.9'; // RFC 5737 documentation range: not private
const PRIVATE_CLIENT = '10.1.2.3'; // RFC 1918
const BAGGAGE = 'customer.tier=platinum,synthetic.test=1';

describe.each(FRAMEWORKS)('%s', (_framework, createApp) => {
  let app: FastifyInstance | undefined;

  async function serve(options: CtxpropOptions, serverOptions?: FastifyServerOptions): Promise<FastifyInstance> {
    sdk.exporter.reset();
    app = createApp(serverOptions);
    await app.register(ctxprop, options);
    app.get('/*', async (request) => ({ baggage: request.baggage.toJSON(), traceId: request.traceContext?.traceId ?? null }));
    return app;
  }

  async function call(remoteAddress: string, headers: Record<string, string> = {}, url = '/orders') {
    const response = await app!.inject({ method: 'GET', url, remoteAddress, headers: { traceparent: TRACEPARENT, baggage: BAGGAGE, ...headers } });
    const [span] = await sdk.serverSpans();
    return { body: response.json() as { baggage: Record<string, string>; traceId: string | null }, span: span! };
  }

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  test('by default every caller is trusted: the trace continues and the baggage is kept', async () => {
    await serve({});
    const { body, span } = await call(PUBLIC_CLIENT);

    expect(span.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(body.baggage).toEqual({ 'customer.tier': 'platinum', 'synthetic.test': '1' });
  });

  test('the public-edge setting trusts a caller on a private address', async () => {
    await serve({ trust: { trustedAddresses: ['private'] } });
    const { body, span } = await call(PRIVATE_CLIENT);

    expect(span.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(body).toEqual({ traceId: TRACE_ID, baggage: { 'customer.tier': 'platinum', 'synthetic.test': '1' } });
  });

  test('the public-edge setting links a public caller: new trace, root span linked to the caller, baggage dropped', async () => {
    await serve({ trust: { trustedAddresses: ['private'], untrusted: 'link' } });
    const { body, span } = await call(PUBLIC_CLIENT);

    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe(TRACE_ID);
    expect(span.links).toHaveLength(1);
    expect(span.links[0]!.context).toEqual(expect.objectContaining({ traceId: TRACE_ID, spanId: PARENT_ID }));
    expect(body.traceId).toBe(span.spanContext().traceId);
    expect(body.baggage).toEqual({});
  });

  test('`untrusted: "ignore"` starts a new trace with no link, and `untrustedBaggage` keeps only the listed keys', async () => {
    await serve({ trust: { trustedAddresses: ['10.0.0.0/8'], untrusted: 'ignore', untrustedBaggage: ['synthetic.test'] } });
    const { body, span } = await call(PUBLIC_CLIENT);

    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe(TRACE_ID);
    expect(span.links).toHaveLength(0);
    expect(body.baggage).toEqual({ 'synthetic.test': '1' });
  });

  test('a trusted header with a shared secret trusts only callers that carry the right value', async () => {
    await serve({ trust: { trustedHeader: { name: 'X-Internal-Gateway', value: 's3cret' } } });

    const right = await call(PUBLIC_CLIENT, { 'x-internal-gateway': 's3cret' });
    expect(right.span.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(right.body.baggage['customer.tier']).toBe('platinum');

    sdk.exporter.reset();
    const wrong = await call(PUBLIC_CLIENT, { 'x-internal-gateway': 'guess' });
    expect(wrong.span.parentSpanContext).toBeUndefined();
    expect(wrong.body.baggage).toEqual({});
  });

  test("with Fastify's trustProxy the decision uses the forwarded client address (request.ip)", async () => {
    await serve({ trust: { trustedAddresses: ['private'] } }, { trustProxy: true });
    const { body, span } = await call('127.0.0.1', { 'x-forwarded-for': PUBLIC_CLIENT });

    expect(span.parentSpanContext).toBeUndefined();
    expect(span.attributes['client.address']).toBe(PUBLIC_CLIENT);
    expect(body.baggage).toEqual({});
  });

  test("server.address and server.port follow X-Forwarded-Host only under Fastify's trustProxy, as request.host does", async () => {
    const headers = { host: 'internal:3000', 'x-forwarded-host': 'shop.example.com:8443' };
    await serve({}, { trustProxy: true });
    const trusted = await call('127.0.0.1', headers);
    expect(trusted.span.attributes).toMatchObject({ 'server.address': 'shop.example.com', 'server.port': 8443 });
    await app!.close();
    await serve({});
    const untrusted = await call('127.0.0.1', headers);
    expect(untrusted.span.attributes).toMatchObject({ 'server.address': 'internal', 'server.port': 3000 });
  });

  test('a trust function decides per request and is given the Fastify request', async () => {
    const seen: TrustRequestInfo[] = [];
    await serve({
      trust: (info) => {
        seen.push(info);
        return info.path?.startsWith('/internal/') ? 'trust' : 'ignore';
      },
    });

    const internal = await call(PUBLIC_CLIENT, {}, '/internal/jobs?x=1');
    expect(internal.span.parentSpanContext?.spanId).toBe(PARENT_ID);

    sdk.exporter.reset();
    const outside = await call(PUBLIC_CLIENT, {}, '/orders');
    expect(outside.span.parentSpanContext).toBeUndefined();
    expect(outside.body.baggage).toEqual({});

    expect(seen[0]).toEqual(expect.objectContaining({ clientAddress: PUBLIC_CLIENT, method: 'GET', path: '/internal/jobs' }));
    expect((seen[0]!.request as { url?: unknown }).url).toBe('/internal/jobs?x=1');
    expect(typeof (seen[0]!.request as { routeOptions?: unknown }).routeOptions).toBe('object');
  });

  test('a trust function that throws makes the request untrusted, not failed', async () => {
    await serve({
      trust: () => {
        throw new Error('policy service down');
      },
    });
    const response = await app!.inject({ method: 'GET', url: '/orders', remoteAddress: PUBLIC_CLIENT, headers: { traceparent: TRACEPARENT, baggage: BAGGAGE } });
    const [span] = await sdk.serverSpans();

    expect(response.statusCode).toBe(200);
    expect(span!.spanContext().traceId).not.toBe(TRACE_ID);
    expect(response.json()).toEqual(expect.objectContaining({ baggage: {} }));
  });
});
