/**
 * The last check before a propagation header reaches the wire: names must be tokens and values
 * field-values (RFC 9110 §5.1, §5.5). undici's request-create hook hands us the header list
 * after undici validated it, so what we add there is not validated again: a CR or LF here would
 * be header injection. Propagators should never produce such values (OpenTelemetry's baggage
 * propagator writes entry metadata unencoded), so this is defence in depth.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-5.5
 */

/**
 * True when `name` is an RFC 9110 token (`tchar`s only), fit to be a header name.
 *
 * @example
 * ```ts
 * isHeaderName('traceparent'); // true
 * isHeaderName('bad name');    // false
 * ```
 */
export function isHeaderName(name: string): boolean {
  if (typeof name !== 'string' || name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    const ok =
      (code >= 97 && code <= 122) ||
      (code >= 65 && code <= 90) ||
      (code >= 48 && code <= 57) ||
      code === 33 || (code >= 35 && code <= 39) || code === 42 || code === 43 || code === 45 || code === 46 ||
      code === 94 || code === 95 || code === 96 || code === 124 || code === 126;
    if (!ok) return false;
  }
  return true;
}

/**
 * True when `value` is a field-value with no control characters: visible ASCII, spaces and tabs
 * inside (not at either end), and obs-text (0x80–0xFF). CR, LF, NUL and every other control
 * character make it false.
 *
 * @example
 * ```ts
 * isHeaderValue('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'); // true
 * isHeaderValue('a=1\r\nx-injected: 1');                                   // false
 * ```
 */
export function isHeaderValue(value: string): boolean {
  if (typeof value !== 'string') return false;
  const last = value.length - 1;
  for (let i = 0; i <= last; i++) {
    const code = value.charCodeAt(i);
    if (code === 32 || code === 9) {
      if (i === 0 || i === last) return false;
      continue;
    }
    if (code < 33 || code === 127 || code > 255) return false;
  }
  return true;
}
