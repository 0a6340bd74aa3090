/**
 * A B3 sampling decision that came without ids (`b3: 0`), on a real node:http call through the
 * automatic outbound hook: it goes on like a trace header, and not beside trace headers the
 * caller wrote itself, nor to a destination the policy withholds the trace from.
 */
import * as http from 'node:http';
import { context, defaultTextMapGetter, ROOT_CONTEXT } from '@opentelemetry/api';
import { createPropagator, enableOutboundPropagation, type OutboundHandle } from '@ctxprop/core';
import { lookupToLoopback, startServer, type TestServer } from './outbound-helpers';

const propagator = createPropagator('tracecontext,b3,baggage');
let server: TestServer;
let handle: OutboundHandle;

beforeAll(async () => {
  server = await startServer();
  handle = enableOutboundPropagation({ propagator, destinations: { rules: [{ hosts: ['partner.example'], trace: false, baggage: 'all' }] } });
});

afterAll(async () => {
  handle.disable();
  await server.close();
});

function call(host: string, headers: Record<string, string> = {}): Promise<void> {
  const denied = propagator.extract(ROOT_CONTEXT, { b3: '0', baggage: 'tenant=acme' }, defaultTextMapGetter);
  return context.with(denied, () => new Promise<void>((resolve, reject) => {
    const req = http.request({ host, port: server.port, path: '/', lookup: lookupToLoopback, headers }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  }));
}

it('sends the decision on to a destination that gets the trace', async () => {
  await call('127.0.0.1');
  expect(server.last('b3')).toEqual(['0']);
  expect(server.last('baggage')).toEqual(['tenant=acme']);
});

it('withholds it from a destination the policy withholds the trace from', async () => {
  await call('partner.example');
  expect(server.last('b3')).toEqual([]);
  expect(server.last('baggage')).toEqual(['tenant=acme']);
});

it('writes no decision beside a trace header the caller set itself', async () => {
  const mine = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
  await call('127.0.0.1', { traceparent: mine });
  expect(server.last('traceparent')).toEqual([mine]);
  expect(server.last('b3')).toEqual([]);
});
