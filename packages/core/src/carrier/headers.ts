/**
 * Case-insensitive access to header carriers of every shape a Node.js service meets: Node's
 * `IncomingHttpHeaders` (strings and arrays), fetch `Headers`, plain objects with keys in any
 * case (a Java producer's `X-B3-TraceId`, opentelemetry-js #3150), `Map`s, and message headers
 * whose values are `Buffer`s (Kafka, AMQP). Reading never throws.
 */
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/**
 * One header value as carriers hold it.
 *
 * @example
 * ```ts
 * const messageHeaders: Record<string, HeaderValue> = { traceparent: Buffer.from('00-...'), baggage: ['a=1', 'b=2'] };
 * readHeader(messageHeaders, 'baggage'); // ['a=1', 'b=2']
 * ```
 */
export type HeaderValue = string | number | Uint8Array | readonly (string | Uint8Array)[] | null | undefined;

/**
 * Anything ctxprop can read headers from or write headers to.
 *
 * @example
 * ```ts
 * const carrier: HeaderCarrier = req.headers; // or new Headers(), new Map(), { 'X-B3-TraceId': buf }
 * ```
 */
export type HeaderCarrier =
  | Headers
  | Map<string, HeaderValue>
  | Record<string, HeaderValue>
  | { readonly [key: string]: unknown };

const decoder = new TextDecoder('utf-8');

/**
 * A fetch `Headers`: Node's global one or npm undici's (another class), told by its tag rather
 * than by `instanceof Headers`. Reading the global `Headers` makes Node 20 load its bundled undici
 * (about 2 MB of heap) in a process that never calls fetch.
 */
function isHeaders(carrier: object): carrier is Headers {
  const tagged = carrier as { [Symbol.toStringTag]?: unknown; get?: unknown };
  return tagged[Symbol.toStringTag] === 'Headers' && typeof tagged.get === 'function';
}

function toText(value: unknown): string | string[] | undefined {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    const out: string[] = [];
    for (const item of value) {
      const text = toText(item);
      if (typeof text === 'string') out.push(text);
      else if (text !== undefined) out.push(...text);
    }
    return out.length === 0 ? undefined : out.length === 1 ? out[0] : out;
  }
  if (value instanceof Uint8Array) return decoder.decode(value);
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

/** True when `key` equals `lower` (lower case) but for the case of ASCII letters. */
function equalsIgnoringCase(key: string, lower: string): boolean {
  if (key === lower) return true;
  for (let i = 0; i < lower.length; i++) {
    const a = key.charCodeAt(i);
    const b = lower.charCodeAt(i);
    if (a !== b && !(a >= 0x41 && a <= 0x5a && a + 0x20 === b)) return false;
  }
  return true;
}

/**
 * A key `record` lists, other than `lower`, that is `lower` in another case: a second line of the
 * same header. Not exported from the package (the propagators' fast paths use it).
 *
 * @example
 * ```ts
 * otherSpellingOf({ baggage: 'a=1', Baggage: 'b=2' }, 'baggage'); // 'Baggage'
 * ```
 */
export function otherSpellingOf(record: Record<string, unknown>, lower: string): string | undefined {
  const length = lower.length;
  for (const key in record) {
    if (key.length === length && key !== lower && equalsIgnoringCase(key, lower)) return key;
  }
  return undefined;
}

/**
 * Reads one header, matching its name without regard to case. Returns a string, an array of
 * strings when the carrier holds several values (an array, or the same name in several cases in a
 * plain object or Map: `{ baggage: 'a=1', Baggage: 'b=2' }` holds two lines), or `undefined`.
 * Buffers are decoded as UTF-8.
 *
 * @example
 * ```ts
 * readHeader({ 'X-B3-TraceId': Buffer.from('80f1...') }, 'x-b3-traceid'); // '80f1...'
 * ```
 */
export function readHeader(carrier: unknown, name: string): string | string[] | undefined {
  if (typeof carrier !== 'object' || carrier === null) return undefined;
  try {
    const lower = name.toLowerCase();
    if (isHeaders(carrier)) return carrier.get(lower) ?? undefined;
    // The same name in another spelling is a second header line, which must count (two
    // traceparent lines are refused; tracestate and baggage lines combine): all are read, in the
    // carrier's order. Without one, the value under the name as asked, read directly (a getter, a
    // non-enumerable property or a Proxy's get trap answer too).
    if (carrier instanceof Map) {
      const values: unknown[] = [];
      for (const [key, value] of carrier) {
        if (typeof key === 'string' && key.length === lower.length && equalsIgnoringCase(key, lower)) values.push(value);
      }
      return toText(values.length === 1 ? values[0] : values);
    }
    const record = carrier as Record<string, unknown>;
    const direct = record[lower];
    if (otherSpellingOf(record, lower) === undefined) return toText(direct);
    const values: unknown[] = [];
    let listed = false;
    for (const key in record) {
      if (key.length !== lower.length || !equalsIgnoringCase(key, lower)) continue;
      if (key === lower) listed = true;
      values.push(record[key]);
    }
    if (!listed && direct !== undefined) values.unshift(direct);
    return toText(values);
  } catch {
    // A hostile carrier (a throwing getter or Proxy) reads as "no header".
    return undefined;
  }
}

/**
 * Lists the header names of a carrier (as the carrier spells them).
 *
 * @example
 * ```ts
 * headerKeys(new Headers({ Baggage: 'a=1' })); // ['baggage']
 * ```
 */
export function headerKeys(carrier: unknown): string[] {
  if (typeof carrier !== 'object' || carrier === null) return [];
  try {
    if (isHeaders(carrier)) return [...carrier.keys()];
    if (carrier instanceof Map) return [...carrier.keys()].filter((key): key is string => typeof key === 'string');
    return Object.keys(carrier);
  } catch {
    return [];
  }
}

/**
 * Writes one header, replacing any existing header of the same name in another case, so a
 * carrier never ends up with both `Traceparent` and `traceparent`.
 *
 * @example
 * ```ts
 * const headers: Record<string, string> = { Traceparent: 'old' };
 * writeHeader(headers, 'traceparent', '00-...');
 * // headers is now { traceparent: '00-...' }
 * ```
 */
export function writeHeader(carrier: unknown, name: string, value: string): void {
  if (typeof carrier !== 'object' || carrier === null) return;
  if (isHeaders(carrier)) {
    carrier.set(name, value);
    return;
  }
  // Other spellings go; the name as written keeps its place.
  deleteSpellings(carrier, name.toLowerCase(), name);
  if (carrier instanceof Map) carrier.set(name, value);
  else (carrier as Record<string, unknown>)[name] = value;
}

/** Deletes every key of a `Map` or plain-object carrier that is `lower` in some spelling, but `except`. */
function deleteSpellings(carrier: object, lower: string, except: string | undefined): void {
  if (carrier instanceof Map) {
    for (const key of [...carrier.keys()]) {
      if (typeof key === 'string' && key !== except && key.length === lower.length && key.toLowerCase() === lower) carrier.delete(key);
    }
    return;
  }
  const record = carrier as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== except && key.length === lower.length && key.toLowerCase() === lower) delete record[key];
  }
}

/**
 * A `TextMapGetter` that reads any {@link HeaderCarrier} without regard to case. ctxprop's
 * propagators use it when none is given; it can be handed to OpenTelemetry's propagators too.
 *
 * @example
 * ```ts
 * propagation.extract(ROOT_CONTEXT, { TraceParent: '00-...' }, headerGetter);
 * ```
 */
export const headerGetter: TextMapGetter<unknown> = {
  keys: headerKeys,
  get: readHeader,
};

/** True when `name` has a character `toLowerCase` would change (ASCII capitals, or anything past ASCII). */
function needsLowering(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c > 0x7f) return true;
  }
  return false;
}

/**
 * A `TextMapGetter` for Node's `IncomingHttpHeaders` (`req.headers`), whose names Node's parser
 * has lowercased: each header is one property lookup. {@link headerGetter} also walks every
 * name when a header is absent, looking for it in another case, which a request pays for each
 * absent header (`tracestate`, and every configured format's header when the request carries no
 * trace context). A header that code running before ctxprop added to `req.headers` in another
 * case is not seen. The inbound adapters use it; a name asked for in capitals is also looked up
 * lowered when it is not held as asked.
 *
 * @example
 * ```ts
 * const ctx = propagation.extract(ROOT_CONTEXT, req.headers, lowercaseHeaderGetter);
 * ```
 */
export const lowercaseHeaderGetter: TextMapGetter<unknown> = {
  keys: headerKeys,
  get(carrier: unknown, name: string): string | string[] | undefined {
    if (typeof carrier !== 'object' || carrier === null) return undefined;
    try {
      const record = carrier as Record<string, unknown>;
      // Propagators ask for lowercase names: the first lookup answers them, present or absent.
      let value = record[name];
      if (value === undefined && needsLowering(name)) value = record[name.toLowerCase()];
      return value === undefined ? undefined : toText(value);
    } catch {
      // A hostile carrier (a throwing getter or Proxy) reads as "no header".
      return undefined;
    }
  },
};

/**
 * A `TextMapSetter` that writes any {@link HeaderCarrier}, replacing a same-named header in
 * another case.
 *
 * @example
 * ```ts
 * propagation.inject(context.active(), headers, headerSetter);
 * ```
 */
export const headerSetter: TextMapSetter<unknown> = {
  set: writeHeader,
};

/**
 * Removes a header from a carrier in every spelling of its name (`Traceparent`, `traceparent`):
 * a plain object, a `Map` or a fetch `Headers`. Other carriers are left as they are.
 *
 * @example
 * ```ts
 * const headers: Record<string, string> = { TraceState: 'old=1', other: 'x' };
 * removeHeader(headers, 'tracestate'); // headers is now { other: 'x' }
 * ```
 */
export function removeHeader(carrier: unknown, name: string): void {
  if (typeof carrier !== 'object' || carrier === null) return;
  if (isHeaders(carrier)) carrier.delete(name.toLowerCase());
  else deleteSpellings(carrier, name.toLowerCase(), undefined);
}
