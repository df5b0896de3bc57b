// The decision table: one small policy, and for each request the effect, the deciding rule and the reason.
// Reading down the table is reading the matching semantics: a matching deny rule wins, then the most specific
// allow rule for the host and port decides, no match denies.

import { describe, expect, it } from 'vitest';
import { decide, type RequestFacts } from '../../src/policy/evaluate.js';
import { compile } from './compile.js';

const POLICY = `
version: 1
agents:
  research: { token: env:LEASH_TOKEN_RESEARCH }
  ci: { token: file:/run/secrets/ci-token }
rules:
  # A deny rule wins over the allow rules of the same host, wherever it stands.
  - name: docs-admin
    domain: docs.example.com
    ports: [80]
    paths: ["/admin/**"]
    effect: deny
    reason: admin console
  - name: docs-read
    domain: docs.example.com
    ports: [80]
    methods: [GET, HEAD]
    paths: ["/v1/**", "/guide/*.html"]
    effect: allow
  - name: openai
    domain: api.openai.com
    ports: [443]
    effect: allow
  - name: cdn
    domain: "*.cdn.example.com"
    effect: allow
  - name: vault
    domain: vault.corp.example
    effect: deny
    reason: secrets store
  - name: corp
    domain: "*.corp.example"
    effect: allow
  - name: origin-ip
    domain: 93.184.216.34
    effect: allow
  - name: lab
    domain: 10.20.0.0/16
    ports: "*"
    effect: allow
  - name: lab-ssh
    domain: 10.20.7.0/24
    ports: [22]
    methods: [CONNECT]
    effect: allow
  - name: v6-lab
    domain: "2001:db8:abcd::/48"
    ports: [8443]
    effect: allow
  - name: papers
    domain: papers.example.org
    agents: [research]
    effect: allow
  - name: uploads
    domain: upload.example.org
    ports: [80]
    methods: [PUT, POST]
    effect: allow
  - name: any-host-8080
    domain: "*"
    ports: [8080]
    broad: true
    effect: allow
`;

const policy = compile(POLICY);

const get = (host: string, path = '/', port = 80): RequestFacts => ({ method: 'GET', host, port, path });
const connect = (host: string, port = 443): RequestFacts => ({ method: 'CONNECT', host, port });

type Row = [name: string, request: RequestFacts, effect: 'allow' | 'deny', rule: string | null, reason: string];

const table: Row[] = [
  // exact
  ['exact host, its port', connect('api.openai.com'), 'allow', 'openai', 'allowed_by_rule'],
  ['exact host, another port', connect('api.openai.com', 8443), 'deny', null, 'no_rule'],
  ['exact host does not cover its subdomains', connect('eu.api.openai.com'), 'deny', null, 'no_rule'],
  ['exact host does not cover its parent', connect('openai.com'), 'deny', null, 'no_rule'],
  ['exact host is not a suffix match', connect('evilapi.openai.com'), 'deny', null, 'no_rule'],
  // wildcard
  ['wildcard, one label deep', connect('a.cdn.example.com'), 'allow', 'cdn', 'allowed_by_rule'],
  ['wildcard, three labels deep', connect('x.y.z.cdn.example.com'), 'allow', 'cdn', 'allowed_by_rule'],
  ['wildcard does not cover its apex', connect('cdn.example.com'), 'deny', null, 'no_rule'],
  ['wildcard suffix must start at a label', connect('evilcdn.example.com'), 'deny', null, 'no_rule'],
  ['wildcard suffix must end the host', connect('a.cdn.example.com.evil.net'), 'deny', null, 'no_rule'],
  ['wildcard with default ports, port 80', get('img.cdn.example.com', '/logo.png'), 'allow', 'cdn', 'allowed_by_rule'],
  // deny wins
  ['exact deny beside a wildcard allow', connect('vault.corp.example'), 'deny', 'vault', 'denied_by_rule'],
  [
    'a sibling of the denied host falls to the wildcard',
    connect('wiki.corp.example'),
    'allow',
    'corp',
    'allowed_by_rule',
  ],
  [
    'the denied host deeper down is not the exact host',
    connect('a.vault.corp.example'),
    'allow',
    'corp',
    'allowed_by_rule',
  ],
  // "*"
  [
    '"*" matches any name on its port',
    get('anything.example.net', '/', 8080),
    'allow',
    'any-host-8080',
    'allowed_by_rule',
  ],
  ['"*" matches an address on its port', get('203.0.113.9', '/', 8080), 'allow', 'any-host-8080', 'allowed_by_rule'],
  ['"*" on 8080 says nothing about 443', connect('anything.example.net'), 'deny', null, 'no_rule'],
  // IP
  ['exact IPv4', connect('93.184.216.34'), 'allow', 'origin-ip', 'allowed_by_rule'],
  ['exact IPv4, a neighbour', connect('93.184.216.35'), 'deny', null, 'no_rule'],
  ['exact IPv4 written as an integer', connect('1572395042'), 'allow', 'origin-ip', 'allowed_by_rule'],
  // CIDR
  ['IPv4 CIDR, inside', get('10.20.1.2'), 'allow', 'lab', 'allowed_by_rule'],
  ['IPv4 CIDR, first address', get('10.20.0.0'), 'allow', 'lab', 'allowed_by_rule'],
  ['IPv4 CIDR, last address', get('10.20.255.255'), 'allow', 'lab', 'allowed_by_rule'],
  ['IPv4 CIDR, just outside', get('10.21.0.0'), 'deny', null, 'no_rule'],
  ['IPv4 CIDR, IPv4-mapped IPv6 spelling', get('[::ffff:10.20.3.4]'), 'allow', 'lab', 'allowed_by_rule'],
  ['IPv4 CIDR, ports "*" allows any port', get('10.20.1.2', '/', 8081), 'allow', 'lab', 'allowed_by_rule'],
  ['an opaque tunnel (port 22) needs CONNECT in the methods', connect('10.20.1.2', 22), 'deny', null, 'opaque_tunnel'],
  ['a rule naming CONNECT allows the opaque tunnel', connect('10.20.7.9', 22), 'allow', 'lab-ssh', 'allowed_by_rule'],
  ['IPv6 CIDR, inside', connect('[2001:db8:abcd:12::1]', 8443), 'allow', 'v6-lab', 'allowed_by_rule'],
  [
    'IPv6 CIDR, uncompressed spelling',
    connect('2001:0db8:abcd:0012:0000:0000:0000:0001', 8443),
    'allow',
    'v6-lab',
    'allowed_by_rule',
  ],
  ['IPv6 CIDR, just outside', connect('[2001:db8:abce::1]', 8443), 'deny', null, 'no_rule'],
  ['IPv6 CIDR, wrong port', connect('[2001:db8:abcd::1]', 443), 'deny', null, 'no_rule'],
  ['a CIDR never matches a host name', get('10.20.1.2.nip.example'), 'deny', null, 'no_rule'],
  // ports
  ['default ports include 80', get('wiki.corp.example'), 'allow', 'corp', 'allowed_by_rule'],
  ['default ports include 443', connect('wiki.corp.example', 443), 'allow', 'corp', 'allowed_by_rule'],
  ['default ports are only 80 and 443', connect('wiki.corp.example', 22), 'deny', null, 'no_rule'],
  ['default ports exclude 8443', connect('wiki.corp.example', 8443), 'deny', null, 'no_rule'],
  // methods
  [
    'listed method',
    { method: 'PUT', host: 'upload.example.org', port: 80, path: '/f' },
    'allow',
    'uploads',
    'allowed_by_rule',
  ],
  ['unlisted method', get('upload.example.org', '/f'), 'deny', null, 'no_rule'],
  [
    'methods are case-sensitive tokens',
    { method: 'PUTS', host: 'upload.example.org', port: 80, path: '/f' },
    'deny',
    null,
    'no_rule',
  ],
  ['a method list does not admit CONNECT', connect('upload.example.org', 80), 'deny', null, 'opaque_tunnel'],
  // paths
  ['"/v1/**" matches below /v1', get('docs.example.com', '/v1/models/list'), 'allow', 'docs-read', 'allowed_by_rule'],
  ['"/v1/**" matches /v1 itself', get('docs.example.com', '/v1'), 'allow', 'docs-read', 'allowed_by_rule'],
  ['"/v1/**" matches /v1/', get('docs.example.com', '/v1/'), 'allow', 'docs-read', 'allowed_by_rule'],
  ['"/v1/**" does not match /v10', get('docs.example.com', '/v10/models'), 'deny', null, 'no_rule'],
  ['"/v1/**" does not match /v1beta', get('docs.example.com', '/v1beta'), 'deny', null, 'no_rule'],
  [
    '"*" matches within one segment',
    get('docs.example.com', '/guide/intro.html'),
    'allow',
    'docs-read',
    'allowed_by_rule',
  ],
  ['"*" does not cross a slash', get('docs.example.com', '/guide/a/intro.html'), 'deny', null, 'no_rule'],
  [
    'the query string is not part of the path',
    get('docs.example.com', '/v1/search?q=/admin/x'),
    'allow',
    'docs-read',
    'allowed_by_rule',
  ],
  [
    'paths and methods together: HEAD',
    { method: 'HEAD', host: 'docs.example.com', port: 80, path: '/v1/x' },
    'allow',
    'docs-read',
    'allowed_by_rule',
  ],
  [
    'paths and methods together: POST',
    { method: 'POST', host: 'docs.example.com', port: 80, path: '/v1/x' },
    'deny',
    null,
    'no_rule',
  ],
  // path normalisation against a deny rule
  ['deny "/admin/**": /admin', get('docs.example.com', '/admin'), 'deny', 'docs-admin', 'denied_by_rule'],
  ['deny "/admin/**": /admin/users', get('docs.example.com', '/admin/users'), 'deny', 'docs-admin', 'denied_by_rule'],
  [
    'bypass attempt: percent-encoded letter /%61dmin',
    get('docs.example.com', '/%61dmin/users'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  [
    'an escape decodes to exactly its character: /%76%31/x is /v1/x',
    get('docs.example.com', '/%76%31/x'),
    'allow',
    'docs-read',
    'allowed_by_rule',
  ],
  [
    'a deny rule catches every casing: /%41dmin is /Admin',
    get('docs.example.com', '/%41dmin'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  [
    'a deny rule catches every casing: /ADMIN/users',
    get('docs.example.com', '/ADMIN/users'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  ['an allow rule is exact about casing: /V1/x', get('docs.example.com', '/V1/x'), 'deny', null, 'no_rule'],
  [
    'bypass attempt: path parameters /admin;x/users',
    get('docs.example.com', '/admin;x/users'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  [
    'bypass attempt: dot segments /v1/../admin',
    get('docs.example.com', '/v1/../admin/users'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  [
    'bypass attempt: dot segments /a/../admin',
    get('docs.example.com', '/a/../admin'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  [
    'bypass attempt: encoded dots /v1/%2e%2e/admin',
    get('docs.example.com', '/v1/%2e%2e/admin'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  [
    'bypass attempt: encoded slash /admin%2Fusers',
    get('docs.example.com', '/admin%2Fusers'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  [
    'bypass attempt: encoded slash, lower case /admin%2fusers',
    get('docs.example.com', '/admin%2fusers'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  [
    'bypass attempt: backslash \\admin\\users',
    get('docs.example.com', '\\admin\\users'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  [
    'bypass attempt: doubled slash //admin',
    get('docs.example.com', '//admin/users'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  ['bypass attempt: dot segment /./admin', get('docs.example.com', '/./admin'), 'deny', 'docs-admin', 'denied_by_rule'],
  [
    'dot segments cannot climb above the root',
    get('docs.example.com', '/../../admin'),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  [
    'an allow rule on paths never vouches for dot segments: origins resolve them differently',
    get('docs.example.com', '/admin/../v1/x'),
    'deny',
    null,
    'no_rule',
  ],
  ['nor for an encoded slash', get('docs.example.com', '/admin/..%2Fv1/x'), 'deny', null, 'no_rule'],
  ['nor for ;parameters', get('docs.example.com', '/v1;x/y'), 'deny', null, 'no_rule'],
  // agents
  [
    'agent named by the rule',
    { ...connect('papers.example.org'), agent: 'research' },
    'allow',
    'papers',
    'allowed_by_rule',
  ],
  ['another agent', { ...connect('papers.example.org'), agent: 'ci' }, 'deny', null, 'no_rule'],
  ['an unidentified client is the anonymous agent', connect('papers.example.org'), 'deny', null, 'no_rule'],
  [
    'a rule without agents applies to every agent',
    { ...connect('api.openai.com'), agent: 'ci' },
    'allow',
    'openai',
    'allowed_by_rule',
  ],
  // CONNECT against rules that look inside requests
  [
    'a tunnel is denied by a deny rule with paths: it could carry those paths',
    connect('docs.example.com', 80),
    'deny',
    'docs-admin',
    'denied_by_rule',
  ],
  // default deny
  ['no rule mentions the host', connect('example.com'), 'deny', null, 'no_rule'],
  ['no rule mentions the address', connect('198.51.100.7'), 'deny', null, 'no_rule'],
  // requests that cannot be normalised
  ['host with a space', connect('exa mple.com'), 'deny', null, 'invalid_request'],
  ['host with userinfo', connect('api.openai.com@evil.example'), 'deny', null, 'invalid_request'],
  ['empty host', connect(''), 'deny', null, 'invalid_request'],
  ['empty label', connect('api..openai.com'), 'deny', null, 'invalid_request'],
  ['IPv6 with a zone id', connect('[fe80::1%25eth0]'), 'deny', null, 'invalid_request'],
  ['port 0', connect('api.openai.com', 0), 'deny', null, 'invalid_request'],
  ['port above 65535', connect('api.openai.com', 65536), 'deny', null, 'invalid_request'],
  [
    'lower-case method',
    { method: 'get', host: 'docs.example.com', port: 80, path: '/v1/x' },
    'deny',
    null,
    'invalid_request',
  ],
];

describe('decide', () => {
  it.each(table)('%s', (_name, request, effect, rule, reason) => {
    const decision = decide(policy, request);
    expect({ effect: decision.effect, rule: decision.rule?.name ?? null, reason: decision.reason }).toEqual({
      effect,
      rule,
      reason,
    });
    expect(decision.revision).toBe(policy.revision);
  });

  it('says which rule decided, with its reason, in the message', () => {
    const decision = decide(policy, connect('vault.corp.example'));
    expect(decision.message).toBe('CONNECT vault.corp.example:443 denied by rule vault (secrets store)');
    expect(decision.rule?.location).toMatchObject({ file: 't.yaml' });
  });

  it('says why a request was denied without a rule', () => {
    expect(decide(policy, get('example.com', '/x')).message).toBe(
      'GET example.com:80/x denied: no rule allows it (default deny)',
    );
    expect(decide(policy, connect('exa mple.com')).message).toMatch(/not a host name/);
  });

  it('records the normalised request', () => {
    const decision = decide(policy, { method: 'GET', host: 'Docs.Example.COM.', port: 80, path: '/%61dmin/x?y=1' });
    expect(decision.request).toEqual({
      method: 'GET',
      host: 'docs.example.com',
      hostKind: 'name',
      port: 80,
      path: '/admin/x',
      ambiguousPath: false,
      agent: 'anonymous',
    });
    expect(decide(policy, connect('[::ffff:7f00:1]')).request).toMatchObject({
      host: '127.0.0.1',
      hostKind: 'ipv4',
      path: undefined,
    });
  });
});

describe('tunnels to TLS ports and interception', () => {
  const policy = compile(`
version: 1
rules:
  - { name: docs-admin, domain: docs.example.com, ports: [443], paths: ["/admin/**"], effect: deny }
  - { name: docs-read, domain: docs.example.com, ports: [443], methods: [GET], effect: allow }
  - { name: plain-deny, domain: blocked.example.com, effect: deny }
  - { name: search, domain: search.example.com, ports: [443], inspect: { types: [json], grant: { hosts: ["*.cdn.example"] } }, effect: allow }
  - { name: api, domain: api.example.com, ports: [443], effect: allow }
  - { name: tunnel-only, domain: ssh.example.com, ports: [443], methods: [CONNECT], effect: allow }
`);
  it.each<[string, RequestFacts, string, string | null, boolean]>([
    [
      'a rule looks at methods, a deny rule at paths: intercept',
      { method: 'CONNECT', host: 'docs.example.com', port: 443 },
      'intercepted',
      'docs-read',
      true,
    ],
    [
      'inspect needs interception',
      { method: 'CONNECT', host: 'search.example.com', port: 443 },
      'intercepted',
      'search',
      true,
    ],
    [
      'a plain rule: splice, no interception',
      { method: 'CONNECT', host: 'api.example.com', port: 443 },
      'allowed_by_rule',
      'api',
      false,
    ],
    [
      'methods: [CONNECT] only: splice',
      { method: 'CONNECT', host: 'ssh.example.com', port: 443 },
      'allowed_by_rule',
      'tunnel-only',
      false,
    ],
    [
      'a plain deny first: denied, never intercepted',
      { method: 'CONNECT', host: 'blocked.example.com', port: 443 },
      'denied_by_rule',
      'plain-deny',
      false,
    ],
    [
      'inside the tunnel: GET /guide',
      { method: 'GET', host: 'docs.example.com', port: 443, path: '/guide' },
      'allowed_by_rule',
      'docs-read',
      false,
    ],
    [
      'inside the tunnel: POST /guide',
      { method: 'POST', host: 'docs.example.com', port: 443, path: '/guide' },
      'no_rule',
      null,
      false,
    ],
    [
      'inside the tunnel: GET /admin/x',
      { method: 'GET', host: 'docs.example.com', port: 443, path: '/admin/x' },
      'denied_by_rule',
      'docs-admin',
      false,
    ],
  ])('%s', (_name, facts, reason, rule, intercept) => {
    const d = decide(policy, facts);
    expect({ reason: d.reason, rule: d.rule?.name ?? null, intercept: d.intercept === true }).toEqual({
      reason,
      rule,
      intercept,
    });
  });
});

// Precedence, one table per rule of it. Each policy is written in the order that used to defeat the operator's
// intent (a broad allow first), and every row must decide as if the order did not matter.
describe('precedence', () => {
  describe('a deny rule wins over every allow rule that matches, whatever the order of rules and files', () => {
    const allowFirst = compile(`
version: 1
rules:
  - { name: all-example, domain: "*.example.test", ports: "*", effect: allow }
  - { name: bad, domain: bad.example.test, effect: deny, reason: known bad }
  - { name: api-writes, domain: api.example.test, methods: [POST], paths: ["/admin/**"], effect: deny }
  - { name: api, domain: api.example.test, effect: allow }
`);
    it.each<[string, RequestFacts, string | null, string]>([
      ['the denied host, on the allow-all port 443', connect('bad.example.test'), 'bad', 'denied_by_rule'],
      [
        'the denied host on port 8080: a deny without ports covers every port',
        { method: 'GET', host: 'bad.example.test', port: 8080, path: '/' },
        'bad',
        'denied_by_rule',
      ],
      ['a sibling of the denied host', get('ok.example.test'), 'all-example', 'allowed_by_rule'],
      [
        'a deny on method and path beats the exact allow',
        { method: 'POST', host: 'api.example.test', port: 80, path: '/admin/x' },
        'api-writes',
        'denied_by_rule',
      ],
      [
        'the exact allow decides the rest',
        { method: 'POST', host: 'api.example.test', port: 80, path: '/v1/x' },
        'api',
        'allowed_by_rule',
      ],
    ])('%s', (_name, facts, rule, reason) => {
      const d = decide(allowFirst, facts);
      expect({ rule: d.rule?.name ?? null, reason: d.reason }).toEqual({ rule, reason });
    });
  });

  describe('among allow rules, the most specific pattern that matches host and port decides; a broader one never widens it', () => {
    const broadFirst = compile(`
version: 1
agents:
  research: { token: env:LEASH_TOKEN_RESEARCH }
  ci: { token: env:LEASH_TOKEN_CI }
rules:
  - { name: everything-8080, domain: "*", ports: [8080], broad: true, effect: allow }
  - { name: all-example, domain: "*.example.test", effect: allow }
  - { name: deep, domain: "*.eu.example.test", methods: [GET], effect: allow }
  - { name: api, domain: api.example.test, methods: [GET, POST], rateLimit: 5/1m, effect: allow }
  - { name: papers, domain: papers.example.test, agents: [research], effect: allow }
  - { name: docs, domain: docs.example.test, paths: ["/public/**"], effect: allow }
  - { name: api-8443, domain: api.example.test, ports: [8443], methods: [CONNECT], effect: allow }
  - { name: net, domain: 10.0.0.0/8, ports: [80], methods: [GET], effect: allow }
  - { name: subnet, domain: 10.1.0.0/16, ports: [80], methods: [GET, POST], effect: allow }
  - { name: host-ip, domain: 10.1.2.3, ports: [80], methods: [GET, POST, PUT], effect: allow }
  - { name: first, domain: same.example.test, methods: [GET], effect: allow }
  - { name: second, domain: same.example.test, methods: [GET, PUT], effect: allow }
`);
    it.each<[string, RequestFacts, 'allow' | 'deny', string | null]>([
      [
        'an exact host restricts methods: DELETE is not widened back by the wildcard',
        { method: 'DELETE', host: 'api.example.test', port: 80, path: '/v1/x' },
        'deny',
        null,
      ],
      [
        'the exact host allows what it lists',
        { method: 'POST', host: 'api.example.test', port: 80, path: '/v1/x' },
        'allow',
        'api',
      ],
      [
        'an exact host restricts agents: another agent is not let in by the wildcard',
        { method: 'GET', host: 'papers.example.test', port: 80, path: '/', agent: 'ci' },
        'deny',
        null,
      ],
      [
        'the agent the exact host names',
        { method: 'GET', host: 'papers.example.test', port: 80, path: '/', agent: 'research' },
        'allow',
        'papers',
      ],
      ['an exact host restricts paths: other paths stay closed', get('docs.example.test', '/private/x'), 'deny', null],
      [
        'a longer wildcard suffix beats a shorter one',
        { method: 'POST', host: 'a.eu.example.test', port: 80, path: '/' },
        'deny',
        null,
      ],
      ['the longer suffix allows what it lists', get('a.eu.example.test'), 'allow', 'deep'],
      [
        'a host no narrower rule names falls to the wildcard',
        { method: 'DELETE', host: 'other.example.test', port: 80, path: '/' },
        'allow',
        'all-example',
      ],
      [
        'ports count: the exact rule says nothing about 8443, its 8443 rule decides',
        connect('api.example.test', 8443),
        'allow',
        'api-8443',
      ],
      [
        '"*" decides only where nothing more specific matches the port',
        get('api.example.test', '/', 8080),
        'allow',
        'everything-8080',
      ],
      ['an address before its CIDRs', { method: 'PUT', host: '10.1.2.3', port: 80, path: '/' }, 'allow', 'host-ip'],
      [
        'a longer prefix before a shorter one',
        { method: 'POST', host: '10.1.9.9', port: 80, path: '/' },
        'allow',
        'subnet',
      ],
      [
        'the longer prefix is not widened by the shorter',
        { method: 'PUT', host: '10.1.9.9', port: 80, path: '/' },
        'deny',
        null,
      ],
      ['the shortest prefix alone', { method: 'POST', host: '10.9.9.9', port: 80, path: '/' }, 'deny', null],
      ['equally specific rules keep file order', get('same.example.test'), 'allow', 'first'],
      [
        'equally specific rules: a later one still allows what the first does not',
        { method: 'PUT', host: 'same.example.test', port: 80, path: '/' },
        'allow',
        'second',
      ],
    ])('%s', (_name, facts, effect, rule) => {
      const d = decide(broadFirst, facts);
      expect({ effect: d.effect, rule: d.rule?.name ?? null }).toEqual({ effect, rule });
    });

    it('names the rule that decided the host when it refuses', () => {
      expect(decide(broadFirst, { method: 'DELETE', host: 'api.example.test', port: 80, path: '/v1/x' }).message).toBe(
        'DELETE api.example.test:80/v1/x denied: rule api decides for this host and does not allow it (method DELETE is not in [GET, POST])',
      );
    });
  });
});
