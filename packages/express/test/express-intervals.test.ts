// A setInterval started in a request (no SDK): while the request is in flight its ticks see the
// request's trace and baggage and forward them downstream; after the response they run outside
// it, so a polling loop sends no stale trace or baggage. `detachIntervals: false` keeps the old
// AsyncLocalStorage behaviour.
import request from 'supertest';
import { diagnosticsSnapshot, InvalidOptionError, resetDiagnostics } from '@ctxprop/core';
import { ctxprop, type CtxpropOptions } from '@ctxprop/express';
import { echoApp, EXPRESS_VERSIONS, INBOUND_TRACE_ID, INBOUND_TRACEPARENT, listen, type Running } from './support/apps';
import { clearPollingTimers, pollingApp, type Tick } from './support/polling';

afterEach(clearPollingTimers);

describe.each(EXPRESS_VERSIONS)('%s: setInterval in a request', (_name, express) => {
  let downstream: Running;

  beforeAll(async () => {
    downstream = await listen(echoApp(express));
  });

  afterAll(async () => {
    await downstream.close();
  });

  beforeEach(() => resetDiagnostics());

  async function poll(options?: CtxpropOptions): Promise<Tick[]> {
    const { app, polled } = pollingApp(express, () => downstream.url, options);
    const server = await listen(app);
    try {
      await request(server.url).get('/poll').set('traceparent', INBOUND_TRACEPARENT).set('baggage', 'customer.tier=gold').expect(200);
      return await polled;
    } finally {
      await server.close();
    }
  }

  it("runs in the request's context while it is in flight, and outside it after the response", async () => {
    const ticks = await poll();
    const inFlight = ticks.filter((tick) => !tick.afterResponse);
    const after = ticks.filter((tick) => tick.afterResponse);
    expect(inFlight).toHaveLength(2);
    for (const tick of inFlight) {
      expect(tick).toMatchObject({ traceId: INBOUND_TRACE_ID, tier: 'gold', downstream: { baggage: 'customer.tier=gold' } });
      expect(tick.downstream.traceparent).toBe(INBOUND_TRACEPARENT);
    }
    expect(after).toEqual([
      { afterResponse: true, traceId: null, tier: null, downstream: { traceparent: null, baggage: null } },
      { afterResponse: true, traceId: null, tier: null, downstream: { traceparent: null, baggage: null } },
    ]);
    expect(diagnosticsSnapshot()['context.interval_detached']).toBe(1);
  });

  it('keeps the request context after the response with detachIntervals: false, even when another app detaches', async () => {
    const other = ctxprop();
    const ticks = await poll({ detachIntervals: false }).finally(() => other.close());
    const after = ticks.filter((tick) => tick.afterResponse);
    expect(after).toHaveLength(2);
    for (const tick of after) {
      expect(tick).toMatchObject({ traceId: INBOUND_TRACE_ID, tier: 'gold', downstream: { traceparent: INBOUND_TRACEPARENT, baggage: 'customer.tier=gold' } });
    }
    expect(diagnosticsSnapshot()['context.interval_detached']).toBeUndefined();
  });

  it('rejects a detachIntervals option that is not a boolean, naming it', () => {
    expect(() => ctxprop({ detachIntervals: 'yes' as never })).toThrow(InvalidOptionError);
    expect(() => ctxprop({ detachIntervals: 'yes' as never })).toThrow(/"detachIntervals" must be true or false/);
  });
});
