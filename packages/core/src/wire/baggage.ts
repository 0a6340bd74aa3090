/**
 * The W3C Baggage wire format ([W3C Baggage §3](https://www.w3.org/TR/baggage/#baggage-http-header-format)):
 * a single-pass, hand-written parser (no regex, no split, linear time on any input) and a
 * writer that only ever emits header-safe text.
 *
 * ```abnf
 * baggage-string = list-member 0*179( OWS "," OWS list-member )
 * list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
 * property       = key OWS "=" OWS value / key OWS
 * key            = token
 * value          = *baggage-octet
 * ```
 *
 * Decisions, with the spec text they follow:
 * - An invalid list-member is dropped and counted; its neighbours are kept (§3.5: a member not
 *   in the format MAY be removed). Empty list elements (`a=1,,b=2`) are ignored, as RFC 7230
 *   §7 asks of list recipients; an empty property (`a=1;`) is ignored likewise.
 * - Several headers are one list, and the limits apply to the combination (§3.3.2).
 * - Limits (§3.3.2): members are kept in order while the list stays within `maxMembers`
 *   members and `maxBytes` bytes (each member's text from its key to its last property, plus one
 *   comma between members); a member that does not fit is dropped whole, never truncated, and
 *   counted. There is no per-member limit (the 4096-byte one was removed from the spec in 2022).
 * - Duplicate keys: the parsed list keeps every member in order (§3.3.1.1: uniqueness is not
 *   guaranteed and the order of duplicates SHOULD be preserved). Where a single value per key
 *   is needed ({@link WireBaggage}), the last one wins (§3.5 leaves the choice to the
 *   implementation; this matches OpenTelemetry JS and Go).
 * - Keys are tokens and are not percent-decoded; values and property values are (§3.3.1.3).
 */
import type { BaggageMember, BaggageProperty } from '../baggage/types.js';
import { resolveBaggageLimits, type BaggageLimits, type ResolvedBaggageLimits } from './baggage-limits.js';
import { percentDecode, percentEncode } from './percent-encoding.js';

export { BAGGAGE_HEADER, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS, resolveBaggageLimits } from './baggage-limits.js';
export type { BaggageLimits, ResolvedBaggageLimits } from './baggage-limits.js';

/**
 * The result of {@link parseBaggage}.
 *
 * @example
 * ```ts
 * const { members, invalid, overLimit } = parseBaggage('a=1,b c=2');
 * // members: [{ key: 'a', value: '1', properties: [] }], invalid: 1, overLimit: 0
 * ```
 */
export interface ParsedBaggage {
  /** The members kept, decoded, in header order (duplicate keys included). */
  members: BaggageMember[];
  /** How many list-members were invalid and dropped. */
  invalid: number;
  /** How many valid list-members were dropped to stay within the limits. */
  overLimit: number;
  /**
   * The header text (several headers joined by `,`, outer whitespace trimmed) when it was
   * strictly valid, nothing was dropped and it fits `maxBytes`: it can then be forwarded as is.
   */
  raw: string | undefined;
}

// Character classes of ASCII codes: tchar (RFC 7230 §3.2.6), baggage-octet (§3.3.1), OWS.
const TCHAR = 1;
const OCTET = 2;
const OWS = 4;
const CLASS: Uint8Array = (() => {
  const table = new Uint8Array(128);
  for (let c = 0x21; c <= 0x7e; c++) table[c] = OCTET;
  for (const c of [0x22, 0x2c, 0x3b, 0x5c]) table[c] = 0; // DQUOTE , ; backslash
  for (const ch of "!#$%&'*+-.^_`|~0123456789") table[ch.charCodeAt(0)] |= TCHAR;
  for (let c = 0x41; c <= 0x5a; c++) table[c] |= TCHAR;
  for (let c = 0x61; c <= 0x7a; c++) table[c] |= TCHAR;
  table[0x20] = OWS;
  table[0x09] = OWS;
  return table;
})();

function classOf(c: number): number {
  // charCodeAt past the end is NaN, which is in no class: every loop stops there.
  return c < 128 ? CLASS[c]! : 0;
}

const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const PERCENT = 0x25;

/**
 * True when `key` can be written as a baggage key: an RFC 7230 token
 * ([W3C Baggage §3.3.1.2 key](https://www.w3.org/TR/baggage/#key)).
 *
 * @example
 * ```ts
 * isBaggageKey('user.id'); // true
 * isBaggageKey('user id'); // false
 * ```
 */
export function isBaggageKey(key: string): boolean {
  if (typeof key !== 'string' || key.length === 0) return false;
  for (let i = 0; i < key.length; i++) if ((classOf(key.charCodeAt(i)) & TCHAR) === 0) return false;
  return true;
}

/**
 * True when `text` holds a control character other than tab (U+0000 to U+001F, U+007F): property
 * text another implementation writes as it is (OpenTelemetry's metadata string) could split or end
 * the header with one.
 */
export function hasControlCharacter(text: string | undefined): boolean {
  if (text === undefined) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 32 && code !== 9) || code === 127) return true;
  }
  return false;
}

const EMPTY_PROPERTIES: readonly BaggageProperty[] = Object.freeze([]);

/**
 * `properties` and each of its properties frozen: a baggage's properties are handed out (by a
 * `BaggageView`, `baggagePropertiesOf`) and must not be changed through them.
 */
export function frozenProperties(properties: BaggageProperty[]): readonly BaggageProperty[] {
  if (properties.length === 0) return EMPTY_PROPERTIES;
  for (const property of properties) Object.freeze(property);
  return Object.freeze(properties);
}

function nextComma(text: string, i: number, end: number): number {
  const comma = text.indexOf(',', i);
  return comma < 0 ? end : comma;
}

/**
 * What {@link scanBaggage} found in a baggage list.
 *
 * @example
 * ```ts
 * const { kept, invalid, overLimit, raw } = scanBaggage('a=1,b c=2', resolveBaggageLimits());
 * // kept 1, invalid 1, overLimit 0, raw undefined
 * ```
 */
export interface BaggageScan {
  /** Valid members kept within the limits. */
  readonly kept: number;
  /** Invalid members dropped. */
  readonly invalid: number;
  /** Valid members dropped to stay within the limits. */
  readonly overLimit: number;
  /** The trimmed text, when it can be forwarded as is (see {@link ParsedBaggage.raw}). */
  readonly raw: string | undefined;
}

/**
 * Scans a baggage list once: checks every member against the grammar, applies the limits and,
 * when `members` is given, appends the kept members (decoded) to it. Linear time, and nothing
 * is allocated for members when `members` is not given. For ctxprop's propagators, which decode
 * lazily; use {@link parseBaggage} otherwise.
 *
 * @example
 * ```ts
 * const members: BaggageMember[] = [];
 * scanBaggage('a=1;p, b=x%20y', resolveBaggageLimits(), members).raw; // 'a=1;p, b=x%20y'
 * // members: [{ key: 'a', value: '1', properties: [{ key: 'p' }] }, { key: 'b', value: 'x y', properties: [] }]
 * ```
 */
export function scanBaggage(text: string, limits: ResolvedBaggageLimits, members?: BaggageMember[]): BaggageScan {
  const { maxMembers, maxBytes } = limits;
  const end = text.length;
  let kept = 0;
  let invalid = 0;
  let overLimit = 0;
  let bytes = 0;
  let strict = true;
  let i = 0;
  while (i <= end) {
    while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
    const start = i;
    if (i === end || text.charCodeAt(i) === COMMA) {
      // An empty element (`a=1,,b=2`, a trailing comma, a blank header): ignored, not forwarded.
      strict = false;
      i++;
      continue;
    }
    while (i < end && classOf(text.charCodeAt(i)) & TCHAR) i++;
    const keyStop = i;
    while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
    let valid = keyStop > start && i < end && text.charCodeAt(i) === EQUALS;
    let valueFrom = 0;
    let valueTo = 0;
    let encoded = false;
    let stop = keyStop;
    let propertiesFrom = -1;
    let memberStrict = true;
    if (valid) {
      i++;
      while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
      valueFrom = i;
      for (; i < end; i++) {
        const c = text.charCodeAt(i);
        if ((classOf(c) & OCTET) === 0) break;
        if (c === PERCENT) encoded = true;
      }
      valueTo = stop = i;
      while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
      while (i < end && text.charCodeAt(i) === SEMICOLON) {
        if (propertiesFrom < 0) propertiesFrom = i + 1;
        i++;
        while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
        const propertyFrom = i;
        while (i < end && classOf(text.charCodeAt(i)) & TCHAR) i++;
        if (i === propertyFrom) {
          const c = i < end ? text.charCodeAt(i) : COMMA;
          if (c === SEMICOLON || c === COMMA) {
            // An empty property (`a=1;`): ignored like an empty list element.
            memberStrict = false;
            continue;
          }
          valid = false;
          break;
        }
        stop = i;
        while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
        if (i < end && text.charCodeAt(i) === EQUALS) {
          i++;
          while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
          while (i < end && classOf(text.charCodeAt(i)) & OCTET) i++;
          stop = i;
          while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
        }
      }
      if (valid && i < end && text.charCodeAt(i) !== COMMA) valid = false;
    }
    if (!valid) {
      invalid++;
      i = nextComma(text, i, end) + 1;
      continue;
    }
    // Valid members are ASCII: their length is their size in bytes.
    const size = stop - start + (kept > 0 ? 1 : 0);
    i++;
    if (kept >= maxMembers || bytes + size > maxBytes) {
      overLimit++;
      continue;
    }
    kept++;
    bytes += size;
    if (!memberStrict) strict = false;
    if (members !== undefined) {
      members.push({
        key: text.slice(start, keyStop),
        value: encoded ? percentDecode(text, valueFrom, valueTo) : text.slice(valueFrom, valueTo),
        properties: propertiesFrom < 0 ? EMPTY_PROPERTIES : frozenProperties(parseBaggageProperties(text, propertiesFrom, stop)),
      });
    }
  }
  let raw: string | undefined;
  if (strict && invalid === 0 && overLimit === 0 && kept > 0) {
    let from = 0;
    while (classOf(text.charCodeAt(from)) === OWS) from++;
    let to = end;
    while (to > from && classOf(text.charCodeAt(to - 1)) === OWS) to--;
    if (to - from <= maxBytes) raw = from === 0 && to === end ? text : text.slice(from, to);
  }
  return { kept, invalid, overLimit, raw };
}

/**
 * Parses a property list (`k1=v1;flag;k2 = v2`, without the leading `;`) from `text[start..end)`.
 * Property values are percent-decoded. Invalid properties are skipped, so this also reads the
 * opaque metadata strings of other baggage implementations safely.
 *
 * @example
 * ```ts
 * parseBaggageProperties('ttl=60;sensitive'); // [{ key: 'ttl', value: '60' }, { key: 'sensitive' }]
 * ```
 */
export function parseBaggageProperties(text: string, start = 0, end = text.length): BaggageProperty[] {
  const properties: BaggageProperty[] = [];
  let i = start;
  while (i < end) {
    while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
    const keyStart = i;
    while (i < end && classOf(text.charCodeAt(i)) & TCHAR) i++;
    const keyStop = i;
    while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
    let value: string | undefined;
    if (i < end && text.charCodeAt(i) === EQUALS) {
      i++;
      while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
      const from = i;
      while (i < end && classOf(text.charCodeAt(i)) & OCTET) i++;
      value = percentDecode(text, from, i);
      while (i < end && classOf(text.charCodeAt(i)) === OWS) i++;
    }
    let valid = keyStop > keyStart;
    if (i < end && text.charCodeAt(i) !== SEMICOLON) {
      valid = false;
      const next = text.indexOf(';', i);
      i = next < 0 || next > end ? end : next;
    }
    if (valid) {
      const key = text.slice(keyStart, keyStop);
      properties.push(value === undefined ? { key } : { key, value });
    }
    i++;
  }
  return properties;
}

/**
 * The text of one or more `baggage` header values: several headers are one list (§3.3.2), so
 * they are joined by `,`. Anything that is not a string reads as no header.
 *
 * @example
 * ```ts
 * baggageHeaderText(['a=1', 'b=2']); // 'a=1,b=2'
 * baggageHeaderText(undefined);      // ''
 * ```
 */
export function baggageHeaderText(header: unknown): string {
  if (typeof header === 'string') return header;
  if (!Array.isArray(header)) return '';
  let text: string | undefined;
  for (const part of header as readonly unknown[]) {
    if (typeof part !== 'string') continue;
    text = text === undefined ? part : `${text},${part}`;
  }
  return text ?? '';
}

/**
 * Parses one or more `baggage` headers (several headers are one list) into decoded members,
 * keeping what fits the limits and counting what was dropped. Never throws on any input.
 *
 * @example
 * ```ts
 * parseBaggage(['userId=alice', 'serverNode=DF%2028;ttl=60, bad key=x']);
 * // { members: [{ key: 'userId', value: 'alice', properties: [] },
 * //             { key: 'serverNode', value: 'DF 28', properties: [{ key: 'ttl', value: '60' }] }],
 * //   invalid: 1, overLimit: 0, raw: undefined }
 * ```
 */
export function parseBaggage(header: string | readonly string[] | undefined, limits?: BaggageLimits): ParsedBaggage {
  const members: BaggageMember[] = [];
  const { invalid, overLimit, raw } = scanBaggage(baggageHeaderText(header), resolveBaggageLimits(limits), members);
  return { members, invalid, overLimit, raw };
}

/**
 * Writes a property list (`k1=v1;flag`, without a leading `;`), percent-encoding the values.
 * Properties whose key is not a token are left out.
 *
 * @example
 * ```ts
 * formatBaggageProperties([{ key: 'ttl', value: '60 s' }, { key: 'sensitive' }]); // 'ttl=60%20s;sensitive'
 * ```
 */
export function formatBaggageProperties(properties: readonly BaggageProperty[]): string {
  let out = '';
  for (const property of properties) {
    if (typeof property !== 'object' || property === null || !isBaggageKey(property.key)) continue;
    const value = property.value;
    const text = typeof value === 'string' ? `${property.key}=${percentEncode(value)}` : property.key;
    out = out === '' ? text : `${out};${text}`;
  }
  return out;
}

/**
 * Writes one list-member, `key=value;prop=v;flag`, or `undefined` when the key is not a token
 * (or the value not a string): such a member is never written.
 *
 * @example
 * ```ts
 * formatBaggageMember({ key: 'serverNode', value: 'DF 28', properties: [] }); // 'serverNode=DF%2028'
 * ```
 */
export function formatBaggageMember(member: BaggageMember): string | undefined {
  if (typeof member !== 'object' || member === null) return undefined;
  const { key, value, properties } = member;
  if (!isBaggageKey(key) || typeof value !== 'string') return undefined;
  const text = `${key}=${percentEncode(value)}`;
  if (!Array.isArray(properties) || properties.length === 0) return text;
  const list = formatBaggageProperties(properties);
  return list === '' ? text : `${text};${list}`;
}

/**
 * Writes a `baggage` header value: members joined by `,`, values and property values
 * percent-encoded. Members that would go past the limits are dropped whole (the next, smaller
 * member may still fit); members whose key is not a token are never written. Duplicate keys are
 * written as given. Returns `''` when nothing is left.
 *
 * @example
 * ```ts
 * formatBaggage([
 *   { key: 'userId', value: 'Amélie', properties: [] },
 *   { key: 'isProduction', value: 'false', properties: [{ key: 'ttl', value: '60' }] },
 * ]);
 * // 'userId=Am%C3%A9lie,isProduction=false;ttl=60'
 * ```
 */
export function formatBaggage(members: Iterable<BaggageMember>, limits?: BaggageLimits): string {
  return writeBaggage(members, limits).text;
}

/**
 * {@link formatBaggage}, also telling how many members were dropped to keep within the limits
 * (for the propagator to count). Not exported from the package.
 *
 * @example
 * ```ts
 * writeBaggage(members, { maxMembers: 2 }); // { text: 'a=1,b=2', overLimit: 1 } for three members
 * ```
 */
export function writeBaggage(members: Iterable<BaggageMember>, limits?: BaggageLimits): { readonly text: string; readonly overLimit: number } {
  const { maxMembers, maxBytes } = resolveBaggageLimits(limits);
  let out = '';
  let count = 0;
  let overLimit = 0;
  for (const member of members) {
    const text = formatBaggageMember(member);
    if (text === undefined) continue;
    // Written text is ASCII, so its length is its size in bytes.
    if (count >= maxMembers || out.length + (count > 0 ? 1 : 0) + text.length > maxBytes) {
      overLimit++;
      continue;
    }
    out = count > 0 ? `${out},${text}` : text;
    count++;
  }
  return { text: out, overLimit };
}
