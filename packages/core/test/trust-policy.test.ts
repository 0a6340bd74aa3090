import fc from 'fast-check';
import { propagation } from '@opentelemetry/api';
import { createBaggageFromMembers, diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import { createTrustPolicy, type TrustRequestInfo } from '../src/policy/trust';
import { invalidOptionOf } from './invalid-option';

function info(clientAddress: string | undefined, headers: Record<string, unknown> = {}): TrustRequestInfo {
  return { clientAddress, headers, method: 'GET', path: '/', request: undefined };
}

const SAMPLE_BAGGAGE = createBaggageFromMembers([
  { key: 'synthetic.test', value: 'yes', properties: [{ key: 'ttl', value: '60' }] },
  { key: 'customer.tier', value: 'platinum', properties: [] },
]);

beforeEach(() => {
  resetDiagnostics();
});

describe('createTrustPolicy() defaults and fixed decisions', () => {
  it('trusts every request whole when no option is given', () => {
    const policy = createTrustPolicy();
    expect(policy.trustsEverything).toBe(true);
    expect(policy.decide(info('203.0.113.9'))).toEqual({ context: 'trust', baggage: 'keep' });
    expect(policy.restrictBaggage(SAMPLE_BAGGAGE)).toBe(SAMPLE_BAGGAGE);
  });

  it("reads 'trust' as the default", () => {
    expect(createTrustPolicy('trust').trustsEverything).toBe(true);
  });

  it("links every request and keeps its baggage with 'link' (opentelemetry-js-contrib #2772)", () => {
    const policy = createTrustPolicy('link');
    expect(policy.trustsEverything).toBe(false);
    expect(policy.decide(info('10.0.0.1'))).toEqual({ context: 'link', baggage: 'keep' });
  });

  it("ignores trace context and drops all baggage with 'ignore'", () => {
    const policy = createTrustPolicy('ignore');
    expect(policy.decide(info('10.0.0.1'))).toEqual({ context: 'ignore', baggage: 'allowlist' });
    expect(policy.restrictBaggage(SAMPLE_BAGGAGE)).toBeUndefined();
  });
});

describe('createTrustPolicy() by client address', () => {
  const privateOnly = createTrustPolicy({ trustedAddresses: ['private'] });

  it.each([
    // RFC 1918 §3, RFC 1122 §3.2.1.3 (loopback), RFC 4193 (unique local), RFC 4291 (link-local), RFC 6598.
    ['10.1.2.3', 'trust'],
    ['172.16.0.1', 'trust'],
    ['192.168.1.1', 'trust'],
    ['127.0.0.1', 'trust'],
    ['::1', 'trust'],
    ['::ffff:192.168.1.1', 'trust'],
    ['fd12:3456::1', 'trust'],
    ['fe80::1', 'trust'],
    ['100.64.0.1', 'trust'],
    // Public addresses (RFC 5737 documentation blocks and well-known public resolvers).
    ['203.0.113.9', 'link'],
    ['8.8.8.8', 'link'],
    ['::ffff:8.8.8.8', 'link'],
    ['2001:db8::1', 'link'],
    ['not-an-address', 'link'],
    ['', 'link'],
  ])("'private' decides %j as %s", (address, expected) => {
    expect(privateOnly.decide(info(address)).context).toBe(expected);
  });

  it('reads a missing client address as untrusted', () => {
    expect(privateOnly.decide(info(undefined))).toEqual({ context: 'link', baggage: 'allowlist' });
  });

  it("accepts 'private' alone as a string", () => {
    expect(createTrustPolicy({ trustedAddresses: 'private' }).decide(info('10.0.0.1')).context).toBe('trust');
  });

  it("combines CIDR blocks with the 'private' keyword", () => {
    const policy = createTrustPolicy({ trustedAddresses: ['private', '203.0.113.0/24'] });
    expect(policy.decide(info('203.0.113.200')).context).toBe('trust');
    expect(policy.decide(info('203.0.114.1')).context).toBe('link');
    expect(policy.decide(info('10.9.9.9')).context).toBe('trust');
  });

  it('trusts only the listed blocks when the keyword is absent', () => {
    const policy = createTrustPolicy({ trustedAddresses: ['198.51.100.0/24', '2001:db8:abcd::/48'] });
    expect(policy.decide(info('198.51.100.7')).context).toBe('trust');
    expect(policy.decide(info('2001:db8:abcd:1::5')).context).toBe('trust');
    expect(policy.decide(info('10.0.0.1')).context).toBe('link');
  });

  it("ignores instead of linking with untrusted: 'ignore'", () => {
    const policy = createTrustPolicy({ trustedAddresses: ['private'], untrusted: 'ignore' });
    expect(policy.decide(info('8.8.8.8'))).toEqual({ context: 'ignore', baggage: 'allowlist' });
  });
});

describe('createTrustPolicy() by header', () => {
  it('trusts a request that carries the header with any non-empty value when no value is set', () => {
    const policy = createTrustPolicy({ trustedHeader: { name: 'X-Internal-Gateway' } });
    expect(policy.decide(info(undefined, { 'x-internal-gateway': '1' })).context).toBe('trust');
    expect(policy.decide(info(undefined, { 'X-Internal-Gateway': 'yes' })).context).toBe('trust');
    expect(policy.decide(info(undefined, { 'x-internal-gateway': '' })).context).toBe('link');
    expect(policy.decide(info(undefined, {})).context).toBe('link');
  });

  it('trusts only the configured values', () => {
    const policy = createTrustPolicy({ trustedHeader: { name: 'x-gateway-secret', value: ['s3cr3t-a', 's3cr3t-b'] } });
    expect(policy.decide(info(undefined, { 'x-gateway-secret': 's3cr3t-b' })).context).toBe('trust');
    expect(policy.decide(info(undefined, { 'x-gateway-secret': 's3cr3t-c' })).context).toBe('link');
    expect(policy.decide(info(undefined, { 'x-gateway-secret': 's3cr3t' })).context).toBe('link');
    expect(policy.decide(info(undefined, { 'x-gateway-secret': 's3cr3t-a-and-more' })).context).toBe('link');
  });

  it('does not trust a header sent twice', () => {
    const policy = createTrustPolicy({ trustedHeader: { name: 'x-gateway-secret', value: 'abc' } });
    expect(policy.decide(info(undefined, { 'x-gateway-secret': ['abc', 'abc'] })).context).toBe('link');
  });

  it("requires both conditions with match: 'all' (the default) and either with 'any'", () => {
    const rules = { trustedAddresses: ['private'], trustedHeader: { name: 'x-gw', value: 'k' } };
    const all = createTrustPolicy(rules);
    const any = createTrustPolicy({ ...rules, match: 'any' });
    const cases: [string, Record<string, string>, string, string][] = [
      ['10.0.0.1', { 'x-gw': 'k' }, 'trust', 'trust'],
      ['10.0.0.1', {}, 'link', 'trust'],
      ['8.8.8.8', { 'x-gw': 'k' }, 'link', 'trust'],
      ['8.8.8.8', {}, 'link', 'link'],
    ];
    for (const [address, headers, expectedAll, expectedAny] of cases) {
      expect(all.decide(info(address, headers)).context).toBe(expectedAll);
      expect(any.decide(info(address, headers)).context).toBe(expectedAny);
    }
  });
});

describe('createTrustPolicy() with a function', () => {
  it('reads decision strings as the fixed options of the same name', () => {
    const policy = createTrustPolicy((request) => (request.clientAddress === 'a' ? 'trust' : request.clientAddress === 'b' ? 'link' : 'ignore'));
    expect(policy.decide(info('a'))).toEqual({ context: 'trust', baggage: 'keep' });
    expect(policy.decide(info('b'))).toEqual({ context: 'link', baggage: 'keep' });
    expect(policy.decide(info('c'))).toEqual({ context: 'ignore', baggage: 'allowlist' });
  });

  it("reads 'link' from the decide of the object form as untrusted: linked, with only the untrustedBaggage keys kept", () => {
    const policy = createTrustPolicy({ decide: (request) => (request.path?.startsWith('/internal/') ? 'trust' : 'link'), untrustedBaggage: ['synthetic.test'] });
    expect(policy.decide({ ...info('203.0.113.9'), path: '/internal/jobs' })).toEqual({ context: 'trust', baggage: 'keep' });
    expect(policy.decide({ ...info('203.0.113.9'), path: '/orders' })).toEqual({ context: 'link', baggage: 'allowlist' });
    const restricted = policy.restrictBaggage(propagation.createBaggage({ 'customer.tier': { value: 'platinum' }, 'synthetic.test': { value: '1' } }));
    expect(restricted?.getAllEntries().map(([key]) => key)).toEqual(['synthetic.test']);
  });

  it('takes a full verdict as returned', () => {
    const policy = createTrustPolicy({ decide: () => ({ context: 'trust', baggage: 'allowlist' }), untrustedBaggage: ['synthetic.test'] });
    expect(policy.decide(info('x'))).toEqual({ context: 'trust', baggage: 'allowlist' });
  });

  it('sees the request info it is given', () => {
    const seen: TrustRequestInfo[] = [];
    const request = { id: 1 };
    const policy = createTrustPolicy((r) => {
      seen.push(r);
      return 'trust';
    });
    policy.decide({ clientAddress: '10.0.0.1', headers: { a: 'b' }, method: 'POST', path: '/x', request });
    expect(seen).toEqual([{ clientAddress: '10.0.0.1', headers: { a: 'b' }, method: 'POST', path: '/x', request }]);
  });

  it('treats a throw as untrusted and counts it, without throwing', () => {
    const policy = createTrustPolicy({
      decide: () => {
        throw new Error('boom');
      },
      untrusted: 'ignore',
    });
    expect(policy.decide(info('10.0.0.1'))).toEqual({ context: 'ignore', baggage: 'allowlist' });
    expect(diagnosticsSnapshot()['internal.error']).toBe(1);
  });

  it('treats an unknown result as untrusted', () => {
    const policy = createTrustPolicy(() => 'maybe' as never);
    expect(policy.decide(info('10.0.0.1'))).toEqual({ context: 'link', baggage: 'allowlist' });
  });
});

describe('restrictBaggage()', () => {
  it('keeps only the allowlisted keys, with their properties, and counts what it drops', () => {
    const policy = createTrustPolicy({ trustedAddresses: ['private'], untrustedBaggage: ['synthetic.test'] });
    const kept = policy.restrictBaggage(SAMPLE_BAGGAGE)!;
    expect(kept.getAllEntries().map(([key]) => key)).toEqual(['synthetic.test']);
    expect(kept.getEntry('synthetic.test')?.value).toBe('yes');
    expect(kept.getEntry('synthetic.test')?.metadata?.toString()).toBe('ttl=60');
    expect(diagnosticsSnapshot()['extract.baggage.untrusted']).toBe(1);
  });

  it('returns undefined when nothing is allowlisted', () => {
    const policy = createTrustPolicy({ trustedAddresses: ['private'] });
    expect(policy.restrictBaggage(SAMPLE_BAGGAGE)).toBeUndefined();
    expect(diagnosticsSnapshot()['extract.baggage.untrusted']).toBe(2);
  });

  it("reads OpenTelemetry's own Baggage too", () => {
    const policy = createTrustPolicy({ trustedAddresses: ['private'], untrustedBaggage: ['a'] });
    const baggage = propagation.createBaggage({ a: { value: '1' }, b: { value: '2' } });
    expect(policy.restrictBaggage(baggage)?.getAllEntries().map(([key, entry]) => [key, entry.value])).toEqual([['a', '1']]);
  });

  it('passes undefined through', () => {
    expect(createTrustPolicy('ignore').restrictBaggage(undefined)).toBeUndefined();
  });
});

describe('createTrustPolicy() validation', () => {
  it.each([
    ['a misspelt decision', 'trusted', 'trust'],
    ['a number', 42, 'trust'],
    ['an array', ['private'], 'trust'],
    ['an empty object', {}, 'trust'],
    ['an unknown key', { trustedAdresses: ['private'] }, 'trust.trustedAdresses'],
    ['a CIDR block with a prefix too long', { trustedAddresses: ['10.0.0.0/33'] }, 'trust.trustedAddresses[0]'],
    ['an empty address list', { trustedAddresses: [] }, 'trust.trustedAddresses'],
    ['a host name for an address', { trustedAddresses: ['private', 'gateway.internal'] }, 'trust.trustedAddresses[1]'],
    ['a header without a name', { trustedHeader: { value: 'x' } }, 'trust.trustedHeader.name'],
    ['an empty header value list', { trustedHeader: { name: 'x-gw', value: [] } }, 'trust.trustedHeader.value'],
    ['a header given as a string', { trustedHeader: 'x-gw' }, 'trust.trustedHeader'],
    ['an unknown match', { trustedAddresses: ['private'], match: 'both' }, 'trust.match'],
    ['an untrusted decision of trust', { trustedAddresses: ['private'], untrusted: 'trust' }, 'trust.untrusted'],
    ['a non-array baggage allowlist', { trustedAddresses: ['private'], untrustedBaggage: 'synthetic.test' }, 'trust.untrustedBaggage'],
    ['a decide that is not a function', { decide: 'trust' }, 'trust.decide'],
    ['decide together with rules', { decide: () => 'trust', trustedAddresses: ['private'] }, 'trust.decide'],
  ])('throws InvalidOptionError naming the option for %s', (_name, option, optionName) => {
    const error = invalidOptionOf(() => createTrustPolicy(option as never));
    expect(error.option).toBe(optionName);
    expect(error.message).toMatch(new RegExp(`^ctxprop: option "${optionName.replace(/[[\].]/g, '\\$&')}" must be`));
  });
});

describe('createTrustPolicy() unknown keys', () => {
  it.each([
    [{ trustedAdresses: ['private'] }, 'trust.trustedAdresses', 'Did you mean "trustedAddresses"?'],
    [{ trustedAddresses: ['private'], untrustedbaggage: ['a'] }, 'trust.untrustedbaggage', 'Did you mean "untrustedBaggage"?'],
    [{ trustedAddresses: ['private'], policy: 'strict' }, 'trust.policy', 'Remove it'],
    [{ trustedHeader: { name: 'x-gw', valeu: 's' } }, 'trust.trustedHeader.valeu', 'Did you mean "value"?'],
    [{ trustedHeader: { header: 'x-gw' } }, 'trust.trustedHeader.header', 'Remove it'],
  ])('refuses %j, naming %s and the fix', (option, optionName, fix) => {
    const error = invalidOptionOf(() => createTrustPolicy(option as never));
    expect(error.option).toBe(optionName);
    expect(error.message).toContain(fix);
  });
});

describe('createTrustPolicy() on wire input', () => {
  it('never throws, whatever the client address and headers', () => {
    const policy = createTrustPolicy({ trustedAddresses: ['private', '2001:db8::/32'], trustedHeader: { name: 'x-gw', value: 'k' }, match: 'any' });
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 60 })), fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string(), fc.array(fc.string()))), (address, headers) => {
        const verdict = policy.decide(info(address ?? undefined, headers));
        return verdict.context === 'trust' || verdict.context === 'link';
      }),
    );
  });
});
