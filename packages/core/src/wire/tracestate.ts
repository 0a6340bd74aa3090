/**
 * The W3C Trace Context `tracestate` header (Level 2): an immutable list of vendor entries that
 * implements OpenTelemetry's `TraceState`, and a one-pass parser that discards an invalid header
 * whole, as the spec asks (OpenTelemetry JS keeps the valid members of an invalid header and uses
 * the old key grammar; see DESIGN.md).
 *
 * Spec: https://www.w3.org/TR/trace-context-2/#tracestate-header
 */
import type { TraceState } from '@opentelemetry/api';

/**
 * Header name of the vendor state. Matched without regard to case when read, written in lowercase.
 * @see https://www.w3.org/TR/trace-context-2/#header-name-0
 *
 * @example
 * ```ts
 * const state = parseTracestate(readHeader(req.headers, TRACESTATE_HEADER));
 * ```
 */
export const TRACESTATE_HEADER = 'tracestate';

/**
 * Most list members a `tracestate` may hold; a header with more is discarded whole.
 * @see https://www.w3.org/TR/trace-context-2/#list
 *
 * @example
 * ```ts
 * const tooMany = Array.from({ length: MAX_TRACESTATE_MEMBERS + 1 }, (_, i) => `k${i}=1`).join(',');
 * parseTracestate(tooMany); // undefined (discarded whole)
 * ```
 */
export const MAX_TRACESTATE_MEMBERS = 32;

/**
 * Longest key (Level 2: the whole key, at signs included; Level 1's separate limits on the parts
 * of a `tenant@system` key are gone).
 * @see https://www.w3.org/TR/trace-context-2/#key
 *
 * @example
 * ```ts
 * parseTracestate(`${'k'.repeat(MAX_TRACESTATE_KEY_LENGTH + 1)}=1`); // undefined (key too long)
 * ```
 */
export const MAX_TRACESTATE_KEY_LENGTH = 256;

/**
 * Longest value.
 * @see https://www.w3.org/TR/trace-context-2/#value
 *
 * @example
 * ```ts
 * new TraceStateList().set('rojo', 'x'.repeat(MAX_TRACESTATE_VALUE_LENGTH + 1)).size; // 0 (value refused)
 * ```
 */
export const MAX_TRACESTATE_VALUE_LENGTH = 256;

const COMMA = 0x2c;
const EQUALS = 0x3d;
const AT = 0x40;
const SPACE = 0x20;
const TAB = 0x09;

const EMPTY: readonly string[] = [];

let createList: (keys: readonly string[], values: readonly string[], serialized: string | undefined) => TraceStateList;

/**
 * An immutable `tracestate`: `set` returns a new list with the entry moved (or added) to the front
 * and the list cut to {@link MAX_TRACESTATE_MEMBERS} from the end; `unset` returns a list without
 * the key; an invalid key or value leaves the list unchanged (`set` returns `this`). `serialize()`
 * is computed once and cached; a list parsed from a clean header serializes to that header
 * without any work.
 *
 * @example
 * ```ts
 * const state = new TraceStateList().set('rojo', '00f067aa0ba902b7').set('congo', 't61rcWkgMzE');
 * state.serialize(); // 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'
 * state.set('Bad Key', 'x') === state; // true
 * ```
 */
export class TraceStateList implements TraceState {
  // Parallel arrays, leftmost (most recent) entry first.
  #keys: readonly string[] = EMPTY;
  #values: readonly string[] = EMPTY;
  #serialized: string | undefined = '';

  static {
    createList = (keys, values, serialized) => {
      const list = new TraceStateList();
      list.#keys = keys;
      list.#values = values;
      list.#serialized = serialized;
      return list;
    };
  }

  /**
   * Number of entries.
   *
   * @example
   * ```ts
   * parseTracestate('a=1,b=2')?.size; // 2
   * ```
   */
  get size(): number {
    return this.#keys.length;
  }

  /**
   * The value of `key`, or `undefined`.
   *
   * @example
   * ```ts
   * parseTracestate('congo=t61rcWkgMzE')?.get('congo'); // 't61rcWkgMzE'
   * ```
   */
  get(key: string): string | undefined {
    const index = this.#keys.indexOf(key);
    return index < 0 ? undefined : this.#values[index];
  }

  /**
   * A list with `key=value` as its first entry (an existing entry of `key` is moved, per §3.5),
   * cut to 32 entries from the end. Returns `this` when the key or value is invalid or nothing
   * would change.
   *
   * @example
   * ```ts
   * parseTracestate('rojo=1,congo=2')?.set('congo', '3').serialize(); // 'congo=3,rojo=1'
   * ```
   */
  set(key: string, value: string): TraceStateList {
    if (typeof key !== 'string' || typeof value !== 'string') return this;
    if (!isValidKey(key, 0, key.length) || !isValidValue(value, 0, value.length)) return this;
    const keys = this.#keys;
    const values = this.#values;
    if (keys[0] === key && values[0] === value) return this;
    const nextKeys = [key];
    const nextValues = [value];
    for (let i = 0; i < keys.length && nextKeys.length < MAX_TRACESTATE_MEMBERS; i++) {
      if (keys[i] === key) continue;
      nextKeys.push(keys[i]!);
      nextValues.push(values[i]!);
    }
    return createList(nextKeys, nextValues, undefined);
  }

  /**
   * A list without `key` (or `this` when the key is absent).
   *
   * @example
   * ```ts
   * parseTracestate('rojo=1,congo=2')?.unset('rojo').serialize(); // 'congo=2'
   * ```
   */
  unset(key: string): TraceStateList {
    const index = this.#keys.indexOf(key);
    if (index < 0) return this;
    const keys = this.#keys.slice();
    const values = this.#values.slice();
    keys.splice(index, 1);
    values.splice(index, 1);
    return createList(keys, values, undefined);
  }

  /**
   * The header value: `key=value` entries joined by `,`, without optional whitespace or empty
   * members. Computed once.
   *
   * @example
   * ```ts
   * parseTracestate(' rojo=1 ,, congo=2')?.serialize(); // 'rojo=1,congo=2'
   * ```
   */
  serialize(): string {
    let serialized = this.#serialized;
    if (serialized === undefined) {
      serialized = '';
      const keys = this.#keys;
      const values = this.#values;
      for (let i = 0; i < keys.length; i++) serialized += (i === 0 ? '' : ',') + keys[i] + '=' + values[i];
      this.#serialized = serialized;
    }
    return serialized;
  }

  /**
   * The entries as `[key, value]` pairs, leftmost first.
   *
   * @example
   * ```ts
   * [...(parseTracestate('a=1,b=2') ?? new TraceStateList()).entries()]; // [['a', '1'], ['b', '2']]
   * ```
   */
  *entries(): IterableIterator<[string, string]> {
    const keys = this.#keys;
    const values = this.#values;
    for (let i = 0; i < keys.length; i++) yield [keys[i]!, values[i]!];
  }
}

/**
 * Parses `tracestate` header values into a {@link TraceStateList}. Several values (an array, one
 * per header line) are combined into one list in order (RFC 7230 §3.2.2). Empty members and spaces
 * or tabs around members are allowed. A header that breaks any rule — a bad key or value, a
 * duplicate key, more than 32 members — is discarded whole: the result is `undefined` (the caller
 * counts `extract.tracestate.malformed`). `undefined` or an empty array (no header) also gives
 * `undefined`; an empty header gives an empty list. Never throws; linear time.
 *
 * @example
 * ```ts
 * parseTracestate(['rojo=00f067aa0ba902b7', 'congo=t61rcWkgMzE'])?.serialize();
 * // 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'
 * parseTracestate('a=1,a=2'); // undefined (duplicate key)
 * ```
 */
export function parseTracestate(header: string | readonly string[] | undefined): TraceStateList | undefined {
  if (typeof header === 'string') return parseList(header);
  if (!Array.isArray(header) || header.length === 0) return undefined;
  for (let i = 0; i < header.length; i++) if (typeof header[i] !== 'string') return undefined;
  return parseList(header.length === 1 ? header[0] : header.join(','));
}

function parseList(text: string): TraceStateList | undefined {
  const length = text.length;
  let keys: string[] | undefined;
  let values: string[] | undefined;
  // True while the text equals its own serialization, so it can be kept as is.
  let clean = true;
  let position = 0;
  for (;;) {
    // §3.3.1.1: spaces and tabs surrounding list members are ignored.
    let start = position;
    while (start < length && isBlank(text.charCodeAt(start))) start++;
    let equals = -1;
    let end = start;
    while (end < length) {
      const code = text.charCodeAt(end);
      if (code === COMMA) break;
      if (code === EQUALS && equals < 0) equals = end;
      end++;
    }
    let last = end;
    while (last > start && isBlank(text.charCodeAt(last - 1))) last--;
    if (last === start) {
      // §3.3.1.1: empty and whitespace-only list members are allowed (and dropped).
      clean = false;
    } else {
      // Only a trailing blank is optional whitespace; the value keeps leading spaces (§3.3.1.3.2).
      if (equals < 0 || equals >= last) return undefined;
      if (!isValidKey(text, start, equals) || !isValidValue(text, equals + 1, last)) return undefined;
      if (keys === undefined || values === undefined) {
        keys = [];
        values = [];
      } else if (keys.length === MAX_TRACESTATE_MEMBERS) {
        return undefined;
      }
      const key = text.substring(start, equals);
      // §3.3.1.4: only one entry per key.
      if (keys.indexOf(key) >= 0) return undefined;
      keys.push(key);
      values.push(text.substring(equals + 1, last));
      if (start !== position || last !== end) clean = false;
    }
    if (end >= length) break;
    position = end + 1;
  }
  if (keys === undefined || values === undefined) return createList(EMPTY, EMPTY, '');
  return createList(keys, values, clean ? text : undefined);
}

function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
}

function isLowerAlpha(code: number): boolean {
  return code >= 0x61 && code <= 0x7a;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@" */
function isKeyChar(code: number): boolean {
  return isLowerAlpha(code) || isDigit(code) || code === 0x5f || code === 0x2d || code === 0x2a || code === 0x2f || code === AT;
}

/**
 * §3.3.1.3.1 key = ( lcalpha / DIGIT ) 0*255 ( keychar ). Level 2: "@" is a key character like
 * any other but the first, and only the whole key is limited (Level 1 had a separate
 * `tenant-id "@" system-id` form with a limit on each part; every such key is still valid).
 */
function isValidKey(text: string, start: number, end: number): boolean {
  const length = end - start;
  if (length < 1 || length > MAX_TRACESTATE_KEY_LENGTH) return false;
  const first = text.charCodeAt(start);
  if (!isLowerAlpha(first) && !isDigit(first)) return false;
  for (let i = start + 1; i < end; i++) {
    if (!isKeyChar(text.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * §3.3.1.3.2 value = 0*255(chr) nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E; chr = %x20 / nblk-chr
 */
function isValidValue(text: string, start: number, end: number): boolean {
  const length = end - start;
  if (length < 1 || length > MAX_TRACESTATE_VALUE_LENGTH) return false;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === COMMA || code === EQUALS) return false;
  }
  return text.charCodeAt(end - 1) !== SPACE;
}
