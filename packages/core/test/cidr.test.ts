import { BlockList, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { InvalidOptionError } from '@ctxprop/core';
import { createCidrMatcher, isPrivateAddress, parseCidr } from '../src/policy/cidr';
import { parseIpAddress } from '../src/policy/ip-address';
import { invalidOptionOf } from './invalid-option';

describe('parseIpAddress()', () => {
  it.each([
    // RFC 4291 §2.2: the three conventional text forms.
    ['2001:db8:0:0:8:800:200c:417a', '20010db8000000000008080020 0c417a'],
    ['2001:DB8::8:800:200C:417A', '20010db8000000000008080020 0c417a'],
    ['ff01::101', 'ff010000000000000000000000000101'],
    ['::1', '00000000000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['0:0:0:0:0:0:13.1.68.3', '0000000000000000000000000d014403'],
    ['::13.1.68.3', '0000000000000000000000000d014403'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001'],
    ['[2001:db8::1]', '20010db8000000000000000000000001'],
  ])('parses the IPv6 text form %s (RFC 4291 §2.2)', (text, hex) => {
    const parsed = parseIpAddress(text);
    expect(parsed?.family).toBe(6);
    expect(Buffer.from(parsed!.bytes).toString('hex')).toBe(hex.replace(/ /g, ''));
  });

  it.each([
    ['::ffff:10.0.0.1', [10, 0, 0, 1]],
    ['::FFFF:129.144.52.38', [129, 144, 52, 38]],
    ['::ffff:0a00:0001', [10, 0, 0, 1]],
    ['[::ffff:192.168.1.1]', [192, 168, 1, 1]],
  ])('reads the IPv4-mapped address %s as IPv4 (RFC 4291 §2.5.5.2)', (text, bytes) => {
    expect(parseIpAddress(text)).toEqual({ family: 4, bytes: new Uint8Array(bytes) });
  });

  it.each([
    '', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', 'example.com',
    ':::', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:', 'g::1',
    '1::2:3:4:5:6:7:8', '::1.2.3', '[1.2.3.4]', '[::1', 'fe80::1%', '::ffff:1.2.3.4.5',
    '1:2:3:4:5:6:7:1.2.3.4',
  ])('refuses %j', (text) => {
    expect(parseIpAddress(text)).toBeUndefined();
  });

  it('agrees with Node.js net.isIPv6 on generated IPv6 addresses and never throws on any string', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        expect(isIPv6(text)).toBe(true);
        expect(parseIpAddress(text, true)?.family).toBe(6);
      }),
    );
    fc.assert(fc.property(fc.string(), (text) => {
      parseIpAddress(text);
    }));
  });
});

describe('parseCidr()', () => {
  it.each([
    ['10.0.0.0/8', 4, [10, 0, 0, 0], 8],
    ['10.1.2.3/8', 4, [10, 0, 0, 0], 8],
    ['172.16.0.0/12', 4, [172, 16, 0, 0], 12],
    ['192.168.1.77', 4, [192, 168, 1, 77], 32],
    ['0.0.0.0/0', 4, [0, 0, 0, 0], 0],
    ['::ffff:10.0.0.0/104', 4, [10, 0, 0, 0], 8],
  ])('parses %s', (text, family, bytes, prefix) => {
    const cidr = parseCidr(text, 'cidrs[0]');
    expect(cidr.family).toBe(family);
    expect([...cidr.bytes]).toEqual(bytes);
    expect(cidr.prefix).toBe(prefix);
  });

  it('parses IPv6 blocks and clears host bits', () => {
    const cidr = parseCidr('fd12:3456::1/8', 'cidrs[0]');
    expect(cidr.family).toBe(6);
    expect(cidr.prefix).toBe(8);
    expect(Buffer.from(cidr.bytes).toString('hex')).toBe('fd000000000000000000000000000000');
    expect(parseCidr('::1', 'x').prefix).toBe(128);
  });

  it.each(['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/-1', 'fd00::/129', 'example.com/8', '', '10.0.0/8', '[::1]/128'])(
    'throws InvalidOptionError naming the option for %j',
    (text) => {
      const thrown = invalidOptionOf(() => parseCidr(text, 'destinations.rules[2].cidrs[1]'));
      expect(thrown.option).toBe('destinations.rules[2].cidrs[1]');
      expect(thrown.message).toMatch(/^ctxprop: option "destinations\.rules\[2\]\.cidrs\[1\]" must be a CIDR block/);
    },
  );
});

describe('createCidrMatcher()', () => {
  const matches = createCidrMatcher(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '2001:db8::/32'], 'cidrs');

  it.each([
    ['10.255.0.1', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['::ffff:10.0.0.1', true],
    ['[::ffff:10.0.0.1]', true],
    ['fd12::1', true],
    ['[fd12::1]', true],
    ['fe80::1', false],
    ['2001:db8:ffff::1', true],
    ['2001:db9::1', false],
    ['internal.example.com', false],
    ['', false],
  ])('%s → %s', (address, expected) => {
    expect(matches(address)).toBe(expected);
  });

  it('names the index of a bad entry', () => {
    expect(() => createCidrMatcher(['10.0.0.0/8', 'nope'], 'trust.cidrs')).toThrow('option "trust.cidrs[1]"');
    expect(() => createCidrMatcher('10.0.0.0/8' as unknown as string[], 'trust.cidrs')).toThrow(InvalidOptionError);
  });

  it('agrees with Node.js net.BlockList on random IPv4 blocks and addresses', () => {
    const octets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join('.'));
    fc.assert(
      fc.property(octets, fc.integer({ min: 0, max: 32 }), octets, (network, prefix, address) => {
        const list = new BlockList();
        list.addSubnet(network, prefix, 'ipv4');
        const ours = createCidrMatcher([`${network}/${prefix}`], 'cidrs');
        expect(ours(address)).toBe(list.check(address, 'ipv4'));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with Node.js net.BlockList on random IPv6 blocks and addresses', () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), fc.ipV6(), (network, prefix, address) => {
        const list = new BlockList();
        list.addSubnet(network, prefix, 'ipv6');
        const ours = createCidrMatcher([`${network}/${prefix}`], 'cidrs');
        const parsedNetwork = parseIpAddress(network);
        const parsedAddress = parseIpAddress(address);
        // Mapped IPv4 addresses are compared as IPv4 by design; BlockList keeps them IPv6.
        fc.pre(parsedNetwork?.family === 6 && parsedAddress?.family === 6);
        expect(ours(address)).toBe(list.check(address, 'ipv6'));
        expect(ours(network)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('isPrivateAddress()', () => {
  it.each([
    ['127.0.0.1', true, 'loopback, RFC 1122'],
    ['127.255.255.254', true, 'loopback, RFC 1122'],
    ['::1', true, 'loopback, RFC 4291 §2.5.3'],
    ['10.0.0.1', true, 'RFC 1918'],
    ['172.16.0.1', true, 'RFC 1918'],
    ['172.31.255.255', true, 'RFC 1918'],
    ['172.32.0.1', false, 'outside RFC 1918'],
    ['172.15.255.255', false, 'outside RFC 1918'],
    ['192.168.0.1', true, 'RFC 1918'],
    ['192.169.0.1', false, 'outside RFC 1918'],
    ['169.254.169.254', true, 'link-local, RFC 3927'],
    ['100.64.0.1', true, 'CGNAT, RFC 6598'],
    ['100.127.255.255', true, 'CGNAT, RFC 6598'],
    ['100.128.0.1', false, 'outside CGNAT'],
    ['fe80::1', true, 'link-local, RFC 4291 §2.5.6'],
    ['febf::1', true, 'link-local, RFC 4291 §2.5.6'],
    ['fec0::1', false, 'outside fe80::/10'],
    ['fc00::1', true, 'unique-local, RFC 4193'],
    ['fdff::1', true, 'unique-local, RFC 4193'],
    ['fe00::1', false, 'outside fc00::/7'],
    ['::ffff:192.168.1.1', true, 'IPv4-mapped RFC 1918'],
    ['::ffff:8.8.8.8', false, 'IPv4-mapped public'],
    ['8.8.8.8', false, 'public'],
    ['2001:4860:4860::8888', false, 'public IPv6'],
    ['localhost', false, 'a host name, not an address'],
  ])('%s → %s (%s)', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });
});
