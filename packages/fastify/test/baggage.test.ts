/**
 * Adding baggage during a request (issue #3, "Exposes on the request" 4 and 5): `request.setBaggage`
 * in a hook or the handler is seen by everything after it, across `await` and timers, and by
 * outbound calls (opentelemetry-js-contrib #3357 loses it); the `baggage` option sets origin
 * baggage from the request; `spanAttributesFromBaggage` copies allowlisted keys onto the span.
 */
import { context, propagation } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS_WITH_OLDEST, listen, startDownstream, TRACEPARENT, type Downstream } from './support/frameworks';
import { startRecordingSdk } from './support/sdk';

const sdk = startRecordingSdk();

afterAll(() => sdk.provider.shutdown());

function activeEntry(key: string): string {
  return propagation.getBaggage(context.active())?.getEntry(key)?.value ?? '-';
}

/** Parses a `baggage` header the simple way the test values allow (no properties, no escapes). */
function parseHeader(header: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const member of String(header ?? '').split(',')) {
    const [key, value] = member.split('=');
    if (key) out[key.trim()] = decodeURIComponent((value ?? '').trim());
  }
  return out;
}

describe.each(FRAMEWORKS_WITH_OLDEST)('%s', (_framework, createApp) => {
  let app: FastifyInstance;
  let downstream: Downstream;

  beforeEach(async () => {
    sdk.exporter.reset();
    resetDiagnostics();
    app = createApp();
    downstream = await startDownstream();
  });

  afterEach(async () => {
    await app.close();
    await downstream.close();
  });

  test('baggage set in a preHandler hook reaches the handler after await and timers, request.baggage and outbound calls', async () => {
    await app.register(ctxprop);
    app.addHook('preHandler', async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      request.setBaggage({ 'customer.tier': 'gold' });
    });
    app.get('/', async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const inHandler = activeEntry('customer.tier');
      await fetch(downstream.url);
      return { inHandler, view: request.baggage.toJSON() };
    });

    const base = await listen(app);
    const response = await fetch(base, { headers: { traceparent: TRACEPARENT, baggage: 'user.id=alice' } });

    expect(await response.json()).toEqual({ inHandler: 'gold', view: { 'user.id': 'alice', 'customer.tier': 'gold' } });
    expect(parseHeader(downstream.received[0]!.baggage)).toEqual({ 'user.id': 'alice', 'customer.tier': 'gold' });
  });

  test("request.setBaggage() after a hook added baggage the OpenTelemetry way (context.with): outbound calls carry both, request.baggage the request's", async () => {
    await app.register(ctxprop);
    app.addHook('preHandler', (_request, _reply, done) => {
      const added = (propagation.getActiveBaggage() ?? propagation.createBaggage()).setEntry('via', { value: 'otel' });
      context.with(propagation.setBaggage(context.active(), added), done);
    });
    app.get('/', async (request) => {
      request.setBaggage({ late: '1' });
      await fetch(downstream.url);
      return { active: [activeEntry('via'), activeEntry('late')], view: request.baggage.toJSON() };
    });

    const base = await listen(app);
    const response = await fetch(base, { headers: { baggage: 'in=1' } });

    expect(await response.json()).toEqual({ active: ['otel', '1'], view: { in: '1', late: '1' } });
    expect(parseHeader(downstream.received[0]!.baggage)).toEqual({ in: '1', via: 'otel', late: '1' });
  });

  test('baggage set in the handler is seen after its own await, and by a timer started before it was set', async () => {
    await app.register(ctxprop);
    app.get('/', async (request) => {
      const early = new Promise<string>((resolve) => setTimeout(() => resolve(activeEntry('step')), 20));
      request.setBaggage({ step: 'one' });
      await Promise.resolve();
      const afterAwait = activeEntry('step');
      request.setBaggage({ step: 'two' });
      return { afterAwait, timer: await early, final: request.baggage.get('step') };
    });

    const response = await app.inject({ method: 'GET', url: '/' });

    expect(response.json()).toEqual({ afterAwait: 'one', timer: 'two', final: 'two' });
  });

  test('the baggage option sets origin baggage from the request, replacing an inbound entry of the same key', async () => {
    await app.register(ctxprop, { baggage: (request) => ({ 'customer.tier': String(request.headers['x-plan'] ?? 'free') }) });
    app.get('/', async (request) => ({ tier: request.baggage.get('customer.tier'), active: activeEntry('customer.tier'), user: request.baggage.get('user.id') }));

    const response = await app.inject({ method: 'GET', url: '/', headers: { baggage: 'customer.tier=platinum,user.id=alice', 'x-plan': 'silver' } });

    expect(response.json()).toEqual({ tier: 'silver', active: 'silver', user: 'alice' });
  });

  test('spanAttributesFromBaggage copies the listed keys onto the SERVER span, and only those', async () => {
    await app.register(ctxprop, { spanAttributesFromBaggage: ['customer.tier', 'tenant.id'] });
    app.addHook('preHandler', async (request) => request.setBaggage({ 'tenant.id': 'acme' }));
    app.get('/', async () => 'ok');

    await app.inject({ method: 'GET', url: '/', headers: { traceparent: TRACEPARENT, baggage: 'customer.tier=gold,user.id=alice' } });
    const [span] = await sdk.serverSpans();

    expect(span!.attributes['customer.tier']).toBe('gold');
    expect(span!.attributes['tenant.id']).toBe('acme');
    expect(span!.attributes['user.id']).toBeUndefined();
  });

  test('entries that look like personal data are refused and counted, the rest are set', async () => {
    await app.register(ctxprop);
    app.get('/', async (request) => {
      request.setBaggage({ 'user.email': 'alice@example.com', region: 'eu' });
      return request.baggage.toJSON();
    });

    const response = await app.inject({ method: 'GET', url: '/' });

    expect(response.json()).toEqual({ region: 'eu' });
    expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBe(1);
  });

  test('a baggage option that throws is counted and the request goes on without origin baggage', async () => {
    await app.register(ctxprop, {
      baggage: () => {
        throw new Error('user store down');
      },
    });
    app.get('/', async (request) => ({ baggage: request.baggage.toJSON(), trace: request.traceContext?.traceId ?? null }));

    const response = await app.inject({ method: 'GET', url: '/', headers: { traceparent: TRACEPARENT, baggage: 'user.id=alice' } });

    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ baggage: { 'user.id': 'alice' }, trace: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(diagnosticsSnapshot()['internal.error']).toBe(1);
  });
});
