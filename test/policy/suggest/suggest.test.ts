// `leash policy suggest`, specified on fixture audit logs: what is proposed for what was seen, what is never
// proposed (denied hosts, private addresses, hosts reached through grants), that the output loads beside the policy
// and allows what was seen, and that hostile fields in a log never reach the output.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../../src/errors.js';
import { decide } from '../../../src/policy/evaluate.js';
import { compilePolicy } from '../../../src/policy/load.js';
import { normalizePath } from '../../../src/policy/path-glob.js';
import {
  EvidenceBuilder,
  MAX_PREFIXES,
  MAX_USES,
  REASON_USE,
  pathPrefix,
} from '../../../src/policy/suggest/evidence.js';
import {
  proposePolicy,
  type ProposedRule,
  type Suggestion,
  type SuggestOptions,
} from '../../../src/policy/suggest/propose.js';
import { suggestionYaml } from '../../../src/policy/suggest/write.js';
import { AUDIT_REASONS, REASONS } from '../../../src/proxy/reasons.js';
import { compile } from '../compile.js';
import { at, grant, grantUse, intercepted, request, times, tunnel, type Rec } from './records.js';

const POLICY = `version: 1
agents:
  research: { token: env:LEASH_T_RESEARCH }
  builder: { token: env:LEASH_T_BUILDER }
rules:
  - { name: block-exfil, domain: "*.exfil.test", effect: deny }
  - { name: no-admin, domain: admin.example.test, paths: ["/admin/**"], effect: deny }
  - { name: docs, domain: docs.allowed.test, ports: [80], effect: allow }
`;

function suggest(
  records: readonly Rec[],
  options: Partial<SuggestOptions> = {},
  policyText = POLICY,
): { suggestion: Suggestion; yaml: string } {
  const policy = compile(policyText);
  const builder = new EvidenceBuilder();
  for (const record of records) builder.add(record);
  const evidence = builder.result();
  const suggestion = proposePolicy(evidence, policy, { minRequests: 1, wildcardMin: 5, ...options });
  const yaml = suggestionYaml(suggestion, {
    records: evidence.records,
    used: evidence.used,
    firstTime: evidence.firstTime,
    lastTime: evidence.lastTime,
    policy: ['t.yaml'],
  });
  return { suggestion, yaml };
}

const ruleFor = (s: Suggestion, domain: string, port?: number): ProposedRule | undefined =>
  s.rules.find((r) => r.domain === domain && (port === undefined || r.ports.includes(port)));
const fields = (rule: ProposedRule | undefined) => {
  if (!rule) return undefined;
  const { comments: _c, name: _n, ...rest } = rule;
  return rest;
};

/** The suggestion loaded beside the policy: no errors. */
function loadsBeside(yaml: string, policyText = POLICY) {
  const result = compilePolicy([
    { file: 't.yaml', text: policyText },
    { file: 'suggested.yaml', text: yaml },
  ]);
  const errors = result.issues.filter((i) => i.severity === 'error');
  expect(errors.map(formatIssue), yaml).toEqual([]);
  return result.policy!;
}

describe('adversarial input: a denied host, a private address and a granted CDN host are never proposed', () => {
  const records = [
    request('api.good.test', { path: '/v1/x' }),
    // Denied by a deny rule in the log (report mode let it through and marked it).
    request('attacker.test', { reason: 'denied_by_rule', rule: 'old-deny' }),
    request('attacker.test', { reason: 'no_rule', time: at(1) }),
    // Denied by the policy in force (the log only says no rule allowed it then).
    request('upload.exfil.test', { path: '/up', method: 'POST' }),
    tunnel('data.exfil.test'),
    // Private, loopback and metadata addresses, and a name the address guard refused.
    request('10.0.0.5'),
    request('127.0.0.1', { port: 8080 }),
    request('169.254.169.254', { path: '/latest/meta-data/' }),
    tunnel('fd00:ec2::254', { port: 443 }),
    request('internal.corp.test', { reason: 'address_denied', effect: 'deny' }),
    request('internal.corp.test', { reason: 'no_rule', time: at(2) }),
    // A CDN host the agent reached through grants of the search API, then again after the grant expired.
    intercepted('api.search.test', '/q', { rule: 'search' }),
    grant('img.cdn.test', 'search', 'https://api.search.test/q?x=1'),
    grantUse('img.cdn.test', 'search'),
    intercepted('img.cdn.test', '/img2.png', { reason: 'no_rule', rule: null, wouldDeny: true }),
  ];
  const { suggestion, yaml } = suggest(records);

  it.each([
    'attacker.test',
    'upload.exfil.test',
    'data.exfil.test',
    '10.0.0.5',
    '127.0.0.1',
    '169.254.169.254',
    'fd00:ec2::254',
    'internal.corp.test',
    'img.cdn.test',
  ])('%s is not proposed', (host) => {
    expect(suggestion.rules.map((r) => r.domain)).not.toContain(host);
    expect(yaml).not.toMatch(new RegExp(`^\\s*(- name:|domain:).*${host.replace(/[.*]/g, '\\$&')}`, 'm'));
  });

  it.each([
    ['attacker.test:80', /a deny rule refused it \(old-deny\)/],
    ['upload.exfil.test:80', /the policy denies it \(deny rule block-exfil\)/],
    ['data.exfil.test:443', /the policy denies it \(deny rule block-exfil\)/],
    ['10.0.0.5:80', /address guard refuses it: 10\.0\.0\.5 is a private network address/],
    ['127.0.0.1:8080', /loopback/],
    ['169.254.169.254:80', /cloud metadata address/],
    ['[fd00:ec2::254]:443', /cloud metadata address/],
    ['internal.corp.test:80', /address guard refused it/],
    ['img.cdn.test:443', /reached only through grants made by rule search/],
  ])('%s is listed as not proposed, with why', (what, why) => {
    const item = suggestion.notProposed.find((n) => n.what === what);
    expect(item?.why).toMatch(why);
    expect(yaml).toContain(`#   ${what}: `);
  });

  it('proposes the inspect rule of the API that granted the CDN host instead, narrowed to what it granted', () => {
    expect(ruleFor(suggestion, 'api.search.test')?.inspect).toEqual({
      types: ['json'],
      grant: { hosts: ['img.cdn.test'] },
    });
  });

  it('proposes the host that was simply used', () => {
    expect(fields(ruleFor(suggestion, 'api.good.test'))).toEqual({
      domain: 'api.good.test',
      ports: [80],
      methods: ['GET'],
      paths: ['/v1/**'],
      rateLimit: '2/1m',
      agents: ['research'],
      effect: 'allow',
    });
  });

  it('loads beside the policy', () => {
    loadsBeside(yaml);
  });
});

interface ShapeCase {
  name: string;
  records: Rec[];
  domain: string;
  expected: Record<string, unknown>;
  comment?: RegExp;
}

const both = (r: Rec) => [r, { ...r, agent: 'builder' }];

const SHAPES: ShapeCase[] = [
  {
    name: 'plain HTTP: one rule per host and port, methods and path prefixes seen, rateLimit 2x the busiest minute',
    records: [
      ...times(7, (i) => request('api.a.test', { path: `/v1/items/${i}?page=2`, time: at(0, i) })),
      request('api.a.test', { method: 'POST', path: '/v2/upload', time: at(1) }),
      request('api.a.test', { port: 8080, path: '/health', time: at(1) }),
    ],
    domain: 'api.a.test',
    expected: {
      ports: [80],
      methods: ['GET', 'POST'],
      paths: ['/v1/**', '/v2/**'],
      rateLimit: '14/1m',
      agents: ['research'],
    },
    comment: /8 requests by research; first 2026-11-22T00:00:00.000Z, last 2026-11-22T00:01:00.000Z/,
  },
  {
    name: 'a spliced tunnel on a TLS port: no methods, paths or rateLimit (they would intercept it), connections instead',
    records: times(3, (i) => tunnel('api.b.test', { time: at(0, i) })),
    domain: 'api.b.test',
    expected: { ports: [443], connections: '6/1m', agents: ['research'] },
    comment: /3 requests \(3 tunnels, 3 spliced\)/,
  },
  {
    name: 'an opaque tunnel (not a TLS port) names CONNECT, as leash requires',
    records: [tunnel('git.c.test', { port: 22 })],
    domain: 'git.c.test',
    expected: { ports: [22], methods: ['CONNECT'], connections: '2/1m', agents: ['research'] },
    comment: /port 22 is not in settings.tlsPorts/,
  },
  {
    name: 'intercepted traffic: methods and paths, as seen inside the tunnel',
    records: [
      tunnel('api.d.test', { reason: 'intercepted' }),
      intercepted('api.d.test', '/repos/x/y'),
      intercepted('api.d.test', '/user', { method: 'HEAD' }),
    ],
    domain: 'api.d.test',
    expected: {
      ports: [443],
      methods: ['GET', 'HEAD'],
      paths: ['/repos/**', '/user/**'],
      rateLimit: '4/1m',
      agents: ['research'],
    },
  },
  {
    name: 'intercepted and spliced tunnels to one host: what the spliced ones carried was not seen, so no methods or paths',
    records: [tunnel('api.e.test', { reason: 'intercepted' }), intercepted('api.e.test', '/x'), tunnel('api.e.test')],
    domain: 'api.e.test',
    expected: { ports: [443], connections: '4/1m', agents: ['research'] },
    comment: /no methods or paths: 1 tunnel was spliced/,
  },
  {
    name: 'every agent used it: no agents list',
    records: both(request('shared.f.test')),
    domain: 'shared.f.test',
    expected: { ports: [80], methods: ['GET'], paths: ['/'], rateLimit: '2/1m' },
  },
  {
    name: 'the root path is its own prefix; a path that is no plain name is left out and said so',
    records: [
      request('g.test', { path: '/' }),
      request('g.test', { path: '/%7Euser/x' }),
      request('g.test', { path: '/[REDACTED]/x' }),
    ],
    domain: 'g.test',
    expected: { ports: [80], methods: ['GET'], paths: ['/', '/~user/**'], rateLimit: '6/1m', agents: ['research'] },
    comment: /1 request on paths that are no plain prefix/,
  },
  {
    name: `more than ${MAX_PREFIXES} path prefixes: paths are not restricted, and the comment says so`,
    records: times(MAX_PREFIXES + 1, (i) => request('many.test', { path: `/p${i}/x`, time: at(i) })),
    domain: 'many.test',
    expected: { ports: [80], methods: ['GET'], rateLimit: '2/1m', agents: ['research'] },
    comment: new RegExp(`more than ${MAX_PREFIXES} path prefixes`),
  },
  {
    name: 'five sibling subdomains become a wildcard, and the comment says what it widens',
    records: times(5, (i) => request(`s${i}.shards.test`, { path: '/data' })),
    domain: '*.shards.test',
    expected: { ports: [80], methods: ['GET'], paths: ['/data/**'], rateLimit: '10/1m', agents: ['research'] },
    comment:
      /widened to \*\.shards\.test: 5 sibling subdomains were seen .*s0\.shards\.test.*this also allows subdomains never seen/,
  },
  {
    name: 'an opaque tunnel by an agent the policy does not define is written disabled',
    records: [tunnel('h.test', { agent: 'stranger' }), request('other.test')],
    domain: 'h.test',
    expected: {
      ports: [443],
      connections: '2/1m',
      disabled: 'only agents the policy does not define used it (stranger); define them and list them under agents:',
    },
  },
];

describe('what is proposed for what was seen', () => {
  it.each(SHAPES)('$name', ({ records, domain, expected, comment }) => {
    const { suggestion, yaml } = suggest(records);
    const rule = ruleFor(suggestion, domain);
    expect(fields(rule)).toEqual({ domain, effect: 'allow', ...expected });
    if (comment) expect(rule?.comments.join('\n')).toMatch(comment);
    const combined = loadsBeside(yaml);
    // What was seen is allowed by the policy and the suggestion together (unless the rule is disabled).
    if (rule?.disabled) return;
    for (const r of records) {
      const d = decide(combined, {
        method: r.method as string,
        host: r.host as string,
        port: r.port as number,
        path: (r.path as string | null) ?? undefined,
        agent: r.agent as string,
      });
      if (!(r.path as string | null)?.includes('[') && !(r.path as string | null)?.includes('%'))
        expect(d.effect, `${r.method} ${r.host}:${r.port}${r.path}`).toBe('allow');
    }
  });
});

describe('conservative', () => {
  it.each([
    [
      'four siblings stay exact hosts',
      times(4, (i) => request(`s${i}.few.test`)),
      ['s0.few.test', 's1.few.test', 's2.few.test', 's3.few.test'],
    ],
    [
      'siblings under a public suffix never widen',
      times(6, (i) => request(`p${i}.github.io`)),
      times(6, (i) => `p${i}.github.io`),
    ],
    [
      'no wildcard over a sibling a deny rule refused',
      [
        ...times(5, (i) => request(`s${i}.mixed.test`)),
        request('bad.mixed.test', { reason: 'denied_by_rule', rule: 'x' }),
      ],
      times(5, (i) => `s${i}.mixed.test`),
    ],
    [
      'no wildcard over a sibling that resolved to a private address',
      [...times(5, (i) => request(`s${i}.lan.test`)), request('db.x.lan.test', { resolved: '192.168.1.5' })],
      times(5, (i) => `s${i}.lan.test`),
    ],
    [
      'no wildcard over a granted sibling',
      [...times(5, (i) => request(`s${i}.cdn2.test`)), grant('g.cdn2.test', 'search', 'https://api.search.test/')],
      times(5, (i) => `s${i}.cdn2.test`),
    ],
  ])('%s', (_name, records, domains) => {
    const { suggestion, yaml } = suggest(records);
    expect(suggestion.rules.map((r) => r.domain).sort()).toEqual([...domains].sort());
    loadsBeside(yaml);
  });

  it('a name that resolved to a private address is not proposed, unless the address guard in force accepts it', () => {
    const records = [
      request('intranet.test', { resolved: '10.9.9.9' }),
      request('intranet.test', { resolved: '93.184.215.9' }),
    ];
    const refused = suggest(records);
    expect(refused.suggestion.rules).toEqual([]);
    expect(refused.suggestion.notProposed).toContainEqual({
      what: 'intranet.test:80',
      why: expect.stringMatching(
        /^it resolved to 10\.9\.9\.9, which the address guard refuses: 10\.9\.9\.9 is a private network address/,
      ),
    });
    const excepted = suggest(
      records,
      {},
      POLICY.replace('rules:', 'settings: { network: { allowCidrs: ["10.0.0.0/8"] } }\nrules:'),
    );
    expect(excepted.suggestion.rules.map((r) => r.domain)).toEqual(['intranet.test']);
  });

  it('--wildcard-min moves the threshold', () => {
    const { suggestion } = suggest(
      times(3, (i) => request(`s${i}.few.test`)),
      { wildcardMin: 3 },
    );
    expect(suggestion.rules.map((r) => r.domain)).toEqual(['*.few.test']);
  });

  it('--min-requests leaves out hosts seen less often, and says so', () => {
    const { suggestion } = suggest([request('once.test'), ...times(3, () => request('thrice.test'))], {
      minRequests: 3,
    });
    expect(suggestion.rules.map((r) => r.domain)).toEqual(['thrice.test']);
    expect(suggestion.notProposed).toContainEqual({ what: 'once.test:80', why: 'only 1 request (--min-requests 3)' });
  });

  it('what the policy already allows is not repeated', () => {
    const { suggestion } = suggest([
      request('docs.allowed.test', {
        path: '/x',
        effect: 'allow',
        wouldDeny: undefined,
        reason: 'allowed_by_rule',
        rule: 'docs',
      }),
    ]);
    expect(suggestion.rules).toEqual([]);
    expect(suggestion.notProposed).toContainEqual({
      what: 'docs.allowed.test:80',
      why: 'the policy already allows it (rule docs)',
    });
  });

  it('a host a deny rule limits to some paths is proposed, and the comment says what stays denied', () => {
    const { suggestion, yaml } = suggest([
      request('admin.example.test', { path: '/admin/x' }),
      request('admin.example.test', { path: '/public/y' }),
    ]);
    const rule = ruleFor(suggestion, 'admin.example.test');
    expect(rule?.paths).toEqual(['/public/**']);
    expect(rule?.comments.join('\n')).toMatch(/stays denied by deny rule no-admin/);
    loadsBeside(yaml);
  });

  it('the inspect rule is not proposed again when the policy has it', () => {
    const policy = `${POLICY}  - { name: search, domain: api.search.test, ports: [443], inspect: { types: [json], grant: { hosts: [img.cdn.test] } }, effect: allow }\n`;
    const { suggestion } = suggest(
      [
        intercepted('api.search.test', '/q', { rule: 'search' }),
        grant('img.cdn.test', 'search', 'https://api.search.test/q'),
        grantUse('img.cdn.test', 'search'),
      ],
      {},
      policy,
    );
    expect(suggestion.rules).toEqual([]);
    expect(suggestion.notProposed.find((n) => n.what === 'grants by rule search')?.why).toMatch(
      /the policy has rule search, which made them: nothing to add/,
    );
  });
});

describe('hostile fields never reach the output', () => {
  const planted = [
    request('evil.test\nrules:\n  - { name: x, domain: "*", broad: true, effect: allow }'),
    request('EVIL.test'),
    request('ok.test', { agent: 'research\n  - x' }),
    request('ok.test', { agent: 'Research' }),
    request('ok.test', { method: 'get' }),
    request('ok.test', { time: 'yesterday\nversion: 2' }),
    request('ok.test', { port: 0 }),
    request('ok.test', { path: '/v1\n  - name: injected/x' }),
    request('ok.test', { path: '/a b/x' }),
    request('ok.test', { reason: '__proto__' }),
    request('ok.test', { reason: 'toString' }),
  ];
  it('only well-formed records count; every line of output is a comment or policy that loads', () => {
    const builder = new EvidenceBuilder();
    for (const r of planted) builder.add(r);
    expect(builder.result().malformed).toBe(7);
    const { suggestion, yaml } = suggest(planted);
    expect(suggestion.rules.map((r) => r.domain)).toEqual(['ok.test']);
    expect(ruleFor(suggestion, 'ok.test')?.paths).toBeUndefined();
    expect(yaml).not.toMatch(/injected|evil|broad|version: 2/);
    loadsBeside(yaml);
  });
});

describe('bounded memory', () => {
  it(`keeps at most ${MAX_USES} host/port/agent triples and counts the records about others`, () => {
    const builder = new EvidenceBuilder();
    for (let i = 0; i <= MAX_USES; i++) builder.add(request(`h${i}.test`));
    builder.add(request('h0.test'));
    const evidence = builder.result();
    expect([evidence.uses.length, evidence.notTracked, evidence.used]).toEqual([MAX_USES, 1, MAX_USES + 1]);
  });
});

describe('path prefixes', () => {
  it.each([
    ['/', '/'],
    ['/v1/chat/completions?x=1', '/v1/**'],
    ['/v1', '/v1/**'],
    ['//v1//x', '/v1/**'],
    ['/%76%31/x', '/v1/**'],
    ['/a/../b/c', '/b/**'],
    ['/[REDACTED]/x', undefined],
    ['/%2e%2e/x', '/x/**'],
    ['/v1/../admin/x', '/admin/**'],
    ['/v1/./x', '/v1/**'],
    ['/./v1', '/v1/**'],
    ['/v1;a/x', '/v1/**'],
    ['/v1\\x', '/v1/**'],
    ['/.well-known/x', '/.well-known/**'],
    ['/..', '/'],
    ['/a*b/x', undefined],
    ['relative', undefined],
  ])('%s -> %s', (path, prefix) => {
    expect(pathPrefix(path)).toBe(prefix);
  });

  it('the shortcut for plain paths agrees with full normalisation (seeded property)', () => {
    const slow = (path: string) => {
      const normalized = normalizePath(path);
      if (normalized === '/') return '/';
      const first = normalized.split('/')[1] as string;
      return /^[A-Za-z0-9._~-]{1,64}$/.test(first) && first !== '.' && first !== '..' ? `/${first}/**` : undefined;
    };
    const piece = fc.constantFrom(
      '/',
      'a',
      'v1',
      '.',
      '..',
      '%2e',
      '%2F',
      '%61',
      ';x',
      '\\',
      '?q=/../b',
      '#f',
      '~',
      '-',
      '.well-known',
      'é',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 10 }), (pieces) => {
        const path = `/${pieces.join('')}`;
        expect(pathPrefix(path)).toBe(slow(path));
      }),
      { seed: 16, numRuns: 2000 },
    );
  });
});

describe('every reason has a stated place in learn mode', () => {
  // Reasons that are no evidence either way: protocol refusals, identity failures, hosts that never answered,
  // policy events, internal failures. A new reason fails here until it is placed.
  const IGNORED = [
    'policy_revoked',
    'method_override',
    'invalid_request',
    'dns_failure',
    'connect_refused',
    'connect_failed',
    'auth_required',
    'auth_failed',
    'identity_mismatch',
    'upstream_tls',
    'host_mismatch',
    'sni_mismatch',
    'sni_missing',
    'not_tls',
    'hello_timeout',
    'bad_request',
    'expectation_failed',
    'not_a_proxy_request',
    'unsupported_scheme',
    'upgrade_denied',
    'header_too_large',
    'client_timeout',
    'store_unavailable',
    'too_many_connections',
    'shutting_down',
    'internal_error',
    'policy_loaded',
    'policy_invalid',
    'inspection_stopped',
    // An operator's kill switch says nothing about what the agent needs; runtime-control events are not requests.
    'lockdown',
    'lockdown_on',
    'lockdown_off',
    'scope_opened',
    'scope_revoked',
    'approval_requested',
    'approval_decided',
    // The policy allowed it; the value could not be read.
    'secret_unavailable',
  ];
  it.each([...Object.keys(REASONS), ...Object.keys(AUDIT_REASONS)])('%s', (reason) => {
    expect(Object.hasOwn(REASON_USE, reason) !== IGNORED.includes(reason)).toBe(true);
  });
});
