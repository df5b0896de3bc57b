// Which references in a trusted response become grants: tables over one policy. Reflection and narrowing are
// decided here, in the pure selection, so every case reads as request → reference → decision.

import { describe, expect, it } from 'vitest';
import { Reflection } from '../../src/grants/reflection.js';
import { newResponseGrants, selectReference, type ResponseGrants } from '../../src/grants/select.js';
import type { Reference } from '../../src/inspect/reference.js';
import { compileWithWarnings } from './compile.js';

const policyText = (grants = '{ maxPerResponse: 2 }') => `
version: 1
settings: { grants: ${grants} }
rules:
  - { name: no-pastebins, domain: "*.paste.example", ports: "*", effect: deny }
  - { name: api, domain: api.example.com, ports: [443], inspect: [json], effect: allow }
  - { name: docs, domain: docs.example.com, ports: [443], effect: allow }
  - { name: rest, domain: "*", ports: [25], effect: deny }
`;
const policy = compileWithWarnings(policyText());
const urlPolicy = compileWithWarnings(policyText('{ maxPerResponse: 2, scope: url }'));

const ref = (url: string, found = '$.x'): Reference => {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    url: u.href,
    scheme: u.protocol === 'https:' ? 'https' : 'http',
    host,
    hostKind: /^[\d.]+$/.test(host) ? 'ipv4' : host.includes(':') ? 'ipv6' : 'name',
    port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80,
    found,
  };
};
const fresh = (options: Parameters<typeof newResponseGrants>[2] = {}): ResponseGrants =>
  newResponseGrants('api.example.com', 443, options);

describe('selectReference', () => {
  it.each([
    ['a host no rule mentions', 'https://cdn.example.net/a.png', 'grant'],
    ["the response's own host", 'https://api.example.com/next', 'none'],
    ['a host the policy already allows', 'https://docs.example.com/x', 'none'],
    ['a host a deny rule names', 'https://x.paste.example/raw', 'skip'],
    ['an IPv4 literal', 'http://203.0.113.5/x', 'skip'],
    ['an IPv6 literal', 'http://[2001:db8::1]/x', 'skip'],
  ])('%s → %s', (_name, url, kind) => {
    expect(selectReference(policy, 'agent', ref(url), fresh())?.kind).toBe(kind);
  });

  it('a catch-all deny does not block grants (it is what default deny already is)', () => {
    expect(selectReference(policy, 'agent', ref('https://cdn.example.net/'), fresh())?.kind).toBe('grant');
  });

  it('caps distinct hosts per response and counts each host once', () => {
    const state = fresh();
    const kinds = [
      'https://a.cdn.test/1',
      'https://a.cdn.test/2',
      'https://b.cdn.test/',
      'https://c.cdn.test/',
      'https://d.cdn.test/',
    ].map((u) => selectReference(policy, 'agent', ref(u), state)?.kind);
    expect(kinds).toEqual(['grant', undefined, 'grant', 'skip', 'skip']);
  });

  it('scope url: every URL of a granted host is its own grant, each URL once; the cap still counts hosts', () => {
    const state = fresh();
    const urls = [
      'https://a.cdn.test/1',
      'https://a.cdn.test/2',
      'https://a.cdn.test/1',
      'https://b.cdn.test/',
      'https://c.cdn.test/',
    ];
    expect(urls.map((u) => selectReference(urlPolicy, 'agent', ref(u), state)?.kind)).toEqual([
      'grant',
      'grant',
      undefined,
      'grant',
      'skip',
    ]);
  });

  it('stays O(1) per reference: 50,000 distinct hosts past the cap are each decided without counting the others', () => {
    const state = fresh();
    let skipped = 0;
    for (let i = 0; i < 50_000; i++)
      if (selectReference(policy, 'agent', ref(`https://h${i}.cdn.test/`), state)?.kind === 'skip') skipped++;
    expect(skipped).toBe(50_000 - 2);
    expect(state.granted).toBe(2);
  });
});

describe('selectReference: what the request carried is never granted', () => {
  type Row = [name: string, target: string, body: string, reference: string, scope: 'host' | 'url', expected: string];
  it.each<Row>([
    [
      'the attack: a URL in the query echoed back',
      '/search?q=http://attacker.example/steal?k=sk-123456789',
      '',
      'http://attacker.example/steal?k=sk-123456789',
      'host',
      'skip reflected',
    ],
    [
      'the host alone, in the query',
      '/search?q=attacker.example',
      '',
      'https://attacker.example/x',
      'host',
      'skip reflected',
    ],
    [
      'the host percent-encoded',
      '/search?q=attacker%2Eexample',
      '',
      'https://attacker.example/',
      'host',
      'skip reflected',
    ],
    ['the host in upper case', '/search?q=ATTACKER.EXAMPLE', '', 'https://attacker.example/', 'host', 'skip reflected'],
    [
      'the host in a JSON body',
      '/search',
      '{"q":"http:\\/\\/attacker.example\\/"}',
      'http://attacker.example/',
      'host',
      'skip reflected',
    ],
    [
      '8 characters of the query in the host',
      '/search?q=Zq8sEcReT1',
      '',
      'https://zq8secret1.attacker.example/',
      'host',
      'skip reflected',
    ],
    [
      'scope url: 8 characters of the query in the path',
      '/search?q=Zq8sEcReT1',
      '',
      'https://cdn.example.net/Zq8sEcReT1.png',
      'url',
      'skip reflected',
    ],
    [
      'scope url: 8 characters of the body in the query',
      '/search',
      'secret=Zq8sEcReT1',
      'https://cdn.example.net/a?k=zq8secret1',
      'url',
      'skip reflected',
    ],
    [
      'scope host: a query word in the path does not matter (the host is what is granted)',
      '/search?q=photography',
      '',
      'https://cdn.example.net/photography/1.jpg',
      'host',
      'grant',
    ],
    ['7 characters are not a run', '/search?q=kittens', '', 'https://cdn.example.net/kittens.jpg', 'url', 'grant'],
    ['an unrelated URL', '/search?q=cats+and+dogs', '', 'https://cdn.example.net/img/123.jpg', 'url', 'grant'],
  ])('%s', (_name, target, body, url, scope, expected) => {
    const reflection = new Reflection(target, { host: 'api.example.com', accept: 'application/json' });
    reflection.addBody(Buffer.from(body));
    const selection = selectReference(scope === 'url' ? urlPolicy : policy, 'agent', ref(url), fresh({ reflection }));
    expect(selection?.kind === 'skip' ? `skip ${selection.why}` : selection?.kind).toBe(expected);
  });

  it('a host named in a request header is not granted', () => {
    const reflection = new Reflection('/search', { 'x-callback': 'https://hooks.attacker.example/cb' });
    expect(
      selectReference(policy, 'agent', ref('https://hooks.attacker.example/'), fresh({ reflection })),
    ).toMatchObject({ kind: 'skip', why: 'reflected' });
  });

  it('a body over 64 KiB, unseen in part: nothing is granted unless inspect.grant.hosts vouches for the host', () => {
    const reflection = new Reflection('/search', {});
    reflection.addBody(Buffer.alloc(64 * 1024 + 1, 0x61));
    expect(reflection.complete).toBe(false);
    expect(selectReference(policy, 'agent', ref('https://cdn.example.net/'), fresh({ reflection }))).toMatchObject({
      kind: 'skip',
      why: 'request_unseen',
    });
    const narrowed = compileWithWarnings(`
version: 1
rules:
  - { name: api, domain: api.example.com, inspect: { types: [json], grant: { hosts: ["*.gstatic.example"] } }, effect: allow }
`);
    const narrowing = narrowed.rules[0]?.grantNarrowing ?? null;
    expect(
      selectReference(narrowed, 'agent', ref('https://a.gstatic.example/'), fresh({ reflection, narrowing }))?.kind,
    ).toBe('grant');
  });

  it('a content-coded request body cannot be read: treated as unseen', () => {
    const reflection = new Reflection('/search', { 'content-encoding': 'gzip' });
    expect(selectReference(policy, 'agent', ref('https://cdn.example.net/'), fresh({ reflection }))).toMatchObject({
      kind: 'skip',
      why: 'request_unseen',
    });
  });
});

describe('selectReference: inspect.grant narrows what a rule may grant', () => {
  const narrowed = compileWithWarnings(`
version: 1
rules:
  - name: api
    domain: api.example.com
    inspect: { types: [json, html], grant: { hosts: ["*.gstatic.example", img.example.net], paths: ["$.results[*].image", "$..thumbnail.src", "img[src]", "header Location"] } }
    effect: allow
`);
  const narrowing = narrowed.rules[0]?.grantNarrowing ?? null;
  it.each<[name: string, url: string, found: string, expected: string]>([
    ['a listed host at a listed JSON path', 'https://t1.gstatic.example/a.png', '$.results[3].image', 'grant'],
    ['an exact listed host', 'https://img.example.net/a.png', '$.results[0].image', 'grant'],
    ['`..` at any depth', 'https://t1.gstatic.example/a.png', '$.data.items[2].thumbnail.src', 'grant'],
    ['an HTML attribute listed', 'https://t1.gstatic.example/a.png', 'html img[src]', 'grant'],
    ['a redirect, listed', 'https://t1.gstatic.example/a.png', 'header Location', 'grant'],
    ['a host outside the list', 'https://attacker.example/a.png', '$.results[0].image', 'skip not_in_grant_hosts'],
    [
      'a listed host at another path',
      'https://t1.gstatic.example/a.png',
      '$.results[0].snippet',
      'skip not_in_grant_paths',
    ],
    ['an HTML attribute not listed', 'https://t1.gstatic.example/a.png', 'html a[href]', 'skip not_in_grant_paths'],
  ])('%s → %s', (_name, url, found, expected) => {
    const selection = selectReference(narrowed, 'agent', ref(url, found), fresh({ narrowing }));
    expect(selection?.kind === 'skip' ? `skip ${selection.why}` : selection?.kind).toBe(expected);
  });

  it('a host skipped for its path may still be granted where it is found at a listed path', () => {
    const state = fresh({ narrowing });
    expect(
      selectReference(narrowed, 'agent', ref('https://t1.gstatic.example/a.png', '$.results[0].snippet'), state)?.kind,
    ).toBe('skip');
    expect(
      selectReference(narrowed, 'agent', ref('https://t1.gstatic.example/a.png', '$.results[0].image'), state)?.kind,
    ).toBe('grant');
  });
});
