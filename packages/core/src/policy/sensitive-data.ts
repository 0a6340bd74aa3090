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

/** `local@domain.tld`: one `@`, a non-empty local part, a dotted domain of letters, digits and hyphens. */
function looksLikeEmail(value: string, start: number, end: number): boolean {
  const at = value.indexOf('@', start);
  if (at <= start || at >= end - 3) return false;
  for (let i = start; i < at; i++) {
    const code = value.charCodeAt(i);
    if (code <= 32 || code === 64 || code === 127 || code === 44 || code === 59) return false;
  }
  let dots = 0;
  let labelLength = 0;
  for (let i = at + 1; i < end; i++) {
    const code = value.charCodeAt(i);
    if (code === 46) {
      if (labelLength === 0) return false;
      dots++;
      labelLength = 0;
      continue;
    }
    const letterOrDigit = (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57);
    if (!letterOrDigit && code !== 45 && code < 128) return false;
    labelLength++;
  }
  return dots > 0 && labelLength >= 2;
}

/** `header.payload.signature`, base64url segments, header starting `eyJ`; RFC 7519 §7.2. */
function looksLikeJwt(value: string, start: number, end: number): boolean {
  if (end - start < 2 * JWT_MIN_SEGMENT + 2 || !value.startsWith(JWT_PREFIX, start)) return false;
  let segment = 0;
  let segmentLength = 0;
  for (let i = start; i < end; i++) {
    const code = value.charCodeAt(i);
    if (code === 46) {
      if (segment < 2 && segmentLength < JWT_MIN_SEGMENT) return false;
      segment++;
      segmentLength = 0;
      if (segment > 2) return false;
      continue;
    }
    if (!isBase64UrlChar(code) && code !== 61) return false;
    segmentLength++;
  }
  // The signature may be empty (an unsecured JWT, `alg: none`), still a token.
  return segment === 2;
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
 * token, password, secret, api key, cookie, session) or whose value looks like an e-mail
 * address, a JSON Web Token, a bearer or basic credential, or a payment card number (Luhn-valid).
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
