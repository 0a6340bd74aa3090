// Without any OpenTelemetry SDK: context and baggage flow through every kind of handler, req.baggage
// and req.traceContext, req.setBaggage(), bad headers, option validation, trust and outbound.
import request from 'supertest';
import { diagnosticsSnapshot, InvalidOptionError, resetDiagnostics } from '@ctxprop/core';
import { ctxprop } from '@ctxprop/express';
import {
  buildApp,
  echoApp,
  EXPRESS_VERSIONS,
  INBOUND_SPAN_ID,
  INBOUND_TRACE_ID,
  INBOUND_TRACEPARENT,
  listen,
  multipartBody,
  type Running,
} from './support/apps';

const BAGGAGE = 'customer.tier=gold;ttl=60,tenant=acme';
const EXPECTED = { tier: 'gold', added: undefined, traceId: INBOUND_TRACE_ID, spanId: INBOUND_SPAN_ID };

describe.each(EXPRESS_VERSIONS)('%s without an SDK', (_name, express) => {
  let app: Running;
  let downstream: Running;

  beforeAll(async () => {
    downstream = await listen(echoApp(express));
    app = await listen(buildApp(express, undefined, { downstreamUrl: () => downstream.url }));
  });

  afterAll(async () => {
    await app.close();
    await downstream.close();
  });

  const get = (path: string) => request(app.url).get(path).set('traceparent', INBOUND_TRACEPARENT).set('baggage', BAGGAGE);

  it('exposes req.baggage (with properties) and req.traceContext, and the context in a sync handler', async () => {
    const response = await get('/sync').expect(200);
    expect(response.body.handler).toEqual({ tier: 'gold', traceId: INBOUND_TRACE_ID, spanId: INBOUND_SPAN_ID });
    expect(response.body.view).toEqual({ 'customer.tier': 'gold', tenant: 'acme' });
    expect(response.body.size).toBe(2);
    expect(response.body.traceContext).toEqual({
      traceId: INBOUND_TRACE_ID,
      spanId: INBOUND_SPAN_ID,
      traceFlags: 1,
      sampled: true,
      traceparent: INBOUND_TRACEPARENT,
      isRemote: true,
    });
  });

  it('gives an empty req.baggage and no req.traceContext for a request with neither', async () => {
    const response = await request(app.url).get('/sync').expect(200);
    expect(response.body.view).toEqual({});
    expect(response.body.size).toBe(0);
    expect(response.body.traceContext).toBeNull();
    expect(response.body.handler).toEqual({});
  });

  it('keeps the context across await and timers in an async handler', async () => {
    const response = await get('/async').expect(200);
    expect(response.body.before).toEqual(EXPECTED);
    expect(response.body.after).toEqual(EXPECTED);
  });

  it('keeps the context in callback-style handlers (setTimeout, fs callbacks)', async () => {
    expect((await get('/callback').expect(200)).body.handler).toEqual(EXPECTED);
  });

  it('keeps the context through express.json() and in the middleware after it', async () => {
    const response = await request(app.url)
      .post('/json')
      .set('traceparent', INBOUND_TRACEPARENT)
      .set('baggage', BAGGAGE)
      .send({ hello: 'world', delay: 2 })
      .expect(200);
    expect(response.body.body).toEqual({ hello: 'world', delay: 2 });
    expect(response.body.afterParser).toEqual(EXPECTED);
    expect(response.body.handler).toEqual(EXPECTED);
  });

  it('keeps the context through express.urlencoded()', async () => {
    const response = await request(app.url)
      .post('/form')
      .set('traceparent', INBOUND_TRACEPARENT)
      .set('baggage', BAGGAGE)
      .type('form')
      .send('a=1&b=two')
      .expect(200);
    expect(response.body.body).toEqual({ a: '1', b: 'two' });
    expect(response.body.handler).toEqual(EXPECTED);
  });

  it("runs 'data' and 'end' listeners of a multipart upload read in the handler in the request's context", async () => {
    const boundary = 'ctxprop-boundary-7MA4YWxk';
    const response = await request(app.url)
      .post('/multipart')
      .set('traceparent', INBOUND_TRACEPARENT)
      .set('baggage', BAGGAGE)
      .set('content-type', `multipart/form-data; boundary=${boundary}`)
      .send(multipartBody(boundary))
      .expect(200);
    expect(response.body.names).toEqual(['title', 'file']);
    expect(response.body.onData).toEqual(EXPECTED);
    expect(response.body.onEnd).toEqual(EXPECTED);
  });

  it('keeps the context in stream callbacks inside the handler', async () => {
    const response = await get('/stream').expect(200);
    expect(response.body.seen).toEqual([EXPECTED, EXPECTED, EXPECTED, EXPECTED]);
  });

  it("runs res.on('finish') listeners in the request's context", async () => {
    await get('/finish-listener').expect(200);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const locals = (app.server.listeners('request')[0] as unknown as { locals: { finished?: unknown } }).locals;
    expect(locals.finished).toEqual(EXPECTED);
  });

  it('keeps removeListener, off, once and listeners() working for listeners bound to the request', async () => {
    const response = await get('/listeners').expect(200);
    expect(response.body).toEqual({ calls: [], listedBeforeRemoval: true, onceSeen: [EXPECTED], left: [0, 0, 0] });
  });

  it("gives req.baggage the request's baggage even when read outside the request's context", async () => {
    const response = await get('/outside').expect(200);
    expect(response.body).toEqual({ inside: 'gold', outside: 'gold' });
  });

  it('keeps baggage added with req.setBaggage() across next(), await and timers (opentelemetry-js-contrib #3357)', async () => {
    const response = await get('/set-baggage').expect(200);
    expect(response.body.middle).toEqual({ ...EXPECTED, added: 'yes' });
    expect(response.body.handler).toEqual({ ...EXPECTED, added: 'yes' });
    expect(response.body.view).toEqual({ 'customer.tier': 'gold', tenant: 'acme', added: 'yes' });
  });

  it('keeps the context in a router mounted on a path', async () => {
    const response = await get('/api/users/42').expect(200);
    expect(response.body).toEqual({ id: '42', handler: EXPECTED });
  });

  it('runs a 4-argument error handler in the context, for a sync throw', async () => {
    const response = await get('/throw').expect(500);
    expect(response.body).toEqual({ error: 'sync boom', handler: EXPECTED });
  });

  it('runs a 4-argument error handler in the context, for an async rejection', async () => {
    const response = await get('/reject').expect(500);
    expect(response.body).toEqual({ error: 'async boom', handler: EXPECTED });
  });

  it("forwards the caller's trace and baggage on an outbound fetch (no SDK: no span of ours)", async () => {
    const response = await get('/outbound').expect(200);
    expect(response.body.downstream.traceparent).toBe(INBOUND_TRACEPARENT);
    expect(response.body.downstream.baggage).toContain('customer.tier=gold;ttl=60');
    expect(response.body.downstream.baggage).toContain('tenant=acme');
  });

  it.each([
    ['an invalid traceparent', { traceparent: '00-not-a-trace-id-01' }],
    ['an all-zero trace id', { traceparent: `00-${'0'.repeat(32)}-${INBOUND_SPAN_ID}-01` }],
    ['a baggage list of junk', { baggage: ';;;,,,=%%%,a==b' }],
    ['a huge baggage header', { baggage: `k=${'v'.repeat(16_000)}` }],
    ['a huge tracestate', { traceparent: INBOUND_TRACEPARENT, tracestate: 'a=b,'.repeat(2_000) }],
    ['bytes outside ASCII in baggage', { baggage: 'a=\u00e9\u00ff,b=1' }],
    ['a b3 header nobody configured', { b3: 'garbage' }],
  ])('answers 200 and no context for %s', async (_name, headers) => {
    resetDiagnostics();
    const response = await request(app.url).get('/sync').set(headers as Record<string, string>).expect(200);
    expect(response.body.handler.traceId === undefined || response.body.handler.traceId === INBOUND_TRACE_ID).toBe(true);
    expect(diagnosticsSnapshot()['internal.error']).toBeUndefined();
  });
});

describe('ctxprop() options', () => {
  it.each([
    [{ trust: 'sometimes' }, 'trust'],
    [{ trust: { trustedAddresses: ['10.0.0.0/40'] } }, 'trust.trustedAddresses[0]'],
    [{ propagators: ['w3c'] }, 'propagators'],
    [{ spanAttributesFromBaggage: 'customer.tier' }, 'spanAttributesFromBaggage'],
    [{ metrics: 1 }, 'metrics'],
    [{ baggage: 'gold' }, 'baggage'],
    [{ tracing: false }, 'tracing'],
  ])('throws at start-up, naming the option, for %j', (options, option) => {
    expect(() => ctxprop(options as never)).toThrow(InvalidOptionError);
    expect(() => ctxprop(options as never)).toThrow(`option "${option}"`);
  });

  it('returns a named middleware', () => {
    expect(ctxprop({ outbound: false }).name).toBe('ctxpropMiddleware');
  });
});

describe.each(EXPRESS_VERSIONS)('%s trust policies', (_name, express) => {
  it('drops the baggage of callers outside the trusted addresses, except allowlisted keys', async () => {
    // supertest connects from 127.0.0.1: trust only a block that does not contain it.
    const server = await listen(buildApp(express, { outbound: false, trust: { trustedAddresses: ['10.0.0.0/8'], untrustedBaggage: ['tenant'] } }));
    try {
      const response = await request(server.url).get('/sync').set('traceparent', INBOUND_TRACEPARENT).set('baggage', BAGGAGE).expect(200);
      expect(response.body.view).toEqual({ tenant: 'acme' });
      // No SDK and a linked (untrusted) caller: no trace context to continue.
      expect(response.body.handler.traceId).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('trusts callers that carry the gateway header', async () => {
    const server = await listen(buildApp(express, { outbound: false, trust: { trustedHeader: { name: 'x-gateway', value: 'k1' } } }));
    try {
      const trusted = await request(server.url).get('/sync').set('x-gateway', 'k1').set('traceparent', INBOUND_TRACEPARENT).set('baggage', BAGGAGE);
      expect(trusted.body.handler).toEqual({ tier: 'gold', traceId: INBOUND_TRACE_ID, spanId: INBOUND_SPAN_ID });
      const other = await request(server.url).get('/sync').set('x-gateway', 'nope').set('traceparent', INBOUND_TRACEPARENT).set('baggage', BAGGAGE);
      expect(other.body.handler).toEqual({});
    } finally {
      await server.close();
    }
  });

  it('adds origin baggage computed from the request, over what the caller sent', async () => {
    const server = await listen(buildApp(express, { outbound: false, baggage: (req) => ({ 'customer.tier': String(req.headers['x-user-tier'] ?? 'free') }) }));
    try {
      const response = await request(server.url).get('/sync').set('baggage', BAGGAGE).set('x-user-tier', 'silver').expect(200);
      expect(response.body.view).toEqual({ 'customer.tier': 'silver', tenant: 'acme' });
      expect(response.body.handler.tier).toBe('silver');
    } finally {
      await server.close();
    }
  });
});
