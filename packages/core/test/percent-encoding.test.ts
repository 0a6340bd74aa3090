import fc from 'fast-check';
import { isBaggageOctet, percentDecode, percentEncode } from '../src/wire/percent-encoding';

// baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (W3C Baggage §3.3.1 Definition)
function specOctet(c: number): boolean {
  return c === 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

const utf8 = new TextDecoder('utf-8');
const asPercent = (bytes: Uint8Array): string => Array.from(bytes, (b) => `%${b.toString(16).padStart(2, '0')}`).join('');

describe('isBaggageOctet()', () => {
  it('matches the baggage-octet ranges of W3C Baggage §3.3.1 for every code unit below 0x100', () => {
    for (let c = 0; c < 0x100; c++) expect([c, isBaggageOctet(c)]).toEqual([c, specOctet(c)]);
  });
});

describe('percentDecode()', () => {
  it.each([
    ['§3.4: "DF%2028" decodes to "DF 28"', 'DF%2028', 'DF 28'],
    ['§3.4: "Am%C3%A9lie" decodes to "Amélie"', 'Am%C3%A9lie', 'Amélie'],
    ['RFC 3986 §2.1: lower-case hex digits are equivalent', 'Am%c3%a9lie', 'Amélie'],
    ['a 4-byte UTF-8 sequence', '%F0%9F%98%80', '😀'],
    ['an escaped percent sign', '50%25', '50%'],
    ['an escaped equals sign next to a literal one', 'a%3Db=c', 'a=b=c'],
  ])('%s', (_name, input, expected) => {
    expect(percentDecode(input)).toBe(expected);
  });

  it.each([
    ['a trailing "%"', '100%', '100%'],
    ['a "%" followed by one hex digit', '%4', '%4'],
    ['a "%" followed by non-hex characters', '%zz%G1', '%zz%G1'],
    ['a "%" before a valid escape', '%%41', '%A'],
  ])('keeps %s literally (a "%" is a baggage-octet; WHATWG URL percent-decode does the same)', (_name, input, expected) => {
    expect(percentDecode(input)).toBe(expected);
  });

  it.each([
    ['an invalid lead byte', '%FF', '\uFFFD'],
    ['a truncated 2-byte sequence at the end', 'x%C3', 'x\uFFFD'],
    ['a truncated sequence followed by ASCII', '%C3%28', '\uFFFD('],
    ['a truncated sequence followed by a literal character', '%E2%82a', '\uFFFDa'],
    ['an overlong encoding of "/"', '%C0%AF', '\uFFFD\uFFFD'],
    ['an encoded UTF-16 surrogate', '%ED%A0%80', '\uFFFD\uFFFD\uFFFD'],
    ['a code point above U+10FFFF', '%F4%90%80%80', '\uFFFD\uFFFD\uFFFD\uFFFD'],
  ])('§3.3.1.3: replaces %s with U+FFFD, as TextDecoder does', (_name, input, expected) => {
    expect(percentDecode(input)).toBe(expected);
  });

  it('§3.3.1.3: decodes any percent-encoded byte sequence exactly as the WHATWG UTF-8 decoder (TextDecoder)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        expect(percentDecode(asPercent(bytes))).toBe(utf8.decode(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('decodes only the given range', () => {
    expect(percentDecode('k=a%20b;p', 2, 7)).toBe('a b');
    expect(percentDecode('k=ab;p', 2, 4)).toBe('ab');
  });

  it('returns the same string when there is nothing to decode', () => {
    const text = 'nothing-to-decode';
    expect(percentDecode(text)).toBe(text);
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('%', 'C', '3', 'A', 'f', 'z', 'é', '\uD800') }), (text) => {
        expect(typeof percentDecode(text)).toBe('string');
      }),
    );
  });
});

describe('percentEncode()', () => {
  it.each([
    ['§3.4: "DF 28" encodes to "DF%2028"', 'DF 28', 'DF%2028'],
    ['§3.4: "Amélie" encodes to "Am%C3%A9lie"', 'Amélie', 'Am%C3%A9lie'],
    ['§3.3.1.3: the percent code point MUST be percent-encoded', '50%', '50%25'],
    ['a 4-byte code point', '😀', '%F0%9F%98%80'],
    ['CR and LF, which must never reach a header', 'a\r\nb', 'a%0D%0Ab'],
    ['comma, semicolon, DQUOTE and backslash', ',;"\\', '%2C%3B%22%5C'],
    ['a lone surrogate, as U+FFFD', 'a\uD800b', 'a%EF%BF%BDb'],
  ])('%s', (_name, input, expected) => {
    expect(percentEncode(input)).toBe(expected);
  });

  it('§3.3.1.3: encodes every ASCII code outside baggage-octet (and "%"), and no other', () => {
    for (let c = 0; c < 0x80; c++) {
      const ch = String.fromCharCode(c);
      const expected = specOctet(c) && c !== 0x25 ? ch : `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
      expect([c, percentEncode(ch)]).toEqual([c, expected]);
    }
  });

  it('returns the same string when there is nothing to encode', () => {
    const text = 'a=b/c:d!*~';
    expect(percentEncode(text)).toBe(text);
  });

  it('writes only baggage-octets for any input, lone surrogates included', () => {
    const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    fc.assert(
      fc.property(fc.string({ unit: anyCodeUnit }), (text) => {
        const encoded = percentEncode(text);
        const outside = [...encoded].filter((ch) => !specOctet(ch.charCodeAt(0)));
        expect(outside).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('is undone by decodeURIComponent (an independent decoder) for well-formed text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(decodeURIComponent(percentEncode(text))).toBe(text);
        expect(percentDecode(percentEncode(text))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});
