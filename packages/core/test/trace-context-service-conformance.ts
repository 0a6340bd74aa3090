// Test support: W3C Trace Context conformance of a whole service, end to end (service-under-test.ts:
// raw header lines in, what the service's outbound calls carried out), with ctxprop and the
// OpenTelemetry SDK. The cases follow the scenarios of the W3C test suite (w3c/trace-context,
// test/test.py: the names in brackets), written here from the specification's rules
// (https://www.w3.org/TR/trace-context-2/), with expectations that are sometimes stricter than the
// suite's: an invalid tracestate must leave no tracestate at all, not just lose the key asked about.
import { linesOf, type HeaderLines, type Received, type SendToService } from './service-under-test';

const TRACE_ID = '12345678901234567890123456789012';
const PARENT_ID = '1234567890123456';
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`;
const VALID_UNSAMPLED = `00-${TRACE_ID}-${PARENT_ID}-00`;

// The traceparent grammar of version 00, as the callback checks what the service sent.
const TRACEPARENT_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

interface Traceparent {
  traceId: string;
  parentId: string;
  flags: number;
}

/** The one traceparent an outbound call must carry, valid for version 00 and with non-zero ids. */
function traceparentOf(received: Received): Traceparent {
  const lines = linesOf(received, 'traceparent');
  expect(lines).toHaveLength(1);
  const match = TRACEPARENT_00.exec(lines[0]!);
  expect(match).not.toBeNull();
  const [, traceId, parentId, flags] = match!;
  expect(traceId).not.toMatch(/^0+$/);
  expect(parentId).not.toMatch(/^0+$/);
  return { traceId: traceId!, parentId: parentId!, flags: parseInt(flags!, 16) };
}

/** The tracestate list members an outbound call carried, in order, as [key, value] pairs. */
function tracestateOf(received: Received): Array<[string, string]> {
  return linesOf(received, 'tracestate')
    .join(',')
    .split(',')
    .map((member) => member.replace(/^[ \t]+|[ \t]+$/g, ''))
    .filter((member) => member !== '')
    .map((member) => {
      const eq = member.indexOf('=');
      return [member.slice(0, eq), member.slice(eq + 1)];
    });
}

/** The same trace, continued: its trace id, the inbound sampled flag, and a parent id of the service's own. */
function continues(received: Received, sampled = true): void {
  const traceparent = traceparentOf(received);
  expect(traceparent.traceId).toBe(TRACE_ID);
  expect(traceparent.parentId).not.toBe(PARENT_ID);
  expect(traceparent.flags & 1).toBe(sampled ? 1 : 0);
}

/** A new trace: the inbound header was not accepted. */
function restarts(received: Received, ...notTraceIds: string[]): void {
  const traceparent = traceparentOf(received);
  for (const id of [TRACE_ID, ...notTraceIds]) expect(traceparent.traceId).not.toBe(id);
}

interface Case {
  readonly name: string;
  readonly inbound: HeaderLines;
  check(received: Received): void;
}

const withTraceparent = (value: string): HeaderLines => [['traceparent', value]];
const withState = (...lines: string[]): HeaderLines => [['traceparent', VALID_UNSAMPLED], ...lines.map((line) => ['tracestate', line] as const)];

const restartCase = (name: string, inbound: HeaderLines, ...notTraceIds: string[]): Case => ({
  name,
  inbound,
  check: (received) => restarts(received, ...notTraceIds),
});

/** The tracestate must go on as these members, in this order, with the trace continued. */
const stateCase = (name: string, inbound: HeaderLines, members: Array<[string, string]>): Case => ({
  name,
  inbound,
  check: (received) => {
    continues(received, false);
    expect(tracestateOf(received)).toEqual(members);
  },
});

const ALLOWED_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/';
const ALLOWED_VALUE = [
  [0x20, 0x2b],
  [0x2d, 0x3c],
  [0x3e, 0x7e],
]
  .flatMap(([from, to]) => Array.from({ length: to! - from! + 1 }, (_, i) => String.fromCharCode(from! + i)))
  .join('');
const members = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => {
    const n = String(from + i).padStart(2, '0');
    return `bar${n}=${n}`;
  }).join(',');
const memberPairs = (count: number): Array<[string, string]> =>
  Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(2, '0');
    return [`bar${n}`, n];
  });

const CASES: readonly Case[] = [
  restartCase('no traceparent and no tracestate: a new trace [test_both_traceparent_and_tracestate_missing]', []),
  { name: 'a valid traceparent: the trace goes on under a new parent id [test_traceparent_included_tracestate_missing]', inbound: withTraceparent(VALID), check: (r) => continues(r) },
  {
    name: 'an unsampled valid traceparent: continued, unsampled',
    inbound: withTraceparent(VALID_UNSAMPLED),
    check: (r) => continues(r, false),
  },
  restartCase(
    'two traceparent header lines: a new trace, neither one [test_traceparent_duplicated]',
    [
      ['traceparent', `00-12345678901234567890123456789011-${PARENT_ID}-01`],
      ['traceparent', VALID],
    ],
    '12345678901234567890123456789011',
  ),
  restartCase('a header named trace-parent is not traceparent [test_traceparent_header_name]', [['trace-parent', VALID]]),
  restartCase('a header named trace.parent is not traceparent [test_traceparent_header_name]', [['trace.parent', VALID]]),
  ...['TraceParent', 'TrAcEpArEnT', 'TRACEPARENT'].map(
    (name): Case => ({ name: `the header name in any case: ${name} [test_traceparent_header_name_valid_casing]`, inbound: [[name, VALID]], check: (r) => continues(r) }),
  ),
  restartCase('version 00 followed by a dot [test_traceparent_version_0x00]', withTraceparent(`${VALID}.`)),
  restartCase('version 00 followed by more fields [test_traceparent_version_0x00]', withTraceparent(`${VALID}-what-the-future-will-be-like`)),
  { name: 'a future version (cc) is read as version 00 [test_traceparent_version_0xcc]', inbound: withTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01`), check: (r) => continues(r) },
  {
    name: 'a future version with more fields after a dash: its first four are read [test_traceparent_version_0xcc]',
    inbound: withTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like`),
    check: (r) => continues(r),
  },
  restartCase('a future version with more after the flags but no dash [test_traceparent_version_0xcc]', withTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01.what-the-future-will-be-like`)),
  restartCase('version ff is invalid [test_traceparent_version_0xff]', withTraceparent(`ff-${TRACE_ID}-${PARENT_ID}-01`)),
  ...['.0', '0.', '000', '0000', '0'].map((version) =>
    restartCase(`version "${version}" [test_traceparent_version_illegal_characters, _too_long, _too_short]`, withTraceparent(`${version}-${TRACE_ID}-${PARENT_ID}-01`)),
  ),
  restartCase('an all-zero trace id [test_traceparent_trace_id_all_zero]', withTraceparent(`00-${'0'.repeat(32)}-${PARENT_ID}-01`), '0'.repeat(32)),
  ...['.2345678901234567890123456789012', '1234567890123456789012345678901.', '123456789012345678901234567890123', '1234567890123456789012345678901'].map((traceId) =>
    restartCase(`trace id "${traceId}" [test_traceparent_trace_id_illegal_characters, _too_long, _too_short]`, withTraceparent(`00-${traceId}-${PARENT_ID}-01`), traceId, traceId.slice(1)),
  ),
  ...['0000000000000000', '.234567890123456', '123456789012345.', '12345678901234567', '123456789012345'].map((parentId) =>
    restartCase(`parent id "${parentId}" [test_traceparent_parent_id_all_zero, _illegal_characters, _too_long, _too_short]`, withTraceparent(`00-${TRACE_ID}-${parentId}-01`)),
  ),
  ...['.0', '0.', '001', '1'].map((flags) =>
    restartCase(`trace flags "${flags}" [test_traceparent_trace_flags_illegal_characters, _too_long, _too_short]`, withTraceparent(`00-${TRACE_ID}-${PARENT_ID}-${flags}`)),
  ),
  ...[` ${VALID}`, `\t${VALID}`, `${VALID} `, `${VALID}\t`, `\t ${VALID} \t`].map(
    (value): Case => ({ name: `OWS around traceparent: ${JSON.stringify(value.replace(VALID, '…'))} [test_traceparent_ows_handling]`, inbound: withTraceparent(value), check: (r) => continues(r) }),
  ),
  {
    name: 'tracestate without traceparent is dropped with it [test_tracestate_included_traceparent_missing]',
    inbound: [['tracestate', 'foo=1,bar=2']],
    check: (received) => {
      restarts(received);
      expect(tracestateOf(received)).toEqual([]);
    },
  },
  stateCase('tracestate with a valid traceparent goes on [test_tracestate_included_traceparent_included]', withState('foo=1,bar=2'), [
    ['foo', '1'],
    ['bar', '2'],
  ]),
  stateCase('a header named trace-state is not tracestate [test_tracestate_header_name]', [['traceparent', VALID_UNSAMPLED], ['trace-state', 'foo=1']], []),
  stateCase('a header named trace.state is not tracestate [test_tracestate_header_name]', [['traceparent', VALID_UNSAMPLED], ['trace.state', 'foo=1']], []),
  ...['TraceState', 'TrAcEsTaTe', 'TRACESTATE'].map((name) =>
    stateCase(`the tracestate header name in any case: ${name} [test_tracestate_header_name_valid_casing]`, [['traceparent', VALID_UNSAMPLED], [name, 'foo=1']], [['foo', '1']]),
  ),
  stateCase('an empty tracestate header [test_tracestate_empty_header]', withState(''), []),
  stateCase('a tracestate line, then an empty one [test_tracestate_empty_header]', withState('foo=1', ''), [['foo', '1']]),
  stateCase('an empty tracestate line, then one with a member [test_tracestate_empty_header]', withState('', 'foo=1'), [['foo', '1']]),
  stateCase('three tracestate lines are one list, in order [test_tracestate_multiple_headers_different_keys]', withState('foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'), [
    ['foo', '1'],
    ['bar', '2'],
    ['rojo', '1'],
    ['congo', '2'],
    ['baz', '3'],
  ]),
  ...[['foo=1,foo=1'], ['foo=1,foo=2'], ['foo=1', 'foo=1'], ['foo=1', 'foo=2']].map((lines) =>
    stateCase(`a key twice (${lines.join(' | ')}): the whole tracestate is dropped [test_tracestate_duplicated_keys]`, withState(...lines), []),
  ),
  stateCase('every character a simple key and a value may have [test_tracestate_all_allowed_characters]', withState(`${ALLOWED_KEY}=${ALLOWED_VALUE}`), [[ALLOWED_KEY, ALLOWED_VALUE]]),
  stateCase('every character a key with an at sign may have [test_tracestate_all_allowed_characters]', withState(`${ALLOWED_KEY}@a-z0-9_-*/=${ALLOWED_VALUE}`), [
    [`${ALLOWED_KEY}@a-z0-9_-*/`, ALLOWED_VALUE],
  ]),
  ...['foo=1 \t , \t bar=2, \t baz=3', 'foo=1\t \t,\t \tbar=2,\t \tbaz=3'].map((line) =>
    stateCase(`OWS around list members: ${JSON.stringify(line)} [test_tracestate_ows_handling]`, withState(line), [
      ['foo', '1'],
      ['bar', '2'],
      ['baz', '3'],
    ]),
  ),
  ...[' foo=1', '\tfoo=1', 'foo=1 ', 'foo=1\t', '\t foo=1 \t'].map((line) =>
    stateCase(`OWS around the header: ${JSON.stringify(line)} [test_tracestate_ows_handling]`, withState(line), [['foo', '1']]),
  ),
  ...['foo =1', 'FOO=1', 'foo.bar=1'].map((line) => stateCase(`an invalid key: ${JSON.stringify(line)} drops the whole tracestate [test_tracestate_key_illegal_characters]`, withState(line), [])),
  // Level 2 made "@" a key character like any other but the first (the suite follows since
  // w3c/trace-context#584): these keys are valid now.
  ...(
    [
      ['foo@=1,bar=2', 'foo@'],
      ['foo@@bar=1,bar=2', 'foo@@bar'],
      ['foo@bar@baz=1,bar=2', 'foo@bar@baz'],
    ] as const
  ).map(([line, key]) =>
    stateCase(`a key with at signs: ${line} goes on [test_tracestate_key_illegal_vendor_format]`, withState(line), [
      [key, '1'],
      ['bar', '2'],
    ]),
  ),
  stateCase('a key starting with an at sign: @foo=1,bar=2 drops the whole tracestate [test_tracestate_key_illegal_vendor_format]', withState('@foo=1,bar=2'), []),
  stateCase('32 list members go on [test_tracestate_member_count_limit]', withState(members(1, 10), members(11, 20), members(21, 30), members(31, 32)), memberPairs(32)),
  stateCase('33 list members: the whole tracestate is dropped [test_tracestate_member_count_limit]', withState(members(1, 10), members(11, 20), members(21, 30), members(31, 33)), []),
  stateCase('a simple key of 256 characters is kept [test_tracestate_key_length_limit]', withState('foo=1', `${'z'.repeat(256)}=1`), [
    ['foo', '1'],
    ['z'.repeat(256), '1'],
  ]),
  stateCase('a simple key of 257 characters drops the whole tracestate [test_tracestate_key_length_limit]', withState('foo=1', `${'z'.repeat(257)}=1`), []),
  ...[`${'t'.repeat(241)}@${'v'.repeat(14)}`, `${'t'.repeat(242)}@v`, `t@${'v'.repeat(15)}`].map((key) =>
    stateCase(`a key of ${key.indexOf('@')} characters, "@" and ${key.length - key.indexOf('@') - 1} more is kept [test_tracestate_key_length_limit]`, withState('foo=1', `${key}=1`), [
      ['foo', '1'],
      [key, '1'],
    ]),
  ),
  stateCase('a key of 257 characters with an at sign drops the whole tracestate [test_tracestate_key_length_limit]', withState('foo=1', `${'t'.repeat(242)}@${'v'.repeat(14)}=1`), []),
  stateCase('a value with "=" drops the whole tracestate [test_tracestate_value_illegal_characters]', withState('foo=bar=baz'), []),
  stateCase('an empty value drops the whole tracestate [test_tracestate_value_illegal_characters]', withState('foo=,bar=3'), []),
];

/** Runs the conformance cases against a service (inside the calling test file's describe). */
export function traceContextConformance(send: SendToService): void {
  test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const [callback] = await send(c.inbound);
    c.check(callback!);
  });

  test('three calls under a valid traceparent: one trace, three parent ids [test_multiple_requests_with_valid_traceparent]', async () => {
    const calls = (await send(withTraceparent(VALID), 3)).map(traceparentOf);
    expect(new Set(calls.map((call) => call.traceId))).toEqual(new Set([TRACE_ID]));
    expect(new Set(calls.map((call) => call.parentId)).size).toBe(3);
  });

  test('three calls with no traceparent: one new trace, three parent ids [test_multiple_requests_without_traceparent]', async () => {
    const calls = (await send([], 3)).map(traceparentOf);
    expect(new Set(calls.map((call) => call.traceId)).size).toBe(1);
    expect(new Set(calls.map((call) => call.parentId)).size).toBe(3);
  });

  test('three calls under an invalid traceparent: a new trace, three parent ids [test_multiple_requests_with_illegal_traceparent]', async () => {
    const calls = (await send(withTraceparent(`00-${'0'.repeat(32)}-${PARENT_ID}-01`), 3)).map(traceparentOf);
    expect(calls.map((call) => call.traceId)).not.toContain('0'.repeat(32));
    expect(new Set(calls.map((call) => call.parentId)).size).toBe(3);
  });
}
