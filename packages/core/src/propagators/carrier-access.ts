/**
 * What every propagator does at its edges, in one place: swap the API's case-sensitive default
 * getter/setter for core's case-insensitive ones (opentelemetry-js #3150), take the first value of
 * a header that came more than once, and skip injection when OpenTelemetry's `suppressTracing()`
 * is set (the SDK's exporters' own requests must carry no propagation headers).
 */
import {
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { headerGetter, headerSetter } from '../carrier/headers.js';

// The key OpenTelemetry's suppressTracing() sets; createContextKey is Symbol.for-based, so this is
// the very key @opentelemetry/core uses.
const SUPPRESS_TRACING_KEY = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/** The getter to read with: core's case-insensitive one in place of the API's default. */
export function getterFor(getter: TextMapGetter | undefined): TextMapGetter {
  return getter === undefined || getter === defaultTextMapGetter ? headerGetter : getter;
}

/** The setter to write with: core's in place of the API's default. */
export function setterFor(setter: TextMapSetter | undefined): TextMapSetter {
  return setter === undefined || setter === defaultTextMapSetter ? headerSetter : setter;
}

/** True when OpenTelemetry's `suppressTracing()` is set on `context`. */
export function isTracingSuppressed(context: Context): boolean {
  return context.getValue(SUPPRESS_TRACING_KEY) === true;
}

/**
 * The first value of a header that may come as an array or folded with commas, without the
 * optional white space around it; undefined when there is none.
 */
export function firstHeaderValue(value: unknown): string | undefined {
  const raw: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string') return undefined;
  let start = 0;
  let end = raw.indexOf(',');
  if (end < 0) end = raw.length;
  while (start < end && isOws(raw.charCodeAt(start))) start++;
  while (end > start && isOws(raw.charCodeAt(end - 1))) end--;
  if (start === end) return undefined;
  return start === 0 && end === raw.length ? raw : raw.slice(start, end);
}

/** Optional white space: space or horizontal tab (RFC 9110 §5.6.3). */
export function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
