import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  type Context,
  type TextMapGetter,
} from '@opentelemetry/api';
import { suppressTracing, W3CBaggagePropagator } from '@opentelemetry/core';
import fc from 'fast-check';
import {
  BaggagePropagator,
  configureDiagnostics,
  createBaggageFromMembers,
  diagnosticsSnapshot,
  InvalidOptionError,
  rawBaggageHeaderOf,
  resetDiagnostics,
  WireBaggage,
} from '@ctxprop/core';

const propagator = new BaggagePropagator();

function extract(carrier: unknown, ctx: Context = ROOT_CONTEXT, using: BaggagePropagator = propagator): Context {
  return using.extract(ctx, carrier, defaultTextMapGetter);
}

function valuesOf(ctx: Context): Record<string, string> {
  const baggage = propagation.getBaggage(ctx);
  return Object.fromEntries((baggage?.getAllEntries() ?? []).map(([key, entry]) => [key, entry.value]));
}

function inject(ctx: Context, using: BaggagePropagator = propagator): Record<string, string> {
  const carrier: Record<string, string> = {};
  using.inject(ctx, carrier, defaultTextMapSetter);
  return carrier;
}

const warnings: string[] = [];
beforeAll(() => configureDiagnostics({ warn: (message) => warnings.push(message) }));
beforeEach(() => resetDiagnostics());

describe('BaggagePropagator', () => {
  it('§3.1: uses the "baggage" header', () => {
    expect(propagator.fields()).toEqual(['baggage']);
  });

  describe('extract()', () => {
    it.each([
      ['a Node header object', { baggage: 'a=1,b=2' }],
      ['a mixed-case plain object (opentelemetry-js #3150)', { Baggage: 'a=1,b=2' }],
      ['fetch Headers', new Headers({ baggage: 'a=1,b=2' })],
      ['§3: several baggage headers as an array', { baggage: ['a=1', 'b=2'] }],
      ['a Buffer value (Kafka, AMQP)', { baggage: Buffer.from('a=1,b=2') }],
    ])('reads %s with the default getter', (_name, carrier) => {
      expect(valuesOf(extract(carrier))).toEqual({ a: '1', b: '2' });
    });

    it('§3: combines baggage lines held in two cases in a plain object, as it combines an array', () => {
      expect(valuesOf(extract({ baggage: 'a=1', Baggage: 'b=2' }))).toEqual({ a: '1', b: '2' });
      expect(valuesOf(extract(new Map([['baggage', 'a=1'], ['BAGGAGE', 'b=2']])))).toEqual({ a: '1', b: '2' });
    });

    it('uses a custom getter when one is given', () => {
      const getter: TextMapGetter<Map<string, string>> = { keys: (c) => [...c.keys()], get: (c, key) => c.get(`x-${key}`) };
      const ctx = propagator.extract(ROOT_CONTEXT, new Map([['x-baggage', 'a=1']]), getter);
      expect(valuesOf(ctx)).toEqual({ a: '1' });
    });

    it('decodes values and keeps properties as structure', () => {
      const baggage = propagation.getBaggage(extract({ baggage: 'user=Am%C3%A9lie;ttl=60;flag' }))!;
      expect(baggage.getEntry('user')?.value).toBe('Amélie');
      expect(baggage.getEntry('user')?.metadata?.toString()).toBe('ttl=60;flag');
    });

    it('counts invalid members and drops only them', () => {
      const ctx = extract({ baggage: 'a=1,bad key=2,c=x y,d=4' });
      expect(valuesOf(ctx)).toEqual({ a: '1', d: '4' });
      expect(diagnosticsSnapshot()['extract.baggage.invalid_member']).toBe(2);
    });

    it('§3.3.2: counts members dropped over the limit', () => {
      const header = Array.from({ length: 70 }, (_, i) => `k${i}=v`).join(',');
      const ctx = extract({ baggage: header });
      expect(Object.keys(valuesOf(ctx))).toHaveLength(64);
      expect(diagnosticsSnapshot()['extract.baggage.over_limit']).toBe(6);
    });

    it('warns once, not per request, when members are dropped over the limit, naming the option', () => {
      warnings.length = 0;
      const header = Array.from({ length: 70 }, (_, i) => `k${i}=v`).join(',');
      for (let i = 0; i < 3; i++) extract({ baggage: header });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^ctxprop: .*"limits" option/);
    });

    it('keeps a 4097-byte entry that OpenTelemetry drops', () => {
      const header = `k=${'x'.repeat(4095)}`;
      expect(valuesOf(extract({ baggage: header }))).toEqual({ k: 'x'.repeat(4095) });
      expect(propagation.getBaggage(new W3CBaggagePropagator().extract(ROOT_CONTEXT, { baggage: header }, defaultTextMapGetter))).toBeUndefined();
    });

    it('§3.5: with duplicate keys the last one wins', () => {
      expect(valuesOf(extract({ baggage: 'k=1,j=2,k=3' }))).toEqual({ k: '3', j: '2' });
    });

    it('returns the same context when there is no header or no valid member', () => {
      for (const carrier of [{}, { baggage: '' }, { baggage: 'bad key=1' }, { baggage: ',,' }, null, 'text']) {
        expect(extract(carrier)).toBe(ROOT_CONTEXT);
      }
    });

    it('adds inbound entries on top of the baggage the context already has', () => {
      const existing = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ a: { value: '1' }, b: { value: '2' } }));
      const ctx = extract({ baggage: 'b=3,c=4' }, existing);
      expect(valuesOf(ctx)).toEqual({ a: '1', b: '3', c: '4' });
      expect(rawBaggageHeaderOf(propagation.getBaggage(ctx))).toBeUndefined();
    });

    it('never throws, whatever the carrier holds', () => {
      const value = fc.oneof(
        fc.string(),
        fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
        fc.array(fc.string()),
        fc.uint8Array().map((bytes) => Buffer.from(bytes)),
        fc.array(fc.uint8Array().map((bytes) => Buffer.from(bytes))),
        fc.anything(),
      );
      fc.assert(
        fc.property(value, (header) => {
          const ctx = extract({ baggage: header });
          expect(propagation.getBaggage(ctx)?.getAllEntries().length ?? 0).toBeLessThanOrEqual(64);
        }),
        { numRuns: 1000 },
      );
    });

    it('never throws when the getter or carrier throws', () => {
      const throwing: TextMapGetter = { keys: () => [], get: () => { throw new Error('boom'); } };
      expect(propagator.extract(ROOT_CONTEXT, {}, throwing)).toBe(ROOT_CONTEXT);
      const hostile = new Proxy({}, { get: () => { throw new Error('boom'); } });
      expect(extract(hostile)).toBe(ROOT_CONTEXT);
    });
  });

  describe('inject()', () => {
    it('forwards an unchanged inbound header as it came, without re-encoding (DESIGN decision 6)', () => {
      const header = 'a=x%2Cy ;p = 1, b = %C3%A9';
      const ctx = extract({ baggage: header });
      expect(rawBaggageHeaderOf(propagation.getBaggage(ctx))).toBe(header);
      expect(inject(ctx)).toEqual({ baggage: header });
    });

    it('counts and warns once about members dropped to keep within the limits when writing', () => {
      warnings.length = 0;
      const many = propagation.createBaggage(Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, { value: String(i) }])));
      const written = inject(propagation.setBaggage(ROOT_CONTEXT, many)).baggage as string;
      expect(written.split(',')).toHaveLength(64);
      const huge = propagation.createBaggage({ big: { value: 'x'.repeat(9000) }, small: { value: '1' } });
      expect(inject(propagation.setBaggage(ROOT_CONTEXT, huge))).toEqual({ baggage: 'small=1' });
      expect(diagnosticsSnapshot()['inject.baggage.over_limit']).toBe(7);
      expect(warnings.filter((warning) => warning.includes('outbound baggage went over 64 members or 8192 bytes'))).toHaveLength(1);
    });

    it('writes the members again once the baggage has changed', () => {
      const ctx = extract({ baggage: 'a = 1 ;p = 1, b = 2' });
      const changed = propagation.getBaggage(ctx)!.setEntry('c', { value: '3 4' });
      expect(rawBaggageHeaderOf(changed)).toBeUndefined();
      expect(inject(propagation.setBaggage(ctx, changed))).toEqual({ baggage: 'a=1;p=1,b=2,c=3%204' });
      const removed = propagation.getBaggage(ctx)!.removeEntry('b');
      expect(inject(propagation.setBaggage(ctx, removed))).toEqual({ baggage: 'a=1;p=1' });
    });

    it('does not forward a header that had invalid or empty members: it writes the valid ones', () => {
      expect(inject(extract({ baggage: 'a=1,,bad key=2, b=2' }))).toEqual({ baggage: 'a=1,b=2' });
    });

    it('writes the header lowercase and replaces one of another case', () => {
      const carrier: Record<string, string> = { Baggage: 'old=1' };
      propagator.inject(propagation.setBaggage(ROOT_CONTEXT, createBaggageFromMembers([{ key: 'a', value: '1', properties: [] }])), carrier, defaultTextMapSetter);
      expect(carrier).toEqual({ baggage: 'a=1' });
    });

    it('writes baggage made by OpenTelemetry, reading its metadata as properties', () => {
      const baggage = propagation.createBaggage({
        a: { value: 'x y', metadata: { toString: () => 'ttl = 60;bad key' } as never },
        'bad key': { value: 'dropped' },
      });
      expect(inject(propagation.setBaggage(ROOT_CONTEXT, baggage))).toEqual({ baggage: 'a=x%20y;ttl=60' });
    });

    it('writes nothing without baggage, with empty baggage, or when tracing is suppressed', () => {
      expect(inject(ROOT_CONTEXT)).toEqual({});
      expect(inject(propagation.setBaggage(ROOT_CONTEXT, new WireBaggage()))).toEqual({});
      const ctx = extract({ baggage: 'a=1' });
      expect(inject(suppressTracing(ctx))).toEqual({});
    });

    it('applies its own limits to what it writes, even to a forwarded header', () => {
      const ctx = extract({ baggage: 'a=1,b=2,c=3' });
      expect(inject(ctx, new BaggagePropagator({ limits: { maxMembers: 2 } }))).toEqual({ baggage: 'a=1,b=2' });
      expect(inject(ctx, new BaggagePropagator({ limits: { maxBytes: 7 } }))).toEqual({ baggage: 'a=1,b=2' });
    });

    it('uses a custom setter when one is given', () => {
      const written: [string, string][] = [];
      propagator.inject(extract({ baggage: 'a=1' }), {}, { set: (_carrier, key, value) => written.push([key, value]) });
      expect(written).toEqual([['baggage', 'a=1']]);
    });

    it('never throws when the setter throws', () => {
      expect(() => propagator.inject(extract({ baggage: 'a=1' }), {}, { set: () => { throw new Error('boom'); } })).not.toThrow();
      expect(diagnosticsSnapshot()['internal.error']).toBe(1);
    });
  });

  describe('options', () => {
    it('applies custom limits on extract', () => {
      const ctx = extract({ baggage: 'a=1,b=2,c=3' }, ROOT_CONTEXT, new BaggagePropagator({ limits: { maxMembers: 2 } }));
      expect(valuesOf(ctx)).toEqual({ a: '1', b: '2' });
    });

    it('throws InvalidOptionError for limits it cannot use', () => {
      expect(() => new BaggagePropagator({ limits: { maxMembers: 0 } })).toThrow(InvalidOptionError);
      expect(() => new BaggagePropagator({ limits: { maxBytes: 1.5 } })).toThrow(/limits\.maxBytes/);
    });
  });

  describe('linear time on a 1 MB hostile header', () => {
    function medianMs(carrier: unknown): number {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const start = process.hrtime.bigint();
        // Read the entries too, so lazily decoded work is timed.
        propagation.getBaggage(extract(carrier))?.getAllEntries();
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      return times.sort((a, b) => a - b)[2]!;
    }

    it.each([
      ['many members with one key', (n: number) => 'k=v,'.repeat(n / 4), { members: 1, overLimit: true }],
      ['many members', (n: number) => Array.from({ length: n / 10 }, (_, i) => `k${i}`.padEnd(8, '_') + '=v').join(','), { members: 64, overLimit: true }],
      ['one huge member', (n: number) => `k=${'='.repeat(n)}`, { members: 0, overLimit: true }],
      ['a huge value of escapes', (n: number) => `k=${'%E2%82%AC'.repeat(n / 9)}`, { members: 0, overLimit: true }],
      ['many properties', (n: number) => `k=v${';p'.repeat(n / 2)}`, { members: 0, overLimit: true }],
      ['many empty properties', (n: number) => `k=v${';'.repeat(n)}`, { members: 1, overLimit: false }],
      ['many invalid members', (n: number) => 'k v,'.repeat(n / 4), { members: 0, overLimit: false }],
    ])('%s: correct result, and 1 MB takes less than 30x the time of 100 KB', (_name, make, expected) => {
      resetDiagnostics();
      const large = { baggage: make(1_000_000) };
      const ctx = extract(large);
      expect(propagation.getBaggage(ctx)?.getAllEntries().length ?? 0).toBe(expected.members);
      expect((diagnosticsSnapshot()['extract.baggage.over_limit'] ?? 0) > 0).toBe(expected.overLimit);
      const small = { baggage: make(100_000) };
      medianMs(small);
      const ratio = medianMs(large) / Math.max(medianMs(small), 0.05);
      expect(ratio).toBeLessThan(30);
    });
  });
});
