/**
 * Baggage as one header per entry (Jaeger's `uberctx-{key}`, OpenTracing's `ot-baggage-{key}`):
 * held to the W3C Baggage limits (https://www.w3.org/TR/baggage/#limits) on the way out as on the
 * way in, so that a service forwarding what it was given cannot grow the request past what its
 * downstream accepts (Node refuses a request whose headers pass 16 KB with a 431); and reading
 * raw UTF-8 on the way in, which Node hands over byte by byte as Latin-1 (the bytes of `Renée`
 * would read as `RenÃ©e`), as the text it encodes, while a message carrier's text is kept.
 */
import { defaultTextMapGetter, defaultTextMapSetter, propagation, ROOT_CONTEXT, type Context, type TextMapPropagator } from '@opentelemetry/api';
import { diagnosticsSnapshot, JaegerPropagator, OTTracePropagator, resetDiagnostics } from '@ctxprop/core';

beforeEach(() => resetDiagnostics());

const withBaggage = (entries: Record<string, string>): Context =>
  propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage(Object.fromEntries(Object.entries(entries).map(([key, value]) => [key, { value }]))));

function inject(propagator: TextMapPropagator, ctx: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, defaultTextMapSetter);
  return carrier;
}

function entriesOf(ctx: Context): Record<string, string> {
  return Object.fromEntries((propagation.getBaggage(ctx)?.getAllEntries() ?? []).map(([key, entry]) => [key, entry.value]));
}

/** A string as Node's HTTP parser hands over the UTF-8 bytes of `text`: one Latin-1 character per byte. */
const asNodeReadsIt = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

describe.each([
  ['JaegerPropagator', new JaegerPropagator(), 'uberctx-'],
  ['OTTracePropagator', new OTTracePropagator(), 'ot-baggage-'],
] as const)('%s baggage headers', (_name, propagator, prefix) => {
  it('reads raw UTF-8 bytes, as Node hands a header over (one Latin-1 character per byte), as the text they encode', () => {
    const ctx = propagator.extract(ROOT_CONTEXT, { [`${prefix}name`]: asNodeReadsIt('Renée'), [`${prefix}city`]: asNodeReadsIt('Köln'), [`${prefix}tier`]: 'gold' }, defaultTextMapGetter);
    expect(entriesOf(ctx)).toEqual({ name: 'Renée', city: 'Köln', tier: 'gold' });
    expect(diagnosticsSnapshot()['extract.baggage.invalid_member']).toBeUndefined();
  });

  it("keeps a message carrier's text as it is (Jaeger's TEXT_MAP does not encode), and refuses a control character", () => {
    const ctx = propagator.extract(ROOT_CONTEXT, { [`${prefix}city`]: 'Zürich', [`${prefix}place`]: '東京', [`${prefix}bad`]: 'a\u0007b' }, defaultTextMapGetter);
    expect(entriesOf(ctx)).toEqual({ city: 'Zürich', place: '東京' });
    expect(diagnosticsSnapshot()['extract.baggage.invalid_member']).toBe(1);
  });

  it('reads at most 8,192 bytes of entries, and an entry left out takes nothing from the others (W3C Baggage §Limits: whole members)', () => {
    const ctx = propagator.extract(ROOT_CONTEXT, { [`${prefix}big`]: 'x'.repeat(9000), [`${prefix}small`]: '1', [`${prefix}tier`]: 'gold' }, defaultTextMapGetter);
    expect(entriesOf(ctx)).toEqual({ small: '1', tier: 'gold' });
    expect(diagnosticsSnapshot()['extract.baggage.over_limit']).toBe(1);
  });

  it('writes at most 64 entries and counts the rest as inject.baggage.over_limit', () => {
    const entries = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, 'v']));
    const headers = inject(propagator, withBaggage(entries));
    expect(Object.keys(headers).filter((name) => name.startsWith(prefix))).toHaveLength(64);
    expect(diagnosticsSnapshot()['inject.baggage.over_limit']).toBe(6);
  });

  it('writes at most 8,192 bytes of entries (key, separator and value as sent) and leaves a larger one out', () => {
    const headers = inject(propagator, withBaggage({ small: 'a', big: 'x'.repeat(20_000), after: 'b' }));
    expect(headers).toEqual({ [`${prefix}small`]: 'a', [`${prefix}after`]: 'b' });
    const sizes = Array.from({ length: 9 }, (_, i) => [`k${i}`, 'y'.repeat(997)] as const);
    const many = inject(propagator, withBaggage(Object.fromEntries(sizes)));
    const written = Object.entries(many).filter(([name]) => name.startsWith(prefix));
    // Each entry is 2 + 1 + 997 = 1,000 bytes: eight fit, the ninth would pass 8,192.
    expect(written).toHaveLength(8);
    expect(written.reduce((sum, [name, value]) => sum + name.length - prefix.length + 1 + value.length, 0)).toBeLessThanOrEqual(8192);
    expect(diagnosticsSnapshot()['inject.baggage.over_limit']).toBe(2);
  });
});

it("OTTracePropagator counts a value it cannot send as a header value as inject.baggage.invalid_member (its format has no encoding)", () => {
  const headers = inject(new OTTracePropagator(), withBaggage({ city: 'Köln', tier: 'gold' }));
  expect(headers).toEqual({ 'ot-baggage-tier': 'gold' });
  expect(diagnosticsSnapshot()['inject.baggage.invalid_member']).toBe(1);
});

it('JaegerPropagator counts a value it cannot URL-encode (a lone surrogate) as inject.baggage.invalid_member', () => {
  const headers = inject(new JaegerPropagator(), withBaggage({ broken: 'a\uD800b', tier: 'gold' }));
  expect(headers).toEqual({ 'uberctx-tier': 'gold' });
  expect(diagnosticsSnapshot()['inject.baggage.invalid_member']).toBe(1);
});
