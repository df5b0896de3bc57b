// The approval step as a table: request → nothing, allowed (approved) or refused (pending_approval, approval_denied,
// store_unavailable), with the audit records it writes. No sockets, no timers: the store is the memory one and
// the clock and sleep are steps of a number.

import { describe, expect, it } from 'vitest';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { approvalFor, type ApprovalOutcome } from '../../src/approvals/step.js';
import type { ApprovalStore } from '../../src/approvals/store.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { judge } from '../../src/proxy/verdict.js';
import { reasonPhrase } from '../../src/proxy/respond.js';
import { compile } from '../policy/compile.js';

const policyText = (wait = '0s') => `version: 1
agents:
  dev: { token: env:T_DEV }
  ops: { token: env:T_OPS }
settings:
  approvals: { agents: [dev], wait: ${wait}, expire: 1h }
rules:
  - { name: api, domain: api.example.test, methods: [GET], effect: allow }
  - { name: evil, domain: evil.example.test, effect: deny }
`;

function setup(
  wait = '0s',
  store: ApprovalStore = new MemoryApprovalStore(),
  onSleep?: (now: number) => Promise<void> | void,
) {
  const policy = compile(policyText(wait));
  const records: AuditRecord[] = [];
  let now = 5_000_000;
  let ids = 0;
  const ctx = {
    policy,
    approvals: store,
    now: () => now,
    record: (r: AuditRecord) => records.push(r),
    newId: () => `id${String(++ids).padStart(10, 'a')}`,
    sleep: async (ms: number) => {
      now += ms;
      await onSleep?.(now);
    },
  };
  let requests = 0;
  const run = (agent: string, method: string, url: string, signal?: AbortSignal): Promise<ApprovalOutcome> => {
    const u = new URL(method === 'CONNECT' ? `https://${url}` : url);
    const verdict = judge(policy, {
      method,
      host: u.hostname,
      port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80),
      agent,
      ...(method === 'CONNECT' ? {} : { path: u.pathname }),
    });
    return approvalFor(ctx, verdict, { requestId: `req-${++requests}`, identity: 'token', signal });
  };
  return { records, run, store, now: () => now };
}

const rows = [
  {
    name: 'an unknown host, an agent under approvals',
    agent: 'dev',
    method: 'GET',
    url: 'http://new.example.test/x',
    kind: 'refused',
    reason: 'pending_approval',
  },
  {
    name: 'an unknown host, another agent',
    agent: 'ops',
    method: 'GET',
    url: 'http://new.example.test/x',
    kind: 'none',
  },
  { name: 'a host a deny rule matches', agent: 'dev', method: 'GET', url: 'http://evil.example.test/', kind: 'none' },
  {
    name: 'a host an allow rule speaks about, another method',
    agent: 'dev',
    method: 'DELETE',
    url: 'http://api.example.test/',
    kind: 'none',
  },
];

describe('the approval step', () => {
  it.each(rows)('$name → $kind $reason', async ({ agent, method, url, kind, reason }) => {
    const outcome = await setup().run(agent, method, url);
    expect(outcome.kind).toBe(kind);
    if (outcome.kind !== 'none') expect(outcome.verdict.reason).toBe(reason);
  });

  it('pending: 403 whose message and reason phrase carry the command that approves it; audited once, coalesced after', async () => {
    const { run, records } = setup();
    const first = await run('dev', 'CONNECT', 'new.example.test:443');
    if (first.kind !== 'refused') throw new Error('expected a refusal');
    const id = first.approval?.id as string;
    expect(first.verdict.message).toContain(`leash approvals allow ${id}`);
    expect(
      reasonPhrase({ reason: 'pending_approval', rule: null, message: first.verdict.message, requestId: 'r' }, null),
    ).toBe(`Blocked by leash (pending approval ${id}: leash approvals allow ${id})`);
    expect(records).toEqual([
      expect.objectContaining({
        event: 'approval',
        reason: 'approval_requested',
        agent: 'dev',
        host: 'new.example.test',
        port: 443,
        approval: expect.objectContaining({ id, state: 'pending' }),
      }),
    ]);
    const again = await run('dev', 'GET', 'https://new.example.test/other');
    expect(again).toMatchObject({ kind: 'refused', approval: { id, requests: 2 } });
    expect(records).toHaveLength(1);
  });

  it.each([
    ['once', { grant: 'once' as const, by: 'alice' }, ['approved', 'pending_approval']],
    ['for 1h', { grant: 'for' as const, forMs: 3_600_000, by: 'alice' }, ['approved', 'approved']],
    ['always', { grant: 'always' as const, by: 'alice' }, ['approved', 'approved']],
    ['deny', { grant: 'deny' as const, by: 'bob' }, ['approval_denied', 'approval_denied']],
  ])('answered %s: the next two requests are %j', async (_name, decision, reasons) => {
    const { run, store, now } = setup();
    const first = await run('dev', 'GET', 'http://new.example.test/x');
    const id = (first as { approval: { id: string } }).approval.id;
    await store.decide(id, decision, 3_600_000, now());
    const outcomes = [
      await run('dev', 'GET', 'http://new.example.test/x'),
      await run('dev', 'GET', 'http://new.example.test/x'),
    ];
    expect(outcomes.map((o) => (o.kind === 'none' ? 'none' : o.verdict.reason))).toEqual(reasons);
  });

  it('wait: the held request is let through when the answer comes while it waits', async () => {
    const store = new MemoryApprovalStore();
    let answered = false;
    const { run, now } = setup('30s', store, async (t) => {
      const [pending] = await store.list(t);
      if (pending && t >= 5_001_000 && !answered) {
        answered = true;
        await store.decide(pending.id, { grant: 'once', by: 'alice' }, 3_600_000, t);
      }
    });
    const outcome = await run('dev', 'GET', 'http://new.example.test/x');
    expect(outcome).toMatchObject({
      kind: 'allowed',
      verdict: { reason: 'approved', effect: 'allow' },
      approval: { grant: 'once' },
    });
    expect(now()).toBe(5_001_000);
    // The once was used by the held request: the next one asks again (and waits its 30 s in vain).
    expect(await run('dev', 'GET', 'http://new.example.test/x')).toMatchObject({
      kind: 'refused',
      verdict: { reason: 'pending_approval' },
    });
  });

  it('wait: unanswered, the request is refused pending_approval when the wait ends, never later', async () => {
    const { run, now } = setup('30s');
    expect(await run('dev', 'GET', 'http://new.example.test/x')).toMatchObject({
      kind: 'refused',
      verdict: { reason: 'pending_approval' },
    });
    expect(now()).toBe(5_030_000);
  });

  it('wait: a client that goes away releases the held request at once', async () => {
    const abort = new AbortController();
    const { run, now } = setup('30s', new MemoryApprovalStore(), (t) => {
      if (t >= 5_000_500) abort.abort();
    });
    expect(await run('dev', 'GET', 'http://new.example.test/x', abort.signal)).toMatchObject({
      kind: 'refused',
      verdict: { reason: 'pending_approval' },
    });
    expect(now()).toBe(5_000_500);
  });

  it('a store that cannot answer refuses (store_unavailable), never allows', async () => {
    const down: ApprovalStore = {
      arrive: () => Promise.reject(new StoreUnavailableError('store redis://r:6379/0 did not answer within 250 ms')),
      list: () => Promise.resolve([]),
      get: () => Promise.resolve(undefined),
      decide: () => Promise.resolve(undefined),
    };
    expect(await setup('0s', down).run('dev', 'GET', 'http://new.example.test/x')).toMatchObject({
      kind: 'refused',
      verdict: { reason: 'store_unavailable' },
    });
  });
});
