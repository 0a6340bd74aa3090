// Test support: W3C Baggage conformance of a whole service, end to end (service-under-test.ts: raw
// header lines in, what the service's outbound calls to a loopback address carried out), from the
// specification's rules (https://www.w3.org/TR/baggage/): what arrives goes on, members,
// properties and values alike, whatever the header's case, lines or white space, up to the limits
// every platform must keep (64 members, 8192 bytes; no limit per member since 2022).
import { linesOf, type HeaderLines, type Received, type SendToService } from './service-under-test';

interface Member {
  key: string;
  value: string;
  properties: string[];
}

const ows = (text: string) => text.replace(/^[ \t]+|[ \t]+$/g, '');

/** The baggage members one call carried, values percent-decoded, properties as `key` or `key=value`. */
function membersOf(received: Received): Member[] {
  return linesOf(received, 'baggage')
    .join(',')
    .split(',')
    .filter((member) => ows(member) !== '')
    .map((member) => {
      const [pair, ...properties] = member.split(';');
      const eq = pair!.indexOf('=');
      return {
        key: ows(pair!.slice(0, eq)),
        value: decodeURIComponent(ows(pair!.slice(eq + 1))),
        properties: properties.map((property) => property.split('=').map(ows).join('=')).filter((property) => property !== ''),
      };
    });
}

const TRACEPARENT: readonly [string, string] = ['traceparent', '00-12345678901234567890123456789012-1234567890123456-01'];
const member = (key: string, value: string, ...properties: string[]): Member => ({ key, value, properties });
const numbered = (count: number, size = 1) => Array.from({ length: count }, (_, i) => member(`k${i}`, 'v'.repeat(size)));
const header = (members: Member[]) => members.map((m) => `${m.key}=${m.value}`).join(',');

interface Case {
  readonly name: string;
  readonly inbound: HeaderLines;
  readonly members: Member[];
}

// 8192 bytes in one member: "k=" and 8190 characters.
const LONGEST = member('k', 'x'.repeat(8190));
// 64 members, 8192 bytes with the commas: 63 of 100-byte values, the last one filling up.
const FIRST_63 = numbered(63, 100);
const AT_8192 = [...FIRST_63, member('k63', 'v'.repeat(8192 - header(FIRST_63).length - ','.length - 'k63='.length))];

const CASES: readonly Case[] = [
  { name: 'members go on, in order', inbound: [['baggage', 'tenant=acme,customer.tier=gold']], members: [member('tenant', 'acme'), member('customer.tier', 'gold')] },
  {
    name: 'properties go on with their member (§3.3.1.4)',
    inbound: [['baggage', 'SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;ValueProp=PropVal']],
    members: [member('SomeKey', 'SomeValue', 'SomeProp'), member('SomeKey2', 'SomeValue2', 'ValueProp=PropVal')],
  },
  {
    name: 'white space around keys, values, properties and members (§3.3.1)',
    inbound: [['baggage', 'SomeKey \t = \t SomeValue \t ; \t SomePropKey \t = \t SomePropValue \t , \t SomeKey2 \t = \t SomeValue2']],
    members: [member('SomeKey', 'SomeValue', 'SomePropKey=SomePropValue'), member('SomeKey2', 'SomeValue2')],
  },
  { name: 'a value with "=" in it (baggage-octet includes "=")', inbound: [['baggage', 'SomeKey=SomeValue=equals']], members: [member('SomeKey', 'SomeValue=equals')] },
  {
    name: 'a percent-encoded value keeps its meaning (§3.3.1.3)',
    inbound: [['baggage', 'SomeKey=%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29']],
    members: [member('SomeKey', '\t "\';=asdf!@#$%^&*()')],
  },
  { name: 'UTF-8, percent-encoded (§3.4)', inbound: [['baggage', 'user=Am%C3%A9lie']], members: [member('user', 'Amélie')] },
  { name: 'several baggage lines are one list', inbound: [['baggage', 'a=1'], ['baggage', 'b=2,c=3']], members: [member('a', '1'), member('b', '2'), member('c', '3')] },
  ...['Baggage', 'BAGGAGE'].map((name): Case => ({ name: `the header name in any case: ${name}`, inbound: [[name, 'a=1']], members: [member('a', '1')] })),
  { name: '64 members all go on (§3.3.2)', inbound: [['baggage', header(numbered(64))]], members: numbered(64) },
  { name: 'one member of 8192 bytes goes on whole: no limit per member (§3.3.2)', inbound: [['baggage', header([LONGEST])]], members: [LONGEST] },
  { name: '64 members of 8192 bytes in all go on', inbound: [['baggage', header(AT_8192)]], members: AT_8192 },
  { name: 'no baggage: none goes on', inbound: [], members: [] },
];

/** Runs the conformance cases against a service (inside the calling test file's describe). */
export function baggageConformance(send: SendToService): void {
  test('the 8192-byte case is 8192 bytes', () => {
    expect(header([LONGEST])).toHaveLength(8192);
    expect(header(AT_8192)).toHaveLength(8192);
  });

  test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const [callback] = await send([TRACEPARENT, ...c.inbound]);
    expect(membersOf(callback!)).toEqual(c.members);
  });
}
