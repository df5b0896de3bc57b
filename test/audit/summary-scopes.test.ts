// --summary for sandbox scopes and approvals: per scope the hosts opened, for whom, by which request, and how much
// was sent through them; per approval who asked, who answered how, and what went through. Scope and approval
// events are steps of requests, never counted as requests themselves.

import { describe, expect, it } from 'vitest';
import { summaryText } from '../../src/audit/format.js';
import { SummaryBuilder, type AuditLineRecord } from '../../src/audit/query.js';

const t = (s: number) => new Date(Date.UTC(2026, 11, 3, 16, 0, s)).toISOString();
const base = { policyRevision: 'rev1', identity: 'token', method: 'GET', path: '/', bytesIn: 0 };
const log: AuditLineRecord[] = [
  {
    ...base,
    time: t(0),
    event: 'scope',
    agent: 'dev',
    host: 'new.test',
    port: 443,
    effect: 'allow',
    reason: 'scope_opened',
    bytesOut: 0,
    scope: { name: 'sandbox', openedBy: 'req-1' },
  },
  {
    ...base,
    time: t(1),
    event: 'tunnel',
    agent: 'dev',
    host: 'new.test',
    port: 443,
    effect: 'allow',
    reason: 'scope',
    bytesOut: 1000,
    scope: { name: 'sandbox', openedBy: 'req-1' },
  },
  {
    ...base,
    time: t(2),
    event: 'request',
    agent: 'dev',
    host: 'new.test',
    port: 443,
    effect: 'allow',
    reason: 'scope',
    bytesOut: 24,
    scope: { name: 'sandbox', openedBy: 'req-1' },
  },
  {
    ...base,
    time: t(3),
    event: 'request',
    agent: 'dev',
    host: 'third.test',
    port: 443,
    effect: 'deny',
    reason: 'scope_full',
    bytesOut: 0,
    scope: { name: 'sandbox', open: 2 },
  },
  {
    ...base,
    time: t(4),
    event: 'scope',
    agent: 'dev',
    host: 'new.test',
    port: 443,
    effect: 'deny',
    reason: 'scope_revoked',
    bytesOut: 0,
    scope: { name: 'sandbox', by: 'alice (uid 1000)' },
  },
  // A request that merely named a scope where a rule decided is not the scope's.
  {
    ...base,
    time: t(5),
    event: 'request',
    agent: 'dev',
    host: 'api.test',
    port: 443,
    effect: 'allow',
    reason: 'allowed_by_rule',
    rule: 'api',
    bytesOut: 5,
    scope: { name: 'sandbox', via: 'header' },
  },
  {
    ...base,
    time: t(6),
    event: 'approval',
    agent: 'ops',
    host: 'ask.test',
    port: 80,
    effect: 'deny',
    reason: 'approval_requested',
    bytesOut: 0,
    approval: { id: 'k7c2mq4rtx9a', state: 'pending' },
  },
  {
    ...base,
    time: t(6),
    event: 'request',
    agent: 'ops',
    host: 'ask.test',
    port: 80,
    effect: 'deny',
    reason: 'pending_approval',
    bytesOut: 0,
    approval: { id: 'k7c2mq4rtx9a', state: 'pending', requests: 1 },
  },
  {
    ...base,
    time: t(7),
    event: 'request',
    agent: 'ops',
    host: 'ask.test',
    port: 80,
    effect: 'deny',
    reason: 'pending_approval',
    bytesOut: 0,
    approval: { id: 'k7c2mq4rtx9a', state: 'pending', requests: 2 },
  },
  {
    ...base,
    time: t(8),
    event: 'approval',
    agent: 'ops',
    host: 'ask.test',
    port: 80,
    effect: 'allow',
    reason: 'approval_decided',
    bytesOut: 0,
    approval: { id: 'k7c2mq4rtx9a', state: 'allowed', grant: 'once', by: 'alice (uid 1000)' },
  },
  {
    ...base,
    time: t(9),
    event: 'request',
    agent: 'ops',
    host: 'ask.test',
    port: 80,
    effect: 'allow',
    reason: 'approved',
    bytesOut: 77,
    approval: { id: 'k7c2mq4rtx9a', state: 'allowed', grant: 'once' },
  },
];

describe('--summary: scopes and approvals', () => {
  const builder = new SummaryBuilder();
  for (const r of log) builder.add(r);
  const summary = builder.result();

  it('per scope: each host opened, for whom, by which request, the requests and bytes through it', () => {
    expect(summary.scopes).toEqual([
      {
        scope: 'sandbox',
        recordsNotTracked: 0,
        hosts: [
          {
            agent: 'dev',
            host: 'new.test',
            port: 443,
            opened: 1,
            firstOpened: t(0),
            openedBy: 'req-1',
            requests: 2,
            bytesOut: 1024,
            refusedFull: 0,
            revoked: 1,
          },
          {
            agent: 'dev',
            host: 'third.test',
            port: 443,
            opened: 0,
            firstOpened: null,
            openedBy: null,
            requests: 0,
            bytesOut: 0,
            refusedFull: 1,
            revoked: 0,
          },
        ],
      },
    ]);
  });

  it('per approval: asked, refused while pending, answered by whom, and what it let through', () => {
    expect(summary.approvals).toEqual([
      {
        id: 'k7c2mq4rtx9a',
        agent: 'ops',
        host: 'ask.test',
        port: 80,
        requestedAt: t(6),
        pendingRefusals: 2,
        decisions: [{ grant: 'once', by: 'alice (uid 1000)', time: t(8) }],
        approvedRequests: 1,
        bytesOut: 77,
        deniedRequests: 0,
      },
    ]);
  });

  it('scope and approval events are not counted as requests', () => {
    expect(summary.agents.find((a) => a.agent === 'dev')).toMatchObject({ requests: 4, allowed: 3, denied: 1 });
    expect(summary.agents.find((a) => a.agent === 'ops')).toMatchObject({ requests: 3, allowed: 1, denied: 2 });
  });

  it('the text names each host with its agent, opening request and bytes, and each approval with its answers', () => {
    const text = summaryText(summary).join('\n');
    expect(text).toContain('scope sandbox: 1 host opened');
    expect(text).toContain(
      `new.test:443  agent dev  first opened ${t(0)} by request req-1; 2 requests, bytes out 1024 (1.0K); revoked 1`,
    );
    expect(text).toContain(
      'third.test:443  agent dev  not opened in this period; 0 requests, bytes out 0 (0); refused scope_full 1',
    );
    expect(text).toContain(
      `k7c2mq4rtx9a  agent ops  ask.test:80  asked ${t(6)}; refused pending 2; once by alice (uid 1000); 1 approved request (bytes out 77)`,
    );
  });
});
