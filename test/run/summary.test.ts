// The summary line of leash run: which audit records count as what, and how the line reads.

import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/record.js';
import { EMPTY_TALLY, summaryLine, tally, type RunTally } from '../../src/run/summary.js';

type Counted = Pick<AuditRecord, 'event' | 'effect' | 'reason'>;

describe('tally', () => {
  it.each<{ name: string; record: Counted; counts: RunTally }>([
    {
      name: 'an allowed request',
      record: { event: 'request', effect: 'allow', reason: 'allowed_by_rule' },
      counts: { allowed: 1, denied: 0, granted: 0 },
    },
    {
      name: 'a denied request',
      record: { event: 'request', effect: 'deny', reason: 'no_rule' },
      counts: { allowed: 0, denied: 1, granted: 0 },
    },
    {
      name: 'a request allowed by a grant',
      record: { event: 'request', effect: 'allow', reason: 'granted' },
      counts: { allowed: 0, denied: 0, granted: 1 },
    },
    {
      name: 'a spliced tunnel',
      record: { event: 'tunnel', effect: 'allow', reason: 'allowed_by_rule' },
      counts: { allowed: 1, denied: 0, granted: 0 },
    },
    {
      name: 'a refused tunnel',
      record: { event: 'tunnel', effect: 'deny', reason: 'denied_by_rule' },
      counts: { allowed: 0, denied: 1, granted: 0 },
    },
    {
      name: 'an intercepted tunnel (its requests count)',
      record: { event: 'tunnel', effect: 'allow', reason: 'intercepted' },
      counts: EMPTY_TALLY,
    },
    {
      name: 'a policy event',
      record: { event: 'policy', effect: 'allow', reason: 'policy_loaded' },
      counts: EMPTY_TALLY,
    },
    { name: 'a grant event', record: { event: 'grant', effect: 'allow', reason: 'granted' }, counts: EMPTY_TALLY },
  ])('$name', ({ record, counts }) => {
    expect(tally(EMPTY_TALLY, record)).toEqual(counts);
  });
});

describe('summaryLine', () => {
  it.each([
    {
      name: 'an exit code',
      ending: { code: 0 },
      recorded: { auditLog: '/var/log/a.log', counts: { allowed: 3, denied: 1, granted: 2 } },
      line: 'leash: python exited with 0; 3 requests allowed, 1 denied, 2 granted; audit log: /var/log/a.log',
    },
    {
      name: 'a signal',
      ending: { signal: 'SIGKILL', code: 137 },
      recorded: { auditLog: '/var/log/a.log', counts: EMPTY_TALLY },
      line: 'leash: python was killed by SIGKILL (exit 137); 0 requests allowed, 0 denied, 0 granted; audit log: /var/log/a.log',
    },
    {
      name: 'a leash running elsewhere (--proxy)',
      ending: { code: 1 },
      recorded: { proxy: 'http://127.0.0.1:3128' },
      line: "leash: python exited with 1; its requests went through the leash at http://127.0.0.1:3128 (see that leash's audit log)",
    },
  ])('$name', ({ ending, recorded, line }) => {
    expect(summaryLine('python', ending, recorded)).toBe(line);
  });
});
