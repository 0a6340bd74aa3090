import fc from 'fast-check';
import {
  BAGGAGE_HEADER,
  formatBaggage,
  InvalidOptionError,
  isBaggageKey,
  MAX_BAGGAGE_BYTES,
  MAX_BAGGAGE_MEMBERS,
  parseBaggage,
  parseBaggageProperties,
  resolveBaggageLimits,
  type BaggageMember,
} from '@ctxprop/core';
import { invalidOptionOf } from './invalid-option';

const member = (key: string, value: string, properties: BaggageMember['properties'] = []): BaggageMember => ({ key, value, properties });
const keysOf = (header: string | string[]) => parseBaggage(header).members.map((m) => m.key);

// RFC 7230 §3.2.6 tchar
const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const tokenArb = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 12 });
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const propertyArb = fc.oneof(
  tokenArb.map((key) => ({ key })),
  fc.record({ key: tokenArb, value: fc.string({ unit: 'binary', maxLength: 12 }) }),
);
const memberArb = fc.record({ key: tokenArb, value: fc.string({ unit: 'binary', maxLength: 20 }), properties: fc.array(propertyArb, { maxLength: 3 }) });
const roomy = { maxMembers: 180, maxBytes: 10_000_000 };

describe('constants', () => {
  it('§3.1 and §3.3.2: header name "baggage", 64 members, 8192 bytes', () => {
    expect(BAGGAGE_HEADER).toBe('baggage');
    expect(MAX_BAGGAGE_MEMBERS).toBe(64);
    expect(MAX_BAGGAGE_BYTES).toBe(8192);
  });
});

describe('parseBaggage()', () => {
  it('§3.3.3: reads the example header into 3 members with their properties', () => {
    const parsed = parseBaggage('key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue');
    expect(parsed.members).toEqual([
      member('key1', 'value1', [{ key: 'property1' }, { key: 'property2' }]),
      member('key2', 'value2'),
      member('key3', 'value3', [{ key: 'propertyKey', value: 'propertyValue' }]),
    ]);
    expect(parsed.invalid).toBe(0);
    expect(parsed.overLimit).toBe(0);
  });

  it.each([
    ['§3.4 single header', 'userId=alice,serverNode=DF%2028,isProduction=false'],
    ['§3.4 split into multiple headers', ['userId=alice', 'serverNode=DF%2028,isProduction=false']],
    ['§3.4 names and values with spaces', ['userId =   alice', 'serverNode = DF%2028, isProduction = false']],
    ['§3.3.1 OWS is SP and HTAB around every separator', '\t userId\t=\talice \t,\tserverNode =DF%2028\t, isProduction= false \t'],
  ])('%s: reads userId="alice", serverNode="DF 28", isProduction=false', (_name, header) => {
    expect(parseBaggage(header).members).toEqual([member('userId', 'alice'), member('serverNode', 'DF 28'), member('isProduction', 'false')]);
  });

  it('§3.4: decodes a percent-encoded UTF-8 value ("Am%C3%A9lie" is "Amélie")', () => {
    expect(parseBaggage('userId=Am%C3%A9lie').members).toEqual([member('userId', 'Amélie')]);
  });

  it('§3.3.1.3: replaces percent-encoded bytes that are not UTF-8 with U+FFFD', () => {
    expect(parseBaggage('k=a%FFb').members).toEqual([member('k', 'a\uFFFDb')]);
  });

  it.each([
    ['"=" inside the value', 'k=a=b', 'a=b'],
    ['a value made of "="', 'k===', '=='],
    ['"=" in an encoded value', 'k=x%3Dy=z', 'x=y=z'],
  ])('§3.3.1.3: parsers MUST NOT assume "=" only separates key and value (%s)', (_name, header, value) => {
    expect(parseBaggage(header).members).toEqual([member('k', value)]);
  });

  it('§3.3.1.3: an empty value is a valid value (value = *baggage-octet)', () => {
    expect(parseBaggage('k=,j= ;p').members).toEqual([member('k', ''), member('j', '', [{ key: 'p' }])]);
  });

  it('§3.3.1.2: keys are tokens and are not percent-decoded', () => {
    expect(parseBaggage("a%20b=1,!#$&'*+-.^_`|~=2").members).toEqual([member('a%20b', '1'), member("!#$&'*+-.^_`|~", '2')]);
  });

  it.each([
    ['§3.3.1.2 a key with a space', 'bad key=1'],
    ['§3.3.1.2 a key with a DQUOTE', 'k"=1'],
    ['§3.3.1.2 a key with a separator "("', '(k)=1'],
    ['§3.3.1.2 a non-ASCII key', 'clé=1'],
    ['§3.3.1.2 an empty key', '=1'],
    ['§3.3.1 a member without "="', 'justakey'],
    ['§3.3.1 a member with properties but no value separator', 'k;p=1'],
    ['§3.3.1.3 a space inside the value', 'k=a b'],
    ['§3.3.1.3 a DQUOTE in the value', 'k="x"'],
    ['§3.3.1.3 a backslash in the value', 'k=a\\b'],
    ['§3.3.1.3 a non-ASCII character in the value', 'k=é'],
    ['§3.3.1.3 a control character in the value', 'k=a\u0001b'],
    ['§3.3.1.3 a DEL character in the value', 'k=a\u007f'],
    ['§3.3.1.4 a property with an invalid key', 'k=v;bad key=1'],
    ['§3.3.1.4 a property with a space in its value', 'k=v;p=a b'],
  ])('drops and counts %s, keeping its neighbours', (_name, bad) => {
    const parsed = parseBaggage(`a=1,${bad},b=2`);
    expect(parsed.members).toEqual([member('a', '1'), member('b', '2')]);
    expect(parsed.invalid).toBe(1);
    expect(parsed.raw).toBeUndefined();
  });

  it('§3.3.1.4: reads property values percent-decoded, with "=" inside, and OWS trimmed', () => {
    expect(parseBaggage('k=v ; ttl = 60 ;\tflag\t; note=a%20b=c').members).toEqual([
      member('k', 'v', [{ key: 'ttl', value: '60' }, { key: 'flag' }, { key: 'note', value: 'a b=c' }]),
    ]);
  });

  it('RFC 7230 §7: ignores empty list elements and empty properties without counting them', () => {
    const parsed = parseBaggage(', a=1,, ,b=2;;p;,');
    expect(parsed.members).toEqual([member('a', '1'), member('b', '2', [{ key: 'p' }])]);
    expect(parsed.invalid).toBe(0);
    expect(parsed.raw).toBeUndefined();
  });

  it('§3.3.1.1: keeps members with duplicate keys, in order', () => {
    expect(parseBaggage('k=1,j=2,k=3').members).toEqual([member('k', '1'), member('j', '2'), member('k', '3')]);
  });

  it('returns the trimmed header as raw when it is valid, complete and within limits', () => {
    expect(parseBaggage('  a=1;p , b = 2\t').raw).toBe('a=1;p , b = 2');
    expect(parseBaggage(['a=1', 'b=2']).raw).toBe('a=1,b=2');
  });

  it.each([
    ['undefined', undefined],
    ['an empty string', ''],
    ['only whitespace', ' \t '],
    ['an empty array', []],
    ['an array of non-strings', [1, null, {}] as unknown as string[]],
    ['a number', 42 as unknown as string],
  ])('reads %s as no members', (_name, header) => {
    expect(parseBaggage(header)).toEqual({ members: [], invalid: 0, overLimit: 0, raw: undefined });
  });

  describe('limits (§3.3.2)', () => {
    const many = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => `${prefix}${i}=v${i}`);

    it('keeps 64 members and drops the 65th whole', () => {
      const parsed = parseBaggage(many(65).join(','));
      expect(parsed.members).toHaveLength(64);
      expect(parsed.members[63]).toEqual(member('k63', 'v63'));
      expect(parsed.overLimit).toBe(1);
      expect(parsed.raw).toBeUndefined();
    });

    it('applies the limits to the combination of all baggage headers, not each one', () => {
      const parsed = parseBaggage([many(40, 'a').join(','), many(40, 'b').join(',')]);
      expect(parsed.members).toHaveLength(64);
      expect(parsed.members[63]!.key).toBe('b23');
      expect(parsed.overLimit).toBe(16);
    });

    it('keeps a single 4097-byte member (the spec has no per-member limit since 2022)', () => {
      const value = 'x'.repeat(4095);
      const parsed = parseBaggage(`k=${value}`);
      expect(`k=${value}`).toHaveLength(4097);
      expect(parsed.members).toEqual([member('k', value)]);
      expect(parsed.overLimit).toBe(0);
    });

    it('keeps a list of exactly 8192 bytes', () => {
      const header = `a=${'x'.repeat(4094)},b=${'y'.repeat(4093)}`;
      expect(header).toHaveLength(8192);
      expect(parseBaggage(header).members.map((m) => m.key)).toEqual(['a', 'b']);
      expect(parseBaggage(header).raw).toBe(header);
    });

    it('drops whole members, never part of one, when the list goes past 8192 bytes, and keeps later ones that fit', () => {
      const big = `big=${'x'.repeat(5000)}`;
      const header = ['a=1', big, big.replace('big', 'big2'), 'small=2'].join(',');
      const parsed = parseBaggage(header);
      expect(parsed.members).toEqual([member('a', '1'), member('big', 'x'.repeat(5000)), member('small', '2')]);
      expect(parsed.overLimit).toBe(1);
      expect(parsed.raw).toBeUndefined();
    });

    it('§3.3.3: counts member bytes as the spec example does (31 + 13 + 38, one byte per comma)', () => {
      const header = 'key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue';
      expect(keysOf(header)).toEqual(['key1', 'key2', 'key3']);
      expect(parseBaggage(header, { maxBytes: 31 + 1 + 13 + 1 + 38 }).members).toHaveLength(3);
      expect(parseBaggage(header, { maxBytes: 31 + 1 + 13 + 1 + 37 }).members.map((m) => m.key)).toEqual(['key1', 'key2']);
      // The members fit 84 bytes but the header text with its OWS (86 bytes) does not: no raw.
      expect(parseBaggage(header, { maxBytes: 84 }).raw).toBeUndefined();
    });

    it('applies custom limits', () => {
      const parsed = parseBaggage(many(5).join(','), { maxMembers: 2 });
      expect(parsed.members.map((m) => m.key)).toEqual(['k0', 'k1']);
      expect(parsed.overLimit).toBe(3);
    });
  });

  it('never throws and never returns members past the limits, for arbitrary text and arrays', () => {
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('=', ',', ';', ' ', '\t', '%', 'k', 'v', '"', 'é'), anyCodeUnit) });
    fc.assert(
      fc.property(fc.oneof(text, fc.array(text)), (header) => {
        const parsed = parseBaggage(header);
        expect(parsed.members.length).toBeLessThanOrEqual(MAX_BAGGAGE_MEMBERS);
        for (const m of parsed.members) expect(isBaggageKey(m.key)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('parseBaggageProperties()', () => {
  it('reads a property list and skips invalid properties (metadata strings of other implementations)', () => {
    expect(parseBaggageProperties(' ttl = 60;bad key;flag;x="q";n=%41')).toEqual([{ key: 'ttl', value: '60' }, { key: 'flag' }, { key: 'n', value: 'A' }]);
  });
});

describe('formatBaggage()', () => {
  it('§3.4: writes the spec examples exactly', () => {
    expect(formatBaggage([member('userId', 'alice'), member('serverNode', 'DF 28'), member('isProduction', 'false')])).toBe(
      'userId=alice,serverNode=DF%2028,isProduction=false',
    );
    expect(formatBaggage([member('userId', 'Amélie'), member('serverNode', 'DF 28'), member('isProduction', 'false')])).toBe(
      'userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false',
    );
  });

  it('§3.3.1.4: writes properties as ";key=value" and ";key", percent-encoding their values', () => {
    expect(formatBaggage([member('k', 'v', [{ key: 'ttl', value: '60 s' }, { key: 'flag' }])])).toBe('k=v;ttl=60%20s;flag');
  });

  it('§3.3.1.2: never writes a key that is not a token, nor a property whose key is not', () => {
    expect(formatBaggage([member('bad key', '1'), member('', '2'), member('clé', '3'), member('ok', '4', [{ key: 'a b', value: 'x' }, { key: 'p' }])])).toBe('ok=4;p');
  });

  it('writes duplicate keys as given', () => {
    expect(formatBaggage([member('k', '1'), member('k', '2')])).toBe('k=1,k=2');
  });

  it('§3.3.2: writes 64 members and drops the 65th whole', () => {
    const members = Array.from({ length: 65 }, (_, i) => member(`k${i}`, 'v'));
    const written = formatBaggage(members);
    expect(written.split(',')).toHaveLength(64);
    expect(written.endsWith('k63=v')).toBe(true);
  });

  it('§3.3.2: drops whole members that would go past 8192 bytes and keeps smaller later ones', () => {
    const written = formatBaggage([member('a', 'x'.repeat(5000)), member('b', 'y'.repeat(5000)), member('c', 'z')]);
    expect(written).toBe(`a=${'x'.repeat(5000)},c=z`);
    expect(formatBaggage([member('a', ' '.repeat(3000))])).toBe(''); // 9002 bytes once encoded
  });

  it('returns an empty string when nothing can be written', () => {
    expect(formatBaggage([])).toBe('');
  });

  it('never writes a character outside the header-safe set, whatever the keys, values and properties', () => {
    // Header-safe: tokens and baggage-octets, plus the "," and ";" separators.
    const safe = (c: number) => c === 0x2c || c === 0x3b || (c > 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c);
    const wild = fc.string({ unit: fc.oneof(anyCodeUnit, fc.constantFrom('\r', '\n', '\0', ' ', ',', ';', '"', '\\', '=', '%')) });
    const wildMember = fc.record({
      key: fc.oneof(tokenArb, wild),
      value: wild,
      properties: fc.array(fc.record({ key: fc.oneof(tokenArb, wild), value: fc.option(wild, { nil: undefined }) }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(wildMember, { maxLength: 8 }), (members) => {
        const written = formatBaggage(members);
        const unsafe = [...written].filter((ch) => !safe(ch.charCodeAt(0)));
        expect(unsafe).toEqual([]);
        expect(parseBaggage(written, roomy).invalid).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('parse(format(members)) gives the members back, for token keys and any Unicode values and properties', () => {
    fc.assert(
      fc.property(fc.array(memberArb, { maxLength: 10 }), (members) => {
        const parsed = parseBaggage(formatBaggage(members, roomy), roomy);
        expect(parsed.members).toEqual(members);
        expect(parsed.invalid).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});

describe('resolveBaggageLimits()', () => {
  it('fills in the W3C minimums by default', () => {
    expect(resolveBaggageLimits()).toEqual({ maxMembers: 64, maxBytes: 8192 });
    expect(resolveBaggageLimits({ maxMembers: 10 })).toEqual({ maxMembers: 10, maxBytes: 8192 });
  });

  it.each([
    ['limits.maxMembers', { maxMembers: 0 }],
    ['limits.maxMembers', { maxMembers: 181 }],
    ['limits.maxMembers', { maxMembers: 1.5 }],
    ['limits.maxMembers', { maxMembers: Number.NaN }],
    ['limits.maxMembers', { maxMembers: '64' as unknown as number }],
    ['limits.maxBytes', { maxBytes: 0 }],
    ['limits.maxBytes', { maxBytes: -1 }],
    ['limits.maxBytes', { maxBytes: Number.POSITIVE_INFINITY }],
    ['limits', 'big' as unknown as object],
  ])('throws InvalidOptionError naming "%s" for %p', (option, limits) => {
    const error = invalidOptionOf(() => resolveBaggageLimits(limits));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^ctxprop: option "limits/);
  });

  it('makes parseBaggage and formatBaggage throw for bad limits (configuration, not wire input)', () => {
    expect(() => parseBaggage('a=1', { maxMembers: -1 })).toThrow(InvalidOptionError);
    expect(() => formatBaggage([], { maxBytes: 0 })).toThrow(InvalidOptionError);
  });
});
