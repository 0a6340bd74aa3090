/**
 * `enableOutboundPropagation()`: options validated at start-up, idempotent across calls and
 * across two copies of the package (state under Symbol.for), reference-counted handles.
 */
import { context } from '@opentelemetry/api';
import { request } from 'undici';
import * as http from 'node:http';
import { enableOutboundPropagation, resolveInboundOptions, type OutboundOptions } from '@ctxprop/core';
import { contextWith, startServer, type TestServer } from './outbound-helpers';
import { invalidOptionOf } from './invalid-option';

let server: TestServer;
let base: string;

beforeAll(async () => {
  server = await startServer();
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(() => server.close());

function httpGet(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${path}`, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
  });
}

async function callBoth(baggage: Record<string, string> = { tenant: 'acme' }): Promise<void> {
  await context.with(contextWith(baggage), async () => {
    await (await request(`${base}/u`)).body.text();
    await httpGet('/h');
  });
}

describe('enableOutboundPropagation() options', () => {
  it.each([
    [{ spanz: true }, 'spanz'],
    [{ spans: 'yes' }, 'spans'],
    [{ existingTraceparent: 'append' }, 'existingTraceparent'],
    [{ propagator: {} }, 'propagator'],
    [{ destinations: { rules: [{ hosts: ['https://x'] }] } }, 'destinations.rules[0].hosts[0]'],
    [{ sensitiveData: { allowKeys: 'a' } }, 'sensitiveData.allowKeys'],
    ['all', 'outbound'],
  ])('refuses %j at start-up, naming %s', (options, option) => {
    const thrown = invalidOptionOf(() => enableOutboundPropagation(options as never).disable());
    expect(thrown.option).toBe(option);
  });

  // Called directly, the names are enableOutboundPropagation's own (no "outbound." prefix).
  it.each([
    [{ spanz: true }, 'spanz', 'Did you mean "spans"?'],
    [{ nope: 1 }, 'nope', 'Remove it'],
    [{ destination: {} }, 'destination', 'Did you mean "destinations"?'],
    [{ propagator: 5 }, 'propagator', 'createPropagator'],
    [{ destinations: 'internal' }, 'destinations', 'createDestinationPolicy'],
    [{ destinations: { rule: [] } }, 'destinations.rule', 'Did you mean "rules"?'],
    [{ destinations: { rules: [{ host: ['a.example'] }] } }, 'destinations.rules[0].host', 'Did you mean "hosts"?'],
    [{ destinations: { rules: [{ hosts: ['a.example'], tarce: false }] } }, 'destinations.rules[0].tarce', 'Did you mean "trace"?'],
    [{ destinations: { public: { baggages: 'none' } } }, 'destinations.public.baggages', 'Did you mean "baggage"?'],
    [{ destinations: { internal: { trace: 'yes' } } }, 'destinations.internal.trace', 'false'],
    [{ sensitiveData: 5 }, 'sensitiveData', 'false'],
    [{ sensitiveData: { allowkeys: ['contact'] } }, 'sensitiveData.allowkeys', 'Did you mean "allowKeys"?'],
    [{ sensitiveData: { enable: false } }, 'sensitiveData.enable', 'Did you mean "enabled"?'],
  ])('refuses %j naming %s and the fix', (options, option, fix) => {
    const thrown = invalidOptionOf(() => enableOutboundPropagation(options as never).disable());
    expect(thrown.option).toBe(option);
    expect(thrown.message.startsWith(`ctxprop: option "${option}" must be`)).toBe(true);
    expect(thrown.message).toContain(fix);
  });

  it('puts in force the outbound options an adapter checked under "outbound", as they were checked', async () => {
    const adapter = { name: '@ctxprop/test', version: '0.0.0' };
    const resolved = resolveInboundOptions({ outbound: { destinations: { internal: { baggage: ['plan'] } } } }, adapter);
    expect(Object.isFrozen(resolved.outbound)).toBe(true);
    const handle = enableOutboundPropagation(resolved.outbound as OutboundOptions);
    await callBoth({ tenant: 'acme', plan: 'gold' });
    expect(server.received.slice(-2).map((entry) => entry.headers.baggage)).toEqual([['plan=gold'], ['plan=gold']]);
    handle.disable();
  });

  it('returns a handle that does nothing for false', async () => {
    enableOutboundPropagation(false).disable();
    await callBoth();
    expect(server.received.slice(-2).map((entry) => entry.headers.traceparent)).toEqual([undefined, undefined]);
  });
});

describe('enableOutboundPropagation() lifecycle', () => {
  it('installs its hooks once however often it is called, and removes them when every handle is disabled', async () => {
    const first = enableOutboundPropagation();
    const second = enableOutboundPropagation();
    await callBoth();
    for (const entry of server.received.slice(-2)) {
      expect(entry.headers.traceparent).toHaveLength(1);
      expect(entry.headers.baggage).toEqual(['tenant=acme']);
    }
    first.disable();
    first.disable(); // a second call on one handle releases nothing more
    await callBoth();
    for (const entry of server.received.slice(-2)) expect(entry.headers.traceparent).toHaveLength(1);
    second.disable();
    await callBoth();
    for (const entry of server.received.slice(-2)) expect(entry.headers.traceparent).toBeUndefined();
  });

  it('keeps the configuration in force when called again without options (as the adapters do)', async () => {
    const configured = enableOutboundPropagation({ destinations: { internal: { baggage: 'none' } } });
    const adapter = enableOutboundPropagation();
    await callBoth();
    for (const entry of server.received.slice(-2)) expect(entry.headers.baggage).toBeUndefined();
    adapter.disable();
    configured.disable();
  });

  it('brings back the previous configuration when the handle that set the latest one is disabled', async () => {
    const adapter = enableOutboundPropagation();
    const noBaggage = enableOutboundPropagation({ destinations: { internal: { baggage: 'none' } } });
    const onlyPlan = enableOutboundPropagation({ destinations: { internal: { baggage: ['plan'] } } });
    const baggageOf = async () => {
      await callBoth({ tenant: 'acme', plan: 'gold' });
      return server.received.slice(-2).map((entry) => entry.headers.baggage);
    };
    expect(await baggageOf()).toEqual([['plan=gold'], ['plan=gold']]);
    onlyPlan.disable();
    expect(await baggageOf()).toEqual([undefined, undefined]);
    noBaggage.disable();
    expect(await baggageOf()).toEqual([['tenant=acme,plan=gold'], ['tenant=acme,plan=gold']]);
    adapter.disable();
  });

  it('shares one installation and one configuration with a second copy of ctxprop', async () => {
    let copy: typeof import('../src/outbound/enable') | undefined;
    jest.isolateModules(() => {
      copy = require('../src/outbound/enable') as typeof import('../src/outbound/enable');
    });
    expect(copy!.enableOutboundPropagation).not.toBe(enableOutboundPropagation);
    const ours = enableOutboundPropagation();
    const theirs = copy!.enableOutboundPropagation({ destinations: { internal: { baggage: ['plan'] } } });
    await callBoth({ tenant: 'acme', plan: 'gold' });
    for (const entry of server.received.slice(-2)) {
      expect(entry.headers.traceparent).toHaveLength(1);
      expect(entry.headers.baggage).toEqual(['plan=gold']);
    }
    theirs.disable();
    await callBoth();
    for (const entry of server.received.slice(-2)) expect(entry.headers.traceparent).toHaveLength(1);
    ours.disable();
    await callBoth();
    for (const entry of server.received.slice(-2)) expect(entry.headers.traceparent).toBeUndefined();
  });
});
