import { formatTraceparent, KNOWN_TRACE_FLAGS, MAX_TRACEPARENT_LENGTH, parseTraceparent, TRACEPARENT_LENGTH } from '@ctxprop/core';
import { parseTraceParent as otelParseTraceParent } from '@opentelemetry/core';
import fc from 'fast-check';

// Vectors come from the W3C Trace Context Level 2 text (section numbers of the Recommendation,
// https://www.w3.org/TR/trace-context-2/) and from the W3C test suite (w3c/trace-context test/test.py).
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const SUITE_TRACE_ID = '12345678901234567890123456789012';
const SUITE_SPAN_ID = '1234567890123456';
const SUITE = (flags = '01', version = '00') => `${version}-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-${flags}`;

function fields(header: Parameters<typeof parseTraceparent>[0]) {
  const parsed = parseTraceparent(header);
  return parsed && { traceId: parsed.traceId, spanId: parsed.spanId, traceFlags: parsed.traceFlags, isRemote: parsed.isRemote };
}

describe('parseTraceparent(): valid headers', () => {
  it.each([
    ['3.2.3 example: caller sampled this request', `00-${TRACE_ID}-${SPAN_ID}-01`, TRACE_ID, SPAN_ID, 1],
    ['3.2.3 example: caller did not sample this request', `00-${TRACE_ID}-${SPAN_ID}-00`, TRACE_ID, SPAN_ID, 0],
    ['3.2.2.5.2 random-trace-id flag alone is kept', `00-${TRACE_ID}-${SPAN_ID}-02`, TRACE_ID, SPAN_ID, 2],
    ['3.2.2.5.2 sampled and random-trace-id flags are kept', `00-${TRACE_ID}-${SPAN_ID}-03`, TRACE_ID, SPAN_ID, 3],
    ['3.2.2.5.3 other flags are reserved and not passed on (ff)', `00-${TRACE_ID}-${SPAN_ID}-ff`, TRACE_ID, SPAN_ID, 3],
    ['3.2.2.5.3 other flags are reserved and not passed on (09 = sampled + 00001000)', `00-${TRACE_ID}-${SPAN_ID}-09`, TRACE_ID, SPAN_ID, 1],
    ['3.2.2.5.3 other flags are reserved and not passed on (10)', `00-${TRACE_ID}-${SPAN_ID}-10`, TRACE_ID, SPAN_ID, 0],
    ['3.2.4 a higher version of exactly 55 characters is parsed', SUITE('01', 'cc'), SUITE_TRACE_ID, SUITE_SPAN_ID, 1],
    ['3.2.4 a higher version with more fields after a dash is parsed', `${SUITE('01', 'cc')}-what-the-future-will-be-like`, SUITE_TRACE_ID, SUITE_SPAN_ID, 1],
    ['3.2.4 a higher version does not pass on unknown flags', `${SUITE('fd', '01')}-x`, SUITE_TRACE_ID, SUITE_SPAN_ID, 1],
    ['3.2.4 version fe (the highest allowed) is parsed', SUITE('01', 'fe'), SUITE_TRACE_ID, SUITE_SPAN_ID, 1],
    ['3.2.4 a higher version as long as MAX_TRACEPARENT_LENGTH is parsed', `${SUITE('01', 'cc')}-${'x'.repeat(MAX_TRACEPARENT_LENGTH - 56)}`, SUITE_TRACE_ID, SUITE_SPAN_ID, 1],
    ['3.2.2.4 a parent-id with leading zeros is valid (only all zeros is not)', `00-${TRACE_ID}-0000000000000001-01`, TRACE_ID, '0000000000000001', 1],
    ['3.2.2.3 a trace-id with one non-zero digit is valid', `00-00000000000000000000000000000001-${SPAN_ID}-01`, '00000000000000000000000000000001', SPAN_ID, 1],
  ])('%s', (_name, header, traceId, spanId, traceFlags) => {
    expect(fields(header)).toEqual({ traceId, spanId, traceFlags, isRemote: true });
  });

  // RFC 7230 §3.2.4: optional whitespace around a field value is not part of it; the W3C test
  // suite (test_traceparent_ows_handling) expects these accepted.
  it.each([
    ['a leading space', ` ${SUITE()}`],
    ['a leading tab', `\t${SUITE()}`],
    ['a trailing space', `${SUITE()} `],
    ['a trailing tab', `${SUITE()}\t`],
    ['tabs and spaces on both sides', `\t ${SUITE()} \t`],
  ])('RFC 7230 3.2.4 OWS: accepts %s around the value', (_name, header) => {
    expect(fields(header)?.traceId).toBe(SUITE_TRACE_ID);
  });

  it('reads a carrier array holding exactly one value', () => {
    expect(fields([SUITE()])?.spanId).toBe(SUITE_SPAN_ID);
  });

  it('never keeps a trace state: it belongs to the tracestate header', () => {
    expect(parseTraceparent(SUITE())?.traceState).toBeUndefined();
  });
});

describe('parseTraceparent(): invalid headers are ignored (3.2.2 MUST ignore the traceparent)', () => {
  const valid = SUITE();
  it.each([
    // version
    ['3.2.2.1 version: ff is invalid', SUITE('01', 'ff')],
    ['3.2.2.1 version: illegal first character', `.0-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['3.2.2.1 version: illegal second character', `0.-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['3.2.2.1 version: uppercase hex is not HEXDIGLC', SUITE('01', 'CC')],
    ['3.2.2.1 version: three digits', `000-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['3.2.2.1 version: four digits', `0000-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['3.2.2.1 version: one digit', `0-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    // version-format of 00
    ['3.2.2.2 version 00: a trailing character after the flags', `${valid}.`],
    ['3.2.2.2 version 00: a fifth field', `${valid}-what-the-future-will-be-like`],
    ['3.2.2.2 version 00: a trailing dash', `${valid}-`],
    // higher versions
    ['3.2.4 higher version: flags followed by something other than a dash', `${SUITE('01', 'cc')}.what-the-future-will-be-like`],
    ['3.2.4 higher version: shorter than 55 characters', SUITE('0', 'cc')],
    ['3.2.4 higher version: trace-id not followed by a dash', `cc-${SUITE_TRACE_ID}_${SUITE_SPAN_ID}-01`],
    ['3.2.4 higher version: a comma after the flags (two folded headers)', `${SUITE('01', 'cc')}, ${SUITE('01', 'cc')}`],
    ['3.2.4 higher version: a comma in a later field (two folded headers)', `${SUITE('01', 'cc')}-x,${SUITE('01', 'cc')}`],
    // trace-id
    ['3.2.2.3 trace-id: all zeros is invalid', `00-00000000000000000000000000000000-${SUITE_SPAN_ID}-01`],
    ['3.2.2.3 trace-id: illegal first character', `00-.2345678901234567890123456789012-${SUITE_SPAN_ID}-01`],
    ['3.2.2.3 trace-id: illegal last character', `00-1234567890123456789012345678901.-${SUITE_SPAN_ID}-01`],
    ['3.2.2.3 trace-id: uppercase hex', `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`],
    ['3.2.2.3 trace-id: 33 digits', `00-123456789012345678901234567890123-${SUITE_SPAN_ID}-01`],
    ['3.2.2.3 trace-id: 31 digits', `00-1234567890123456789012345678901-${SUITE_SPAN_ID}-01`],
    ['3.2.2.3 trace-id: a non-ASCII digit', `00-1234567890123456789012345678901\u0661-${SUITE_SPAN_ID}-01`],
    // parent-id
    ['3.2.2.4 parent-id: all zeros is invalid', `00-${SUITE_TRACE_ID}-0000000000000000-01`],
    ['3.2.2.4 parent-id: illegal first character', `00-${SUITE_TRACE_ID}-.234567890123456-01`],
    ['3.2.2.4 parent-id: illegal last character', `00-${SUITE_TRACE_ID}-123456789012345.-01`],
    ['3.2.2.4 parent-id: uppercase hex', `00-${TRACE_ID}-${SPAN_ID.toUpperCase()}-01`],
    ['3.2.2.4 parent-id: 17 digits', `00-${SUITE_TRACE_ID}-12345678901234567-01`],
    ['3.2.2.4 parent-id: 15 digits', `00-${SUITE_TRACE_ID}-123456789012345-01`],
    // trace-flags
    ['3.2.2.5 trace-flags: illegal first character', SUITE('.0')],
    ['3.2.2.5 trace-flags: illegal second character', SUITE('0.')],
    ['3.2.2.5 trace-flags: uppercase hex', SUITE('0A')],
    ['3.2.2.5 trace-flags: three digits', SUITE('001')],
    ['3.2.2.5 trace-flags: one digit', SUITE('1')],
    // delimiters and shape
    ['3.2.2 the delimiter after version must be a dash', `00_${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['3.2.2 the delimiter after trace-id must be a dash', `00-${SUITE_TRACE_ID}_${SUITE_SPAN_ID}-01`],
    ['3.2.2 the delimiter after parent-id must be a dash', `00-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}_01`],
    ['3.2.2 an empty value', ''],
    ['3.2.2 only whitespace', ' \t '],
    ['RFC 7230 3.2.4 OWS is spaces and tabs only, not a newline', `\n${valid}`],
    ['RFC 7230 3.2.4 OWS is outside the value, not between fields', `00- ${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['two headers folded with a comma (test_traceparent_duplicated)', `${valid}, ${valid}`],
    ['3.2.4 a prohibitively large header (longer than MAX_TRACEPARENT_LENGTH)', `${SUITE('01', 'cc')}-${'x'.repeat(MAX_TRACEPARENT_LENGTH - 55)}`],
    ['3.2.4 a prohibitively large run of blanks', `${' '.repeat(MAX_TRACEPARENT_LENGTH)}${valid}`],
  ])('%s', (_name, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('rejects two traceparent header lines, even identical ones (test_traceparent_duplicated)', () => {
    expect(parseTraceparent([valid, valid])).toBeUndefined();
    expect(parseTraceparent([SUITE('01'), `00-${TRACE_ID}-${SPAN_ID}-01`])).toBeUndefined();
  });

  it('returns undefined for no header and for values that are not strings', () => {
    expect(parseTraceparent(undefined)).toBeUndefined();
    expect(parseTraceparent([])).toBeUndefined();
    expect(parseTraceparent([42 as unknown as string])).toBeUndefined();
    expect(parseTraceparent(Buffer.from(valid) as unknown as string)).toBeUndefined();
  });
});

describe('formatTraceparent()', () => {
  it('writes the 3.2.3 example', () => {
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 })).toBe(`00-${TRACE_ID}-${SPAN_ID}-01`);
  });

  it.each([
    [0, '00'],
    [1, '01'],
    [2, '02'],
    [3, '03'],
    [5, '01'],
    [0x10, '00'],
    [0x1f, '03'],
    [0x81, '01'],
    [0xff, '03'],
    [0x100, '00'],
    [0x101, '01'],
  ])('writes flags %i as %s: two lowercase hex digits, reserved bits zero (3.2.2.5 "Vendors MUST set those to zero")', (traceFlags, digits) => {
    const header = formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags });
    expect(header).toHaveLength(TRACEPARENT_LENGTH);
    expect(header.slice(-2)).toBe(digits);
  });
});

const lowerHex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length }).filter((id) => /[^0]/.test(id));

describe('traceparent properties', () => {
  it('parse(format(x)) gives back the ids, and the flags the spec defines', () => {
    fc.assert(
      fc.property(lowerHex(32), lowerHex(16), fc.integer({ min: 0, max: 255 }), (traceId, spanId, traceFlags) => {
        expect(fields(formatTraceparent({ traceId, spanId, traceFlags }))).toEqual({
          traceId,
          spanId,
          traceFlags: traceFlags & KNOWN_TRACE_FLAGS,
          isRemote: true,
        });
      }),
    );
  });

  it('never throws on arbitrary strings and arrays, and returns a well-formed span context or undefined', () => {
    const anyHeader = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF-. \t,'), minLength: 50, maxLength: 70 }),
      fc.array(fc.string()),
    );
    fc.assert(
      fc.property(anyHeader, (header) => {
        const parsed = parseTraceparent(header);
        if (parsed !== undefined) {
          expect(parsed.traceId).toMatch(/^[0-9a-f]{32}$/);
          expect(parsed.spanId).toMatch(/^[0-9a-f]{16}$/);
          expect(parsed.traceFlags & ~KNOWN_TRACE_FLAGS).toBe(0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  // OpenTelemetry's regex parser is an independent implementation of the same grammar. Outside
  // the points where we differ on purpose (blanks, a comma folding two headers, reserved flags),
  // both accept the same headers and read the same ids.
  it('accepts exactly the headers OpenTelemetry accepts, for headers without blanks or commas', () => {
    const pieces = fc.constantFrom('00', 'cc', 'ff', 'Ab', '0', '-', '-x', '.', TRACE_ID, SPAN_ID, '0'.repeat(16), 'A', '01', '03');
    const header = fc.oneof(
      fc.array(pieces, { maxLength: 9 }).map((parts) => parts.join('')),
      fc.tuple(fc.constantFrom('00', 'cc', 'ff', '0g'), lowerHex(32), lowerHex(16), fc.constantFrom('00', '01', '0f', 'F0'), fc.constantFrom('', '-', '-x-y', '.')).map(
        ([version, traceId, spanId, flags, rest]) => `${version}-${traceId}-${spanId}-${flags}${rest}`,
      ),
    );
    fc.assert(
      fc.property(header, (text) => {
        const theirs = otelParseTraceParent(text);
        const ours = parseTraceparent(text);
        expect(ours === undefined).toBe(theirs === null);
        if (ours && theirs) {
          expect([ours.traceId, ours.spanId, ours.traceFlags]).toEqual([theirs.traceId, theirs.spanId, theirs.traceFlags & KNOWN_TRACE_FLAGS]);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('traceparent parsing time', () => {
  // The fastest of several runs: a GC pause or another process can slow one run, never speed it.
  function timeOf(make: (size: number) => string, size: number, expected: unknown): number {
    const header = Buffer.from(make(size), 'latin1').toString('latin1'); // a flat string, as HTTP parsers give
    let best = Infinity;
    for (let run = 0; run < 5; run++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < 3; i++) expect(fields(header)).toEqual(expected);
      best = Math.min(best, Number(process.hrtime.bigint() - start));
    }
    return best;
  }

  it.each([
    ['"00-" + 1 MB of hex', (size: number) => `00-${'a'.repeat(size)}`],
    ['a higher version with a 1 MB last field', (size: number) => `${SUITE('01', 'cc')}-${'a'.repeat(size)}`],
    ['1 MB of blanks before a valid value', (size: number) => `${' \t'.repeat(size / 2)}${SUITE()}`],
    ['1 MB of blanks', (size: number) => ' '.repeat(size)],
  ])('rejects %s in time that does not grow faster than linearly', (_name, make) => {
    const expected = undefined;
    timeOf(make, 100_000, expected); // warm up
    const small = timeOf(make, 100_000, expected);
    const large = timeOf(make, 1_000_000, expected);
    expect(large / 1e6).toBeLessThan(1000); // three parses of 1 MB in well under a second
    expect(large / Math.max(small, 1)).toBeLessThan(30);
  });
});
