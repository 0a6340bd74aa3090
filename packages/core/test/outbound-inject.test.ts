/**
 * The explicit `inject(carrier, { url })` for clients ctxprop cannot see: the same destination
 * policy and sensitive-data guard as the automatic hooks, with OpenTelemetry's own W3C
 * propagators (an independent implementation) or ctxprop's.
 */
import { baggageEntryMetadataFromString, defaultTextMapGetter, propagation, ROOT_CONTEXT, type TextMapPropagator } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import fc from 'fast-check';
import {
  BaggagePropagator,
  configureDiagnostics,
  createDestinationPolicy,
  createPropagator,
  createSensitiveDataGuard,
  diagnosticsSnapshot,
  inject,
  resetDiagnostics,
} from '@ctxprop/core';
import { contextWith, SPAN_ID, TRACE_ID } from './outbound-helpers';

const otel = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;
let warnings: string[];

beforeEach(() => {
  resetDiagnostics();
  warnings = [];
  configureDiagnostics({ warn: (message) => warnings.push(message) });
});

afterAll(() => {
  configureDiagnostics({ warn: (message, code) => process.emitWarning(message, { type: 'CtxpropWarning', code }) });
});

describe.each([
  ["OpenTelemetry's W3C propagators", otel as TextMapPropagator],
  ["ctxprop's createPropagator()", createPropagator('tracecontext,baggage')],
])('inject() with %s', (_name, propagator) => {
  it('writes the trace and all baggage for an internal destination', () => {
    const carrier: Record<string, string> = {};
    inject(carrier, { url: 'grpc://orders.svc:50051', context: contextWith({ tenant: 'acme' }), propagator });
    expect(carrier).toEqual({ traceparent: TRACEPARENT, baggage: 'tenant=acme' });
  });

  it('writes the trace and no baggage for a public destination, counting and warning once', () => {
    const carrier: Record<string, string> = {};
    for (let i = 0; i < 3; i++) {
      inject(carrier, { url: 'https://api.example.com/v1', context: contextWith({ tenant: 'acme', plan: 'gold' }), propagator });
    }
    expect(carrier).toEqual({ traceparent: TRACEPARENT });
    expect(diagnosticsSnapshot()['inject.baggage.withheld']).toBe(6);
    expect(warnings).toEqual([
      'ctxprop: baggage "tenant", "plan" withheld from api.example.com by the destination rule "default:public". ' +
        'To send it, add a rule before it, such as destinations: { rules: [{ hosts: ["api.example.com"], baggage: ["tenant","plan"] }] }.',
    ]);
  });

  it.each([
    ['a plain object', () => ({ Traceparent: 'stale', tracestate: 'old=1', Baggage: 'email=ana%40example.com,tenant=acme' }) as Record<string, string>],
    ['a Map', () => new Map([['traceparent', 'stale'], ['TraceState', 'old=1'], ['baggage', 'email=ana%40example.com']])],
    ['a Headers', () => new Headers({ traceparent: 'stale', tracestate: 'old=1', baggage: 'email=ana%40example.com' })],
  ])('replaces the propagation headers a reused carrier (%s) already holds: no stale tracestate beside the new traceparent, no baggage past the policy', (_name, make) => {
    const carrier = make();
    inject(carrier, { url: 'https://api.example.com/v1', context: contextWith({ tenant: 'acme' }), propagator });
    const entries = carrier instanceof Map || carrier instanceof Headers ? [...carrier.entries()] : Object.entries(carrier);
    expect(Object.fromEntries(entries.map(([key, value]) => [key.toLowerCase(), value]))).toEqual({ traceparent: TRACEPARENT });
  });

  it('names the host without its port in the warning, so that the rule it suggests can be made', () => {
    inject({}, { url: 'https://api.example.com:8443/v1', context: contextWith({ tenant: 'acme' }), propagator });
    expect(warnings).toEqual([
      'ctxprop: baggage "tenant" withheld from api.example.com by the destination rule "default:public". ' +
        'To send it, add a rule before it, such as destinations: { rules: [{ hosts: ["api.example.com"], baggage: ["tenant"] }] }.',
    ]);
    expect(() => createDestinationPolicy({ rules: [{ hosts: ['api.example.com'], baggage: ['tenant'] }] })).not.toThrow();
  });

  it('follows a given policy: trace withheld, baggage cut to an allowlist', () => {
    const policy = createDestinationPolicy({ rules: [{ name: 'partner', hosts: ['*.partner.example'], trace: false, baggage: ['tenant'] }] });
    const carrier: Record<string, string> = {};
    inject(carrier, { url: 'https://eu.partner.example/', context: contextWith({ tenant: 'acme', plan: 'gold' }), propagator, policy });
    expect(carrier).toEqual({ baggage: 'tenant=acme' });
    expect(diagnosticsSnapshot()['inject.trace.withheld']).toBe(1);
    expect(warnings[0]).toBe(
      'ctxprop: trace headers withheld from eu.partner.example by the destination rule "partner". ' +
        'To send them, add a rule before it, such as destinations: { rules: [{ hosts: ["eu.partner.example"], trace: true }] }.',
    );
  });

  it('refuses members the sensitive-data guard flags, and takes a custom guard', () => {
    const ctx = contextWith({ tenant: 'acme', session: 's1', card: '4242 4242 4242 4242' });
    const carrier: Record<string, string> = {};
    inject(carrier, { url: 'http://orders.svc/', context: ctx, propagator });
    expect(carrier.baggage).toBe('tenant=acme');
    expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBe(2);
    const lenient: Record<string, string> = {};
    inject(lenient, { url: 'http://orders.svc/', context: ctx, propagator, sensitiveData: createSensitiveDataGuard({ enabled: false }) });
    expect(lenient.baggage?.split(',').sort()).toEqual(['card=4242%204242%204242%204242', 'session=s1', 'tenant=acme']);
  });

  it('writes through a given setter (a gRPC Metadata-like carrier)', () => {
    const metadata = new Map<string, string>();
    inject(metadata, {
      url: 'grpc://orders.svc:50051',
      context: contextWith({ tenant: 'acme' }),
      propagator,
      setter: { set: (carrier, key, value) => (carrier as Map<string, string>).set(`md-${key}`, value) },
    });
    expect([...metadata]).toEqual([
      ['md-traceparent', TRACEPARENT],
      ['md-baggage', 'tenant=acme'],
    ]);
  });

  it('replaces a header of another case in a plain object instead of adding a second', () => {
    const carrier: Record<string, string> = { TraceParent: 'stale', Accept: 'json' };
    inject(carrier, { url: 'http://orders.svc/', context: contextWith(), propagator });
    expect(carrier).toEqual({ traceparent: TRACEPARENT, Accept: 'json' });
  });
});

describe('inject() with baggage read from an inbound header', () => {
  it('forwards a clean header as it came, and keeps refusing and counting a header that is not clean', () => {
    const propagator = createPropagator('tracecontext,baggage');
    const inbound = (baggage: string) => propagator.extract(contextWith(), { baggage }, defaultTextMapGetter);
    for (let i = 0; i < 3; i++) {
      const carrier: Record<string, string> = {};
      inject(carrier, { url: 'http://orders.svc/', context: inbound('tenant=acme,plan=gold'), propagator });
      expect(carrier.baggage).toBe('tenant=acme,plan=gold');
    }
    for (let i = 0; i < 3; i++) {
      const carrier: Record<string, string> = {};
      inject(carrier, { url: 'http://orders.svc/', context: inbound('tenant=acme,user=jdoe%40example.com'), propagator });
      expect(carrier.baggage).toBe('tenant=acme');
    }
    expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBe(3);
  });

  it('checks every member of a header with a duplicate key, not only the one the baggage keeps (the last)', () => {
    const propagator = createPropagator('tracecontext,baggage');
    const inbound = (baggage: string) => propagator.extract(contextWith(), { baggage }, defaultTextMapGetter);
    for (let i = 0; i < 2; i++) {
      const carrier: Record<string, string> = {};
      inject(carrier, { url: 'http://orders.svc/', context: inbound('tenant=acme,user=jdoe%40example.com,user=anonymous'), propagator });
      expect(carrier.baggage).toBe('tenant=acme,user=anonymous');
    }
    expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBe(2);
    // Clean duplicates go on as they came, in their order.
    const carrier: Record<string, string> = {};
    inject(carrier, { url: 'http://orders.svc/', context: inbound('user=a,tenant=acme,user=b'), propagator });
    expect(carrier.baggage).toBe('user=a,tenant=acme,user=b');
    // A rule that withholds a key withholds each of its duplicates.
    const policy = createDestinationPolicy({ rules: [{ hosts: ['partner.example.com'], baggage: ['tenant'] }] });
    const partner: Record<string, string> = {};
    inject(partner, { url: 'https://partner.example.com/', context: inbound('tenant=acme,user=a,user=b'), propagator, policy });
    expect(partner.baggage).toBe('tenant=acme');
  });

  it('checks every member of a header with a duplicate key past the default 64 members, as its propagator allowed', () => {
    const propagator = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new BaggagePropagator({ limits: { maxMembers: 100 } })] });
    const members = Array.from({ length: 70 }, (_, i) => `m${i}=v`);
    const header = [...members, 'm0=w', 'email=bob%40example.com'].join(',');
    const inbound = propagator.extract(contextWith(), { baggage: header }, defaultTextMapGetter);
    const carrier: Record<string, string> = {};
    inject(carrier, { url: 'http://orders.svc/', context: inbound, propagator });
    expect(carrier.baggage).not.toContain('email=');
    expect(carrier.baggage?.split(',')).toHaveLength(70);
    expect(diagnosticsSnapshot()['baggage.sensitive.refused']).toBe(1);
  });
});

describe('inject() safety', () => {
  it('counts inject.no_context and writes nothing without a trace or baggage', () => {
    const carrier: Record<string, string> = {};
    inject(carrier, { url: 'http://orders.svc/', context: ROOT_CONTEXT, propagator: otel });
    expect(carrier).toEqual({});
    expect(diagnosticsSnapshot()['inject.no_context']).toBe(1);
  });

  it('never writes a value with CR or LF, even when a propagator would (OpenTelemetry writes metadata unencoded)', () => {
    const baggage = propagation.createBaggage({
      tenant: { value: 'acme', metadata: baggageEntryMetadataFromString('p\r\nx-injected: 1') },
    });
    const carrier: Record<string, string> = {};
    inject(carrier, { url: 'http://orders.svc/', context: propagation.setBaggage(contextWith(), baggage), propagator: otel });
    expect(carrier).toEqual({ traceparent: TRACEPARENT });
    expect(diagnosticsSnapshot()['inject.header.invalid']).toBe(1);
  });

  it('never throws: bad options, a throwing propagator, a throwing setter, a throwing policy', () => {
    const throwing = { inject: () => { throw new Error('boom'); }, extract: (c: unknown) => c, fields: () => [] } as unknown as TextMapPropagator;
    expect(() => inject({}, undefined as never)).not.toThrow();
    expect(() => inject({}, { url: 'http://x.svc/', propagator: throwing })).not.toThrow();
    expect(() => inject({}, { url: 'http://x.svc/', context: contextWith(), setter: { set: () => { throw new Error('boom'); } } })).not.toThrow();
    expect(() => inject({}, { url: 'http://x.svc/', policy: () => { throw new Error('boom'); } })).not.toThrow();
    expect(diagnosticsSnapshot()['internal.error']).toBe(4);
  });

  it('writes only header-safe values for any baggage (property test)', () => {
    const safe = /^[\x21-\x7e\x80-\xff]([\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?$/;
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), fc.string()), fc.constantFrom<TextMapPropagator>(otel, createPropagator()), (entries, propagator) => {
        const baggage = propagation.createBaggage(Object.fromEntries(Object.entries(entries).map(([key, value]) => [key, { value }])));
        const carrier: Record<string, string> = {};
        inject(carrier, { url: 'http://orders.svc/', context: propagation.setBaggage(contextWith(), baggage), propagator });
        for (const value of Object.values(carrier)) expect(value).toMatch(safe);
        expect(carrier.traceparent).toBe(TRACEPARENT);
      }),
      { numRuns: 300 },
    );
  });
});

describe('a B3 sampling decision that came without ids (b3: 0)', () => {
  const b3 = createPropagator('b3,baggage');
  const denied = () => b3.extract(ROOT_CONTEXT, { b3: '0', baggage: 'tenant=acme' }, defaultTextMapGetter);

  it('goes on where the policy sends the trace', () => {
    const carrier: Record<string, string> = {};
    inject(carrier, { url: 'http://orders.svc/', context: denied(), propagator: b3 });
    expect(carrier).toEqual({ b3: '0', baggage: 'tenant=acme' });
  });

  it('is withheld with the trace where the policy withholds it, and counted as such', () => {
    const policy = createDestinationPolicy({ rules: [{ name: 'partner', hosts: ['*.partner.example'], trace: false, baggage: ['tenant'] }] });
    const carrier: Record<string, string> = {};
    inject(carrier, { url: 'https://eu.partner.example/', context: denied(), propagator: b3, policy });
    expect(carrier).toEqual({ baggage: 'tenant=acme' });
    expect(diagnosticsSnapshot()['inject.trace.withheld']).toBe(1);
  });

  it('alone, with no baggage, is context: "inject.no_context" is not counted', () => {
    const carrier: Record<string, string> = {};
    inject(carrier, { url: 'http://orders.svc/', context: b3.extract(ROOT_CONTEXT, { b3: '0' }, defaultTextMapGetter), propagator: b3 });
    expect(carrier).toEqual({ b3: '0' });
    expect(diagnosticsSnapshot()['inject.no_context']).toBeUndefined();
  });
});
