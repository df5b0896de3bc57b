// What `leash audit` selects and sums up, on parsed records: filters by effect, host glob, agent, rule, reason and
// time; the needles that let the reader skip lines without parsing them never skip a match; --summary figures on
// the known log.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chainLine, EMPTY_CHAIN } from '../../src/audit/chain.js';
import {
  compileHostGlob,
  compileQuery,
  parseTimeBound,
  SummaryBuilder,
  type AuditLineRecord,
  type AuditQuery,
} from '../../src/audit/query.js';
import { LeashError } from '../../src/errors.js';
import { BASE, ids, KNOWN } from '../helpers/known-audit-log.js';

const T = (iso: string) => Date.parse(iso);
const records = KNOWN as unknown as AuditLineRecord[];
const ALL = ids(records);

describe('compileQuery on the known log', () => {
  it.each<[name: string, query: AuditQuery, expected: string[]]>([
    ['no filter: everything', {}, ALL as string[]],
    ['--effect deny', { effect: 'deny' }, ['r02', 'r03', 'r04', 'r05', 'r08', 'r10', 'r11']],
    [
      '--effect allow (policy and grant records included)',
      { effect: 'allow' },
      ['r01', 'r06', 'r07', 'r09', 'r12', 'r13', 'r14'],
    ],
    ['--host exact', { hosts: ['attacker.test'] }, ['r02', 'r03', 'r11']],
    ['--host exact, any case, trailing dot', { hosts: ['ATTACKER.Test.'] }, ['r02', 'r03', 'r11']],
    ['--host *.domain: subdomains only', { hosts: ['*.attacker.test'] }, ['r10']],
    ['--host *domain: apex and subdomains', { hosts: ['*attacker.test'] }, ['r02', 'r03', 'r10', 'r11']],
    ['--host ? matches one character', { hosts: ['169.254.169.25?'] }, ['r08']],
    ['--host repeated: either', { hosts: ['api.openai.com', 'docs.*'] }, ['r01', 'r05', 'r07', 'r09', 'r12']],
    ['--host never matches a record without a host', { hosts: ['*'] }, ALL.filter((id) => id !== 'r06') as string[]],
    ['--agent', { agents: ['builder'] }, ['r07', 'r08', 'r12']],
    ['--rule', { rules: ['block-exfil'] }, ['r02', 'r03', 'r10', 'r11']],
    ['--reason', { reasons: ['rate_limited'] }, ['r05']],
    ['--reason repeated', { reasons: ['no_rule', 'address_denied'] }, ['r04', 'r08']],
    [
      '--since is inclusive',
      { since: T('2026-11-22T01:00:00Z') },
      ['r07', 'r08', 'r09', 'r10', 'r11', 'r12', 'r13', 'r14'],
    ],
    ['--until is exclusive', { until: T('2026-11-22T01:00:00Z') }, ['r01', 'r02', 'r03', 'r04', 'r05', 'r06']],
    [
      '--since and --until',
      { since: T('2026-11-22T00:10:00Z'), until: T('2026-11-22T00:30:00Z') },
      ['r03', 'r04', 'r05'],
    ],
    ['all at once', { agents: ['research'], effect: 'deny', since: T('2026-11-22T00:06:00Z') }, ['r03', 'r05', 'r11']],
    ['nothing matches', { agents: ['nobody'] }, []],
  ])('%s', (_name, query, expected) => {
    const q = compileQuery(query);
    expect(ids(records.filter((r) => q.matches(r)))).toEqual(expected);
  });

  it.each<[name: string, record: AuditLineRecord]>([
    ['host is a number', { host: 42, effect: 'deny' }],
    ['agent is an object', { agent: { name: 'builder' } }],
    ['time is garbage', { time: 'yesterday' }],
    ['empty object', {}],
  ])('a record with the wrong types never matches and never throws: %s', (_name, record) => {
    for (const query of [{ hosts: ['*'] }, { agents: ['builder'] }, { since: 0 }, { effect: 'allow' as const }]) {
      expect(compileQuery(query).matches(record)).toBe(false);
    }
  });

  it('a time written with an offset compares as the instant it names', () => {
    const q = compileQuery({ since: T('2026-11-22T01:00:00Z') });
    expect(q.matches({ time: '2026-11-22T02:30:00+02:00' })).toBe(false);
    expect(q.matches({ time: '2026-11-22T03:30:00+02:00' })).toBe(true);
  });
});

describe('needles: the parse-free fast path never drops a match', () => {
  it.each<[name: string, query: AuditQuery, needles: string[]]>([
    ['effect', { effect: 'deny' }, ['"deny"']],
    [
      'one agent, rule, reason',
      { agents: ['a b'], rules: ['r"1'], reasons: ['no_rule'] },
      ['"a b"', '"r\\"1"', '"no_rule"'],
    ],
    ['two agents: no needle (either may match)', { agents: ['a', 'b'] }, []],
    ['host globs and times: no needle', { hosts: ['*.x'], since: 0 }, []],
  ])('%s', (_name, query, needles) => {
    expect(compileQuery(query).needles).toEqual(needles);
  });

  it('property: a matching line either contains every needle or contains a backslash', () => {
    const value = fc.oneof(
      fc.constantFrom('deny', 'allow', 'research', 'no_rule', 'r"1', 'a\\b', 'ü', '\u0007'),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(
        value,
        value,
        value,
        value,
        fc.constantFrom<'allow' | 'deny'>('allow', 'deny'),
        (agent, rule, reason, path, effect) => {
          const { line } = chainLine(EMPTY_CHAIN, { agent, rule, reason, path, effect }, '2026-11-22T00:00:00.000Z');
          const query = compileQuery({ agents: [agent], rules: [rule], reasons: [reason], effect });
          expect(query.matches(JSON.parse(line))).toBe(true);
          if (!line.includes('\\')) for (const needle of query.needles) expect(line).toContain(needle);
        },
      ),
      { seed: 8, numRuns: 500 },
    );
  });
});

describe('compileHostGlob', () => {
  it.each<[glob: string, host: string, matches: boolean]>([
    ['example.com', 'example.com', true],
    ['example.com', 'www.example.com', false],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'evilexample.com', false],
    ['example.*', 'example.co.uk', true],
    ['exa?ple.com', 'exaXple.com', true],
    ['exa?ple.com', 'exaple.com', false],
    ['a+b.com', 'a+b.com', true],
    ['a.b', 'axb', false],
    ['[::1]', '[::1]', true],
  ])('%s vs %s: %s', (glob, host, matches) => {
    expect(compileHostGlob(glob)(host)).toBe(matches);
  });
});

describe('parseTimeBound', () => {
  const now = T('2026-11-22T12:00:00Z');
  it.each<[text: string, expected: string]>([
    ['24h', '2026-11-21T12:00:00.000Z'],
    ['30m', '2026-11-22T11:30:00.000Z'],
    ['90s', '2026-11-22T11:58:30.000Z'],
    ['7d', '2026-11-15T12:00:00.000Z'],
    ['1w', '2026-11-15T12:00:00.000Z'],
    ['1.5h', '2026-11-22T10:30:00.000Z'],
    ['2026-11-20', '2026-11-20T00:00:00.000Z'],
    ['2026-11-20T07:30', '2026-11-20T07:30:00.000Z'],
    ['2026-11-20 07:30:15', '2026-11-20T07:30:15.000Z'],
    ['2026-11-20T07:30:15.250Z', '2026-11-20T07:30:15.250Z'],
    ['2026-11-20T07:30+02:00', '2026-11-20T05:30:00.000Z'],
  ])('%s', (text, expected) => {
    expect(new Date(parseTimeBound(text, now, 'since')).toISOString()).toBe(expected);
  });

  it.each(['yesterday', '24', 'h', '-1h', '2026-13-40', '2026-11-20T25:00', ''])(
    'rejects %j with a usage error naming the flag',
    (text) => {
      expect(() => parseTimeBound(text, now, 'until')).toThrow(LeashError);
      expect(() => parseTimeBound(text, now, 'until')).toThrow(/--until needs a duration .* got/);
    },
  );
});

describe('SummaryBuilder on the known log', () => {
  const builder = new SummaryBuilder();
  for (const r of records) builder.add(r);
  const s = builder.result();
  const agent = (name: string) => s.agents.find((a) => a.agent === name);

  it('counts records, the time span and policy changes', () => {
    expect(s.records).toBe(14);
    expect(s.firstTime).toBe(new Date(BASE).toISOString());
    expect(s.lastTime).toBe('2026-11-22T04:01:00.000Z');
    expect(s.policyReloads).toBe(1);
    expect(s.policyRejected).toBe(0);
    expect(s.agents.map((a) => a.agent)).toEqual(['anonymous', 'builder', 'research']);
  });

  it('research: allowed, denied, rate limit, grants, top denied hosts, bytes out per host', () => {
    expect(agent('research')).toEqual({
      agent: 'research',
      requests: 7,
      allowed: 3,
      denied: 4,
      wouldDeny: 0,
      rateLimited: 1,
      grantsIssued: 1,
      grantsUsed: 1,
      bytesOut: 2010,
      bytesIn: 25100,
      topDeniedHosts: [
        { host: 'attacker.test', count: 3 },
        { host: 'api.openai.com', count: 1 },
      ],
      bytesOutByHost: [
        { host: 'api.openai.com', bytesOut: 2000, requests: 2 },
        { host: 'cdn.example.net', bytesOut: 10, requests: 1 },
      ],
      recordsNotTracked: 0,
      lockdownRefused: 0,
    });
  });

  it('builder: report-mode wouldDeny counted apart', () => {
    expect(agent('builder')).toMatchObject({
      requests: 3,
      allowed: 2,
      denied: 1,
      wouldDeny: 1,
      bytesOut: 350,
      topDeniedHosts: [{ host: '169.254.169.254', count: 1 }],
      bytesOutByHost: [{ host: 'docs.example.com', bytesOut: 350, requests: 2 }],
    });
  });

  it('anonymous: denied hosts with equal counts in host order', () => {
    expect(agent('anonymous')).toMatchObject({
      requests: 2,
      allowed: 0,
      denied: 2,
      topDeniedHosts: [
        { host: 'example.com', count: 1 },
        { host: 'sub.attacker.test', count: 1 },
      ],
      bytesOutByHost: [],
    });
  });

  it('policy revisions seen, in order of first appearance', () => {
    expect(s.revisions).toEqual([
      { revision: 'rev-a', records: 5, firstSeen: '2026-11-22T00:00:00.000Z', lastSeen: '2026-11-22T00:20:00.000Z' },
      { revision: 'rev-b', records: 9, firstSeen: '2026-11-22T00:30:00.000Z', lastSeen: '2026-11-22T04:01:00.000Z' },
    ]);
  });

  it('memory stays bounded: past MAX_HOSTS hosts per agent, further hosts are counted, not listed', async () => {
    const { MAX_HOSTS } = await import('../../src/audit/query.js');
    const b = new SummaryBuilder();
    for (let i = 0; i < MAX_HOSTS + 50; i++)
      b.add({ agent: 'x', event: 'request', effect: 'deny', host: `h${i}.exfil.test` });
    const x = b.result().agents[0];
    expect(x?.denied).toBe(MAX_HOSTS + 50);
    expect(x?.recordsNotTracked).toBe(50);
    expect(x?.topDeniedHosts).toHaveLength(10);
  });
});
