// Seeded property tests for replay, on logs of random requests recorded as serve records them (a tunnel record when
// the CONNECT decides, a record of the request inside when the tunnel is intercepted):
// - replayed under the policy that wrote it, a log changes nothing;
// - replayed under another policy, the changes are exactly the recorded requests whose decision differs, in both
//   directions, and every record is accounted for (unchanged + changed = replayed). A tunnel that was spliced is
//   recorded as its CONNECT only: the requests inside were never seen, and replay decides what was recorded.
// The seed is fixed so a failure reproduces.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, type RequestFacts } from '../../src/policy/evaluate.js';
import type { CompiledPolicy } from '../../src/policy/policy.js';
import { Replay, type AuditLine } from '../../src/policy/replay.js';
import { asServed, parseRequestLine } from '../../src/policy/request-line.js';
import { compile } from './compile.js';

const SEED = 20_261_203;
const RUNS = 100;

const OLD = compile(`version: 1
agents: { research: { uid: 1001 }, ci: { uid: 1002 } }
rules:
  - { name: api, domain: api.example.com, ports: [443], effect: allow }
  - { name: docs, domain: docs.example.com, methods: [GET], effect: allow }
  - { name: docs-admin, domain: docs.example.com, paths: ["/admin/**"], effect: deny }
  - { name: cdn, domain: "*.cdn.example.com", effect: allow }
  - { name: ci-only, domain: build.example.com, agents: [ci], effect: allow }
  - { name: ssh, domain: git.example.com, ports: [22], methods: [CONNECT], effect: allow }
`);
const NEW = compile(`version: 1
agents: { research: { uid: 1001 }, ci: { uid: 1002 } }
rules:
  - { name: api, domain: api.example.com, ports: [443], methods: [GET, POST], effect: allow }
  - { name: docs, domain: docs.example.com, methods: [GET, HEAD], effect: allow }
  - { name: cdn, domain: "*.cdn.example.com", ports: [443], effect: allow }
  - { name: img-deny, domain: "img.cdn.example.com", effect: deny }
  - { name: build, domain: build.example.com, agents: [ci, research], effect: allow }
`);

const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'HEAD', 'DELETE', 'CONNECT'),
  scheme: fc.constantFrom('http', 'https'),
  host: fc.constantFrom(
    'api.example.com',
    'docs.example.com',
    'a.cdn.example.com',
    'img.cdn.example.com',
    'build.example.com',
    'git.example.com',
    'other.test',
  ),
  port: fc.constantFrom(undefined, 22, 80, 443, 8080),
  path: fc.constantFrom('/', '/v1/x', '/admin/users', '/a/../admin'),
  agent: fc.constantFrom('research', 'ci', 'anonymous'),
});
type Generated = typeof request extends fc.Arbitrary<infer T> ? T : never;

function lineOf(r: Generated) {
  const parsed =
    r.method === 'CONNECT'
      ? parseRequestLine('CONNECT', `${r.host}:${r.port ?? 443}`, r.agent)
      : parseRequestLine(r.method, `${r.scheme}://${r.host}${r.port ? `:${r.port}` : ''}${r.path}`, r.agent);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.line;
}

const judge = (policy: CompiledPolicy) => (facts: RequestFacts) => ({ decision: decide(policy, facts) });

/**
 * What the log can say about `r`: an https:// request whose tunnel `recorder` spliced was recorded as its CONNECT
 * only (the request inside was never seen), so that is all any policy can decide again.
 */
function recorded(recorder: CompiledPolicy, r: Generated) {
  const line = lineOf(r);
  return asServed(line, judge(recorder)).intercepted ? line : { facts: line.facts };
}

/** The record serve writes for `r` under `policy`. */
function recordOf(policy: CompiledPolicy, r: Generated): AuditLine {
  const line = lineOf(r);
  const result = asServed(line, judge(policy));
  const d = result.result.decision;
  const facts = result.intercepted ? (line.inner as RequestFacts) : line.facts;
  const tunnel = facts.method === 'CONNECT';
  return {
    event: tunnel ? 'tunnel' : 'request',
    agent: r.agent,
    method: facts.method,
    scheme: tunnel ? 'tunnel' : result.intercepted ? 'https' : 'http',
    ...(result.intercepted ? { tls: 'intercepted' } : {}),
    host: d.request?.host ?? facts.host,
    port: facts.port,
    path: tunnel ? null : (d.request?.path ?? facts.path),
    effect: d.effect,
    rule: d.rule?.name ?? null,
    reason: d.reason,
  };
}

describe('replay invariants', () => {
  it('a log replayed under the policy that wrote it changes nothing', () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 40 }), (requests) => {
        const replay = new Replay(OLD);
        for (const r of requests) replay.add(recordOf(OLD, r));
        const result = replay.result();
        expect(result).toMatchObject({
          replayed: requests.length,
          unchanged: requests.length,
          tightened: 0,
          loosened: 0,
          groups: [],
        });
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('under another policy, the changes are exactly the requests whose decision differs', () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 40 }), (requests) => {
        const replay = new Replay(NEW);
        for (const r of requests) replay.add(recordOf(OLD, r));
        const result = replay.result();
        const was = requests.map((r) => asServed(lineOf(r), judge(OLD)).result.decision.effect);
        const now = requests.map((r) => asServed(recorded(OLD, r), judge(NEW)).result.decision.effect);
        const tightened = requests.filter((_, i) => was[i] === 'allow' && now[i] === 'deny').length;
        const loosened = requests.filter((_, i) => was[i] === 'deny' && now[i] === 'allow').length;
        expect({ tightened: result.tightened, loosened: result.loosened }).toEqual({ tightened, loosened });
        expect(result.unchanged + result.tightened + result.loosened).toBe(result.replayed);
        expect(result.replayed).toBe(requests.length);
        const nowIntercepted = requests.filter((r) => {
          const line = recorded(OLD, r);
          if (line.inner !== undefined || line.facts.method !== 'CONNECT') return false;
          const before = decide(OLD, line.facts);
          const after = decide(NEW, line.facts);
          return before.reason === 'allowed_by_rule' && after.effect === 'allow' && after.intercept === true;
        }).length;
        expect(result.nowIntercepted).toBe(nowIntercepted);
        const grouped = (d: 'tightened' | 'loosened') =>
          result.groups.filter((g) => g.direction === d).reduce((n, g) => n + g.count, 0);
        expect({ tightened: grouped('tightened'), loosened: grouped('loosened') }).toEqual({ tightened, loosened });
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
