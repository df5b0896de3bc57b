// `leash policy replay`, the pure part: which records are decided again and what each record says was decided
// (classify), and a replay of a hand-made policy change that must show exactly the decisions that change.

import { describe, expect, it } from 'vitest';
import { classify, MAX_GROUPS, MAX_SKIP_LABELS, Replay, SAMPLES, type AuditLine } from '../../src/policy/replay.js';
import { REASONS } from '../../src/proxy/reasons.js';
import { compile } from './compile.js';

const OLD = `version: 1
agents: { research: { uid: 1001 }, ci: { uid: 1002 } }
rules:
  - { name: openai, domain: api.openai.com, ports: [443], effect: allow }
  - { name: docs, domain: docs.example.com, ports: [443], methods: [GET], effect: allow }
  - { name: pypi, domain: pypi.org, ports: [443], agents: [ci], effect: allow }
  - { name: exfil, domain: "*.attacker.test", effect: deny }
  - { name: example, domain: example.com, ports: [80], effect: allow }
`;

// The change under review: docs may POST, research may use pypi, example.com is dropped, and a deny rule on
// OpenAI's file uploads (which makes leash intercept api.openai.com), and a deny rule on trackers.
const NEW = `version: 1
agents: { research: { uid: 1001 }, ci: { uid: 1002 } }
rules:
  - { name: openai, domain: api.openai.com, ports: [443], effect: allow }
  - { name: no-openai-files, domain: api.openai.com, paths: ["/v1/files/**"], effect: deny }
  - { name: docs, domain: docs.example.com, ports: [443], methods: [GET, POST], effect: allow }
  - { name: pypi, domain: pypi.org, ports: [443], agents: [ci, research], effect: allow }
  - { name: exfil, domain: "*.attacker.test", effect: deny }
  - { name: trackers, domain: "*.tracker.test", effect: deny }
`;

/** A record as leash writes it, with only the fields replay reads. */
function rec(fields: Record<string, unknown>): AuditLine {
  return {
    event: 'request',
    agent: 'research',
    method: 'GET',
    scheme: 'http',
    port: 80,
    path: '/',
    effect: 'allow',
    rule: null,
    reason: 'allowed_by_rule',
    ...fields,
  };
}
const tunnel = (host: string, fields: Record<string, unknown> = {}) =>
  rec({ event: 'tunnel', method: 'CONNECT', scheme: 'tunnel', host, port: 443, path: null, ...fields });
const https = (method: string, host: string, path: string, fields: Record<string, unknown> = {}) =>
  rec({ method, scheme: 'https', tls: 'intercepted', host, port: 443, path, ...fields });

describe('a hand-made change replays to exactly its changed decisions', () => {
  const log: [name: string, record: AuditLine][] = [
    ['OpenAI tunnel (unchanged; now intercepted)', tunnel('api.openai.com', { rule: 'openai' })],
    ['OpenAI tunnel of ci (unchanged; now intercepted)', tunnel('api.openai.com', { rule: 'openai', agent: 'ci' })],
    ['docs GET inside an intercepted tunnel (unchanged)', https('GET', 'docs.example.com', '/guide', { rule: 'docs' })],
    [
      'docs POST inside an intercepted tunnel, denied (now allowed)',
      https('POST', 'docs.example.com', '/guide', { effect: 'deny', reason: 'no_rule' }),
    ],
    [
      'docs POST again (now allowed)',
      https('POST', 'docs.example.com', '/search', { effect: 'deny', reason: 'no_rule' }),
    ],
    ['pypi for research, denied (now allowed)', tunnel('pypi.org', { effect: 'deny', reason: 'no_rule' })],
    ['pypi for ci (unchanged)', tunnel('pypi.org', { rule: 'pypi', agent: 'ci' })],
    ['example.com over HTTP (now denied)', rec({ host: 'example.com', rule: 'example' })],
    [
      'example.com, allowed then rate-limited (now denied)',
      rec({ host: 'example.com', path: '/b', effect: 'deny', rule: 'example', reason: 'rate_limited' }),
    ],
    [
      'example.com, allowed then its name did not resolve (now denied)',
      rec({ host: 'example.com', path: '/c', agent: 'ci', effect: 'deny', rule: 'example', reason: 'dns_failure' }),
    ],
    [
      'exfiltration, denied by rule (unchanged)',
      rec({ host: 'x.attacker.test', effect: 'deny', rule: 'exfil', reason: 'denied_by_rule' }),
    ],
    [
      'report mode: denied, let through with wouldDeny (unchanged: still denied)',
      rec({ host: 'example.org', wouldDeny: true, reason: 'no_rule' }),
    ],
    [
      'report mode: example.com allowed, rate limit would deny (now denied)',
      rec({ host: 'example.com', path: '/d', wouldDeny: true, rule: 'example', reason: 'rate_limited' }),
    ],
    [
      'a grant on a host no rule names (kept by the grant)',
      https('GET', 'cdn.example.net', '/a.png', { rule: 'grant', reason: 'granted' }),
    ],
    [
      'a grant on a host a deny rule now names (now denied)',
      https('GET', 'pixel.tracker.test', '/a.png', { rule: 'grant', reason: 'granted' }),
    ],
    [
      'a grant event (not a request)',
      { event: 'grant', host: 'cdn.example.net', reason: 'granted', effect: 'allow', agent: 'research' },
    ],
    ['a policy reload (not a request)', { event: 'policy', reason: 'policy_loaded', effect: 'allow', agent: '-' }],
    ['refused before the policy: bad credentials', rec({ host: 'example.com', effect: 'deny', reason: 'auth_failed' })],
    [
      'a method override (not recorded)',
      rec({ host: 'example.com', method: 'POST', effect: 'deny', reason: 'method_override', rule: 'example' }),
    ],
  ];

  const replay = new Replay(compile(NEW));
  for (const [, record] of log) replay.add(record);
  const result = replay.result();

  it('groups the changes by host and rule, most first, with counts, samples and agents', () => {
    expect(
      result.groups.map((g) => ({
        direction: g.direction,
        host: g.host,
        port: g.port,
        was: g.was,
        now: [g.now.rule, g.now.reason],
        count: g.count,
        samples: g.samples,
        agents: g.agents,
      })),
    ).toEqual([
      {
        direction: 'tightened',
        host: 'example.com',
        port: 80,
        was: { rule: 'example', reason: 'rate_limited' },
        now: [null, 'no_rule'],
        count: 2,
        samples: ['GET http://example.com/b', 'GET http://example.com/d'],
        agents: ['research'],
      },
      {
        direction: 'loosened',
        host: 'docs.example.com',
        port: 443,
        was: { rule: null, reason: 'no_rule' },
        now: ['docs', 'allowed_by_rule'],
        count: 2,
        samples: ['POST https://docs.example.com/guide', 'POST https://docs.example.com/search'],
        agents: ['research'],
      },
      {
        direction: 'tightened',
        host: 'example.com',
        port: 80,
        was: { rule: 'example', reason: 'allowed_by_rule' },
        now: [null, 'no_rule'],
        count: 1,
        samples: ['GET http://example.com/'],
        agents: ['research'],
      },
      {
        direction: 'tightened',
        host: 'example.com',
        port: 80,
        was: { rule: 'example', reason: 'dns_failure' },
        now: [null, 'no_rule'],
        count: 1,
        samples: ['GET http://example.com/c'],
        agents: ['ci'],
      },
      {
        direction: 'tightened',
        host: 'pixel.tracker.test',
        port: 443,
        was: { rule: 'grant', reason: 'granted' },
        now: ['trackers', 'denied_by_rule'],
        count: 1,
        samples: ['GET https://pixel.tracker.test/a.png'],
        agents: ['research'],
      },
      {
        direction: 'loosened',
        host: 'pypi.org',
        port: 443,
        was: { rule: null, reason: 'no_rule' },
        now: ['pypi', 'allowed_by_rule'],
        count: 1,
        samples: ['CONNECT pypi.org:443'],
        agents: ['research'],
      },
    ]);
  });

  it('counts what did not change, what stays to grants, what would now be intercepted, and what was not replayed', () => {
    expect(result).toMatchObject({
      records: log.length,
      replayed: 15,
      unchanged: 6,
      tightened: 5,
      loosened: 3,
      keptByGrant: 1,
      nowIntercepted: 2,
      ungrouped: { tightened: 0, loosened: 0 },
    });
    expect(result.skipped).toEqual([
      { label: 'auth_failed (refused without a policy decision)', count: 1 },
      { label: 'grant events (not requests)', count: 1 },
      { label: 'method_override (the method the request asked for is not recorded)', count: 1 },
      { label: 'policy events (not requests)', count: 1 },
    ]);
  });

  it('names the new rule where it stands', () => {
    expect(result.groups.find((g) => g.host === 'pypi.org')?.now.at).toBe('t.yaml:7');
  });

  it('replaying under the same policy the log was written with changes nothing', () => {
    const same = new Replay(compile(OLD));
    for (const [, record] of log) same.add(record);
    expect(same.result()).toMatchObject({ tightened: 0, loosened: 0, groups: [] });
  });
});

describe('which records are decided again (classify): records are untrusted input', () => {
  it.each<[name: string, record: AuditLine, outcome: string]>([
    ['a request allowed by a rule', rec({ host: 'a.test', rule: 'r' }), 'replay allow'],
    ['a request denied by no rule', rec({ host: 'a.test', effect: 'deny', reason: 'no_rule' }), 'replay deny'],
    [
      'report mode: allowed with wouldDeny, reason no_rule',
      rec({ host: 'a.test', wouldDeny: true, reason: 'no_rule' }),
      'replay deny',
    ],
    [
      'an opaque tunnel refused',
      tunnel('a.test', { port: 22, effect: 'deny', reason: 'opaque_tunnel' }),
      'replay deny',
    ],
    [
      'allowed, then the upstream timed out',
      rec({ host: 'a.test', effect: 'deny', rule: 'r', reason: 'upstream_timeout' }),
      'replay allow',
    ],
    [
      'allowed by a grant, then the grant expired',
      tunnel('a.test', { effect: 'deny', rule: 'grant', reason: 'grant_expired' }),
      'replay allow',
    ],
    ['an intercepted tunnel', tunnel('a.test', { rule: 'r', reason: 'intercepted' }), 'replay allow'],
    [
      'refused before the policy (no rule): header too large',
      rec({ host: 'a.test', effect: 'deny', reason: 'header_too_large' }),
      'header_too_large (refused without a policy decision)',
    ],
    [
      'the grant store did not answer (no rule)',
      rec({ host: 'a.test', effect: 'deny', reason: 'store_unavailable' }),
      'store_unavailable (refused without a policy decision)',
    ],
    ['a reason with odd characters', rec({ host: 'a.test', effect: 'deny', reason: 'x\u001b[31m' }), 'unknown reasons'],
    ['allowed_by_rule with effect deny', rec({ host: 'a.test', rule: 'r', effect: 'deny' }), 'inconsistent'],
    ['allowed_by_rule with no rule', rec({ host: 'a.test' }), 'inconsistent'],
    ['allowed_by_rule with wouldDeny', rec({ host: 'a.test', rule: 'r', wouldDeny: true }), 'inconsistent'],
    [
      'denied_by_rule with effect allow and no wouldDeny',
      rec({ host: 'a.test', rule: 'd', reason: 'denied_by_rule' }),
      'inconsistent',
    ],
    [
      'denied_by_rule naming no rule',
      rec({ host: 'a.test', effect: 'deny', reason: 'denied_by_rule' }),
      'inconsistent',
    ],
    ['a tunnel with a path', tunnel('a.test', { rule: 'r', path: '/x' }), 'inconsistent'],
    ['a tunnel whose method is not CONNECT', tunnel('a.test', { rule: 'r', method: 'GET' }), 'inconsistent'],
    ['a request record with method CONNECT', rec({ host: 'a.test', rule: 'r', method: 'CONNECT' }), 'incomplete'],
    ['no host', rec({ rule: 'r' }), 'incomplete'],
    ['an empty host', rec({ host: '', rule: 'r' }), 'incomplete'],
    ['port as a string', rec({ host: 'a.test', rule: 'r', port: '80' }), 'incomplete'],
    ['port not an integer', rec({ host: 'a.test', rule: 'r', port: 80.5 }), 'incomplete'],
    ['no path on a request', rec({ host: 'a.test', rule: 'r', path: null }), 'incomplete'],
    ['agent missing', rec({ host: 'a.test', rule: 'r', agent: undefined }), 'incomplete'],
    ['effect neither allow nor deny', rec({ host: 'a.test', rule: 'r', effect: 'maybe' }), 'incomplete'],
    ['rule of the wrong type', rec({ host: 'a.test', rule: 5 }), 'incomplete'],
    ['reason missing', rec({ host: 'a.test', rule: 'r', reason: undefined }), 'incomplete'],
    [
      'a connection record',
      { event: 'connection', effect: 'deny', reason: 'too_many_connections' },
      'connection events (not requests)',
    ],
    ['an unknown event', { event: 'weird', effect: 'allow', reason: 'allowed_by_rule' }, 'records of no known event'],
  ])('%s', (_name, record, outcome) => {
    const c = classify(record);
    const got = c.replay
      ? `replay ${c.was.effect}`
      : c.label.startsWith('inconsistent')
        ? 'inconsistent'
        : c.label.startsWith('incomplete')
          ? 'incomplete'
          : c.label;
    expect(got).toBe(outcome);
  });

  it('an intercepted request is its CONNECT first, then the request inside', () => {
    const c = classify(https('DELETE', 'a.test', '/x?y=1', { rule: 'r' }));
    expect(c.replay && c.line).toEqual({
      facts: { method: 'CONNECT', host: 'a.test', port: 443, agent: 'research' },
      inner: { method: 'DELETE', host: 'a.test', port: 443, path: '/x?y=1', agent: 'research' },
    });
  });

  it('a record whose host does not parse is decided again and denied (invalid_request), never thrown on', () => {
    const replay = new Replay(compile(OLD));
    replay.add(rec({ host: 'exa mple.com', rule: 'example' }));
    replay.add(rec({ host: 'example.com', port: 0, rule: 'example' }));
    expect(replay.result().groups.map((g) => [g.host, g.now.reason, g.count])).toEqual([
      ['exa mple.com', 'invalid_request', 1],
      ['example.com', 'invalid_request', 1],
    ]);
  });
});

describe('memory stays bounded whatever the log holds', () => {
  it(`at most ${MAX_GROUPS} groups; further changes are counted, not grouped`, () => {
    const replay = new Replay(compile(NEW));
    for (let i = 0; i <= MAX_GROUPS; i++) replay.add(rec({ host: `h${i}.example.com`, rule: 'example' }));
    const result = replay.result();
    expect(result.groups).toHaveLength(MAX_GROUPS);
    expect(result.tightened).toBe(MAX_GROUPS + 1);
    expect(result.ungrouped).toEqual({ tightened: 1, loosened: 0 });
  });

  it(`at most ${SAMPLES} samples and 5 agents per group`, () => {
    const replay = new Replay(compile(NEW));
    for (let i = 0; i < 50; i++)
      replay.add(rec({ host: 'example.com', path: `/${i}`, agent: `agent${i}`, rule: 'example' }));
    const [group] = replay.result().groups;
    expect(group?.samples).toHaveLength(SAMPLES);
    expect(group?.agents).toHaveLength(5);
    expect(group?.moreAgents).toBe(45);
  });

  it(`at most ${MAX_SKIP_LABELS} skip labels; the rest are "other"`, () => {
    const replay = new Replay(compile(NEW));
    for (let i = 0; i < MAX_SKIP_LABELS + 10; i++)
      replay.add(
        rec({
          host: 'a.test',
          effect: 'deny',
          reason: `made_up_${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`,
        }),
      );
    const skipped = replay.result().skipped;
    expect(skipped).toHaveLength(MAX_SKIP_LABELS + 1);
    expect(skipped.find((s) => s.label === 'other')?.count).toBe(10);
  });
});

describe('every reason leash writes has a place', () => {
  const POLICY_REASONS = [
    'allowed_by_rule',
    'intercepted',
    'granted',
    'denied_by_rule',
    'no_rule',
    'opaque_tunnel',
    'invalid_request',
    'method_override',
  ];
  it.each(Object.keys(REASONS).filter((r) => !POLICY_REASONS.includes(r)))(
    '%s: with the allowing rule kept, an allow by it; without a rule, skipped by its name',
    (reason) => {
      const withRule = classify(rec({ host: 'a.test', effect: 'deny', rule: 'r', reason }));
      expect(withRule.replay && withRule.was).toEqual({ effect: 'allow', rule: 'r', reason, viaGrant: false });
      const without = classify(rec({ host: 'a.test', effect: 'deny', reason }));
      expect(without.replay ? 'replayed' : without.label).toBe(`${reason} (refused without a policy decision)`);
    },
  );
});
