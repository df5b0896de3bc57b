// The kernel ruleset model: what each agent uid may send, decided once for all three formats. Each row is an
// operator's input and the rules (or the refusal) it must produce; the invariants at the end hold for every
// ruleset: nothing is accepted but replies and the listed endpoints, and every chain ends in a refusal.

import { describe, expect, it } from 'vitest';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../../src/kernel/endpoint.js';
import { buildRuleset, describeRuleset, reachableFamilies, rulesCommandLine, wrap, type KernelRule, type RulesOptions } from '../../src/kernel/model.js';
import { GOLDEN_CASES, goldenRuleset } from './cases.js';

const v4 = (address: string, port: number): Endpoint => ({ family: 4, address, port });
const v6 = (address: string, port: number): Endpoint => ({ family: 6, address, port });
const base: RulesOptions = { users: [{ uid: 1001 }], proxies: [v4('127.0.0.1', 3128)], allow: [], action: 'reject', log: true };

/** A rule as one short string: `verdict match`, e.g. `accept tcp-to 127.0.0.1:3128 (proxy)`. */
function shape(rule: KernelRule): string {
  const m = rule.match;
  const match = m.kind === 'tcp-to' ? `tcp-to ${formatEndpoint(m.endpoint)} (${m.why})` : m.kind;
  return `${rule.verdict} ${match}`;
}

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
    ['defaults: replies, the proxy, log, TCP reset, ICMP for the rest', {}, ['accept established', 'accept tcp-to 127.0.0.1:3128 (proxy)', 'log any', 'reject tcp', 'reject any']],
    ['--no-log drops the log rule only', { log: false }, ['accept established', 'accept tcp-to 127.0.0.1:3128 (proxy)', 'reject tcp', 'reject any']],
    ['--action drop: one drop for everything', { action: 'drop' }, ['accept established', 'accept tcp-to 127.0.0.1:3128 (proxy)', 'log any', 'drop any']],
    [
      '--allow endpoints follow the proxy, in the order given',
      { allow: [v4('127.0.0.1', 11434), v6('::1', 8080)] },
      ['accept established', 'accept tcp-to 127.0.0.1:3128 (proxy)', 'accept tcp-to 127.0.0.1:11434 (allow)', 'accept tcp-to [::1]:8080 (allow)', 'log any', 'reject tcp', 'reject any'],
    ],
    [
      'a proxy on both families: both accepted',
      { proxies: [v4('127.0.0.1', 3128), v6('::1', 3128)] },
      ['accept established', 'accept tcp-to 127.0.0.1:3128 (proxy)', 'accept tcp-to [::1]:3128 (proxy)', 'log any', 'reject tcp', 'reject any'],
    ],
    [
      'duplicates collapse, and an --allow equal to the proxy is the proxy',
      { proxies: [v4('127.0.0.1', 3128), v4('127.0.0.1', 3128)], allow: [v4('127.0.0.1', 3128), v4('127.0.0.1', 9), v4('127.0.0.1', 9)] },
      ['accept established', 'accept tcp-to 127.0.0.1:3128 (proxy)', 'accept tcp-to 127.0.0.1:9 (allow)', 'log any', 'reject tcp', 'reject any'],
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
    ['a name that would break out of a quoted comment', { users: [{ uid: 1001, name: 'a"b' }] }, /not a valid user name/],
    ['a name with a newline', { users: [{ uid: 1001, name: 'a\nb' }] }, /not a valid user name/],
  ])('refuses %s', (_name, options, message) => {
    expect(() => buildRuleset({ ...base, ...options })).toThrow(message);
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

  it.each(combos.map((c, i) => [i, c] as const))('combination %i: accepts only replies and the listed endpoints, and ends in a refusal', (_i, options) => {
    const ruleset = buildRuleset(options);
    const listed = new Set([...options.proxies, ...options.allow].map(formatEndpoint));
    for (const chain of ruleset.chains) {
      for (const rule of chain.rules.filter((r) => r.verdict === 'accept')) {
        if (rule.match.kind === 'established') continue;
        expect(rule.match.kind).toBe('tcp-to');
        if (rule.match.kind === 'tcp-to') expect(listed.has(formatEndpoint(rule.match.endpoint))).toBe(true);
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
  });
});

describe('describing a ruleset', () => {
  it.each<[name: string, options: Partial<RulesOptions>, families: number[], mentions: RegExp]>([
    ['IPv4 proxy: all IPv6 refused', {}, [4], /and all IPv6 \(no endpoint is IPv6\)/],
    ['IPv6 proxy: IPv6 reachable for the endpoints only', { proxies: [v6('::1', 3128)] }, [6], /IPv6 except the endpoints above/],
    ['both', { proxies: [v4('127.0.0.1', 3128)], allow: [v6('::1', 1)] }, [4, 6], /IPv6 except the endpoints above/],
  ])('%s', (_name, options, families, mentions) => {
    const ruleset = buildRuleset({ ...base, ...options });
    expect(reachableFamilies(ruleset)).toEqual(families);
    expect(describeRuleset(ruleset).join(' ')).toMatch(mentions);
  });

  it('says what pf cannot do instead of claiming it', () => {
    const text = describeRuleset(goldenRuleset('one-agent'), { icmpByUid: false, logPrefixAndLimit: false }).join(' ');
    expect(text).toContain('Not refused: ICMP and ICMPv6');
    expect(text).not.toContain('10/minute');
  });

  it('reproduces the command line with uids', () => {
    expect(rulesCommandLine(goldenRuleset('drop-no-log'), 'nft')).toBe('leash rules --user 2000 --proxy 10.0.0.5:8080 --format nft --allow 127.0.0.1:11434 --action drop --no-log');
  });

  it('wraps at the width, indenting continuation lines', () => {
    expect(wrap('aaa bbb ccc ddd', 8)).toEqual(['aaa bbb', '  ccc', '  ddd']);
  });
});
