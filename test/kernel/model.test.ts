// The kernel ruleset model: what each agent uid may send, decided once for all three formats. Each row is an
// operator's input and the rules (or the refusal) it must produce; a small interpreter of the model then shows, packet
// by packet, what a chain does with the cases the kernel tests reproduce for real (connections open before the rules,
// a listener posing as the proxy); the invariants at the end hold for every ruleset: nothing is accepted but packets
// to the listed endpoints and replies from the --allow ones, the proxy's own address and port are refused before any
// accept, and every chain ends in a refusal.

import { describe, expect, it } from 'vitest';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../../src/kernel/endpoint.js';
import {
  buildRuleset,
  describeRuleset,
  reachableFamilies,
  rulesCommandLine,
  wrap,
  type KernelRule,
  type RulesOptions,
} from '../../src/kernel/model.js';
import { GOLDEN_CASES, goldenRuleset } from './cases.js';

const v4 = (address: string, port: number): Endpoint => ({ family: 4, address, port });
const v6 = (address: string, port: number): Endpoint => ({ family: 6, address, port });
const base: RulesOptions = {
  users: [{ uid: 1001 }],
  proxies: [v4('127.0.0.1', 3128)],
  allow: [],
  action: 'reject',
  log: true,
};

/** A rule as one short string: `verdict match`, e.g. `accept tcp-to 127.0.0.1:3128 (proxy)`. */
function shape(rule: KernelRule): string {
  const m = rule.match;
  const match =
    'endpoint' in m ? `${m.kind} ${formatEndpoint(m.endpoint)}${m.kind === 'tcp-to' ? ` (${m.why})` : ''}` : m.kind;
  return `${rule.verdict} ${match}`;
}

const FROM_PROXY = ['log tcp-from 127.0.0.1:3128', 'reject tcp-from 127.0.0.1:3128'];

describe('parseEndpoint', () => {
  it.each<[name: string, text: string, endpoint: Endpoint]>([
    ['IPv4 loopback', '127.0.0.1:3128', v4('127.0.0.1', 3128)],
    ['IPv6 loopback', '[::1]:3128', v6('::1', 3128)],
    ['IPv6, long form, canonicalised', '[0:0:0:0:0:0:0:1]:8080', v6('::1', 8080)],
    ['IPv4 short form, as the kernel sees it', '127.1:3128', v4('127.0.0.1', 3128)],
    ['IPv4-mapped IPv6 is IPv4 on the wire', '[::ffff:127.0.0.1]:3128', v4('127.0.0.1', 3128)],
    ['another host address', '10.0.0.5:8080', v4('10.0.0.5', 8080)],
  ])('%s: %s', (_name, text, endpoint) => {
    expect(parseEndpoint(text, '--proxy')).toEqual(endpoint);
  });

  it.each<[name: string, text: string, message: RegExp]>([
    ['a host name (would be resolved once and go stale)', 'localhost:3128', /give an IP address, not a name/],
    ['no port', '127.0.0.1', /needs IP:PORT/],
    ['port 0', '127.0.0.1:0', /needs IP:PORT/],
    ['port out of range', '127.0.0.1:65536', /needs IP:PORT/],
    ['unbracketed IPv6', '::1:3128', /needs IP:PORT/],
    ['the unspecified IPv4 address', '0.0.0.0:3128', /unspecified address is where a server listens/],
    ['the unspecified IPv6 address', '[::]:3128', /unspecified address/],
    ['an IPv6 zone id', '[fe80::1%eth0]:3128', /not a valid IPv6 address/],
  ])('refuses %s: %s', (_name, text, message) => {
    expect(() => parseEndpoint(text, '--proxy')).toThrow(message);
    try {
      parseEndpoint(text, '--proxy');
    } catch (err) {
      expect(err).toMatchObject({ code: 'LEASH_USAGE' });
    }
  });
});

describe('buildRuleset: the rules of one uid, in order', () => {
  it.each<[name: string, options: Partial<RulesOptions>, rules: string[]]>([
    [
      'defaults: from the proxy port refused, the proxy, log, TCP reset, ICMP for the rest',
      {},
      [...FROM_PROXY, 'accept tcp-to 127.0.0.1:3128 (proxy)', 'log any', 'reject tcp', 'reject any'],
    ],
    [
      '--no-log drops the log rules only',
      { log: false },
      ['reject tcp-from 127.0.0.1:3128', 'accept tcp-to 127.0.0.1:3128 (proxy)', 'reject tcp', 'reject any'],
    ],
    [
      '--action drop: drops instead of rejecting',
      { action: 'drop' },
      [
        'log tcp-from 127.0.0.1:3128',
        'drop tcp-from 127.0.0.1:3128',
        'accept tcp-to 127.0.0.1:3128 (proxy)',
        'log any',
        'drop any',
      ],
    ],
    [
      '--allow endpoints: replies of a listener there, then connections to them after the proxy, in the order given',
      { allow: [v4('127.0.0.1', 11434), v6('::1', 8080)] },
      [
        ...FROM_PROXY,
        'accept established-to 127.0.0.1:11434',
        'accept established-to [::1]:8080',
        'accept tcp-to 127.0.0.1:3128 (proxy)',
        'accept tcp-to 127.0.0.1:11434 (allow)',
        'accept tcp-to [::1]:8080 (allow)',
        'log any',
        'reject tcp',
        'reject any',
      ],
    ],
    [
      'a proxy on both families: both accepted, and both refused as a source',
      { proxies: [v4('127.0.0.1', 3128), v6('::1', 3128)] },
      [
        ...FROM_PROXY,
        'log tcp-from [::1]:3128',
        'reject tcp-from [::1]:3128',
        'accept tcp-to 127.0.0.1:3128 (proxy)',
        'accept tcp-to [::1]:3128 (proxy)',
        'log any',
        'reject tcp',
        'reject any',
      ],
    ],
    [
      'duplicates collapse, and an --allow equal to the proxy is the proxy',
      {
        proxies: [v4('127.0.0.1', 3128), v4('127.0.0.1', 3128)],
        allow: [v4('127.0.0.1', 3128), v4('127.0.0.1', 9), v4('127.0.0.1', 9)],
      },
      [
        ...FROM_PROXY,
        'accept established-to 127.0.0.1:9',
        'accept tcp-to 127.0.0.1:3128 (proxy)',
        'accept tcp-to 127.0.0.1:9 (allow)',
        'log any',
        'reject tcp',
        'reject any',
      ],
    ],
  ])('%s', (_name, options, rules) => {
    const ruleset = buildRuleset({ ...base, ...options });
    expect(ruleset.chains).toHaveLength(1);
    expect(ruleset.chains[0]?.rules.map(shape)).toEqual(rules);
  });

  it('gives every uid its own chain, sorted by uid, duplicates collapsed, all sharing one proxy', () => {
    const ruleset = buildRuleset({ ...base, users: [{ uid: 1002 }, { uid: 1001, name: 'agent' }, { uid: 1002 }] });
    expect(ruleset.chains.map((c) => c.user)).toEqual([{ uid: 1001, name: 'agent' }, { uid: 1002 }]);
    expect(ruleset.chains[0]?.rules.map(shape)).toEqual(ruleset.chains[1]?.rules.map(shape));
  });

  it('logs each uid under its own greppable prefix, rate-limited', () => {
    const ruleset = buildRuleset({ ...base, users: [{ uid: 1001 }, { uid: 65534 }] });
    const logs = ruleset.chains.map((c) => c.rules.find((r) => r.verdict === 'log'));
    expect(logs).toEqual([
      expect.objectContaining({ prefix: 'leash-deny uid=1001 ', limit: { perMinute: 10, burst: 20 } }),
      expect.objectContaining({ prefix: 'leash-deny uid=65534 ', limit: { perMinute: 10, burst: 20 } }),
    ]);
  });

  it.each<[name: string, options: Partial<RulesOptions>, message: RegExp]>([
    ['no user', { users: [] }, /at least one --user/],
    ['no proxy', { proxies: [] }, /--proxy HOST:PORT is needed/],
    ['a negative uid', { users: [{ uid: -1 }] }, /not a valid uid/],
    ['(uid_t)-1, which is no user', { users: [{ uid: 4294967295 }] }, /not a valid uid/],
    ['a fractional uid', { users: [{ uid: 1.5 }] }, /not a valid uid/],
    [
      'a name that would break out of a quoted comment',
      { users: [{ uid: 1001, name: 'a"b' }] },
      /not a valid user name/,
    ],
    ['a name with a newline', { users: [{ uid: 1001, name: 'a\nb' }] }, /not a valid user name/],
  ])('refuses %s', (_name, options, message) => {
    expect(() => buildRuleset({ ...base, ...options })).toThrow(message);
  });
});

/** A packet the agent uid sends, as the output hook sees it, with conntrack's view of its connection. */
interface Packet {
  readonly proto: 'tcp' | 'udp';
  readonly from: Endpoint;
  readonly to: Endpoint;
  /** `original` is the destination the connection was first opened to; none when conntrack does not track it. */
  readonly ct: { readonly state: 'new' | 'established' | 'untracked'; readonly original?: Endpoint };
}

/** The model read as nft and iptables read it: the first accepting, rejecting or dropping rule decides. */
function verdictOf(rules: readonly KernelRule[], p: Packet): string {
  const same = (a: Endpoint, b: Endpoint) => formatEndpoint(a) === formatEndpoint(b);
  const matches = (r: KernelRule): boolean => {
    const m = r.match;
    switch (m.kind) {
      case 'tcp-from':
        return p.proto === 'tcp' && same(p.from, m.endpoint);
      case 'established-to':
        return (
          p.proto === 'tcp' &&
          p.ct.state === 'established' &&
          p.ct.original !== undefined &&
          same(p.ct.original, m.endpoint)
        );
      case 'tcp-to':
        return p.proto === 'tcp' && same(p.to, m.endpoint);
      case 'tcp':
        return p.proto === 'tcp';
      case 'any':
        return true;
    }
  };
  return rules.find((r) => r.verdict !== 'log' && matches(r))?.verdict ?? 'accept (chain policy)';
}

describe('what a chain does with the packets the agent uid sends', () => {
  const proxy = v4('127.0.0.1', 3128);
  const allowed = v4('127.0.0.1', 11434);
  const agent = v4('127.0.0.1', 40001);
  const client = v4('127.0.0.1', 50000);
  const remote = v4('93.184.216.34', 443);
  const tcp = (from: Endpoint, to: Endpoint, state: Packet['ct']['state'], original?: Endpoint): Packet => ({
    proto: 'tcp',
    from,
    to,
    ct: { state, original },
  });
  const rules = buildRuleset({ ...base, allow: [allowed] }).chains[0]?.rules ?? [];

  it.each<[name: string, packet: Packet, verdict: string]>([
    ['a new connection to the proxy', tcp(agent, proxy, 'new', proxy), 'accept'],
    [
      'a connection to the proxy opened before the rules: its next packet',
      tcp(agent, proxy, 'established', proxy),
      'accept',
    ],
    ['the same, on a host that does not track loopback (notrack)', tcp(agent, proxy, 'untracked'), 'accept'],
    ['a new connection to the --allow endpoint', tcp(agent, allowed, 'new', allowed), 'accept'],
    ['a new direct connection', tcp(agent, remote, 'new', remote), 'reject'],
    [
      'a direct connection opened before the rules: its next packet, established in conntrack',
      tcp(agent, remote, 'established', remote),
      'reject',
    ],
    ['the same, picked up mid-stream by conntrack (state new)', tcp(agent, remote, 'new', agent), 'reject'],
    [
      'a listener posing as the proxy answers another user (its SYN-ACK)',
      tcp(proxy, client, 'established', proxy),
      'reject',
    ],
    [
      'the same, to a client whose ephemeral port is an --allow port',
      tcp(proxy, allowed, 'established', proxy),
      'reject',
    ],
    ['a listener of the agent at the --allow endpoint answers', tcp(allowed, client, 'established', allowed), 'accept'],
    [
      'a listener of the agent anywhere else answers',
      tcp(v4('127.0.0.1', 8000), client, 'established', v4('127.0.0.1', 8000)),
      'reject',
    ],
    [
      'DNS to the stub resolver',
      { proto: 'udp', from: agent, to: v4('127.0.0.53', 53), ct: { state: 'new' } },
      'reject',
    ],
  ])('%s: %s', (_name, packet, verdict) => {
    expect(verdictOf(rules, packet)).toBe(verdict);
  });
});

describe('invariants over every named ruleset and option combination', () => {
  const combos: RulesOptions[] = [
    ...Object.values(GOLDEN_CASES),
    ...(['reject', 'drop'] as const).flatMap((action) =>
      [true, false].flatMap((log) => [
        { ...base, action, log },
        { ...base, action, log, proxies: [v6('::1', 3128)], allow: [v4('127.0.0.1', 11434)] },
      ]),
    ),
  ];

  it.each(combos.map((c, i) => [i, c] as const))(
    'combination %i: accepts only the listed endpoints, refuses the proxy as a source first, ends in a refusal',
    (_i, options) => {
      const ruleset = buildRuleset(options);
      const listed = new Set([...options.proxies, ...options.allow].map(formatEndpoint));
      const proxies = new Set(options.proxies.map(formatEndpoint));
      for (const chain of ruleset.chains) {
        for (const rule of chain.rules.filter((r) => r.verdict === 'accept')) {
          // No accept on conntrack state alone: a connection opened before the rules would keep it.
          expect(['tcp-to', 'established-to']).toContain(rule.match.kind);
          if (!('endpoint' in rule.match)) continue;
          expect(listed.has(formatEndpoint(rule.match.endpoint))).toBe(true);
          // Replies of a listener at the proxy's address are exactly what a listener posing as leash sends.
          if (rule.match.kind === 'established-to')
            expect(proxies.has(formatEndpoint(rule.match.endpoint))).toBe(false);
        }
        const firstAccept = chain.rules.findIndex((r) => r.verdict === 'accept');
        for (const proxy of proxies) {
          const refusal = chain.rules.findIndex(
            (r) =>
              r.match.kind === 'tcp-from' && formatEndpoint(r.match.endpoint) === proxy && r.verdict === options.action,
          );
          expect(refusal, `refusal of packets from ${proxy}`).toBeGreaterThanOrEqual(0);
          expect(refusal).toBeLessThan(firstAccept);
        }
        const last = chain.rules.at(-1);
        expect(last?.match.kind).toBe('any');
        expect(last?.verdict).toBe(options.action);
        // Comments go inside double quotes in nft and iptables, and nft keeps at most 128 bytes of them.
        for (const rule of chain.rules) {
          expect(rule.comment).not.toMatch(/["\n\\]/);
          expect(Buffer.byteLength(rule.comment)).toBeLessThanOrEqual(128);
        }
      }
    },
  );
});

describe('describing a ruleset', () => {
  it.each<[name: string, options: Partial<RulesOptions>, families: number[], mentions: RegExp]>([
    ['IPv4 proxy: all IPv6 refused', {}, [4], /and all IPv6 \(no endpoint is IPv6\)/],
    [
      'IPv6 proxy: IPv6 reachable for the endpoints only',
      { proxies: [v6('::1', 3128)] },
      [6],
      /IPv6 except the endpoints above/,
    ],
    ['both', { proxies: [v4('127.0.0.1', 3128)], allow: [v6('::1', 1)] }, [4, 6], /IPv6 except the endpoints above/],
  ])('%s', (_name, options, families, mentions) => {
    const ruleset = buildRuleset({ ...base, ...options });
    expect(reachableFamilies(ruleset)).toEqual(families);
    expect(describeRuleset(ruleset).join(' ')).toMatch(mentions);
  });

  it('says what pf cannot do instead of claiming it', () => {
    const text = describeRuleset(goldenRuleset('one-agent'), {
      icmpByUid: false,
      logPrefixAndLimit: false,
      cutsOpenConnections: false,
    })
      .join(' ')
      .replace(/\s+/g, ' ');
    expect(text).toContain('Not refused: ICMP and ICMPv6');
    expect(text).not.toContain('10/minute');
    expect(text).toContain('opened before the rules were loaded are not cut');
    expect(text).not.toContain('get no exemption');
  });

  it('reproduces the command line with uids', () => {
    expect(rulesCommandLine(goldenRuleset('drop-no-log'), 'nft')).toBe(
      'leash rules --user 2000 --proxy 10.0.0.5:8080 --format nft --allow 127.0.0.1:11434 --action drop --no-log',
    );
  });

  it('wraps at the width, indenting continuation lines', () => {
    expect(wrap('aaa bbb ccc ddd', 8)).toEqual(['aaa bbb', '  ccc', '  ddd']);
  });
});
