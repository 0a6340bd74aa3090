/**
 * IP address literals: parsing IPv4 dotted quads and IPv6 text forms (RFC 4291 §2.2, with `::`
 * compression, an embedded IPv4 tail and a zone id) into bytes, with hand-written loops (host
 * names come from the wire, so no regular expressions). IPv4-mapped IPv6 addresses
 * (`::ffff:10.0.0.1`) are reported as the IPv4 address they carry, so that one rule covers both
 * spellings.
 */

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

const COLON = 58;
const DOT = 46;
const PERCENT = 37;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const MAX_LITERAL_LENGTH = 100;

function digitValue(code: number): number {
  return code >= 48 && code <= 57 ? code - 48 : -1;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

/** Parses `a.b.c.d` between `start` and `end` into `out[offset..offset+3]`; false when invalid. */
function parseIpv4Into(text: string, start: number, end: number, out: Uint8Array, offset: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const code = i === end ? DOT : text.charCodeAt(i);
    if (code === DOT) {
      // Leading zeros are refused: some resolvers read `010` as octal (8), others as decimal.
      if (digits === 0 || part > 3 || (digits > 1 && text.charCodeAt(i - digits) === 48)) return false;
      out[offset + part] = value;
      part++;
      value = 0;
      digits = 0;
      continue;
    }
    const digit = digitValue(code);
    if (digit < 0 || digits === 3) return false;
    value = value * 10 + digit;
    if (value > 255) return false;
    digits++;
  }
  return part === 4;
}

/** Parses an IPv6 text form between `start` and `end` (no brackets, no zone) into 16 bytes. */
function parseIpv6(text: string, start: number, end: number): Uint8Array | undefined {
  const bytes = new Uint8Array(16);
  let length = 0; // bytes written
  let compressAt = -1; // byte index where `::` stands
  let i = start;
  if (i < end && text.charCodeAt(i) === COLON) {
    if (i + 1 >= end || text.charCodeAt(i + 1) !== COLON) return undefined;
    compressAt = 0;
    i += 2;
    if (i === end) return bytes; // `::`
  }
  while (i < end) {
    if (length === 16) return undefined;
    let value = 0;
    let digits = 0;
    const groupStart = i;
    while (i < end) {
      const hex = hexValue(text.charCodeAt(i));
      if (hex < 0) break;
      if (digits === 4) return undefined;
      value = value * 16 + hex;
      digits++;
      i++;
    }
    if (i < end && text.charCodeAt(i) === DOT) {
      // An embedded IPv4 tail fills the last 32 bits.
      if (length > 12 || !parseIpv4Into(text, groupStart, end, bytes, length)) return undefined;
      length += 4;
      i = end;
      break;
    }
    if (digits === 0) return undefined;
    bytes[length++] = value >> 8;
    bytes[length++] = value & 0xff;
    if (i === end) break;
    if (text.charCodeAt(i) !== COLON) return undefined;
    i++;
    if (i < end && text.charCodeAt(i) === COLON) {
      if (compressAt >= 0) return undefined;
      compressAt = length;
      i++;
      if (i === end) break;
    } else if (i === end) {
      return undefined; // a trailing single colon
    }
  }
  if (compressAt < 0) return length === 16 ? bytes : undefined;
  if (length === 16) return undefined; // `::` must stand for at least one group
  const tail = length - compressAt;
  bytes.copyWithin(16 - tail, compressAt, length);
  bytes.fill(0, compressAt, 16 - tail);
  return bytes;
}

function isMappedIpv4(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * Parses an IP address literal: `10.0.0.1`, `::1`, `[fe80::1%eth0]` (brackets and zone id are
 * accepted, as URL host names and `socket.remoteAddress` spell them). An IPv4-mapped IPv6
 * address is returned as the IPv4 address it carries unless `keepMapped` is true. Returns
 * `undefined` for anything else, host names included. Never throws.
 *
 * @example
 * ```ts
 * parseIpAddress('::ffff:10.0.0.1'); // { family: 4, bytes: Uint8Array [10, 0, 0, 1] }
 * parseIpAddress('api.example.com'); // undefined
 * ```
 */
export function parseIpAddress(text: string, keepMapped = false): IpAddress | undefined {
  if (typeof text !== 'string') return undefined;
  let start = 0;
  let end = text.length;
  if (end > 0 && text.charCodeAt(0) === OPEN_BRACKET) {
    if (text.charCodeAt(end - 1) !== CLOSE_BRACKET) return undefined;
    start = 1;
    end -= 1;
  }
  // The longest IPv6 text form is 45 characters; allow a zone id of reasonable length.
  if (end - start === 0 || end - start > MAX_LITERAL_LENGTH) return undefined;
  let hasColon = false;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === COLON) hasColon = true;
    else if (code === PERCENT) {
      // A zone id (`fe80::1%eth0`, RFC 6874) names an interface; it does not change the address.
      if (!hasColon || i === end - 1) return undefined;
      end = i;
      break;
    }
  }
  if (!hasColon) {
    if (start !== 0) return undefined; // brackets hold IPv6 only
    return parseShortIpv4(text, start, end);
  }
  const bytes = parseIpv6(text, start, end);
  if (bytes === undefined) return undefined;
  if (!keepMapped && isMappedIpv4(bytes)) return { family: 4, bytes: bytes.slice(12) };
  return { family: 6, bytes };
}

function parseShortIpv4(text: string, start: number, end: number): IpAddress | undefined {
  const bytes = new Uint8Array(4);
  return parseIpv4Into(text, start, end, bytes, 0) ? { family: 4, bytes } : undefined;
}

/**
 * True when the first `prefix` bits of `address` equal those of `network` (same family).
 *
 * @example
 * ```ts
 * matchesPrefix(parseIpAddress('10.1.2.3')!.bytes, new Uint8Array([10, 0, 0, 0]), 8); // true
 * ```
 */
export function matchesPrefix(address: Uint8Array, network: Uint8Array, prefix: number): boolean {
  if (address.length !== network.length) return false;
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== network[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((address[whole] ?? 0) & mask) === ((network[whole] ?? 0) & mask);
}

/**
 * True for loopback addresses: `127.0.0.0/8` and `::1` (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3).
 *
 * @example
 * ```ts
 * isLoopbackAddress('127.0.0.2'); // true
 * ```
 */
export function isLoopbackAddress(address: string | IpAddress): boolean {
  const parsed = typeof address === 'string' ? parseIpAddress(address) : address;
  if (parsed === undefined) return false;
  if (parsed.family === 4) return parsed.bytes[0] === 127;
  for (let i = 0; i < 15; i++) if (parsed.bytes[i] !== 0) return false;
  return parsed.bytes[15] === 1;
}
