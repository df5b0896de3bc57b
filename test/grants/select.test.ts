// Which references in a trusted response become grants: a table over one policy.

import { describe, expect, it } from 'vitest';
import { newResponseGrants, selectReference } from '../../src/grants/select.js';
import type { Reference } from '../../src/inspect/reference.js';
import { compile } from '../policy/compile.js';

const policy = compile(`
version: 1
settings: { grants: { maxPerResponse: 2 } }
rules:
  - { name: no-pastebins, domain: "*.paste.example", ports: "*", effect: deny }
  - { name: api, domain: api.example.com, ports: [443], inspect: [json], effect: allow }
  - { name: docs, domain: docs.example.com, ports: [443], effect: allow }
  - { name: rest, domain: "*", ports: [25], effect: deny }
`);

const ref = (url: string, found = '$.x'): Reference => {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { url: u.href, scheme: u.protocol === 'https:' ? 'https' : 'http', host, hostKind: /^[\d.]+$/.test(host) ? 'ipv4' : host.includes(':') ? 'ipv6' : 'name', port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80, found };
};

describe('selectReference', () => {
  it.each([
    ['a host no rule mentions', 'https://cdn.example.net/a.png', 'grant'],
    ['the response\'s own host', 'https://api.example.com/next', 'none'],
    ['a host the policy already allows', 'https://docs.example.com/x', 'none'],
    ['a host a deny rule names', 'https://x.paste.example/raw', 'skip'],
    ['an IPv4 literal', 'http://203.0.113.5/x', 'skip'],
    ['an IPv6 literal', 'http://[2001:db8::1]/x', 'skip'],
  ])('%s → %s', (_name, url, kind) => {
    expect(selectReference(policy, 'agent', ref(url), newResponseGrants('api.example.com', 443))?.kind).toBe(kind);
  });

  it('a catch-all deny does not block grants (it is what default deny already is)', () => {
    expect(selectReference(policy, 'agent', ref('https://cdn.example.net/'), newResponseGrants('api.example.com', 443))?.kind).toBe('grant');
  });

  it('caps distinct hosts per response and counts each host once', () => {
    const state = newResponseGrants('api.example.com', 443);
    const kinds = ['https://a.cdn.test/1', 'https://a.cdn.test/2', 'https://b.cdn.test/', 'https://c.cdn.test/', 'https://d.cdn.test/'].map((u) => selectReference(policy, 'agent', ref(u), state)?.kind);
    expect(kinds).toEqual(['grant', undefined, 'grant', 'skip', 'skip']);
  });
});
