// The admission pipeline as a specification, without sockets: who asks, what the policy says, what a grant and a
// rate limit add, what report mode changes (and what it never changes), and the order of the steps: nothing
// refused is resolved, nothing refused takes a rate-limit token. Stores are the in-memory ones; the clock and the
// resolver are the test's.

import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { MemoryGrantStore } from '../../src/grants/memory-store.js';
import type { Grant, GrantStore } from '../../src/grants/store.js';
import { MemoryRateLimitStore } from '../../src/limits/memory-store.js';
import type { CompiledPolicy } from '../../src/policy/policy.js';
import { EMPTY_LOCKDOWN, lockdownOf, type LockdownState } from '../../src/lockdown/state.js';
import type { LockdownView } from '../../src/lockdown/step.js';
import { admit, type Admission, type AdmissionContext, type Application } from '../../src/proxy/admission.js';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { MemoryScopeStore } from '../../src/scopes/memory-store.js';
import type { ScopeStore } from '../../src/scopes/store.js';
import type { Resolution } from '../../src/proxy/resolve.js';
import { compileWithWarnings } from '../grants/compile.js';

const RULES = `
agents:
  research: { token: env:LEASH_ADMISSION_TEST_TOKEN }
rules:
  - { name: api, domain: api.example, ports: [80, 443], methods: [GET, POST], rateLimit: 2/1m, effect: allow }
  - { name: docs, domain: docs.example, ports: [80, 443], methods: [GET], effect: allow }
  - { name: ws, domain: ws.example, ports: [443], websocket: true, effect: allow }
  - { name: metered, domain: metered.example, ports: [443], websocket: true, bandwidth: 1MB/1m, effect: allow }
  - { name: search, domain: search.example, ports: [443], inspect: [json], effect: allow }
  - { name: bad, domain: bad.example, effect: deny, reason: known exfiltration sink }
  - { name: internal, domain: internal.example, ports: [80], effect: allow }
`;

function policyOf(settings: string): CompiledPolicy {
  return compileWithWarnings(`version: 1\n${settings}${RULES}`);
}

const ENFORCE = policyOf('');
const REPORT = policyOf('settings:\n  mode: report\n');
const REQUIRE_AGENT = policyOf('settings:\n  requireAgent: true\n');

interface World {
  readonly ctx: AdmissionContext;
  readonly resolved: string[];
  readonly clock: { now: number };
  /** Records the pipeline wrote of its own (a scope opened, an approval asked for). */
  readonly records: AuditRecord[];
}

function world(
  policy: CompiledPolicy,
  options: { grants?: GrantStore; tokens?: [string, string][]; scopes?: ScopeStore } = {},
): World {
  const resolved: string[] = [];
  const records: AuditRecord[] = [];
  const clock = { now: 1_000_000 };
  const resolve = async (host: string): Promise<Resolution> => {
    resolved.push(host);
    if (host === 'internal.example')
      return {
        ok: false,
        reason: 'address_denied',
        message: 'internal.example resolves to 10.0.0.5, a private address',
      };
    return { ok: true, address: '192.0.2.10', family: 4, source: 'dns' };
  };
  return {
    ctx: {
      policy,
      tokens: new Map(options.tokens ?? [['research', 's3cret']]),
      grants: options.grants ?? new MemoryGrantStore(),
      rateLimits: new MemoryRateLimitStore(),
      now: () => clock.now,
      resolve,
      scopes: options.scopes ?? new MemoryScopeStore(),
      approvals: new MemoryApprovalStore(),
      record: (r: AuditRecord) => records.push(r),
      newId: () => `id${String(records.length).padStart(10, '0')}`,
      sleep: async (ms: number) => {
        clock.now += ms;
      },
    },
    records,
    resolved,
    clock,
  };
}

const anonymous = { credentials: undefined, uid: undefined, address: '127.0.0.1' };
const research = { credentials: { user: 'research', password: 's3cret' }, uid: undefined, address: '127.0.0.1' };

function http(method: string, url: string, more: Partial<Application> = {}): Application {
  const u = new URL(url);
  return {
    applicant: anonymous,
    channel: 'http',
    method,
    host: u.hostname,
    port: Number(u.port || 80),
    path: `${u.pathname}${u.search}`,
    headers: {},
    ...more,
  };
}
function connect(host: string, port = 443, more: Partial<Application> = {}): Application {
  return { applicant: anonymous, channel: 'tunnel', method: 'CONNECT', host, port, ...more };
}
function inside(method: string, host: string, path: string, more: Partial<Application> = {}): Application {
  return {
    applicant: { agent: 'anonymous', identity: 'none' },
    channel: 'intercepted',
    method,
    host,
    port: 443,
    path,
    headers: {},
    address: '198.51.100.7',
    ...more,
  };
}

/** effect/reason as one string, for tables: "allow granted", "deny no_rule", "report rate_limited". */
function outcome(a: Admission): string {
  if (!a.ok) return `deny ${a.reason}`;
  return a.notes.wouldDeny ? `report ${a.notes.reason}` : `allow ${a.notes.reason}`;
}

const grant = (over: Partial<Grant> = {}): Grant => ({
  agent: 'anonymous',
  scheme: 'https',
  host: 'cdn.example',
  port: 443,
  expiresAt: 1_030_000,
  source: { requestId: 'r1', rule: 'search', url: 'https://search.example/q', found: '$.url' },
  url: null,
  ...over,
});

async function withGrants(...grants: Grant[]): Promise<MemoryGrantStore> {
  const store = new MemoryGrantStore();
  for (const g of grants) await store.add(g);
  return store;
}

describe('admission: one request, every channel', () => {
  type Row = [name: string, policy: CompiledPolicy, application: Application, expected: string, resolves: boolean];
  it.each<Row>([
    [
      'an allowed plain request is resolved',
      ENFORCE,
      http('GET', 'http://docs.example/a'),
      'allow allowed_by_rule',
      true,
    ],
    [
      'a deny rule refuses, and the name is never resolved',
      ENFORCE,
      http('GET', 'http://bad.example/'),
      'deny denied_by_rule',
      false,
    ],
    ['no rule: default deny, never resolved', ENFORCE, http('GET', 'http://unknown.example/'), 'deny no_rule', false],
    ['a method the rule does not allow', ENFORCE, http('DELETE', 'http://docs.example/a'), 'deny no_rule', false],
    [
      'a tunnel to a host whose rule limits methods is opened intercepted',
      ENFORCE,
      connect('docs.example'),
      'allow intercepted',
      true,
    ],
    ['a tunnel a rule allows whole', ENFORCE, connect('ws.example'), 'allow allowed_by_rule', true],
    ['a tunnel to a port no rule names', ENFORCE, connect('docs.example', 8443), 'deny no_rule', false],
    [
      'the address guard refuses after the policy allowed',
      ENFORCE,
      http('GET', 'http://internal.example/'),
      'deny address_denied',
      true,
    ],
    [
      'inside a tunnel: the address was checked at CONNECT, never resolved again',
      ENFORCE,
      inside('GET', 'docs.example', '/a'),
      'allow allowed_by_rule',
      false,
    ],
    [
      'inside a tunnel: each request decided on its own method',
      ENFORCE,
      inside('POST', 'docs.example', '/a'),
      'deny no_rule',
      false,
    ],
  ])('%s', async (_name, policy, application, expected, resolves) => {
    const w = world(policy);
    const admission = await admit(w.ctx, application);
    expect(outcome(admission)).toBe(expected);
    expect(w.resolved.length > 0).toBe(resolves);
  });

  it('an allowed request carries the checked address and what the record says', async () => {
    const w = world(ENFORCE);
    const a = await admit(w.ctx, http('GET', 'http://Docs.Example./a'));
    expect(a.ok && a.address).toBe('192.0.2.10');
    expect(a.notes).toMatchObject({
      agent: 'anonymous',
      identity: 'none',
      host: 'docs.example',
      port: 80,
      effect: 'allow',
      rule: 'docs',
      resolved: '192.0.2.10',
    });
  });

  it('a refusal names the rule and its reason text', async () => {
    const a = await admit(world(ENFORCE).ctx, http('GET', 'http://bad.example/'));
    expect(a.notes).toMatchObject({
      effect: 'deny',
      rule: 'bad',
      reason: 'denied_by_rule',
      ruleReason: 'known exfiltration sink',
    });
  });
});

describe('admission: identity comes first', () => {
  type Row = [
    name: string,
    policy: CompiledPolicy,
    applicant: Application['applicant'],
    expected: string,
    agent?: string,
  ];
  it.each<Row>([
    ['requireAgent: an unidentified client never reaches the policy', REQUIRE_AGENT, anonymous, 'deny auth_required'],
    [
      'a wrong token',
      ENFORCE,
      { ...research, credentials: { user: 'research', password: 'nope' } },
      'deny auth_failed',
    ],
    ['malformed credentials', ENFORCE, { ...research, credentials: 'malformed' }, 'deny auth_failed'],
    ['the right token names the agent', REQUIRE_AGENT, research, 'allow allowed_by_rule', 'research'],
    [
      'the agent an intercepted tunnel established',
      REQUIRE_AGENT,
      { agent: 'research', identity: 'token' },
      'allow allowed_by_rule',
      'research',
    ],
    [
      'report mode never lets an unidentified client through',
      policyOf('settings:\n  mode: report\n  requireAgent: true\n'),
      anonymous,
      'deny auth_required',
    ],
  ])('%s', async (_name, policy, applicant, expected, agent) => {
    const w = world(policy);
    const a = await admit(w.ctx, http('GET', 'http://docs.example/', { applicant }));
    expect(outcome(a)).toBe(expected);
    if (!a.ok) expect(w.resolved).toEqual([]);
    if (agent) expect(a.notes.agent).toBe(agent);
  });
});

describe('admission: a lockdown comes right after identity', () => {
  const since = Date.UTC(2026, 11, 3, 3, 0, 0);
  const locked = (state: LockdownState): LockdownView => ({
    lockOf: (agent) => {
      const entry = lockdownOf(state, agent);
      return entry && { entry, scope: state.all ? 'all' : 'agent' };
    },
  });
  const RESEARCH: LockdownState = { all: null, agents: { research: { reason: 'exfiltration', by: 'alice', since } } };
  const EVERYONE: LockdownState = { all: { reason: 'incident 42', by: 'SIGUSR1', since }, agents: {} };
  type Row = [
    name: string,
    policy: CompiledPolicy,
    lockdown: LockdownState,
    application: Application,
    expected: string,
  ];
  it.each<Row>([
    [
      'the locked agent is refused, whatever the policy allows',
      ENFORCE,
      RESEARCH,
      http('GET', 'http://docs.example/', { applicant: research }),
      'deny lockdown',
    ],
    [
      'another agent is decided by the policy',
      ENFORCE,
      RESEARCH,
      http('GET', 'http://docs.example/'),
      'allow allowed_by_rule',
    ],
    [
      'another agent still meets deny-by-default',
      ENFORCE,
      RESEARCH,
      http('GET', 'http://unknown.example/'),
      'deny no_rule',
    ],
    [
      'a tunnel of the locked agent',
      ENFORCE,
      RESEARCH,
      connect('ws.example', 443, { applicant: research }),
      'deny lockdown',
    ],
    [
      'a request inside a tunnel the agent opened before',
      ENFORCE,
      RESEARCH,
      inside('GET', 'docs.example', '/a', { applicant: { agent: 'research', identity: 'token' } }),
      'deny lockdown',
    ],
    ['every agent: unidentified clients too', ENFORCE, EVERYONE, http('GET', 'http://docs.example/'), 'deny lockdown'],
    [
      'report mode enforces a lockdown: it is an operator, not the policy',
      REPORT,
      EVERYONE,
      http('GET', 'http://docs.example/'),
      'deny lockdown',
    ],
    [
      'an unidentified client under requireAgent is refused as before',
      REQUIRE_AGENT,
      EVERYONE,
      http('GET', 'http://docs.example/'),
      'deny auth_required',
    ],
    [
      'nothing locked: the policy decides',
      ENFORCE,
      EMPTY_LOCKDOWN,
      http('GET', 'http://docs.example/', { applicant: research }),
      'allow allowed_by_rule',
    ],
  ])('%s', async (_name, policy, lockdown, application, expected) => {
    const w = world(policy);
    const a = await admit({ ...w.ctx, lockdown: locked(lockdown) }, application);
    expect(outcome(a)).toBe(expected);
    if (!a.ok) expect(w.resolved).toEqual([]);
  });

  it('the refusal says since when and why, and records the destination asked for', async () => {
    const w = world(ENFORCE);
    const a = await admit(
      { ...w.ctx, lockdown: locked(RESEARCH) },
      http('GET', 'http://Docs.Example/x', { applicant: research }),
    );
    expect(a).toMatchObject({
      ok: false,
      reason: 'lockdown',
      message: 'agent research is locked down since 2026-12-03T03:00:00.000Z: exfiltration',
    });
    expect(a.notes).toMatchObject({
      agent: 'research',
      identity: 'token',
      host: 'docs.example',
      port: 80,
      effect: 'deny',
      reason: 'lockdown',
    });
  });

  it('a locked request takes no rate-limit token', async () => {
    const w = world(ENFORCE);
    for (let i = 0; i < 3; i++)
      await admit({ ...w.ctx, lockdown: locked(EVERYONE) }, http('GET', 'http://api.example/'));
    expect(outcome(await admit(w.ctx, http('GET', 'http://api.example/')))).toBe('allow allowed_by_rule');
  });
});

describe('admission: grants, where no rule speaks about the host', () => {
  type Row = [name: string, grants: Grant[], application: Application, expected: string];
  it.each<Row>([
    ['a GET inside a tunnel to a granted host', [grant()], inside('GET', 'cdn.example', '/img.png'), 'allow granted'],
    ['a HEAD is a read too', [grant()], inside('HEAD', 'cdn.example', '/img.png'), 'allow granted'],
    ['a POST is not a read', [grant()], inside('POST', 'cdn.example', '/img.png'), 'deny no_rule'],
    [
      'a GET with a body is not a read',
      [grant()],
      inside('GET', 'cdn.example', '/x', { headers: { 'content-length': '3' } }),
      'deny no_rule',
    ],
    ['the CONNECT a grant opens', [grant()], connect('cdn.example'), 'allow granted'],
    [
      'never a tunnel to a port leash cannot see into',
      [grant({ port: 8080 })],
      connect('cdn.example', 8080),
      'deny no_rule',
    ],
    [
      'plain HTTP reads use http grants',
      [grant({ scheme: 'http', port: 80 })],
      http('GET', 'http://cdn.example/a'),
      'allow granted',
    ],
    ['an https grant does not cover plain HTTP', [grant()], http('GET', 'http://cdn.example/a'), 'deny no_rule'],
    ['expired at its TTL', [grant({ expiresAt: 1_000_000 })], inside('GET', 'cdn.example', '/a'), 'deny no_rule'],
    ["another agent's grant", [grant({ agent: 'research' })], inside('GET', 'cdn.example', '/a'), 'deny no_rule'],
    [
      'scope url: exactly the URL the response named',
      [grant({ url: 'https://cdn.example/a?v=1' })],
      inside('GET', 'cdn.example', '/a?v=1'),
      'allow granted',
    ],
    [
      'scope url: any other URL',
      [grant({ url: 'https://cdn.example/a?v=1' })],
      inside('GET', 'cdn.example', '/a?v=2'),
      'deny no_rule',
    ],
    [
      'never where a rule speaks about the host',
      [grant({ host: 'docs.example' })],
      inside('POST', 'docs.example', '/a'),
      'deny no_rule',
    ],
    [
      'never against a deny rule',
      [grant({ host: 'bad.example' })],
      inside('GET', 'bad.example', '/a'),
      'deny denied_by_rule',
    ],
    ['never for an upgrade', [grant()], inside('GET', 'cdn.example', '/ws', { upgrade: 'websocket' }), 'deny no_rule'],
  ])('%s', async (_name, grants, application, expected) => {
    const w = world(ENFORCE, { grants: await withGrants(...grants) });
    expect(outcome(await admit(w.ctx, application))).toBe(expected);
  });

  it('a granted request names the grant in the record', async () => {
    const w = world(ENFORCE, { grants: await withGrants(grant()) });
    const a = await admit(w.ctx, inside('GET', 'cdn.example', '/img.png'));
    expect(a.notes).toMatchObject({
      rule: 'grant',
      reason: 'granted',
      grant: { source: 'r1', sourceRule: 'search', found: '$.url' },
    });
  });

  it('a grant that does not cover the request says so, instead of "no rule allows it"', async () => {
    const w = world(ENFORCE, { grants: await withGrants(grant()) });
    const a = await admit(w.ctx, inside('POST', 'cdn.example', '/img.png'));
    expect(a.ok ? '' : a.message).toMatch(/not granted: a grant allows only GET and HEAD/);
  });

  it('a store that cannot answer refuses with store_unavailable, never allows', async () => {
    const down: GrantStore = {
      add: async () => {},
      find: async () => {
        throw new StoreUnavailableError('redis did not answer within 250 ms');
      },
      revoke: async () => false,
    };
    const w = world(ENFORCE, { grants: down });
    expect(outcome(await admit(w.ctx, inside('GET', 'cdn.example', '/a')))).toBe('deny store_unavailable');
    // What a rule decides needs no grant: the store being down changes nothing for it.
    expect(outcome(await admit(w.ctx, inside('GET', 'docs.example', '/a')))).toBe('allow allowed_by_rule');
    expect(outcome(await admit(w.ctx, inside('GET', 'bad.example', '/a')))).toBe('deny denied_by_rule');
  });
});

describe('admission: method overrides', () => {
  it.each<[name: string, application: Application, expected: string]>([
    [
      'an override to a method the rule does not allow',
      inside('GET', 'docs.example', '/a', { overrides: [{ method: 'DELETE', source: 'X-HTTP-Method-Override' }] }),
      'deny method_override',
    ],
    [
      'an override to an allowed method',
      inside('GET', 'api.example', '/a', { overrides: [{ method: 'POST', source: 'X-HTTP-Method-Override' }] }),
      'allow allowed_by_rule',
    ],
    [
      'a denied request stays denied for its own reason',
      inside('GET', 'bad.example', '/a', { overrides: [{ method: 'DELETE', source: 'X-HTTP-Method-Override' }] }),
      'deny denied_by_rule',
    ],
  ])('%s', async (_name, application, expected) => {
    expect(outcome(await admit(world(ENFORCE).ctx, application))).toBe(expected);
  });

  it('a grant never carries an override to another method', async () => {
    const w = world(ENFORCE, { grants: await withGrants(grant()) });
    const a = await admit(
      w.ctx,
      inside('GET', 'cdn.example', '/a', { overrides: [{ method: 'DELETE', source: '_method' }] }),
    );
    expect(outcome(a)).toBe('deny method_override');
  });
});

describe('admission: rate limits count what is allowed, per agent', () => {
  it('allows exactly the limit, then 429 with the time to wait; the window refills', async () => {
    const w = world(ENFORCE);
    const results: string[] = [];
    for (let i = 0; i < 3; i++) results.push(outcome(await admit(w.ctx, inside('GET', 'api.example', '/v1'))));
    expect(results).toEqual(['allow allowed_by_rule', 'allow allowed_by_rule', 'deny rate_limited']);
    const limited = await admit(w.ctx, inside('GET', 'api.example', '/v1'));
    expect(!limited.ok && limited.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(w.resolved).toEqual([]);
    w.clock.now += 60_000;
    expect(outcome(await admit(w.ctx, inside('GET', 'api.example', '/v1')))).toBe('allow allowed_by_rule');
  });

  it('a refused request takes no token: not a denied method, not a refused override', async () => {
    const w = world(ENFORCE);
    await admit(w.ctx, inside('DELETE', 'api.example', '/v1'));
    await admit(
      w.ctx,
      inside('GET', 'api.example', '/v1', { overrides: [{ method: 'PUT', source: 'X-HTTP-Method' }] }),
    );
    const results: string[] = [];
    for (let i = 0; i < 2; i++) results.push(outcome(await admit(w.ctx, inside('GET', 'api.example', '/v1'))));
    expect(results).toEqual(['allow allowed_by_rule', 'allow allowed_by_rule']);
  });

  it('each agent has its own bucket', async () => {
    const w = world(ENFORCE);
    for (let i = 0; i < 2; i++) await admit(w.ctx, inside('GET', 'api.example', '/v1'));
    expect(
      outcome(
        await admit(
          w.ctx,
          inside('GET', 'api.example', '/v1', { applicant: { agent: 'research', identity: 'token' } }),
        ),
      ),
    ).toBe('allow allowed_by_rule');
  });

  it('a CONNECT on a TLS port takes no token from rateLimit (the requests inside are counted)', async () => {
    const w = world(ENFORCE);
    for (let i = 0; i < 5; i++) expect(outcome(await admit(w.ctx, connect('api.example')))).toBe('allow intercepted');
  });
});

describe('admission: WebSocket upgrades', () => {
  it.each<[name: string, policy: CompiledPolicy, application: Application, expected: string]>([
    [
      'a GET under a rule with websocket: true',
      ENFORCE,
      inside('GET', 'ws.example', '/s', { upgrade: 'websocket' }),
      'allow allowed_by_rule',
    ],
    [
      'a rule without websocket: true',
      ENFORCE,
      inside('GET', 'docs.example', '/s', { upgrade: 'websocket' }),
      'deny upgrade_denied',
    ],
    ['another protocol', ENFORCE, inside('GET', 'ws.example', '/s', { upgrade: 'h2c' }), 'deny upgrade_denied'],
    ['not a GET', ENFORCE, inside('POST', 'ws.example', '/s', { upgrade: 'websocket' }), 'deny upgrade_denied'],
    [
      'a budget leash cannot hold on a stream',
      ENFORCE,
      inside('GET', 'metered.example', '/s', { upgrade: 'websocket' }),
      'deny upgrade_denied',
    ],
    [
      'a denied host says why the GET was denied',
      ENFORCE,
      inside('GET', 'bad.example', '/s', { upgrade: 'websocket' }),
      'deny denied_by_rule',
    ],
    [
      'report mode: still no upgrade without a websocket rule',
      REPORT,
      inside('GET', 'bad.example', '/s', { upgrade: 'websocket' }),
      'deny upgrade_denied',
    ],
  ])('%s', async (_name, policy, application, expected) => {
    expect(outcome(await admit(world(policy).ctx, application))).toBe(expected);
  });
});

describe('admission: report mode reports policy refusals and enforces the guards', () => {
  type Row = [name: string, application: Application, expected: string];
  it.each<Row>([
    ['a deny rule', http('GET', 'http://bad.example/'), 'report denied_by_rule'],
    ['no rule', connect('unknown.example'), 'report no_rule'],
    [
      'a refused override',
      inside('GET', 'docs.example', '/a', { overrides: [{ method: 'DELETE', source: '_method' }] }),
      'report method_override',
    ],
    ['the address guard is enforced', http('GET', 'http://internal.example/'), 'deny address_denied'],
    ['an allowed request is just allowed', http('GET', 'http://docs.example/'), 'allow allowed_by_rule'],
  ])('%s', async (_name, application, expected) => {
    expect(outcome(await admit(world(REPORT).ctx, application))).toBe(expected);
  });

  it('a rate limit is reported, with wouldDeny, for requests and upgrades alike', async () => {
    const w = world(policyOf('settings:\n  mode: report\n'));
    for (let i = 0; i < 2; i++) await admit(w.ctx, inside('GET', 'api.example', '/v1'));
    expect(outcome(await admit(w.ctx, inside('GET', 'api.example', '/v1')))).toBe('report rate_limited');
    const ws = world(
      compileWithWarnings(
        'version: 1\nsettings:\n  mode: report\nrules:\n  - { name: ws, domain: ws.example, ports: [443], websocket: true, rateLimit: 1/1m, effect: allow }\n',
      ),
    );
    expect(outcome(await admit(ws.ctx, inside('GET', 'ws.example', '/s', { upgrade: 'websocket' })))).toBe(
      'allow allowed_by_rule',
    );
    const second = await admit(ws.ctx, inside('GET', 'ws.example', '/s', { upgrade: 'websocket' }));
    expect(outcome(second)).toBe('report rate_limited');
    expect(second.notes.effect).toBe('allow');
  });

  it('a request report mode lets through is resolved like any other', async () => {
    const w = world(REPORT);
    const a = await admit(w.ctx, http('GET', 'http://unknown.example/'));
    expect(a.ok && a.address).toBe('192.0.2.10');
    expect(w.resolved).toEqual(['unknown.example']);
  });
});

describe('admission: sandbox scopes and approvals, for what no rule allows and no deny rule matches', () => {
  const SANDBOX = compileWithWarnings(`version: 1
agents:
  dev: { token: env:LEASH_ADMISSION_TEST_DEV }
  ops: { token: env:LEASH_ADMISSION_TEST_OPS }
scopes:
  sandbox: { agents: [dev], ttl: 1h, maxHosts: 5, ports: [80, 443] }
settings:
  approvals: { agents: [ops] }
rules:
  - { name: docs, domain: docs.example, ports: [80, 443], methods: [GET], effect: allow }
  - { name: bad, domain: bad.example, effect: deny }
`);
  const REPORTED = compileWithWarnings(`version: 1
agents:
  ops: { token: env:LEASH_ADMISSION_TEST_OPS }
settings:
  mode: report
  approvals: { agents: [ops], wait: 30s }
`);
  const dev = { agent: 'dev', identity: 'token' as const };
  const ops = { agent: 'ops', identity: 'token' as const };
  type Row = [name: string, application: Application, expected: string, resolves: boolean];
  it.each<Row>([
    [
      'a scope opens an unknown host, then it is resolved and checked',
      http('GET', 'http://new.example/', { applicant: dev, scope: 'sandbox', requestId: 'r1' }),
      'allow scope',
      true,
    ],
    [
      'a scope opens an unknown host to a tunnel',
      connect('new.example', 443, { applicant: dev, scope: 'sandbox', requestId: 'r1' }),
      'allow scope',
      true,
    ],
    [
      'a scope never opens a host a deny rule matches',
      http('GET', 'http://bad.example/', { applicant: dev, scope: 'sandbox' }),
      'deny denied_by_rule',
      false,
    ],
    [
      'a scope never widens a rule: another method on a host a rule decides',
      http('DELETE', 'http://docs.example/', { applicant: dev, scope: 'sandbox' }),
      'deny no_rule',
      false,
    ],
    [
      'a scope the agent is not allowed is refused where it would matter',
      http('GET', 'http://new.example/', { applicant: ops, scope: 'sandbox' }),
      'deny scope_denied',
      false,
    ],
    [
      'the address guard refuses what a scope opened',
      http('GET', 'http://internal.example/x', { applicant: dev, scope: 'sandbox' }),
      'deny address_denied',
      true,
    ],
    [
      'an agent under approvals: a pending approval, never resolved',
      http('GET', 'http://new.example/', { applicant: ops, requestId: 'r2' }),
      'deny pending_approval',
      false,
    ],
    [
      'an agent under approvals, a host a deny rule matches',
      http('GET', 'http://bad.example/', { applicant: ops }),
      'deny denied_by_rule',
      false,
    ],
  ])('%s', async (_name, application, expected, resolves) => {
    const w = world(SANDBOX);
    expect(outcome(await admit(w.ctx, application))).toBe(expected);
    expect(w.resolved.length > 0).toBe(resolves);
  });

  it('where a rule decides, X-Leash-Scope changes nothing and is noted on the record', async () => {
    const w = world(SANDBOX);
    const a = await admit(w.ctx, http('GET', 'http://docs.example/', { applicant: ops, scope: 'sandbox' }));
    expect(outcome(a)).toBe('allow allowed_by_rule');
    expect(a.notes.scope).toEqual({ name: 'sandbox', via: 'header' });
    expect(w.records).toEqual([]);
  });

  it('the opening goes on record once the request is admitted, naming the scope and the request', async () => {
    const w = world(SANDBOX);
    const a = await admit(
      w.ctx,
      http('GET', 'http://new.example/', { applicant: dev, scope: 'sandbox', requestId: 'req-7' }),
    );
    expect(a.notes).toMatchObject({
      reason: 'scope',
      rule: null,
      scope: { name: 'sandbox', via: 'header', openedBy: 'req-7' },
    });
    expect(w.records).toEqual([
      expect.objectContaining({
        event: 'scope',
        reason: 'scope_opened',
        agent: 'dev',
        host: 'new.example',
        scope: expect.objectContaining({ name: 'sandbox', openedBy: 'req-7' }),
      }),
    ]);
  });

  it('a host the address guard refuses is never on record as opened, and takes no place in the scope', async () => {
    const scopes = new MemoryScopeStore();
    const w = world(SANDBOX, { scopes });
    await admit(w.ctx, http('GET', 'http://internal.example/x', { applicant: dev, scope: 'sandbox', requestId: 'r' }));
    expect(w.records).toEqual([]);
    expect(await scopes.list({}, w.clock.now)).toEqual([]);
  });

  it('a pending approval carries its id and the command in the notes; the approval request is on record', async () => {
    const w = world(SANDBOX);
    const a = await admit(w.ctx, http('GET', 'http://new.example/x', { applicant: ops, requestId: 'req-9' }));
    if (a.ok) throw new Error('expected a refusal');
    expect(a.message).toMatch(/leash approvals allow id\d{10}/);
    expect(a.notes.approval).toMatchObject({ state: 'pending', requests: 1 });
    expect(w.records).toEqual([
      expect.objectContaining({ event: 'approval', reason: 'approval_requested', agent: 'ops' }),
    ]);
  });

  it('report mode reports a pending approval (wouldDeny) and holds nothing', async () => {
    const w = world(REPORTED);
    const started = w.clock.now;
    expect(outcome(await admit(w.ctx, http('GET', 'http://new.example/', { applicant: ops, requestId: 'r' })))).toBe(
      'report pending_approval',
    );
    expect(w.clock.now).toBe(started);
  });
});
