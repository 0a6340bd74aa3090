/**
 * The HTTP methods spans and metrics name as they are; any other is `_OTHER`. The semantic
 * conventions know RFC 9110's methods and PATCH by default, and ask that the list can be replaced
 * (WebDAV's `PROPFIND`, `PURGE`, `QUERY` are valid methods too), by the environment variable
 * `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` when it is done by one: a comma-separated,
 * case-sensitive list that replaces the default whole.
 * https://opentelemetry.io/docs/specs/semconv/registry/attributes/http/#http-request-method
 */
import { InvalidOptionError } from '../errors.js';

/** The environment variable the conventions name for the list. */
export const KNOWN_METHODS_ENV_VAR = 'OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS';

/** RFC 9110 §9's methods and PATCH (RFC 5789): the conventions' default. */
export const DEFAULT_KNOWN_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);

/** RFC 9110 §5.6.2 tchar: what a method, a token, is made of. */
function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const alphanumeric = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (!alphanumeric && "!#$%&'*+-.^_`|~".indexOf(text[i]!) === -1) return false;
  }
  return true;
}

/**
 * The known methods: `option` when given (an array of methods), else the environment variable
 * when it names any, else the default. Throws `InvalidOptionError` naming `optionPath` (or the
 * environment variable) for anything that is not a list of methods.
 *
 * @example
 * ```ts
 * resolveKnownMethods(['GET', 'POST', 'PROPFIND'], 'knownMethods').has('PROPFIND'); // true
 * ```
 */
export function resolveKnownMethods(option: unknown, optionPath: string, env: Readonly<Record<string, string | undefined>> = process.env): ReadonlySet<string> {
  if (option !== undefined) {
    if (!Array.isArray(option) || option.length === 0 || !option.every((method) => typeof method === 'string' && isToken(method))) {
      throw new InvalidOptionError(
        optionPath,
        'a non-empty array of HTTP methods (case-sensitive tokens)',
        option,
        `It replaces the default list whole. Example: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND'].`,
      );
    }
    return new Set(option as string[]);
  }
  const text = env[KNOWN_METHODS_ENV_VAR];
  if (text === undefined) return DEFAULT_KNOWN_METHODS;
  const methods = text.split(',').map((method) => method.trim()).filter((method) => method !== '');
  // An empty value is as if unset (OpenTelemetry's rule for its environment variables).
  if (methods.length === 0) return DEFAULT_KNOWN_METHODS;
  const invalid = methods.find((method) => !isToken(method));
  if (invalid !== undefined) {
    throw new InvalidOptionError(KNOWN_METHODS_ENV_VAR, 'a comma-separated list of HTTP methods (case-sensitive tokens)', text, `"${invalid}" is not a method. Example: GET,HEAD,POST,PUT,DELETE,PATCH,OPTIONS,PROPFIND.`);
  }
  return new Set(methods);
}
