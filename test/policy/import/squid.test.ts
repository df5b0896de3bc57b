// squid.conf → leash: the imported policy decides the fixture's requests as squid's http_access lines would (first
// match wins, the implicit last rule is the opposite of the last line), for clients in the localnet src acl (agent
// localnet) and elsewhere (anonymous).

import { describe, expect, it } from 'vitest';
import { importSquid } from '../../../src/policy/import/squid.js';
import { importFixture, leashVerdict, type SourceVerdict } from './round-trip.js';

interface Row {
  readonly name: string;
  readonly client: string;
  readonly request: string;
  readonly squid: SourceVerdict;
}

describe('leash policy import --from squid', () => {
  const { policy, yaml, warnings } = importFixture('squid', 'squid.conf');

  it.each<Row>([
    { name: 'HTTPS to an allowed site', client: 'localnet', request: 'CONNECT api.openai.com:443', squid: 'allow' },
    {
      name: 'plain HTTP to an allowed site',
      client: 'localnet',
      request: 'POST http://api.openai.com/v1/x',
      squid: 'allow',
    },
    { name: '.example.com covers the apex', client: 'localnet', request: 'CONNECT example.com:443', squid: 'allow' },
    {
      name: '.example.com covers subdomains',
      client: 'localnet',
      request: 'CONNECT www.example.com:443',
      squid: 'allow',
    },
    {
      name: 'a continuation line (.pypi.org)',
      client: 'localnet',
      request: 'CONNECT files.pypi.org:443',
      squid: 'allow',
    },
    {
      name: 'an earlier deny line beats a later allow',
      client: 'localnet',
      request: 'CONNECT upload.example.com:443',
      squid: 'deny',
    },
    {
      name: 'CONNECT to a port outside SSL_ports',
      client: 'localnet',
      request: 'CONNECT example.com:80',
      squid: 'deny',
    },
    { name: 'a port outside Safe_ports', client: 'localnet', request: 'GET http://example.com:25/', squid: 'deny' },
    { name: 'a listed Safe_port', client: 'localnet', request: 'GET http://example.com:21/', squid: 'allow' },
    { name: 'a client outside localnet', client: 'anonymous', request: 'CONNECT api.openai.com:443', squid: 'deny' },
    { name: 'an unlisted site (deny all)', client: 'localnet', request: 'CONNECT example.org:443', squid: 'deny' },
    {
      name: 'a method acl: GET allowed',
      client: 'localnet',
      request: 'GET http://docs.example.net/guide',
      squid: 'allow',
    },
    {
      name: 'a method acl: POST refused',
      client: 'localnet',
      request: 'POST http://docs.example.net/guide',
      squid: 'deny',
    },
    {
      name: 'a method acl: CONNECT on its own line',
      client: 'localnet',
      request: 'CONNECT docs.example.net:443',
      squid: 'allow',
    },
  ])('$name: $client $request → $squid', ({ client, request, squid }) => {
    expect(leashVerdict(policy, request, client)).toBe(squid);
  });

  it('turns src acls into agents with their CIDRs and says what it left out', () => {
    expect(yaml).toMatch(/^ {2}localnet:\n {4}cidrs: \[10\.0\.0\.0\/8, 192\.168\.0\.0\/16\]$/m);
    expect(yaml).toMatch(/not carried over: the source also allowed ports 1025-65535/);
    expect(yaml).toMatch(/skipped: http_port, coredump_dir/);
    // The only warnings: methods on plain-HTTP ports, which squid limited the same way.
    expect(warnings.every((w) => /methods on port \d+/.test(w))).toBe(true);
  });

  it('denies the rest after a last deny line, allows it after a last allow line', () => {
    const afterAllow = importSquid('s.conf', 'acl bad dstdomain bad.example\nhttp_access deny bad\n');
    expect(
      afterAllow.ok && afterAllow.policy.rules.some((r) => r.domain === '*' && r.effect === 'allow' && r.broad),
    ).toBe(true);
    const none = importSquid('s.conf', 'acl ok dstdomain ok.example\n');
    expect(none.ok && none.policy.rules).toEqual([]);
  });

  it.each([
    ['an acl no line defines', 'http_access allow missing\n', 1, /no acl line defines/],
    [
      'a deny line leash cannot judge',
      'acl q url_regex secret\nhttp_access deny q\nhttp_access allow all\n',
      2,
      /cannot judge/,
    ],
    ['values from a file', 'acl a dstdomain "/etc/squid/allow.txt"\n', 1, /read from a file/],
    ['a bad port', 'acl p port 70000\n', 1, /not a port/],
    ['a domain leash cannot read', 'acl d dstdomain a.*.example\n', 1, /whole leading label/],
  ])('refuses %s, naming the line', (_name, text, line, message) => {
    const result = importSquid('squid.conf', text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]).toMatchObject({
      location: { file: 'squid.conf', line },
      message: expect.stringMatching(message),
    });
  });

  it('leaves out an allow line leash cannot judge, saying so', () => {
    const result = importSquid('squid.conf', 'acl q url_regex x\nhttp_access allow q\nhttp_access deny all\n');
    expect(result.ok && result.policy.notes.some((n) => /line 2 .* left out/.test(n))).toBe(true);
  });
});
