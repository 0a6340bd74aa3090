/**
 * The sensitive-data guard: baggage travels in clear text to every service downstream and into
 * their logs, so members whose key or value looks like a credential or personal data are refused
 * (W3C Baggage §"Security Considerations" and §"Privacy Considerations" warn against putting
 * such data in baggage). Values are checked with hand-written loops: they come from the wire.
 *
 * @see https://www.w3.org/TR/baggage/#security-considerations
 */
import { InvalidOptionError, rejectUnknownOptions } from '../errors.js';

/**
 * Returns why a baggage member must not be sent (for example `'key looks like a credential:
 * token'`), or `undefined` when it may go.
 *
 * @example
 * ```ts
 * const guard: SensitiveDataGuard = (key, value) =>
 *   key.startsWith('internal.') ? 'internal keys stay inside' : defaultSensitiveDataGuard(key, value);
 * enableOutboundPropagation({ sensitiveData: guard });
 * ```
 */
export type SensitiveDataGuard = (key: string, value: string) => string | undefined;

/**
 * Options of {@link createSensitiveDataGuard}.
 *
 * @example
 * ```ts
 * const options: SensitiveDataOptions = { allowKeys: ['session.region'], keyPatterns: ['ssn'] };
 * enableOutboundPropagation({ sensitiveData: options });
 * setBaggage(ctx, entries, { sensitiveDataGuard: createSensitiveDataGuard(options) });
 * ```
 */
export interface SensitiveDataOptions {
  /**
   * `false` turns the guard off: every member may go.
   * @default true
   * @example createSensitiveDataGuard({ enabled: process.env.NODE_ENV !== 'test' })
   */
  enabled?: boolean;
  /**
   * Keys never refused, compared exactly (case-sensitive), for keys the built-in patterns
   * mistake for credentials.
   * @default []
   * @example createSensitiveDataGuard({ allowKeys: ['session.region'] })
   */
  allowKeys?: readonly string[];
  /**
   * More key patterns, added to the built-in ones: a string matches keys that contain it
   * (without regard to case), a RegExp is tested against the key.
   * @default []
   * @example createSensitiveDataGuard({ keyPatterns: ['ssn', /^user\.(email|phone)$/] })
   */
  keyPatterns?: readonly (string | RegExp)[];
  /**
   * One more value check, run after the built-in ones: returns a reason to refuse the member,
   * or `undefined`. It sees the decoded value; it must be fast and must not throw.
   * @default undefined
   * @example createSensitiveDataGuard({ valueCheck: (value) => (value.startsWith('sk_live_') ? 'value looks like a Stripe key' : undefined) })
   */
  valueCheck?: (value: string, key: string) => string | undefined;
}

/** Key fragments that name credentials or session state (compared in lower case). */
const CREDENTIAL_KEY_FRAGMENTS: readonly (readonly [fragment: string, label: string])[] = [
  ['authorization', 'authorization'],
  ['token', 'token'],
  ['password', 'password'],
  ['passwd', 'password'],
  ['secret', 'secret'],
  ['api_key', 'api key'],
  ['api-key', 'api key'],
  ['api.key', 'api key'],
  ['apikey', 'api key'],
  ['cookie', 'cookie'],
  ['session', 'session'],
];

const AUTHORIZATION_SCHEMES = ['bearer', 'basic'];

/** Payment card numbers have 13 to 19 digits (ISO/IEC 7812-1). */
const CARD_MIN_DIGITS = 13;
const CARD_MAX_DIGITS = 19;

/** A JWT header is base64url JSON, so it starts with `eyJ` (`{"`); RFC 7519 §3. */
const JWT_PREFIX = 'eyJ';
/** A header and payload shorter than this are not worth calling a token. */
const JWT_MIN_SEGMENT = 4;

function isBase64UrlChar(code: number): boolean {
  return (
    (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 45 || code === 95
  );
}

function isWhitespace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13;
}

function trimBounds(value: string): [number, number] {
  let start = 0;
  let end = value.length;
  while (start < end && isWhitespace(value.charCodeAt(start))) start++;
  while (end > start && isWhitespace(value.charCodeAt(end - 1))) end--;
  return [start, end];
}

/** True when `code` may end the local part of an address (RFC 5322 §3.2.3 atext, dots, or any non-ASCII). */
function isLocalPartChar(code: number): boolean {
  if (code <= 32 || code === 127) return false;
  // Delimiters around an address in text: `Name <a@b.c>`, `a@b.c, d@e.f`, `to: a@b.c`, `(a@b.c)`.
  return !(
    code === 64 || code === 60 || code === 62 || code === 40 || code === 41 || code === 91 || code === 93 ||
    code === 92 || code === 44 || code === 59 || code === 58 || code === 34
  );
}

function isAsciiLetter(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90);
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** Letters, digits, hyphens and dots, or non-ASCII (internationalized domains, RFC 5890). */
function isDomainChar(code: number): boolean {
  return isAsciiLetter(code) || isDigit(code) || code === 45 || code === 46 || code >= 128;
}

/** `@` itself, or `%40` (a value that was not decoded, such as an undecodable query value): its length, or 0. */
function atSignLength(value: string, i: number, end: number): number {
  const code = value.charCodeAt(i);
  if (code === 64) return 1;
  if (code === 37 && i + 2 < end && value.charCodeAt(i + 1) === 52 && value.charCodeAt(i + 2) === 48) return 3;
  return 0;
}

/**
 * True when the domain run `value[start, end)` (domain characters only, trailing dots removed)
 * is a mail domain: two or more non-empty labels, the last (the top-level domain) of two or
 * more characters starting with a letter (`com`, `xn--p1ai`; not `2024`). Two kinds are not:
 * a run that starts with two numeric labels is a version (`pkg@1.2.3-beta.rc`) or an IPv4
 * address, and one that starts with a pixel density (`logo@2x.png`, `icon@1.5x.webp`) is an
 * image name.
 */
function isMailDomain(value: string, start: number, end: number): boolean {
  let labels = 0;
  let labelStart = start;
  let numericLabels = 0;
  for (let i = start; i <= end; i++) {
    if (i < end && value.charCodeAt(i) !== 46) continue;
    if (i === labelStart) return false; // an empty label: `a@.b.c`, `a@b..c`
    let numeric = true;
    for (let j = labelStart; j < i && numeric; j++) numeric = isDigit(value.charCodeAt(j));
    if (labels === numericLabels && numeric) numericLabels++;
    labels++;
    if (i === end) {
      const first = value.charCodeAt(labelStart);
      if (labels < 2 || i - labelStart < 2 || !(isAsciiLetter(first) || first >= 128)) return false;
    }
    labelStart = i + 1;
  }
  if (numericLabels >= 2) return false;
  return !startsWithPixelDensity(value, start, end);
}

/** `2x.` or `1.5x.` at `start`: the `@2x` suffix of high-density image names. */
function startsWithPixelDensity(value: string, start: number, end: number): boolean {
  let i = start;
  while (i < end && isDigit(value.charCodeAt(i))) i++;
  if (i === start) return false;
  if (i < end && value.charCodeAt(i) === 46) {
    const fraction = ++i;
    while (i < end && isDigit(value.charCodeAt(i))) i++;
    if (i === fraction) return false;
  }
  return i + 1 < end && (value.charCodeAt(i) | 0x20) === 120 && value.charCodeAt(i + 1) === 46;
}

/**
 * True when `value` holds an address anywhere (`jdoe@example.com`, `Ana <ana@example.com>`,
 * `a@example.com,b@example.com`): an `@` (or `%40`) right after a local-part character and
 * followed by a mail domain (see {@link isMailDomain}). `user@localhost` and other names without
 * a dotted domain are not addresses: they are too common as tags (`tenant@v2`) to refuse.
 *
 * One forward scan, linear in the length: at each `@` the domain run is read once, and the scan
 * resumes where that run stopped; no character is read more than twice (the label checks in
 * isMailDomain read each domain character once more).
 */
function looksLikeEmail(value: string, start: number, end: number): boolean {
  let i = start + 1;
  while (i < end) {
    const at = atSignLength(value, i, end);
    if (at === 0 || !isLocalPartChar(value.charCodeAt(i - 1))) {
      i++;
      continue;
    }
    const domainStart = i + at;
    let domainEnd = domainStart;
    while (domainEnd < end && isDomainChar(value.charCodeAt(domainEnd))) domainEnd++;
    let trimmed = domainEnd;
    while (trimmed > domainStart && value.charCodeAt(trimmed - 1) === 46) trimmed--; // `... a@b.com.`
    if (trimmed > domainStart && isMailDomain(value, domainStart, trimmed)) return true;
    i = domainEnd > domainStart ? domainEnd : domainStart;
  }
  return false;
}

/**
 * A signed JWT, `header.payload.signature` (RFC 7515 §7.1, RFC 7519 §7.2), or an encrypted one,
 * `header.encryptedKey.iv.ciphertext.tag` (RFC 7516 §7.1): base64url segments, the header
 * starting `eyJ`.
 */
function looksLikeJwt(value: string, start: number, end: number): boolean {
  if (!value.startsWith(JWT_PREFIX, start)) return false;
  const lengths = [0, 0, 0, 0, 0];
  let segment = 0;
  for (let i = start; i < end; i++) {
    const code = value.charCodeAt(i);
    if (code === 46) {
      if (++segment > 4) return false;
      continue;
    }
    if (!isBase64UrlChar(code) && code !== 61) return false;
    lengths[segment]!++;
  }
  if (lengths[0]! < JWT_MIN_SEGMENT) return false;
  // A JWS signature may be empty (an unsecured JWT, `alg: none`, RFC 7519 §6.1).
  if (segment === 2) return lengths[1]! >= JWT_MIN_SEGMENT;
  // A JWE's encrypted key is empty with `alg: dir` (RFC 7518 §4.5), its IV and tag with
  // algorithms that use none (RFC 7516 §5.1): only the header is required.
  return segment === 4;
}

/** True when `value` has `word` (lower case ASCII letters) at `start`, in any case. */
function startsWithWord(value: string, start: number, word: string): boolean {
  if (value.length - start < word.length) return false;
  for (let i = 0; i < word.length; i++) {
    if ((value.charCodeAt(start + i) | 0x20) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/** `Bearer <token>` (RFC 6750 §2.1) or `Basic <credentials>` (RFC 7617 §2), scheme in any case. */
function authorizationScheme(value: string, start: number, end: number): string | undefined {
  for (const scheme of AUTHORIZATION_SCHEMES) {
    const length = scheme.length;
    if (end - start <= length + 1 || !startsWithWord(value, start, scheme)) continue;
    if (!isWhitespace(value.charCodeAt(start + length))) continue;
    let i = start + length + 1;
    while (i < end && isWhitespace(value.charCodeAt(i))) i++;
    if (i < end) return scheme;
  }
  return undefined;
}

/** 13–19 digits, optionally grouped by single spaces or hyphens, passing the Luhn check (ISO/IEC 7812-1 Annex B). */
function looksLikeCardNumber(value: string, start: number, end: number): boolean {
  if (end - start < CARD_MIN_DIGITS || end - start > CARD_MAX_DIGITS * 2) return false;
  let digits = 0;
  let sum = 0;
  let previousWasSeparator = true;
  // Luhn runs from the rightmost digit, doubling every second one.
  for (let i = end - 1; i >= start; i--) {
    const code = value.charCodeAt(i);
    if (code === 32 || code === 45) {
      if (previousWasSeparator) return false;
      previousWasSeparator = true;
      continue;
    }
    if (code < 48 || code > 57) return false;
    previousWasSeparator = false;
    let digit = code - 48;
    if (digits % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    digits++;
  }
  if (previousWasSeparator) return false;
  return digits >= CARD_MIN_DIGITS && digits <= CARD_MAX_DIGITS && sum % 10 === 0;
}

function builtInValueReason(value: string): string | undefined {
  const [start, end] = trimBounds(value);
  if (end - start < 6) return undefined;
  if (looksLikeEmail(value, start, end)) return 'value looks like an e-mail address';
  if (looksLikeJwt(value, start, end)) return 'value looks like a JSON Web Token';
  const scheme = authorizationScheme(value, start, end);
  if (scheme === 'bearer') return 'value looks like a bearer token';
  if (scheme === 'basic') return 'value looks like basic-auth credentials';
  if (looksLikeCardNumber(value, start, end)) return 'value looks like a payment card number';
  return undefined;
}

/** How many keys' verdicts a guard remembers before it starts over. */
const KEY_VERDICTS = 512;

function keyReasonOf(key: string, extraFragments: readonly string[], extraRegExps: readonly RegExp[]): string | undefined {
  const lower = key.toLowerCase();
  for (const [fragment, label] of CREDENTIAL_KEY_FRAGMENTS) {
    if (lower.includes(fragment)) return `key looks like a credential: ${label}`;
  }
  for (const fragment of extraFragments) {
    if (lower.includes(fragment)) return `key matches keyPatterns: ${fragment}`;
  }
  for (const pattern of extraRegExps) {
    pattern.lastIndex = 0;
    if (pattern.test(key)) return `key matches keyPatterns: ${String(pattern)}`;
  }
  return undefined;
}

const OPTION_KEYS: readonly string[] = ['enabled', 'allowKeys', 'keyPatterns', 'valueCheck'];

function validate(options: SensitiveDataOptions, prefix: string): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(prefix || 'sensitiveData', 'an options object such as { allowKeys: [...] }', options, 'Use { enabled: false } to turn the guard off.');
  }
  const name = (option: string): string => (prefix ? `${prefix}.${option}` : option);
  rejectUnknownOptions(options, OPTION_KEYS, prefix, prefix || 'createSensitiveDataGuard()');
  if (options.enabled !== undefined && typeof options.enabled !== 'boolean') {
    throw new InvalidOptionError(name('enabled'), 'true or false', options.enabled, 'false turns the guard off.');
  }
  if (options.allowKeys !== undefined) {
    if (!Array.isArray(options.allowKeys) || options.allowKeys.some((key) => typeof key !== 'string' || key === '')) {
      throw new InvalidOptionError(name('allowKeys'), 'an array of baggage keys (non-empty strings)', options.allowKeys, `Example: ['session.region'].`);
    }
  }
  if (options.keyPatterns !== undefined) {
    const ok =
      Array.isArray(options.keyPatterns) &&
      options.keyPatterns.every((pattern) => (typeof pattern === 'string' && pattern !== '') || pattern instanceof RegExp);
    if (!ok) {
      throw new InvalidOptionError(name('keyPatterns'), 'an array of non-empty strings or RegExps', options.keyPatterns, `Example: ['ssn', /^user\\.email$/].`);
    }
  }
  if (options.valueCheck !== undefined && typeof options.valueCheck !== 'function') {
    throw new InvalidOptionError(name('valueCheck'), 'a function (value, key) => reason | undefined', options.valueCheck);
  }
}

/**
 * Builds a guard that refuses baggage members whose key looks like a credential (authorization,
 * token, password, secret, api key, cookie, session) or whose value holds an e-mail address
 * anywhere (`Ana <ana@example.com>`; not `user@localhost` nor `pkg@1.2.3`), or looks like a JSON
 * Web Token (signed or encrypted), a bearer or basic credential, or a payment card number (Luhn-valid).
 * Options are validated now; a bad one, or an unknown key, throws {@link InvalidOptionError}
 * naming it under `optionPrefix` (`sensitiveData.allowKeys`). The guard never throws: a failing
 * `valueCheck` refuses the member.
 *
 * @example
 * ```ts
 * const guard = createSensitiveDataGuard({ allowKeys: ['session.region'] });
 * guard('user.token', 'abc');          // 'key looks like a credential: token'
 * guard('contact', 'ana@example.com'); // 'value looks like an e-mail address'
 * guard('tenant', 'acme');             // undefined
 * ```
 */
export function createSensitiveDataGuard(options: SensitiveDataOptions = {}, optionPrefix = 'sensitiveData'): SensitiveDataGuard {
  validate(options, optionPrefix);
  if (options.enabled === false) return function allowEverything(): undefined {
    return undefined;
  };
  const allowKeys = new Set(options.allowKeys ?? []);
  const extraFragments: string[] = [];
  const extraRegExps: RegExp[] = [];
  for (const pattern of options.keyPatterns ?? []) {
    if (typeof pattern === 'string') extraFragments.push(pattern.toLowerCase());
    else extraRegExps.push(pattern);
  }
  const valueCheck = options.valueCheck;
  // Services send the same few keys on every request: their verdicts are remembered (null: may go).
  const keyVerdicts = new Map<string, string | null>();
  const keyReason = (key: string): string | undefined => {
    const known = keyVerdicts.get(key);
    if (known !== undefined) return known ?? undefined;
    const reason = keyReasonOf(key, extraFragments, extraRegExps);
    if (keyVerdicts.size >= KEY_VERDICTS) keyVerdicts.clear();
    keyVerdicts.set(key, reason ?? null);
    return reason;
  };
  return function sensitiveDataGuard(key: string, value: string): string | undefined {
    if (allowKeys.has(key)) return undefined;
    const byKey = keyReason(key);
    if (byKey !== undefined) return byKey;
    const reason = builtInValueReason(value);
    if (reason !== undefined) return reason;
    if (valueCheck !== undefined) {
      try {
        const custom = valueCheck(value, key);
        if (typeof custom === 'string' && custom !== '') return custom;
      } catch {
        return 'valueCheck threw';
      }
    }
    return undefined;
  };
}

/**
 * The guard with the default settings, shared by every injection that is not given its own.
 *
 * @example
 * ```ts
 * defaultSensitiveDataGuard('authorization', 'x'); // 'key looks like a credential: authorization'
 * ```
 */
export const defaultSensitiveDataGuard: SensitiveDataGuard = createSensitiveDataGuard();
