// Seeded property tests for the invariants of the decision:
// - every spelling of one host decides alike (case, trailing dot, IDN Unicode vs punycode, every IPv4 spelling,
//   IPv4-mapped IPv6), which is what stops an allowlist or denylist from being bypassed by re-spelling a host;
// - the indexed matcher (`decide`) and the linear reference (`explain`) always pick the same rule;
// - a host no rule mentions is denied with `no_rule`.
// The seed is fixed so a failure reproduces; fast-check prints the counterexample and the seed.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../src/errors.js';
import { decide, type Decision, type RequestFacts } from '../../src/policy/evaluate.js';
import { explain } from '../../src/policy/explain.js';
import { normalizeHost } from '../../src/policy/host.js';
import { compilePolicy } from '../../src/policy/load.js';
import type { CompiledPolicy } from '../../src/policy/policy.js';
import { compile } from './compile.js';

const SEED = 20_261_122;
const RUNS = 400;

const summary = (d: Decision) => ({
  effect: d.effect,
  rule: d.rule?.name ?? null,
  reason: d.reason,
  host: d.request?.host ?? null,
});

const SPELLING_POLICY = compile(`
version: 1
rules:
  - { name: buecher, domain: bücher.example, ports: "*", effect: allow }
  - { name: muenchen, domain: "*.xn--mnchen-3ya.example", ports: "*", effect: deny }
  - { name: rei, domain: 例え.テスト, ports: "*", effect: allow }
  - { name: primer, domain: "*.пример.испытание", effect: allow }
  - { name: cdn, domain: "*.cdn.example.com", effect: allow }
  - { name: vault, domain: Vault.Corp.Example., ports: "*", effect: deny }
  - { name: corp, domain: "*.corp.example", effect: allow }
  - { name: loopback, domain: 127.0.0.0/8, ports: "*", effect: deny }
  - { name: origin, domain: "0x5db8d822", effect: allow }
  - { name: lab, domain: 10.20.0.0/16, ports: [443, 8080], effect: allow }
  - { name: mapped-net, domain: "::ffff:192.168.0.0/112", effect: deny }
  - { name: v6-doc, domain: "2001:db8::/32", effect: allow }
`);

/** Host names as [Unicode or odd spelling, canonical ASCII form]; canonical forms written out by hand. */
const NAME_BASES: readonly (readonly [spelling: string, canonical: string])[] = [
  ['bücher.example', 'xn--bcher-kva.example'],
  ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
  ['münchen.example', 'xn--mnchen-3ya.example'],
  ['例え.テスト', 'xn--r8jz45g.xn--zckzah'],
  ['пример.испытание', 'xn--e1afmkfd.xn--80akhbyknj4f'],
  ['xn--e1afmkfd.xn--80akhbyknj4f', 'xn--e1afmkfd.xn--80akhbyknj4f'],
  ['cdn.example.com', 'cdn.example.com'],
  ['vault.corp.example', 'vault.corp.example'],
  ['corp.example', 'corp.example'],
  ['unlisted.example.net', 'unlisted.example.net'],
];

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/).filter((l) => !l.startsWith('xn--'));
const caseMask = fc.array(fc.boolean(), { minLength: 1, maxLength: 16 });

/** Upper-cases the characters the mask picks; only where that is a one-to-one case change (so not "ß"). */
function mixCase(text: string, mask: readonly boolean[]): string {
  return [...text]
    .map((ch, i) => {
      const upper = ch.toUpperCase();
      return mask[i % mask.length] && upper.length === 1 && upper.toLowerCase() === ch ? upper : ch;
    })
    .join('');
}

const nameSpelling = fc
  .record({
    prefix: fc.array(label, { maxLength: 3 }),
    base: fc.constantFrom(...NAME_BASES),
    mask: caseMask,
    dot: fc.boolean(),
  })
  .map(({ prefix, base, mask, dot }) => {
    const [spelling, canonical] = base;
    return {
      spelling: `${mixCase([...prefix, spelling].join('.'), mask)}${dot ? '.' : ''}`,
      canonical: [...prefix, canonical].join('.'),
    };
  });

// IPv4: an address and a spelling of it, with the canonical dotted quad computed here, independently of the
// URL parser the engine uses.
const ipv4Value = fc.oneof(
  fc.integer({ min: 0x7f000000, max: 0x7fffffff }), // 127/8
  fc.integer({ min: 0x0a140000, max: 0x0a14ffff }), // 10.20/16
  fc.integer({ min: 0xc0a80000, max: 0xc0a8ffff }), // 192.168/16
  fc.constant(0x5db8d822), // 93.184.216.34
  fc.integer({ min: 0, max: 0xffffffff }),
);

type Radix = 'dec' | 'hex' | 'HEX' | 'oct';
const radix = fc.constantFrom<Radix>('dec', 'hex', 'HEX', 'oct');

function spell(value: number, r: Radix): string {
  switch (r) {
    case 'dec':
      return String(value);
    case 'hex':
      return `0x${value.toString(16)}`;
    case 'HEX':
      return `0X${value.toString(16).toUpperCase()}`;
    case 'oct':
      return `0${value.toString(8)}`;
  }
}

const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const hex16 = (n: number) => n.toString(16);

type Ipv4Form = 'four-part' | 'three-part' | 'two-part' | 'one-part' | 'mapped-dotted' | 'mapped-hex' | 'mapped-long';

const ipv4Spelling = fc
  .record({
    n: ipv4Value,
    form: fc.constantFrom<Ipv4Form>(
      'four-part',
      'three-part',
      'two-part',
      'one-part',
      'mapped-dotted',
      'mapped-hex',
      'mapped-long',
    ),
    radices: fc.array(radix, { minLength: 4, maxLength: 4 }),
    bracket: fc.boolean(),
    dot: fc.boolean(),
  })
  .map(({ n, form, radices, bracket, dot }) => {
    const [r0, r1, r2, r3] = radices as [Radix, Radix, Radix, Radix];
    const a = n >>> 24;
    const b = (n >>> 16) & 255;
    const c = (n >>> 8) & 255;
    const d = n & 255;
    let spelling: string;
    switch (form) {
      case 'four-part':
        spelling = [spell(a, r0), spell(b, r1), spell(c, r2), spell(d, r3)].join('.');
        break;
      case 'three-part': // a.b.(16 bits)
        spelling = [spell(a, r0), spell(b, r1), spell(n & 0xffff, r2)].join('.');
        break;
      case 'two-part': // a.(24 bits)
        spelling = [spell(a, r0), spell(n & 0xffffff, r1)].join('.');
        break;
      case 'one-part': // one 32-bit number
        spelling = spell(n, r0);
        break;
      case 'mapped-dotted':
        spelling = `${bracket ? '[' : ''}::ffff:${dotted(n)}${bracket ? ']' : ''}`;
        break;
      case 'mapped-hex':
        spelling = `${bracket ? '[' : ''}::FFFF:${hex16(n >>> 16)}:${hex16(n & 0xffff)}${bracket ? ']' : ''}`;
        break;
      case 'mapped-long':
        spelling = `[0:0:0:0:0:ffff:${dotted(n)}]`;
        break;
    }
    // A trailing dot only makes sense on the IPv4 forms, not inside IPv6 brackets.
    if (dot && !form.startsWith('mapped')) spelling += '.';
    return { spelling, canonical: dotted(n) };
  });

const ipv6Spelling = fc
  .record({
    groups: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 6, maxLength: 6 }),
    upper: fc.boolean(),
    pad: fc.boolean(),
    bracket: fc.boolean(),
  })
  .map(({ groups, upper, pad, bracket }) => {
    // 2001:db8::/32 addresses, so the policy's v6-doc rule is in play.
    const all = [0x2001, 0x0db8, ...groups];
    const expanded = all.map((g) => (pad ? g.toString(16).padStart(4, '0') : g.toString(16))).join(':');
    const text = upper ? expanded.toUpperCase() : expanded;
    return { spelling: bracket ? `[${text}]` : text, reference: `[${all.map((g) => g.toString(16)).join(':')}]` };
  });

const port = fc.constantFrom(80, 443, 8080, 22);

describe('every spelling of one host decides alike', () => {
  it('host names: case, trailing dot, IDN Unicode vs punycode', () => {
    const seen = new Set<string | null>();
    fc.assert(
      fc.property(nameSpelling, port, ({ spelling, canonical }, p) => {
        expect(normalizeHost(spelling)).toEqual({ ok: true, host: canonical, kind: 'name' });
        // A tunnel on the TLS port, a plain request elsewhere (a CONNECT to another port is an opaque tunnel).
        const request = (host: string): RequestFacts =>
          p === 443 ? { method: 'CONNECT', host, port: p } : { method: 'GET', host, port: p, path: '/' };
        const decision = summary(decide(SPELLING_POLICY, request(spelling)));
        expect(decision).toEqual(summary(decide(SPELLING_POLICY, request(canonical))));
        seen.add(decision.rule);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The property is only as good as its coverage: every name rule, and no rule at all, must have come up.
    expect([...seen].sort()).toEqual(
      expect.arrayContaining(['buecher', 'muenchen', 'rei', 'primer', 'cdn', 'vault', 'corp', null]),
    );
  });

  it('IPv4: decimal, hex, octal, short forms, trailing dot, IPv4-mapped IPv6', () => {
    const seen = new Set<string | null>();
    fc.assert(
      fc.property(ipv4Spelling, port, ({ spelling, canonical }, p) => {
        expect(normalizeHost(spelling)).toEqual({ ok: true, host: canonical, kind: 'ipv4' });
        const request = (host: string): RequestFacts => ({ method: 'GET', host, port: p, path: '/' });
        const decision = summary(decide(SPELLING_POLICY, request(spelling)));
        expect(decision).toEqual(summary(decide(SPELLING_POLICY, request(canonical))));
        seen.add(decision.rule);
      }),
      { seed: SEED, numRuns: RUNS * 2 },
    );
    expect([...seen]).toEqual(expect.arrayContaining(['loopback', 'origin', 'lab', 'mapped-net', null]));
  });

  it('IPv6: case, leading zeros, brackets', () => {
    const seen = new Set<string | null>();
    fc.assert(
      fc.property(ipv6Spelling, port, ({ spelling, reference }, p) => {
        const a = decide(SPELLING_POLICY, { method: 'CONNECT', host: spelling, port: p });
        const b = decide(SPELLING_POLICY, { method: 'CONNECT', host: reference, port: p });
        expect(summary(a)).toEqual(summary(b));
        expect(a.request?.hostKind).toBe('ipv6');
        seen.add(a.rule?.name ?? null);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect([...seen]).toEqual(expect.arrayContaining(['v6-doc', null]));
  });

  it.each<[name: string, spellings: string[], rule: string | null, effect: 'allow' | 'deny']>([
    [
      'bücher.example',
      ['bücher.example', 'BÜCHER.example', 'xn--bcher-kva.example', 'XN--BCHER-KVA.EXAMPLE.', 'Bücher.Example.'],
      'buecher',
      'allow',
    ],
    [
      'a subdomain of münchen.example',
      ['a.münchen.example', 'A.MÜNCHEN.EXAMPLE', 'a.xn--mnchen-3ya.example.'],
      'muenchen',
      'deny',
    ],
    [
      '127.0.0.1',
      [
        '127.0.0.1',
        '127.1',
        '0x7f.1',
        '0x7f.0.0.1',
        '2130706433',
        '0x7f000001',
        '017700000001',
        '0177.0.0.1',
        '0177.0.1',
        '127.0.0.1.',
        '[::ffff:127.0.0.1]',
        '[::ffff:7f00:1]',
        '::ffff:7f00:1',
        '[0:0:0:0:0:ffff:7f00:0001]',
      ],
      'loopback',
      'deny',
    ],
    [
      '93.184.216.34',
      ['93.184.216.34', '1572395042', '0x5db8d822', '93.184.55330', '0135.0270.0330.042', '[::ffff:5db8:d822]'],
      'origin',
      'allow',
    ],
    [
      '192.168.1.1 against an IPv4-mapped CIDR',
      ['192.168.1.1', '0xc0a80101', '[::ffff:192.168.1.1]', '192.168.257'],
      'mapped-net',
      'deny',
    ],
  ])('%s', (_name, spellings, rule, effect) => {
    for (const host of spellings) {
      const decision = decide(SPELLING_POLICY, { method: 'CONNECT', host, port: 443 });
      expect({ host, rule: decision.rule?.name ?? null, effect: decision.effect }).toEqual({ host, rule, effect });
    }
  });
});

// Random policies over a small vocabulary, so rules overlap often, compared on random requests.
const DOMAINS = [
  'a.test',
  'b.a.test',
  '*.a.test',
  '*.b.a.test',
  'c.test',
  '*.c.test',
  '*',
  '10.0.0.0/8',
  '10.1.0.0/16',
  '10.1.2.3',
  '::1',
  '2001:db8::/32',
  '2001:db8::5',
  '127.0.0.1',
  'bücher.example',
];
const PLAIN_PORTS = [[80], [8080]];
const PORTS: (number[] | '*' | null)[] = [[80], [443], [80, 443], '*', [8080], null];

const randomRule = fc
  .record({
    domain: fc.constantFrom(...DOMAINS),
    ports: fc.constantFrom(...PORTS),
    methods: fc.option(fc.subarray(['GET', 'POST', 'PUT', 'CONNECT'], { minLength: 1 })),
    paths: fc.option(fc.subarray(['/v1/**', '/admin/*', '/x', '/**'], { minLength: 1 })),
    agents: fc.option(fc.constantFrom(['research'], ['anonymous'], ['research', 'ci'])),
    effect: fc.constantFrom('allow', 'deny'),
  })
  .map(({ ports, methods, paths, agents, ...rest }) => {
    const plain = PLAIN_PORTS.some((p) => JSON.stringify(p) === JSON.stringify(ports));
    // A deny for "*" on every port with nothing else is refused at load (it is the default); give it a port.
    const everything =
      rest.domain === '*' &&
      rest.effect === 'deny' &&
      (ports === null || ports === '*') &&
      !(plain && (methods || paths)) &&
      !agents;
    return {
      ...rest,
      ...(rest.domain === '*' && rest.effect === 'allow' ? { broad: true } : {}),
      ...(everything ? { ports: [8080] } : ports ? { ports } : {}),
      ...(plain && methods ? { methods } : {}),
      ...(plain && paths ? { paths } : {}),
      ...(agents ? { agents } : {}),
    };
  });

/** YAML is a superset of JSON, so a generated policy can be written as JSON and go through the real parser. */
function policyText(rules: object[]): string {
  return JSON.stringify({
    version: 1,
    agents: { research: { token: 'env:LEASH_TOKEN_RESEARCH' }, ci: { token: 'env:LEASH_TOKEN_CI' } },
    rules: rules.map((rule, i) => ({ name: `r${i}`, ...rule })),
  });
}

const HOSTS = [
  'a.test',
  'b.a.test',
  'x.b.a.test',
  'y.a.test',
  'A.Test.',
  'c.test',
  'z.c.test',
  'd.test',
  '10.1.2.3',
  '10.1.9.9',
  '10.9.9.9',
  '11.0.0.1',
  '[::1]',
  '[2001:db8::5]',
  '[2001:db9::1]',
  '127.0.0.1',
  '0x7f.1',
  '[::ffff:10.1.2.3]',
  'xn--bcher-kva.example',
  'www.bücher.example',
];

const randomRequest = fc
  .record({
    host: fc.constantFrom(...HOSTS),
    port: fc.constantFrom(80, 443, 8080, 22),
    method: fc.constantFrom('GET', 'POST', 'CONNECT', 'DELETE'),
    path: fc.constantFrom('/', '/v1', '/v1/a', '/admin/x', '/x', '/admin/../x', '/%61dmin/y'),
    agent: fc.constantFrom(undefined, 'research', 'ci'),
  })
  .map(({ method, path, agent, ...rest }): RequestFacts => ({
    ...rest,
    method,
    ...(method === 'CONNECT' ? {} : { path }),
    ...(agent ? { agent } : {}),
  }));

describe('the indexed matcher agrees with the linear reference', () => {
  it('decide and explain pick the same rule, effect and reason', () => {
    const reasons = new Set<string>();
    fc.assert(
      fc.property(
        fc.array(randomRule, { minLength: 1, maxLength: 12 }),
        fc.array(randomRequest, { minLength: 1, maxLength: 20 }),
        (rules, requests) => {
          const policy = compileAllowingWarnings(policyText(rules));
          for (const request of requests) {
            const indexed = decide(policy, request);
            const { decision: linear, trace } = explain(policy, request);
            expect(summary(indexed)).toEqual(summary(linear));
            const matched = trace.filter((t) => t.matched);
            expect(matched.map((t) => t.rule)).toEqual(indexed.rule ? [indexed.rule.name] : []);
            reasons.add(indexed.reason);
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    expect([...reasons].sort()).toEqual(['allowed_by_rule', 'denied_by_rule', 'no_rule', 'opaque_tunnel']);
  });
});

/** Random policies may well shadow their own rules; only errors make a generated policy unusable. */
function compileAllowingWarnings(text: string): CompiledPolicy {
  const { policy, issues } = compilePolicy([{ file: 'random.yaml', text }]);
  if (!policy) throw new Error(`generated policy does not load:\n${issues.map(formatIssue).join('\n')}\n${text}`);
  return policy;
}

describe('default deny', () => {
  const allowRule = fc.oneof(
    label.map((l) => ({ domain: `${l}.allowed.test`, kind: 'exact' as const, host: `${l}.allowed.test` })),
    label.map((l) => ({ domain: `*.${l}.allowed.test`, kind: 'wildcard' as const, host: `${l}.allowed.test` })),
    ipv4Value.map((n) => ({ domain: dotted(n), kind: 'exact' as const, host: dotted(n) })),
  );
  const anyHost = fc.oneof(
    fc
      .record({
        labels: fc.array(label, { minLength: 1, maxLength: 4 }),
        tld: fc.constantFrom('com', 'net', 'org', 'test'),
      })
      .map(({ labels, tld }) => [...labels, tld].join('.')),
    fc
      .record({ labels: fc.array(label, { minLength: 0, maxLength: 2 }) })
      .map(({ labels }) => [...labels, 'allowed', 'test'].join('.')),
    ipv4Value.map(dotted),
  );

  it('a host that no allow rule names is denied with no_rule', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(allowRule, { minLength: 1, maxLength: 30, selector: (r) => r.domain }),
        anyHost,
        port,
        fc.boolean(),
        (rules, host, p, connectMethod) => {
          // The reference matcher, written independently of the engine.
          const named = rules.some((r) => (r.kind === 'exact' ? host === r.host : host.endsWith(`.${r.host}`)));
          fc.pre(!named);
          const policy = compile(policyText(rules.map((r) => ({ domain: r.domain, ports: '*', effect: 'allow' }))));
          const request: RequestFacts = connectMethod
            ? { method: 'CONNECT', host, port: p }
            : { method: 'GET', host, port: p, path: '/' };
          const decision = decide(policy, request);
          expect(summary(decision)).toEqual({ effect: 'deny', rule: null, reason: 'no_rule', host });
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
