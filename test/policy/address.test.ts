import { describe, expect, it } from 'vitest';
import { type AddressCategory, checkAddress, classifyAddress, compileAddressGuard } from '../../src/policy/address.js';

const noExceptions = compileAddressGuard([], []);

describe('classifyAddress', () => {
  it.each<[name: string, input: string, category: AddressCategory, canonical: string]>([
    ['public IPv4', '93.184.216.34', 'public', '93.184.216.34'],
    ['public IPv6', '2606:2800:220:1:248:1893:25c8:1946', 'public', '2606:2800:220:1:248:1893:25c8:1946'],
    ['IPv4 loopback', '127.0.0.1', 'loopback', '127.0.0.1'],
    ['IPv4 loopback, top of /8', '127.255.255.254', 'loopback', '127.255.255.254'],
    ['IPv6 loopback', '::1', 'loopback', '::1'],
    ['IPv6 loopback, long form', '0:0:0:0:0:0:0:1', 'loopback', '::1'],
    ['10/8', '10.1.2.3', 'private', '10.1.2.3'],
    ['172.16/12 low', '172.16.0.1', 'private', '172.16.0.1'],
    ['172.16/12 high', '172.31.255.255', 'private', '172.31.255.255'],
    ['just past 172.16/12', '172.32.0.1', 'public', '172.32.0.1'],
    ['192.168/16', '192.168.1.1', 'private', '192.168.1.1'],
    ['IPv4 link-local', '169.254.1.1', 'link_local', '169.254.1.1'],
    ['IPv6 link-local', 'fe80::1', 'link_local', 'fe80::1'],
    ['IPv6 link-local with zone id', 'fe80::1%eth0', 'link_local', 'fe80::1%eth0'],
    ['CGNAT 100.64/10', '100.64.0.1', 'cgnat', '100.64.0.1'],
    ['just past CGNAT', '100.128.0.1', 'public', '100.128.0.1'],
    ['IPv4 multicast', '224.0.0.251', 'multicast', '224.0.0.251'],
    ['IPv6 multicast', 'ff02::1', 'multicast', 'ff02::1'],
    ['IPv4 unspecified', '0.0.0.0', 'unspecified', '0.0.0.0'],
    ['this-network 0/8', '0.1.2.3', 'unspecified', '0.1.2.3'],
    ['IPv6 unspecified', '::', 'unspecified', '::'],
    ['limited broadcast', '255.255.255.255', 'broadcast', '255.255.255.255'],
    ['TEST-NET-1', '192.0.2.10', 'documentation', '192.0.2.10'],
    ['TEST-NET-2', '198.51.100.10', 'documentation', '198.51.100.10'],
    ['TEST-NET-3', '203.0.113.10', 'documentation', '203.0.113.10'],
    ['IPv6 documentation', '2001:db8::1', 'documentation', '2001:db8::1'],
    ['IPv6 documentation (RFC 9637)', '3fff::1', 'documentation', '3fff::1'],
    ['IPv4 benchmarking', '198.19.0.1', 'benchmarking', '198.19.0.1'],
    ['IPv6 benchmarking', '2001:2::1', 'benchmarking', '2001:2::1'],
    ['unique local', 'fd12:3456::1', 'unique_local', 'fd12:3456::1'],
    ['unique local, fc half', 'fc00::1', 'unique_local', 'fc00::1'],
    ['AWS/GCP/Azure IMDS', '169.254.169.254', 'metadata', '169.254.169.254'],
    ['ECS task metadata', '169.254.170.2', 'metadata', '169.254.170.2'],
    ['EKS Pod Identity', '169.254.170.23', 'metadata', '169.254.170.23'],
    ['Azure wireserver (public range)', '168.63.129.16', 'metadata', '168.63.129.16'],
    ['Azure wireserver neighbour stays public', '168.63.129.17', 'public', '168.63.129.17'],
    ['Alibaba metadata (inside CGNAT)', '100.100.100.200', 'metadata', '100.100.100.200'],
    ['AWS IMDS IPv6 (inside ULA)', 'fd00:ec2::254', 'metadata', 'fd00:ec2::254'],
    ['AWS IMDS IPv6, long form', 'FD00:0EC2:0000:0000:0000:0000:0000:0254', 'metadata', 'fd00:ec2::254'],
    ['future use 240/4', '240.0.0.1', 'reserved', '240.0.0.1'],
    ['IETF protocol assignments', '192.0.0.8', 'reserved', '192.0.0.8'],
    ['deprecated 6to4 relay anycast', '192.88.99.1', 'reserved', '192.88.99.1'],
    ['Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
    ['IPv6 discard-only', '100::1', 'reserved', '100::1'],
    ['IPv6 site-local (deprecated)', 'fec0::1', 'reserved', 'fec0::1'],
    ['IPv6 outside 2000::/3', '4000::1', 'reserved', '4000::1'],
    ['NAT64 local-use, not the /96 layout', '64:ff9b:1:7f00:1::', 'reserved', '64:ff9b:1:7f00:1::'],
  ])('%s: %s is %s', (_name, input, category, canonical) => {
    const cls = classifyAddress(input);
    expect(cls).toEqual({ address: canonical, category });
  });

  it.each<[name: string, input: string, canonical: string, embedded: string, category: AddressCategory]>([
    ['IPv4-mapped, dotted', '::ffff:127.0.0.1', '::ffff:7f00:1', '127.0.0.1', 'loopback'],
    ['IPv4-mapped, hex', '::ffff:7f00:1', '::ffff:7f00:1', '127.0.0.1', 'loopback'],
    ['IPv4-compatible, dotted', '::127.0.0.1', '::7f00:1', '127.0.0.1', 'loopback'],
    ['IPv4-compatible, hex', '::7f00:1', '::7f00:1', '127.0.0.1', 'loopback'],
    ['NAT64 well-known prefix', '64:ff9b::127.0.0.1', '64:ff9b::7f00:1', '127.0.0.1', 'loopback'],
    ['NAT64 local-use prefix', '64:ff9b:1::7f00:1', '64:ff9b:1::7f00:1', '127.0.0.1', 'loopback'],
    ['6to4', '2002:7f00:1::', '2002:7f00:1::', '127.0.0.1', 'loopback'],
    ['6to4 with host bits', '2002:7f00:1:1::5', '2002:7f00:1:1::5', '127.0.0.1', 'loopback'],
    ['IPv4-mapped metadata', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '169.254.169.254', 'metadata'],
    ['IPv4-compatible metadata', '::169.254.169.254', '::a9fe:a9fe', '169.254.169.254', 'metadata'],
    ['NAT64 metadata', '64:ff9b::a9fe:a9fe', '64:ff9b::a9fe:a9fe', '169.254.169.254', 'metadata'],
    ['NAT64 local-use metadata', '64:ff9b:1::169.254.169.254', '64:ff9b:1::a9fe:a9fe', '169.254.169.254', 'metadata'],
    ['6to4 metadata', '2002:a9fe:a9fe::1', '2002:a9fe:a9fe::1', '169.254.169.254', 'metadata'],
    ['IPv4-mapped private', '::ffff:10.0.0.1', '::ffff:a00:1', '10.0.0.1', 'private'],
    ['IPv4-mapped public', '::ffff:93.184.216.34', '::ffff:5db8:d822', '93.184.216.34', 'public'],
    ['IPv4-compatible this-network', '::2', '::2', '0.0.0.2', 'unspecified'],
  ])('%s: %s carries %s', (_name, input, canonical, embedded, category) => {
    expect(classifyAddress(input)).toEqual({ address: canonical, category, embedded });
  });

  it.each([
    ['empty', ''],
    ['host name', 'localhost'],
    ['short IPv4 (read as 127.0.0.1 by inet_aton)', '127.1'],
    ['hex IPv4', '0x7f.0.0.1'],
    ['octal-looking IPv4 (inet_aton reads 8.0.0.1)', '010.0.0.1'],
    ['single integer', '2130706433'],
    ['octet out of range', '256.0.0.1'],
    ['bracketed IPv6', '[::1]'],
    ['IPv6 with a bad dotted tail', '::ffff:127.1'],
    ['too many groups', '1:2:3:4:5:6:7:8:9'],
    ['surrounding space', ' 127.0.0.1'],
    ['zone on IPv4', '127.0.0.1%eth0'],
  ])('%s (%j) is a TypeError', (_name, input) => {
    expect(() => classifyAddress(input)).toThrow(TypeError);
  });
});

describe('checkAddress', () => {
  it.each<[name: string, allow: string[], deny: string[], ip: string, ok: boolean, category: AddressCategory]>([
    ['public passes', [], [], '93.184.216.34', true, 'public'],
    ['loopback refused by default', [], [], '127.0.0.1', false, 'loopback'],
    ['metadata refused by default', [], [], '169.254.169.254', false, 'metadata'],
    ['mapped metadata refused by default', [], [], '::ffff:169.254.169.254', false, 'metadata'],
    ['Azure wireserver refused though public space', [], [], '168.63.129.16', false, 'metadata'],
    ['allowCidrs lets loopback through', ['127.0.0.0/8'], [], '127.0.0.1', true, 'loopback'],
    ['IPv4 allow covers the mapped form', ['127.0.0.0/8'], [], '::ffff:127.0.0.1', true, 'loopback'],
    ['IPv4 allow covers the NAT64 form', ['127.0.0.0/8'], [], '64:ff9b::7f00:1', true, 'loopback'],
    ['IPv6 allow covers the mapped form', ['::ffff:0:0/96'], [], '::ffff:127.0.0.1', true, 'loopback'],
    ['allow of a bare address', ['10.0.0.5'], [], '10.0.0.5', true, 'private'],
    ['bare allow is one host only', ['10.0.0.5'], [], '10.0.0.6', false, 'private'],
    ['allow elsewhere does not help', ['10.0.0.0/8'], [], '127.0.0.1', false, 'loopback'],
    ['IPv6 allow does not cover IPv4', ['::/0'], [], '127.0.0.1', false, 'loopback'],
    ['deny beats allow', ['10.0.0.0/8'], ['10.0.0.0/24'], '10.0.0.1', false, 'private'],
    [
      'deny beats allow on the embedded IPv4',
      ['::ffff:0:0/96'],
      ['127.0.0.1/32'],
      '::ffff:127.0.0.1',
      false,
      'loopback',
    ],
    ['deny refuses a public address', [], ['93.184.216.0/24'], '93.184.216.34', false, 'public'],
    ['deny refuses a mapped public address', [], ['93.184.216.0/24'], '::ffff:93.184.216.34', false, 'public'],
    ['deny elsewhere leaves public alone', [], ['10.0.0.0/8'], '93.184.216.34', true, 'public'],
    ['IPv6 deny of a public address', [], ['2606:2800::/32'], '2606:2800:220:1:248:1893:25c8:1946', false, 'public'],
  ])('%s', (_name, allow, deny, ip, ok, category) => {
    const verdict = checkAddress(compileAddressGuard(allow, deny), ip);
    expect(verdict).toMatchObject({ ok, category });
    if (!verdict.ok) expect(verdict.reason).toBe('address_denied');
  });

  it.each<[name: string, allow: string[], deny: string[], ip: string, message: string]>([
    ['metadata', [], [], '169.254.169.254', '169.254.169.254 is a cloud metadata address; leash never dials it'],
    [
      'mapped metadata',
      [],
      [],
      '::ffff:169.254.169.254',
      '::ffff:a9fe:a9fe (IPv4 169.254.169.254) is a cloud metadata address; leash never dials it',
    ],
    [
      'loopback',
      [],
      [],
      '::1',
      '::1 is a loopback address; leash refuses it unless settings.network.allowCidrs lists it',
    ],
    [
      'private',
      [],
      [],
      '192.168.0.10',
      '192.168.0.10 is a private network address; leash refuses it unless settings.network.allowCidrs lists it',
    ],
    [
      'denied public',
      [],
      ['93.184.216.0/24'],
      '93.184.216.34',
      '93.184.216.34 is a public address, refused by deny CIDR 93.184.216.0/24',
    ],
  ])('denial message for %s names address and category', (_name, allow, deny, ip, message) => {
    const verdict = checkAddress(compileAddressGuard(allow, deny), ip);
    expect(verdict).toEqual({
      ok: false,
      address: expect.any(String),
      category: expect.any(String),
      reason: 'address_denied',
      message,
    });
  });

  it('reports the canonical address', () => {
    expect(checkAddress(noExceptions, '0:0:0:0:0:ffff:7f00:0001')).toMatchObject({ address: '::ffff:7f00:1' });
  });

  it('throws TypeError on a non-IP (callers fail closed)', () => {
    expect(() => checkAddress(noExceptions, 'example.com')).toThrow(TypeError);
  });
});

describe('compileAddressGuard', () => {
  it.each([
    ['prefix too long for IPv4', '10.0.0.0/33', /10\.0\.0\.0\/33.*allowCidrs.*larger than 32 for an IPv4 address/],
    ['prefix too long for IPv6', '::/129', /larger than 128/],
    ['prefix not a number', '10.0.0.0/x', /not a number/],
    ['empty prefix', '10.0.0.0/', /not a number/],
    ['leading zero prefix', '10.0.0.0/08', /not a number/],
    ['two slashes', '10.0.0.0/8/8', /not a number/],
    ['short IPv4', '10/8', /not an IPv4 dotted quad/],
    ['host name', 'localhost/32', /not an IPv4 dotted quad/],
    ['empty', '', /not an IPv4 dotted quad/],
    ['zone id', 'fe80::%eth0/10', /zone ids/],
  ])('%s: %j is a TypeError', (_name, cidr, message) => {
    expect(() => compileAddressGuard([cidr], [])).toThrow(TypeError);
    expect(() => compileAddressGuard([cidr], [])).toThrow(message);
  });

  it('names the list the malformed entry came from', () => {
    expect(() => compileAddressGuard([], ['10.0.0.0/99'])).toThrow(/in denyCidrs/);
  });

  it('keeps the text as written and is frozen', () => {
    const guard = compileAddressGuard(['10.0.0.0/8', '::1'], []);
    expect(guard.allow.map((c) => c.text)).toEqual(['10.0.0.0/8', '::1']);
    expect(Object.isFrozen(guard)).toBe(true);
    expect(Object.isFrozen(guard.allow)).toBe(true);
  });
});
