/**
 * Scrubbing a URL query before a span records it: the server span's `url.query` and the client
 * span's `url.full`. The HTTP conventions ask that sensitive content in both be scrubbed when an
 * instrumentation can tell it, starting with the values of signing keys
 * (https://opentelemetry.io/docs/specs/semconv/http/http-spans/, notes on `url.query` and
 * `url.full`). ctxprop also scrubs what its sensitive-data guard refuses in baggage: values under
 * keys that name credentials (token, password, secret, api key, session, ...) and values that look
 * like an e-mail address, a JSON Web Token, a bearer or basic credential or a card number. Keys
 * stay, so the query's shape is still there to read (`q=OpenTelemetry&sig=REDACTED`).
 */
import type { SensitiveDataGuard } from './sensitive-data.js';

/** What a scrubbed value is replaced with (the conventions' word). */
export const REDACTED = 'REDACTED';

/**
 * Keys whose values are always redacted, compared exactly: the signing keys the conventions name
 * (`AWSAccessKeyId`, `Signature`, `sig`, `X-Goog-Signature`) and the credential parts of AWS
 * Signature Version 4 presigned URLs.
 */
const SIGNING_KEYS: ReadonlySet<string> = new Set([
  'AWSAccessKeyId',
  'Signature',
  'sig',
  'X-Goog-Signature',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
]);

const PLUS = /\+/g;

/** A query component decoded as a form would be (`+` is a space), or undefined when it is not valid percent-encoding. */
function decodeComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text.indexOf('+') === -1 ? text : text.replace(PLUS, ' '));
  } catch {
    return undefined;
  }
}

/**
 * Returns `query` (without its `?`) with every sensitive value replaced by `REDACTED`: the values
 * of the signing keys, and those `guard` refuses, seeing the key and the value decoded (without a
 * guard, only the signing keys). An item with no `=` is checked as a value and replaced whole when
 * refused. Items are otherwise kept as received, undecodable ones included. Never throws.
 *
 * @example
 * ```ts
 * redactQuery('q=OpenTelemetry&sig=abc&access_token=x', defaultSensitiveDataGuard);
 * // 'q=OpenTelemetry&sig=REDACTED&access_token=REDACTED'
 * ```
 */
export function redactQuery(query: string, guard?: SensitiveDataGuard): string {
  let out = '';
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (start > 0) out += '&';
    out += redactItem(query.slice(start, end), guard);
    start = end + 1;
  }
  return out;
}

function redactItem(item: string, guard: SensitiveDataGuard | undefined): string {
  if (item === '') return item;
  const equals = item.indexOf('=');
  if (equals === -1) {
    if (guard === undefined) return item;
    const value = decodeComponent(item) ?? item;
    return guard('', value) === undefined ? item : REDACTED;
  }
  if (equals === item.length - 1) return item; // `key=`: nothing to hide
  const rawKey = item.slice(0, equals);
  const key = decodeComponent(rawKey) ?? rawKey;
  if (SIGNING_KEYS.has(key)) return rawKey + '=' + REDACTED;
  if (guard === undefined) return item;
  const rawValue = item.slice(equals + 1);
  const value = decodeComponent(rawValue) ?? rawValue;
  return guard(key, value) === undefined ? item : rawKey + '=' + REDACTED;
}
