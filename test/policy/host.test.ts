// Host normalisation: one canonical spelling per host. Each row is a spelling an agent (or an attacker steering
// one) might send, and the single form the policy, DNS and the audit log see.

import { describe, expect, it } from 'vitest';
import { hostForUrl, normalizeHost, splitAuthority, type HostKind } from '../../src/policy/host.js';

describe('normalizeHost', () => {
  it.each<[name: string, raw: string, host: string, kind: HostKind]>([
    ['plain name', 'api.openai.com', 'api.openai.com', 'name'],
    ['upper case', 'API.OpenAI.COM', 'api.openai.com', 'name'],
    ['trailing dot', 'api.openai.com.', 'api.openai.com', 'name'],
    ['single label', 'localhost', 'localhost', 'name'],
    ['underscore label (SRV-style names exist in the wild)', '_acme.example.com', '_acme.example.com', 'name'],
    ['IDN to punycode', 'bücher.example', 'xn--bcher-kva.example', 'name'],
    ['IDN upper case', 'BÜCHER.EXAMPLE', 'xn--bcher-kva.example', 'name'],
    ['punycode stays punycode', 'xn--bcher-kva.example', 'xn--bcher-kva.example', 'name'],
    ['IDN, non-Latin TLD', 'пример.испытание', 'xn--e1afmkfd.xn--80akhbyknj4f', 'name'],
    ['ideographic full stop is a dot (UTS #46)', 'bücher。example', 'xn--bcher-kva.example', 'name'],
    ['full-width letters fold to ASCII', 'ｅｘａｍｐｌｅ.com', 'example.com', 'name'],
    ['IPv4', '93.184.216.34', '93.184.216.34', 'ipv4'],
    ['IPv4, trailing dot', '127.0.0.1.', '127.0.0.1', 'ipv4'],
    ['IPv4, short form a.b', '127.1', '127.0.0.1', 'ipv4'],
    ['IPv4, short form a.b.c', '192.168.257', '192.168.1.1', 'ipv4'],
    ['IPv4, hex parts', '0x7f.1', '127.0.0.1', 'ipv4'],
    ['IPv4, upper-case hex', '0X7F.0X0.0X0.0X1', '127.0.0.1', 'ipv4'],
    ['IPv4, decimal integer', '2130706433', '127.0.0.1', 'ipv4'],
    ['IPv4, hex integer', '0x7f000001', '127.0.0.1', 'ipv4'],
    ['IPv4, octal parts', '0177.0.0.1', '127.0.0.1', 'ipv4'],
    ['IPv4, octal integer', '017700000001', '127.0.0.1', 'ipv4'],
    ['IPv4, metadata address as an integer', '2852039166', '169.254.169.254', 'ipv4'],
    ['IPv4, highest address', '4294967295', '255.255.255.255', 'ipv4'],
    ['IPv4-mapped IPv6, dotted, bracketed', '[::ffff:127.0.0.1]', '127.0.0.1', 'ipv4'],
    ['IPv4-mapped IPv6, hex, bracketed', '[::ffff:7f00:1]', '127.0.0.1', 'ipv4'],
    ['IPv4-mapped IPv6, unbracketed', '::ffff:7f00:1', '127.0.0.1', 'ipv4'],
    ['IPv4-mapped IPv6, long form', '[0:0:0:0:0:ffff:a9fe:a9fe]', '169.254.169.254', 'ipv4'],
    ['IPv6, bracketed', '[2001:db8::1]', '2001:db8::1', 'ipv6'],
    ['IPv6, unbracketed', '2001:db8::1', '2001:db8::1', 'ipv6'],
    ['IPv6, upper case and leading zeros', '[2001:0DB8:0000:0000:0000:0000:0000:0001]', '2001:db8::1', 'ipv6'],
    ['IPv6 loopback', '[::1]', '::1', 'ipv6'],
  ])('%s: %s → %s', (_name, raw, host, kind) => {
    expect(normalizeHost(raw)).toEqual({ ok: true, host, kind });
  });

  it.each<[name: string, raw: string, message: string]>([
    ['empty', '', 'is not a host name or address'],
    ['space', 'exa mple.com', 'is not a host name or address'],
    [
      'userinfo (would make a URL parser read another host)',
      'api.openai.com@evil.example',
      'is not a host name or address',
    ],
    ['path', 'evil.example/api.openai.com', 'is not a host name or address'],
    ['backslash', 'evil.example\\api.openai.com', 'is not a host name or address'],
    ['query', 'evil.example?api.openai.com', 'is not a host name or address'],
    ['fragment', 'evil.example#api.openai.com', 'is not a host name or address'],
    ['percent-encoding', 'api%2eopenai.com', 'is not a host name or address'],
    ['port', 'api.openai.com:443', 'is not a valid IPv6 address'],
    ['empty label', 'api..openai.com', 'label ""'],
    ['two trailing dots', 'api.openai.com..', 'label ""'],
    ['label starts with a hyphen', '-api.openai.com', 'label "-api"'],
    ['label ends with a hyphen', 'api-.openai.com', 'label "api-"'],
    ['label over 63 characters', `${'a'.repeat(64)}.example`, 'label'],
    ['name over 253 characters', `${'a.'.repeat(127)}example`, 'is not a valid host name'],
    ['five-part IPv4', '1.2.3.4.5', 'IDNA or IPv4 syntax'],
    ['IPv4 integer out of range', '4294967296', 'IDNA or IPv4 syntax'],
    ['IPv4 part out of range', '1.2.3.256', 'IDNA or IPv4 syntax'],
    ['invalid octal digit', '09.1.1.1', 'IDNA or IPv4 syntax'],
    ['IPv6 with a zone id', '[fe80::1%eth0]', 'is not a valid IPv6 address'],
    ['IPv6, unclosed bracket', '[2001:db8::1', 'is not a valid IPv6 address'],
    ['IPv6, too many groups', '[1:2:3:4:5:6:7:8:9]', 'is not a valid IPv6 address'],
    ['over 300 characters', 'a'.repeat(301), 'is not a host name or address'],
  ])('rejects %s', (_name, raw, message) => {
    const result = normalizeHost(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain(message);
  });
});

describe('splitAuthority', () => {
  it.each<[name: string, authority: string, expected: { host: string; port: number } | undefined]>([
    ['name and port', 'api.openai.com:443', { host: 'api.openai.com', port: 443 }],
    ['IPv4 and port', '10.0.0.1:8080', { host: '10.0.0.1', port: 8080 }],
    ['bracketed IPv6 and port', '[2001:db8::1]:443', { host: '[2001:db8::1]', port: 443 }],
    ['highest port', 'a.example:65535', { host: 'a.example', port: 65535 }],
    ['no port', 'api.openai.com', undefined],
    ['empty port', 'api.openai.com:', undefined],
    ['port 0', 'api.openai.com:0', undefined],
    ['port above 65535', 'api.openai.com:65536', undefined],
    ['non-numeric port', 'api.openai.com:https', undefined],
    ['unbracketed IPv6', '2001:db8::1:443', undefined],
    ['two ports', 'a.example:80:443', undefined],
  ])('%s', (_name, authority, expected) => {
    expect(splitAuthority(authority)).toEqual(expected);
  });
});

describe('hostForUrl', () => {
  it.each<[host: string, kind: HostKind, written: string]>([
    ['api.openai.com', 'name', 'api.openai.com'],
    ['127.0.0.1', 'ipv4', '127.0.0.1'],
    ['2001:db8::1', 'ipv6', '[2001:db8::1]'],
  ])('%s (%s) is written %s', (host, kind, written) => {
    expect(hostForUrl(host, kind)).toBe(written);
  });
});
