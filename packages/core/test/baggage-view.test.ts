import { baggageEntryMetadataFromString, context, propagation, ROOT_CONTEXT, type Baggage } from '@opentelemetry/api';
import {
  BaggagePropagator,
  baggageMembersOf,
  baggagePropertiesOf,
  createBaggageFromMembers,
  createBaggageView,
  diagnosticsSnapshot,
  EMPTY_BAGGAGE_VIEW,
  ensureContextManager,
  getActiveBaggage,
  rawBaggageHeaderOf,
  resetDiagnostics,
  setBaggage,
  withBaggage,
  WireBaggage,
} from '@ctxprop/core';

const fromHeader = (header: string) =>
  propagation.getBaggage(new BaggagePropagator().extract(ROOT_CONTEXT, { baggage: header }, undefined as never))!;

describe('createBaggageView()', () => {
  it('is the frozen empty view when there is no baggage, never undefined', () => {
    const view = createBaggageView(undefined);
    expect(view).toBe(EMPTY_BAGGAGE_VIEW);
    expect(Object.isFrozen(view)).toBe(true);
    expect(view.size).toBe(0);
    expect(view.get('a')).toBeUndefined();
    expect(view.has('a')).toBe(false);
    expect([...view]).toEqual([]);
    expect(JSON.stringify(view)).toBe('{}');
  });

  it('reads baggage extracted from a header: values, properties, order', () => {
    const view = createBaggageView(fromHeader('tier=gold;ttl=60;flag, tenant=acme%2042'));
    expect(view.get('tier')).toBe('gold');
    expect(view.getEntry('tier')).toEqual({ value: 'gold', properties: [{ key: 'ttl', value: '60' }, { key: 'flag' }] });
    expect(view.getEntry('tenant')).toEqual({ value: 'acme 42', properties: [] });
    expect(view.getEntry('missing')).toBeUndefined();
    expect(view.has('tenant')).toBe(true);
    expect(view.size).toBe(2);
    expect([...view.keys()]).toEqual(['tier', 'tenant']);
    expect([...view.entries()]).toEqual([['tier', 'gold'], ['tenant', 'acme 42']]);
    expect([...view]).toEqual([['tier', 'gold'], ['tenant', 'acme 42']]);
    expect(JSON.parse(JSON.stringify(view))).toEqual({ tier: 'gold', tenant: 'acme 42' });
  });

  it('reads OpenTelemetry baggage, parsing its metadata strings into properties', () => {
    const view = createBaggageView(propagation.createBaggage({ a: { value: '1', metadata: baggageEntryMetadataFromString('ttl=60;flag') } }));
    expect(view.getEntry('a')).toEqual({ value: '1', properties: [{ key: 'ttl', value: '60' }, { key: 'flag' }] });
  });

  it('keeps "__proto__" as plain data in toJSON()', () => {
    const json = createBaggageView(fromHeader('__proto__=x,a=1')).toJSON();
    expect(Object.getPrototypeOf(json)).toBeNull();
    expect(Object.keys(json)).toEqual(['__proto__', 'a']);
    expect(json['__proto__']).toBe('x');
  });

  it('reads nothing until it is used', () => {
    const getAllEntries = jest.fn(() => [['a', { value: '1' }]] as ReturnType<Baggage['getAllEntries']>);
    const baggage = { ...propagation.createBaggage(), getAllEntries } as Baggage;
    const view = createBaggageView(baggage);
    expect(getAllEntries).not.toHaveBeenCalled();
    expect(view.get('a')).toBe('1');
    expect(view.size).toBe(1);
    expect(getAllEntries).toHaveBeenCalledTimes(1);
  });

  it('reads a Baggage implementation that throws as empty', () => {
    const baggage = { ...propagation.createBaggage(), getAllEntries: () => { throw new Error('boom'); } } as Baggage;
    expect(createBaggageView(baggage).size).toBe(0);
  });

  it('is read-only', () => {
    const view = createBaggageView(fromHeader('a=1'));
    expect(Object.isFrozen(view)).toBe(true);
    expect('set' in view).toBe(false);
  });

  it.each([
    ['extracted from a header', () => fromHeader('a=1;ttl=60')],
    ['set with setBaggage()', () => propagation.getBaggage(setBaggage(ROOT_CONTEXT, { a: { value: '1', properties: [{ key: 'ttl', value: '60' }] } }))!],
  ])('hands out properties no caller can change, of baggage %s (what is sent downstream stays as it was)', (_name, make) => {
    const baggage = make();
    const properties = createBaggageView(baggage).getEntry('a')!.properties;
    expect(Object.isFrozen(properties)).toBe(true);
    expect(properties.every((property) => Object.isFrozen(property))).toBe(true);
    expect(Reflect.set(properties[0]!, 'value', 'mutated')).toBe(false);
    expect(createBaggageView(baggage).getEntry('a')!.properties).toEqual([{ key: 'ttl', value: '60' }]);
    expect(baggagePropertiesOf(baggage.getEntry('a')!)).toEqual([{ key: 'ttl', value: '60' }]);
  });
});

describe('WireBaggage', () => {
  it('is immutable: changes return a new baggage and drop the raw header', () => {
    const baggage = fromHeader('a=1,b=2');
    expect(rawBaggageHeaderOf(baggage)).toBe('a=1,b=2');
    const changed = baggage.setEntry('c', { value: '3' });
    expect(baggage.getAllEntries().map(([key]) => key)).toEqual(['a', 'b']);
    expect(changed.getAllEntries().map(([key]) => key)).toEqual(['a', 'b', 'c']);
    expect(rawBaggageHeaderOf(changed)).toBeUndefined();
    expect(rawBaggageHeaderOf(baggage.removeEntries('a', 'b'))).toBeUndefined();
    expect(baggage.removeEntries('a', 'b').getAllEntries()).toEqual([]);
    expect(baggage.clear().getAllEntries()).toEqual([]);
  });

  it('gives entry metadata only when there are properties (OpenTelemetry writes ";" + metadata)', () => {
    const baggage = fromHeader('a=1;p=x%20y,b=2');
    expect(baggage.getEntry('a')?.metadata?.toString()).toBe('p=x%20y');
    expect(baggage.getEntry('b')).toEqual({ value: '2' });
    expect(baggagePropertiesOf(baggage.getEntry('a'))).toEqual([{ key: 'p', value: 'x y' }]);
  });

  it('keeps properties given by setEntry with OpenTelemetry metadata', () => {
    const baggage = new WireBaggage().setEntry('a', { value: '1', metadata: baggageEntryMetadataFromString('ttl=5') });
    expect(baggageMembersOf(baggage)).toEqual([{ key: 'a', value: '1', properties: [{ key: 'ttl', value: '5' }] }]);
  });

  it('copies the members it is built from', () => {
    const properties = [{ key: 'p', value: '1' }];
    const members = [{ key: 'a', value: '1', properties }];
    const baggage = createBaggageFromMembers(members);
    properties.push({ key: 'q', value: '2' });
    members.push({ key: 'b', value: '2', properties: [] });
    expect(baggageMembersOf(baggage)).toEqual([{ key: 'a', value: '1', properties: [{ key: 'p', value: '1' }] }]);
  });
});

describe('getActiveBaggage(), setBaggage(), withBaggage()', () => {
  beforeAll(() => ensureContextManager());
  beforeEach(() => resetDiagnostics());

  it('reads the empty view when the active context has no baggage', () => {
    expect(getActiveBaggage()).toBe(EMPTY_BAGGAGE_VIEW);
  });

  it('setBaggage adds and replaces entries on a context, with properties', () => {
    const base = setBaggage(ROOT_CONTEXT, { a: '1', b: '2' });
    const ctx = setBaggage(base, { b: { value: '3', properties: [{ key: 'ttl', value: '60' }] }, c: '4' });
    const view = getActiveBaggage(ctx);
    expect(view.toJSON()).toEqual({ a: '1', b: '3', c: '4' });
    expect(view.getEntry('b')?.properties).toEqual([{ key: 'ttl', value: '60' }]);
    expect(getActiveBaggage(base).get('b')).toBe('2');
  });

  it('setBaggage skips entries with a key that is not a token or a malformed value, and counts them', () => {
    const ctx = setBaggage(ROOT_CONTEXT, {
      'bad key': '1',
      ok: '2',
      bad: { value: 3 as unknown as string },
      badProperty: { value: 'x', properties: [{ key: 'a b' }] },
      // A control character in a property's value: no propagator could send it safely.
      controlProperty: { value: 'x', properties: [{ key: 'note', value: 'line\nbreak' }] },
    });
    expect(getActiveBaggage(ctx).toJSON()).toEqual({ ok: '2' });
    expect(diagnosticsSnapshot()['baggage.invalid_set']).toBe(4);
    expect(setBaggage(ROOT_CONTEXT, { 'bad key': '1' })).toBe(ROOT_CONTEXT);
  });

  it('withBaggage runs the function with the entries added, passes its arguments and returns its result', async () => {
    const result = withBaggage({ tenant: 'acme' }, (a: number, b: number) => {
      expect(getActiveBaggage().get('tenant')).toBe('acme');
      return a + b;
    }, 2, 3);
    expect(result).toBe(5);
    const nested = await withBaggage({ tenant: 'acme' }, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return withBaggage({ plan: 'gold' }, () => getActiveBaggage().toJSON());
    });
    expect(nested).toEqual({ tenant: 'acme', plan: 'gold' });
    expect(getActiveBaggage()).toBe(EMPTY_BAGGAGE_VIEW);
  });

  it('withBaggage registers the context manager again when it was disabled since (context.disable() between tests)', () => {
    expect(withBaggage({ a: '1' }, () => getActiveBaggage().get('a'))).toBe('1');
    context.disable();
    expect(withBaggage({ a: '2' }, () => getActiveBaggage().get('a'))).toBe('2');
  });

  it('withBaggage baggage is what the propagator writes', () => {
    const carrier: Record<string, string> = {};
    withBaggage({ user: 'Amélie' }, () => new BaggagePropagator().inject(context.active(), carrier, undefined as never));
    expect(carrier).toEqual({ baggage: 'user=Am%C3%A9lie' });
  });
});
