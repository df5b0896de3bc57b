// The scope step as a table: request → what the step does (nothing, allow with reason scope, or refuse with its
// reason), with the audit records it writes. No sockets: the store is the memory one and the clock is a number.

import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/record.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { MemoryScopeStore } from '../../src/scopes/memory-store.js';
import { scopeFor, type ScopeOutcome } from '../../src/scopes/step.js';
import type { ScopeStore } from '../../src/scopes/store.js';
import { judge } from '../../src/proxy/verdict.js';
import { compile } from '../policy/compile.js';

const policy = compile(`version: 1
agents:
  dev: { token: env:T_DEV }
  always: { token: env:T_ALWAYS, scope: sandbox }
  ops: { token: env:T_OPS }
scopes:
  sandbox: { agents: [dev, always], ttl: 1h, maxHosts: 2, ports: [443, 80] }
  other: { agents: [ops], ttl: 1h }
rules:
  - { name: api, domain: api.example.test, methods: [GET], effect: allow }
  - { name: evil, domain: evil.example.test, effect: deny }
  - { name: no-admin, domain: "*.inspected.test", paths: ["/admin/**"], effect: deny }
`);

function setup(store: ScopeStore = new MemoryScopeStore()) {
  const records: AuditRecord[] = [];
  let now = 1_000_000;
  let requests = 0;
  const ctx = { policy, scopes: store, now: () => now };
  const run = (agent: string, method: string, url: string, header?: string): Promise<ScopeOutcome> => {
    const u = new URL(method === 'CONNECT' ? `https://${url}` : url);
    const verdict = judge(policy, {
      method,
      host: u.hostname,
      port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80),
      agent,
      ...(method === 'CONNECT' ? {} : { path: u.pathname }),
    });
    // The pipeline puts an opening on record once the request is admitted; here every one is.
    return scopeFor(ctx, verdict, { header, requestId: `req-${requests++}`, identity: 'token' }).then((outcome) => {
      if (outcome.kind === 'allowed' && outcome.opening) records.push(outcome.opening.record);
      return outcome;
    });
  };
  return { records, run, advance: (ms: number) => (now += ms), store };
}

interface Row {
  name: string;
  agent: string;
  method: string;
  url: string;
  header?: string;
  kind: ScopeOutcome['kind'];
  reason?: string;
}

const rows: Row[] = [
  {
    name: 'an unlisted host, scope by header',
    agent: 'dev',
    method: 'CONNECT',
    url: 'new.example.test:443',
    header: 'sandbox',
    kind: 'allowed',
    reason: 'scope',
  },
  {
    name: 'an unlisted host, scope on the agent',
    agent: 'always',
    method: 'GET',
    url: 'http://new.example.test/x',
    kind: 'allowed',
    reason: 'scope',
  },
  { name: 'no scope active', agent: 'dev', method: 'CONNECT', url: 'new.example.test:443', kind: 'none' },
  {
    name: 'a host a deny rule matches',
    agent: 'dev',
    method: 'GET',
    url: 'http://evil.example.test/',
    header: 'sandbox',
    kind: 'none',
  },
  {
    name: 'a host an allow rule speaks about, another method',
    agent: 'dev',
    method: 'POST',
    url: 'http://api.example.test/',
    header: 'sandbox',
    kind: 'none',
  },
  {
    name: 'a port the scope does not list',
    agent: 'dev',
    method: 'CONNECT',
    url: 'new.example.test:8443',
    header: 'sandbox',
    kind: 'none',
  },
  {
    name: 'a scope that does not list the agent',
    agent: 'dev',
    method: 'CONNECT',
    url: 'new.example.test:443',
    header: 'other',
    kind: 'refused',
    reason: 'scope_denied',
  },
  {
    name: 'a scope that does not exist',
    agent: 'dev',
    method: 'CONNECT',
    url: 'new.example.test:443',
    header: 'nope',
    kind: 'refused',
    reason: 'scope_denied',
  },
  {
    name: 'a header naming a scope the agent lacks, where a rule decides',
    agent: 'dev',
    method: 'GET',
    url: 'http://api.example.test/',
    header: 'other',
    kind: 'none',
  },
];

describe('the scope step', () => {
  it.each(rows)('$name → $kind $reason', async ({ agent, method, url, header, kind, reason }) => {
    const outcome = await setup().run(agent, method, url, header);
    expect(outcome.kind).toBe(kind);
    if (outcome.kind !== 'none') expect(outcome.verdict.reason).toBe(reason);
  });

  it('the first request opens an access audited as its own record; later ones use it; only for that agent', async () => {
    const { records, run } = setup();
    const first = await run('dev', 'CONNECT', 'new.example.test:443', 'sandbox');
    expect(first).toMatchObject({
      kind: 'allowed',
      verdict: { effect: 'allow', reason: 'scope', rule: null, intercept: false },
      scope: { name: 'sandbox', via: 'header', openedBy: 'req-0' },
    });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      event: 'scope',
      reason: 'scope_opened',
      agent: 'dev',
      host: 'new.example.test',
      port: 443,
      effect: 'allow',
      scope: { name: 'sandbox', openedBy: 'req-0' },
    });
    expect(records[0]?.message).toContain('req-0');
    expect((await run('dev', 'GET', 'https://new.example.test/a', 'sandbox')).kind).toBe('allowed');
    expect(records).toHaveLength(1);
    // Another agent with the same scope has its own sandbox; without the scope, nothing.
    expect((await run('always', 'CONNECT', 'new.example.test:443')).kind).toBe('allowed');
    expect(records).toHaveLength(2);
    expect((await run('ops', 'CONNECT', 'new.example.test:443')).kind).toBe('none');
  });

  it('expires at its ttl; past maxHosts the next host is refused scope_full', async () => {
    const { run, advance } = setup();
    await run('dev', 'CONNECT', 'a.test:443', 'sandbox');
    await run('dev', 'CONNECT', 'b.test:443', 'sandbox');
    expect(await run('dev', 'CONNECT', 'c.test:443', 'sandbox')).toMatchObject({
      kind: 'refused',
      verdict: { reason: 'scope_full', effect: 'deny' },
      scope: { open: 2 },
    });
    advance(3_600_000);
    expect(await run('dev', 'CONNECT', 'c.test:443', 'sandbox')).toMatchObject({
      kind: 'allowed',
      scope: { openedBy: 'req-3' },
    });
  });

  it('undo of an opening (the address guard refused the request) frees its place and leaves nothing on record', async () => {
    const { run, store } = setup();
    const outcome = await run('dev', 'GET', 'http://private.test/', 'sandbox');
    if (outcome.kind !== 'allowed' || !outcome.opening) throw new Error('expected an opening');
    await outcome.opening.undo();
    expect(await store.list({}, 1_000_000)).toEqual([]);
  });

  it('a tunnel a deny rule on paths covers is opened intercepted, so the deny rule holds inside', async () => {
    expect(await setup().run('dev', 'CONNECT', 'x.inspected.test:443', 'sandbox')).toMatchObject({
      kind: 'allowed',
      verdict: { intercept: true },
    });
  });

  it('a store that cannot answer refuses (store_unavailable), never allows', async () => {
    const down: ScopeStore = {
      admit: () => Promise.reject(new StoreUnavailableError('store redis://r:6379/0 did not answer within 250 ms')),
      list: () => Promise.resolve([]),
      revoke: () => Promise.resolve([]),
    };
    expect(await setup(down).run('dev', 'CONNECT', 'new.example.test:443', 'sandbox')).toMatchObject({
      kind: 'refused',
      verdict: { reason: 'store_unavailable', effect: 'deny' },
    });
  });
});
