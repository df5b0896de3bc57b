// Host patterns of the `domain:` field: what each spelling compiles to, what is refused and why, and which
// patterns cover which (the basis of the shadowing warning). The same compiled form is what the matcher indexes.

import { describe, expect, it } from 'vitest';
import { cidrContains, compileHostPattern, patternCovers, type HostPattern } from '../../src/policy/host-pattern.js';
import type { HostKind } from '../../src/policy/host.js';

function pattern(text: string): HostPattern {
  const result = compileHostPattern(text);
  if (!result.ok) throw new Error(`${text}: ${result.message}`);
  return result.pattern;
}

describe('compileHostPattern', () => {
  it.each<[name: string, text: string, compiled: object]>([
    ['anything', '*', { kind: 'any' }],
    ['exact name', 'api.openai.com', { kind: 'exact', host: 'api.openai.com', hostKind: 'name' }],
    ['exact name, normalised', 'API.OpenAI.com.', { kind: 'exact', host: 'api.openai.com', hostKind: 'name' }],
    ['exact IDN name', 'bücher.example', { kind: 'exact', host: 'xn--bcher-kva.example', hostKind: 'name' }],
    ['exact IPv4', '93.184.216.34', { kind: 'exact', host: '93.184.216.34', hostKind: 'ipv4' }],
    ['exact IPv4, odd spelling', '0x7f.1', { kind: 'exact', host: '127.0.0.1', hostKind: 'ipv4' }],
    ['exact IPv6', 'FD00:EC2::254', { kind: 'exact', host: 'fd00:ec2::254', hostKind: 'ipv6' }],
    [
      'exact IPv4-mapped IPv6 is the IPv4 address',
      '::ffff:169.254.169.254',
      { kind: 'exact', host: '169.254.169.254', hostKind: 'ipv4' },
    ],
    ['wildcard', '*.example.com', { kind: 'wildcard', suffix: 'example.com', publicSuffix: null }],
    ['wildcard, normalised', '*.Example.COM.', { kind: 'wildcard', suffix: 'example.com', publicSuffix: null }],
    [
      'wildcard over IDN',
      '*.bücher.example',
      { kind: 'wildcard', suffix: 'xn--bcher-kva.example', publicSuffix: null },
    ],
    [
      'wildcard, several labels kept',
      '*.eu.api.example.com',
      { kind: 'wildcard', suffix: 'eu.api.example.com', publicSuffix: null },
    ],
    [
      'wildcard over a private suffix (deny rules may use it; allow rules need broad: true)',
      '*.github.io',
      { kind: 'wildcard', suffix: 'github.io', publicSuffix: 'private' },
    ],
    [
      'wildcard over a TLD (deny rules may use it; allow rules need broad: true)',
      '*.com',
      { kind: 'wildcard', suffix: 'com', publicSuffix: 'icann' },
    ],
    ['wildcard over a TLD, trailing dot', '*.com.', { kind: 'wildcard', suffix: 'com', publicSuffix: 'icann' }],
    ['wildcard over an IDN TLD', '*.рф', { kind: 'wildcard', suffix: 'xn--p1ai', publicSuffix: 'icann' }],
    ['wildcard over an ICANN public suffix', '*.co.uk', { kind: 'wildcard', suffix: 'co.uk', publicSuffix: 'icann' }],
    [
      'wildcard over another ICANN public suffix',
      '*.com.au',
      { kind: 'wildcard', suffix: 'com.au', publicSuffix: 'icann' },
    ],
    [
      'wildcard below a private suffix',
      '*.someone.github.io',
      { kind: 'wildcard', suffix: 'someone.github.io', publicSuffix: null },
    ],
    ['wildcard below an ICANN suffix', '*.bbc.co.uk', { kind: 'wildcard', suffix: 'bbc.co.uk', publicSuffix: null }],
    ['IPv4 CIDR', '10.0.0.0/8', { kind: 'cidr', family: 'ipv4' }],
    ['IPv4 CIDR, /32', '10.1.2.3/32', { kind: 'cidr', family: 'ipv4' }],
    ['IPv4 CIDR, /0', '0.0.0.0/0', { kind: 'cidr', family: 'ipv4' }],
    ['IPv6 CIDR', 'fd00::/8', { kind: 'cidr', family: 'ipv6' }],
    ['IPv4-mapped IPv6 CIDR becomes IPv4', '::ffff:10.0.0.0/104', { kind: 'cidr', family: 'ipv4' }],
  ])('%s: %s', (_name, text, compiled) => {
    const result = compileHostPattern(text);
    expect(result).toMatchObject({ ok: true, pattern: { text, ...compiled } });
  });

  it('an IPv4-mapped IPv6 CIDR keeps its size', () => {
    const p = pattern('::ffff:10.0.0.0/104');
    expect(p.kind === 'cidr' && [p.range[0].toString(), p.range[1]]).toEqual(['10.0.0.0', 8]);
  });

  it.each<[name: string, text: string, message: string]>([
    ['"*" inside a label', 'api*.example.com', '"*" is only allowed as a whole leading label'],
    ['"*" as a label in the middle', 'api.*.example.com', '"*" is only allowed as a whole leading label'],
    ['two wildcards', '*.*.example.com', '"*.*.example.com" is written "*.example.com"'],
    ['"*" at the end', 'example.*', '"*" is only allowed as a whole leading label'],
    ['"**"', '**', '"*" is only allowed as a whole leading label'],
    ['a wildcard over an address', '*.0.0.10', 'a wildcard applies to host names, not addresses'],
    ['a bare "*."', '*.', '"*." names no domain after "*."'],
    ['a malformed CIDR', '10.0.0.0/33', '"10.0.0.0/33" is not a valid CIDR'],
    ['a CIDR without a prefix length', '10.0.0.0/', 'is not a valid CIDR'],
    ['a CIDR of a name', 'example.com/8', 'is not a valid CIDR'],
    ['a CIDR with host bits set', '10.0.0.1/8', '"10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?'],
    ['an IPv6 CIDR with host bits set', 'fd00::1/8', 'did you mean fd00::/8?'],
    ['a host with a space', 'api openai.com', 'is not a host name or address'],
    // `domain` takes a host; the message says where the rest goes.
    [
      'a host with a port',
      'api.openai.com:443',
      '"api.openai.com:443" includes a port; domain takes a host only: write domain: api.openai.com, ports: [443]',
    ],
    [
      'a host, port and path',
      'api.example.test:8080/v1/**',
      'write domain: api.example.test, ports: [8080], paths: ["/v1/**"]',
    ],
    [
      'a URL',
      'https://api.openai.com',
      '"https://api.openai.com" is a URL; domain takes a host only: write domain: api.openai.com, ports: [443]',
    ],
    ['a URL with a path', 'https://img.cdn.test/', 'write domain: img.cdn.test, ports: [443]'],
    [
      'a URL with a port and path',
      'http://img.cdn.test:8080/a/b',
      'write domain: img.cdn.test, ports: [8080], paths: ["/a/b"]',
    ],
    [
      'a host with a path',
      'img.cdn.test/images/**',
      'includes a path; domain takes a host only: write domain: img.cdn.test, paths: ["/images/**"]',
    ],
    ['empty', '', 'is not a host name or address'],
  ])('rejects %s: %s', (_name, text, message) => {
    const result = compileHostPattern(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain(message);
  });
});

describe('cidrContains', () => {
  it.each<[name: string, cidr: string, host: string, kind: HostKind, inside: boolean]>([
    ['inside a /8', '10.0.0.0/8', '10.255.255.255', 'ipv4', true],
    ['just past a /8', '10.0.0.0/8', '11.0.0.0', 'ipv4', false],
    ['a /32 is one address', '10.1.2.3/32', '10.1.2.3', 'ipv4', true],
    ['a /32, its neighbour', '10.1.2.3/32', '10.1.2.4', 'ipv4', false],
    ['/0 is every IPv4 address', '0.0.0.0/0', '203.0.113.1', 'ipv4', true],
    ['inside an IPv6 /8', 'fd00::/8', 'fdff::1', 'ipv6', true],
    ['outside an IPv6 /8', 'fd00::/8', 'fe00::1', 'ipv6', false],
    ['::/0 is every IPv6 address', '::/0', '2001:db8::1', 'ipv6', true],
    ['families never cross: ::/0 and an IPv4 host', '::/0', '10.0.0.1', 'ipv4', false],
    ['families never cross: 0.0.0.0/0 and an IPv6 host', '0.0.0.0/0', '2001:db8::1', 'ipv6', false],
    ['a mapped CIDR matches the IPv4 host', '::ffff:10.0.0.0/104', '10.9.9.9', 'ipv4', true],
  ])('%s', (_name, cidr, host, kind, inside) => {
    const p = pattern(cidr);
    if (p.kind !== 'cidr') throw new Error(`${cidr} is not a CIDR pattern`);
    expect(cidrContains(p, host, kind)).toBe(inside);
  });
});

describe('patternCovers (does the first pattern match every host the second does?)', () => {
  it.each<[outer: string, inner: string, covers: boolean]>([
    ['*', 'api.openai.com', true],
    ['*', '*.example.com', true],
    ['*', '10.0.0.0/8', true],
    ['api.openai.com', 'api.openai.com', true],
    ['api.openai.com', 'API.OPENAI.COM.', true],
    ['api.openai.com', 'eu.api.openai.com', false],
    ['api.openai.com', '*', false],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'badexample.com', false],
    ['*.example.com', '*.example.com', true],
    ['*.example.com', '*.a.example.com', true],
    ['*.a.example.com', '*.example.com', false],
    ['*.example.com', '93.184.216.34', false],
    ['10.0.0.0/8', '10.1.2.3', true],
    ['10.0.0.0/8', '0x0a.1', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.1.0.0/16', '10.0.0.0/8', false],
    ['10.0.0.0/8', 'ten.example.com', false],
    ['fd00::/8', 'fd00::1', true],
    ['fd00::/8', '10.0.0.1', false],
    ['::/0', '0.0.0.0/0', false],
  ])('%s covers %s: %s', (outer, inner, covers) => {
    expect(patternCovers(pattern(outer), pattern(inner))).toBe(covers);
  });
});
