/**
 * Baggage carried as one header per entry under a prefix (`uberctx-{key}` for Jaeger,
 * `ot-baggage-{key}` for OpenTracing): read into the context's baggage, and written from it.
 * Extracted entries are held to the W3C Baggage limits (https://www.w3.org/TR/baggage/#limits) so
 * that they can still be forwarded as one `baggage` header.
 */
import { propagation, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { countDiagnostic, warnOnce } from '../diagnostics/diagnostics.js';
import { MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS } from '../wire/baggage-limits.js';
import { isBaggageKey } from '../wire/baggage.js';

/**
 * Writes each baggage entry of `context` as a `{prefix}{key}` header, within the W3C Baggage
 * limits (64 entries, 8,192 bytes of keys, separators and values as written, as one `baggage`
 * header would hold them): an entry that would go over is left out and counted as
 * `inject.baggage.over_limit` (a downstream server refuses a request whose headers are too large
 * as a whole). Entries whose key is not an HTTP token (an invalid header name: Node throws on
 * those) are left out; an entry whose value `encode` refuses (returns undefined) is left out and
 * counted as `inject.baggage.invalid_member`.
 */
export function injectPrefixedBaggage(
  context: Context,
  carrier: unknown,
  set: TextMapSetter,
  prefix: string,
  encode: (value: string) => string | undefined,
): void {
  const baggage = propagation.getBaggage(context);
  if (baggage === undefined) return;
  let written = 0;
  let bytes = 0;
  let overLimit = 0;
  let invalid = 0;
  for (const [key, entry] of baggage.getAllEntries()) {
    if (!isBaggageKey(key)) continue;
    const value = encode(entry.value);
    if (value === undefined) {
      invalid++;
      continue;
    }
    // Keys are tokens and encoded values ASCII: lengths are sizes in bytes.
    const size = (written > 0 ? 1 : 0) + key.length + 1 + value.length;
    if (written >= MAX_BAGGAGE_MEMBERS || bytes + size > MAX_BAGGAGE_BYTES) {
      overLimit++;
      continue;
    }
    set.set(carrier, prefix + key, value);
    written++;
    bytes += size;
  }
  if (invalid > 0) countDiagnostic('inject.baggage.invalid_member', invalid);
  if (overLimit > 0) {
    countDiagnostic('inject.baggage.over_limit', overLimit);
    warnOnce(
      'CTXPROP_OUTBOUND_PREFIXED_BAGGAGE_OVER_LIMIT',
      `ctxprop: outbound ${prefix}* baggage headers went over ${MAX_BAGGAGE_MEMBERS} entries or ${MAX_BAGGAGE_BYTES} bytes (the W3C Baggage limits); whole entries were left out.`,
    );
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The text of a header value: as it is when it is ASCII, or holds characters past U+00FF (a
 * message carrier's string); a value whose characters are all bytes (U+0080 to U+00FF among them)
 * and form valid UTF-8 is what Node hands over for a header's UTF-8 bytes (one Latin-1 character
 * per byte), and is read as the UTF-8 it was sent as (`RenÃ©e` is `Renée`); other bytes are
 * taken as Latin-1 text. Undefined for a control character.
 */
function headerText(raw: string): string | undefined {
  let bytes = true;
  let ascii = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return undefined;
    if (c > 0x7e) ascii = false;
    if (c > 0xff) bytes = false;
  }
  if (ascii || !bytes) return raw;
  try {
    return UTF8.decode(Buffer.from(raw, 'latin1'));
  } catch {
    return raw;
  }
}

/**
 * Adds every `{prefix}{key}` header of `carrier` to the baggage of `context`. `decode` turns a
 * header value into the entry's value, or undefined when it cannot (counted as
 * `extract.baggage.invalid_member`, as is a value with a control character). A value of raw UTF-8
 * bytes, as Node reads a header, is read as the text it encodes. `prefix` is lower case; header names match in any case.
 */
export function extractPrefixedBaggage(
  context: Context,
  carrier: unknown,
  get: TextMapGetter,
  prefix: string,
  decode: (raw: string) => string | undefined,
): Context {
  let baggage = propagation.getBaggage(context);
  let added = 0;
  let bytes = 0;
  for (const name of get.keys(carrier)) {
    if (typeof name !== 'string' || name.length <= prefix.length || !startsWithIgnoreCase(name, prefix)) continue;
    const header = get.get(carrier, name);
    // The first of repeated headers (arrays only: a baggage value may contain commas).
    const raw: unknown = Array.isArray(header) ? header[0] : header;
    if (typeof raw !== 'string') continue;
    const text = headerText(raw);
    const value = text === undefined ? undefined : decode(text);
    if (value === undefined) {
      countDiagnostic('extract.baggage.invalid_member');
      continue;
    }
    const key = name.slice(prefix.length);
    // An entry left out takes nothing from the budget: the ones after it that fit are kept.
    const size = key.length + 1 + raw.length;
    if (added >= MAX_BAGGAGE_MEMBERS || bytes + size > MAX_BAGGAGE_BYTES) {
      countDiagnostic('extract.baggage.over_limit');
      continue;
    }
    bytes += size;
    baggage = (baggage ?? propagation.createBaggage()).setEntry(key, { value });
    added++;
  }
  return added === 0 || baggage === undefined ? context : propagation.setBaggage(context, baggage);
}

function startsWithIgnoreCase(text: string, lowerPrefix: string): boolean {
  for (let i = 0; i < lowerPrefix.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}
