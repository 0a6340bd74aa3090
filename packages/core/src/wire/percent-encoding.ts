/**
 * Percent-encoding of baggage values and property values
 * ([W3C Baggage §3.3.1.3 value](https://www.w3.org/TR/baggage/#value), RFC 3986 §2.1).
 *
 * - Decoding turns `%XX` sequences into UTF-8 bytes and then into text; byte sequences that are
 *   not valid UTF-8 become U+FFFD, one per maximal invalid subpart (the WHATWG Encoding
 *   standard's decoder, which `TextDecoder` also follows). A `%` that is not followed by two hex
 *   digits is kept as a literal `%`: `%` is a baggage-octet, so such a value is still valid by
 *   the spec's grammar; §3.3.1.3 only obliges producers to encode `%`, and keeping it literally is
 *   what the WHATWG URL standard's percent-decode does too.
 * - Encoding writes every code point outside the baggage-octet set, and `%` itself, as the
 *   `%XX` of its UTF-8 bytes (upper-case hex, RFC 3986 §2.1). A lone surrogate is written as
 *   U+FFFD. So no control character, CR, LF, space, DQUOTE, comma, semicolon or backslash can
 *   reach a header.
 *
 * Both functions scan first and return the input untouched when there is nothing to do.
 */
import { hexByteAt } from './hex.js';

const PERCENT = 37; // '%'
const REPLACEMENT = '\uFFFD';

/**
 * `BAGGAGE_OCTET[c]` is 1 when the ASCII code `c` is a baggage-octet:
 * `%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`
 * ([§3.3.1 Definition](https://www.w3.org/TR/baggage/#definition)).
 */
const BAGGAGE_OCTET: Uint8Array = (() => {
  const table = new Uint8Array(128);
  for (let c = 0x21; c <= 0x7e; c++) table[c] = 1;
  table[0x22] = 0; // DQUOTE
  table[0x2c] = 0; // comma
  table[0x3b] = 0; // semicolon
  table[0x5c] = 0; // backslash
  return table;
})();

/**
 * True when the char code `c` is a baggage-octet (may appear unencoded in a value).
 *
 * @example
 * ```ts
 * isBaggageOctet('='.charCodeAt(0)); // true
 * isBaggageOctet(','.charCodeAt(0)); // false
 * ```
 */
export function isBaggageOctet(c: number): boolean {
  return c < 128 && BAGGAGE_OCTET[c] === 1;
}

const UPPER_HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => `%${i.toString(16).toUpperCase().padStart(2, '0')}`);

/** Reads the byte of a `%XX` at `at`, or -1 when there is none before `end`. */
function encodedByteAt(text: string, at: number, end: number): number {
  return at + 2 < end && text.charCodeAt(at) === PERCENT ? hexByteAt(text, at + 1) : -1;
}

/**
 * Decodes `text[start..end)`: `%XX` sequences become UTF-8 bytes, invalid UTF-8 becomes U+FFFD,
 * and a `%` without two hex digits after it stays a literal `%`. Never throws.
 *
 * @example
 * ```ts
 * percentDecode('Am%C3%A9lie'); // 'Amélie'
 * percentDecode('DF%2028');     // 'DF 28'
 * percentDecode('%FF');         // '\uFFFD'
 * percentDecode('100%');        // '100%'
 * ```
 */
export function percentDecode(text: string, start = 0, end = text.length): string {
  let i = text.indexOf('%', start);
  if (i < 0 || i >= end) return start === 0 && end === text.length ? text : text.slice(start, end);
  let out = '';
  let last = start;
  while (i < end) {
    const lead = encodedByteAt(text, i, end);
    if (lead < 0) {
      // Not an escape: a literal '%' or any other character, copied with the next slice.
      i = text.indexOf('%', i + 1);
      if (i < 0) break;
      continue;
    }
    out += text.slice(last, i);
    let next = i + 3;
    if (lead < 0x80) {
      out += String.fromCharCode(lead);
    } else {
      // UTF-8 per the WHATWG Encoding standard: bounds of the first continuation byte depend on
      // the lead byte (no overlongs, no surrogates, nothing above U+10FFFF).
      let needed = 0;
      let codePoint = 0;
      let lower = 0x80;
      let upper = 0xbf;
      if (lead >= 0xc2 && lead <= 0xdf) {
        needed = 1;
        codePoint = lead & 0x1f;
      } else if (lead >= 0xe0 && lead <= 0xef) {
        needed = 2;
        codePoint = lead & 0x0f;
        if (lead === 0xe0) lower = 0xa0;
        else if (lead === 0xed) upper = 0x9f;
      } else if (lead >= 0xf0 && lead <= 0xf4) {
        needed = 3;
        codePoint = lead & 0x07;
        if (lead === 0xf0) lower = 0x90;
        else if (lead === 0xf4) upper = 0x8f;
      }
      let complete = needed > 0;
      while (needed > 0) {
        const byte = encodedByteAt(text, next, end);
        if (byte < lower || byte > upper) {
          // The offending byte is not consumed: it starts the next sequence.
          complete = false;
          break;
        }
        lower = 0x80;
        upper = 0xbf;
        codePoint = (codePoint << 6) | (byte & 0x3f);
        next += 3;
        needed--;
      }
      out += complete ? String.fromCodePoint(codePoint) : REPLACEMENT;
    }
    last = next;
    i = text.indexOf('%', next);
    if (i < 0) break;
  }
  return last < end ? out + text.slice(last, end) : out;
}

/**
 * Percent-encodes a value for the `baggage` header: every code point outside the baggage-octet
 * set, and `%`, becomes the `%XX` of its UTF-8 bytes; a lone surrogate becomes `%EF%BF%BD`
 * (U+FFFD). The result only holds baggage-octets. Never throws.
 *
 * @example
 * ```ts
 * percentEncode('DF 28');    // 'DF%2028'
 * percentEncode('Amélie');   // 'Am%C3%A9lie'
 * percentEncode('a=b/c:d');  // 'a=b/c:d' (baggage-octets stay as they are)
 * percentEncode('50%');      // '50%25'
 * ```
 */
export function percentEncode(value: string): string {
  const length = value.length;
  let i = 0;
  while (i < length) {
    const c = value.charCodeAt(i);
    if (c >= 128 || BAGGAGE_OCTET[c] === 0 || c === PERCENT) break;
    i++;
  }
  if (i === length) return value;
  let out = value.slice(0, i);
  let last = i;
  for (; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c < 128 && BAGGAGE_OCTET[c] === 1 && c !== PERCENT) continue;
    if (last < i) out += value.slice(last, i);
    if (c < 0x80) {
      out += UPPER_HEX[c];
    } else if (c < 0x800) {
      out += UPPER_HEX[0xc0 | (c >> 6)]! + UPPER_HEX[0x80 | (c & 0x3f)]!;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const low = i + 1 < length ? value.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        const codePoint = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        out +=
          UPPER_HEX[0xf0 | (codePoint >> 18)]! +
          UPPER_HEX[0x80 | ((codePoint >> 12) & 0x3f)]! +
          UPPER_HEX[0x80 | ((codePoint >> 6) & 0x3f)]! +
          UPPER_HEX[0x80 | (codePoint & 0x3f)]!;
        i++;
      } else {
        out += '%EF%BF%BD';
      }
    } else {
      out += UPPER_HEX[0xe0 | (c >> 12)]! + UPPER_HEX[0x80 | ((c >> 6) & 0x3f)]! + UPPER_HEX[0x80 | (c & 0x3f)]!;
    }
    last = i + 1;
  }
  return last < length ? out + value.slice(last) : out;
}
