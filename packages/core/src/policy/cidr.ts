/**
 * CIDR blocks (RFC 4632 for IPv4, RFC 4291 §2.3 for IPv6): parsed once from configuration, then
 * matched against IP address literals (destination hosts, inbound peers). IPv4-mapped IPv6
 * addresses (`::ffff:10.0.0.1`) match IPv4 blocks, so one rule covers both spellings Node uses
 * for the same peer.
 */
import { InvalidOptionError } from '../errors.js';
import { isLoopbackAddress, matchesPrefix, parseIpAddress } from './ip-address.js';

/**
 * A parsed CIDR block: the network address (host bits cleared) and the prefix length.
 *
 * @example
 * ```ts
 * const block: Cidr = parseCidr('10.1.2.3/8', 'trust.cidrs[0]');
 * block.family; // 4
 * block.bytes;  // Uint8Array [10, 0, 0, 0]
 * block.prefix; // 8
 * ```
 */
export interface Cidr {
  readonly family: 4 | 6;
  /** The network address: 4 bytes for IPv4, 16 for IPv6, with the host bits set to zero. */
  readonly bytes: Uint8Array;
  /** The prefix length in bits: 0–32 for IPv4, 0–128 for IPv6. */
  readonly prefix: number;
  /** The block as written in the configuration, for messages. */
  readonly text: string;
}

const EXPECTED = 'a CIDR block such as "10.0.0.0/8" or "fd00::/8", or a single IP address';

function fail(option: string, text: unknown): never {
  throw new InvalidOptionError(
    option,
    EXPECTED,
    text,
    'Write the network address, a slash and the prefix length; a bare address means that one host (/32 or /128).',
  );
}

/**
 * Parses a CIDR block (`10.0.0.0/8`, `fd00::/8`, `::ffff:10.0.0.0/104`) or a bare address (one
 * host: /32 or /128). Host bits below the prefix are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
 * A block written as IPv4-mapped IPv6 with a prefix of 96 or more becomes the IPv4 block.
 * Throws {@link InvalidOptionError} naming `option` when the text is not a block.
 *
 * @example
 * ```ts
 * parseCidr('192.168.0.0/16', 'destinations.rules[0].cidrs[0]');
 * // { family: 4, bytes: Uint8Array [192, 168, 0, 0], prefix: 16, text: '192.168.0.0/16' }
 * ```
 */
export function parseCidr(text: string, option: string): Cidr {
  if (typeof text !== 'string') fail(option, text);
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addressText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const address = parseIpAddress(addressText, true);
  if (address === undefined || addressText.charCodeAt(0) === 91 /* '[' */ || addressText.includes('%')) {
    fail(option, text);
  }
  const maxPrefix = address.family === 4 ? 32 : 128;
  let prefix = maxPrefix;
  if (slash >= 0) {
    const prefixText = trimmed.slice(slash + 1);
    if (prefixText.length === 0 || prefixText.length > 3) fail(option, text);
    prefix = 0;
    for (let i = 0; i < prefixText.length; i++) {
      const code = prefixText.charCodeAt(i);
      if (code < 48 || code > 57) fail(option, text);
      prefix = prefix * 10 + (code - 48);
    }
    if (prefix > maxPrefix) fail(option, text);
  }
  let family = address.family;
  let bytes = address.bytes;
  if (family === 6 && prefix >= 96 && isMapped(bytes)) {
    family = 4;
    bytes = bytes.slice(12);
    prefix -= 96;
  } else {
    bytes = bytes.slice();
  }
  clearHostBits(bytes, prefix);
  return { family, bytes, prefix, text: trimmed };
}

function isMapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

function clearHostBits(bytes: Uint8Array, prefix: number): void {
  const whole = prefix >> 3;
  const rest = prefix & 7;
  if (whole < bytes.length) {
    bytes[whole] = (bytes[whole] ?? 0) & ((0xff << (8 - rest)) & 0xff);
    bytes.fill(0, whole + 1);
  }
}

/**
 * Builds a matcher over a list of CIDR blocks (validated now: a bad entry throws
 * {@link InvalidOptionError} naming `option[index]`). The matcher takes an address as a string
 * (`10.0.0.1`, `::1`, `[::1]`, `::ffff:10.0.0.1`) and is false for anything that is not an IP
 * address, host names included. It never throws.
 *
 * @example
 * ```ts
 * const isOffice = createCidrMatcher(['10.0.0.0/8', 'fd00::/8'], 'trust.cidrs');
 * isOffice('::ffff:10.1.2.3'); // true
 * isOffice('8.8.8.8');         // false
 * ```
 */
export function createCidrMatcher(cidrs: readonly string[], option: string): (address: string) => boolean {
  if (!Array.isArray(cidrs)) {
    throw new InvalidOptionError(option, 'an array of CIDR blocks such as ["10.0.0.0/8"]', cidrs);
  }
  const v4: Cidr[] = [];
  const v6: Cidr[] = [];
  cidrs.forEach((text, index) => {
    const cidr = parseCidr(text, `${option}[${index}]`);
    (cidr.family === 4 ? v4 : v6).push(cidr);
  });
  return function matchesCidr(address: string): boolean {
    const parsed = parseIpAddress(address);
    if (parsed === undefined) return false;
    const blocks = parsed.family === 4 ? v4 : v6;
    for (const block of blocks) {
      if (matchesPrefix(parsed.bytes, block.bytes, block.prefix)) return true;
    }
    return false;
  };
}

/** The private, loopback and link-local blocks of {@link isPrivateAddress}. */
const PRIVATE_IPV4: readonly (readonly [number, number, number])[] = [
  // [first byte, second byte, prefix]: RFC 1918 §3, RFC 3927 (link-local), RFC 6598 (CGNAT).
  [10, 0, 8],
  [172, 16, 12],
  [192, 168, 16],
  [169, 254, 16],
  [100, 64, 10],
];

/**
 * True for addresses that cannot be a public internet host: loopback (`127.0.0.0/8`, `::1`),
 * private networks (RFC 1918: `10/8`, `172.16/12`, `192.168/16`), link-local (`169.254/16`,
 * `fe80::/10`), unique-local IPv6 (`fc00::/7`, RFC 4193) and carrier-grade NAT (`100.64/10`,
 * RFC 6598), in IPv4-mapped IPv6 form too. False for host names and public addresses.
 *
 * @example
 * ```ts
 * isPrivateAddress('172.20.0.5');     // true
 * isPrivateAddress('::ffff:8.8.8.8'); // false
 * ```
 */
export function isPrivateAddress(address: string): boolean {
  const parsed = parseIpAddress(address);
  if (parsed === undefined) return false;
  if (isLoopbackAddress(parsed)) return true;
  const bytes = parsed.bytes;
  if (parsed.family === 4) {
    const first = bytes[0] ?? 0;
    const second = bytes[1] ?? 0;
    for (const [a, b, prefix] of PRIVATE_IPV4) {
      if (first !== a) continue;
      const mask = (0xff << (16 - prefix)) & 0xff;
      if ((second & mask) === b) return true;
    }
    return false;
  }
  const first = bytes[0] ?? 0;
  if ((first & 0xfe) === 0xfc) return true; // fc00::/7
  return first === 0xfe && ((bytes[1] ?? 0) & 0xc0) === 0x80; // fe80::/10
}
