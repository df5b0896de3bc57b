// A known audit log: fourteen records over four hours, three agents, two policy revisions, a reload, a rate-limit
// hit, a report-mode `wouldDeny`, a grant and its use. Filter and summary tests state their expectations against
// it by record id, so each expectation can be checked by reading the table below.
//
// writeKnownLog() writes it through the real audit logger (redaction, chain) with a clock that gives each record
// its time, so the file is exactly what leash would have written.

import path from 'node:path';
import { openAuditLog } from '../../src/audit/logger.js';
import type { AuditRecord } from '../../src/audit/record.js';

export const BASE = Date.parse('2026-11-22T00:00:00.000Z');
const at = (minutes: number) => new Date(BASE + minutes * 60_000).toISOString();

type Known = Omit<AuditRecord, 'event'> & { event: string; time: string };

function rec(id: string, minutes: number, fields: Partial<Known>): Known {
  return {
    id,
    time: at(minutes),
    event: 'request',
    agent: 'research',
    identity: 'none',
    client: { address: '127.0.0.1', port: 40000 },
    method: 'GET',
    scheme: 'http',
    host: null,
    port: 80,
    path: '/',
    effect: 'allow',
    rule: null,
    reason: 'allowed_by_rule',
    status: 200,
    bytesIn: 0,
    bytesOut: 0,
    durationMs: 1,
    resolved: null,
    policyRevision: 'rev-a',
    ...fields,
  };
}

const tunnel = { event: 'tunnel', method: 'CONNECT', scheme: 'tunnel' as const, path: null, port: 443 };

export const KNOWN: readonly Known[] = [
  rec('r01', 0, { ...tunnel, host: 'api.openai.com', rule: 'openai', bytesOut: 1200, bytesIn: 5000 }),
  rec('r02', 5, {
    host: 'attacker.test',
    path: '/upload',
    effect: 'deny',
    rule: 'block-exfil',
    reason: 'denied_by_rule',
    status: 403,
  }),
  rec('r03', 10, {
    method: 'POST',
    host: 'attacker.test',
    path: '/upload',
    effect: 'deny',
    rule: 'block-exfil',
    reason: 'denied_by_rule',
    status: 403,
  }),
  rec('r04', 15, { agent: 'anonymous', host: 'example.com', effect: 'deny', reason: 'no_rule', status: 403 }),
  rec('r05', 20, {
    ...tunnel,
    host: 'api.openai.com',
    effect: 'deny',
    rule: 'openai',
    reason: 'rate_limited',
    status: 429,
  }),
  rec('r06', 30, {
    event: 'policy',
    agent: '-',
    client: null,
    method: null,
    scheme: null,
    port: null,
    path: null,
    reason: 'policy_loaded',
    status: null,
    policyRevision: 'rev-b',
    previousRevision: 'rev-a',
  }),
  rec('r07', 60, {
    agent: 'builder',
    host: 'docs.example.com',
    path: '/v1/a',
    rule: 'docs',
    bytesOut: 300,
    bytesIn: 900,
    policyRevision: 'rev-b',
  }),
  rec('r08', 70, {
    agent: 'builder',
    host: '169.254.169.254',
    path: '/latest/meta-data/',
    effect: 'deny',
    reason: 'address_denied',
    status: 403,
    policyRevision: 'rev-b',
  }),
  rec('r09', 120, {
    ...tunnel,
    host: 'api.openai.com',
    rule: 'openai',
    bytesOut: 800,
    bytesIn: 100,
    policyRevision: 'rev-b',
  }),
  rec('r10', 150, {
    agent: 'anonymous',
    host: 'sub.attacker.test',
    effect: 'deny',
    rule: 'block-exfil',
    reason: 'denied_by_rule',
    status: 403,
    policyRevision: 'rev-b',
  }),
  rec('r11', 180, {
    host: 'attacker.test',
    path: '/?q=1',
    effect: 'deny',
    rule: 'block-exfil',
    reason: 'denied_by_rule',
    status: 403,
    policyRevision: 'rev-b',
  }),
  rec('r12', 210, {
    agent: 'builder',
    host: 'docs.example.com',
    path: '/v2/b',
    wouldDeny: true,
    rule: 'docs',
    reason: 'allowed_by_rule',
    bytesOut: 50,
    policyRevision: 'rev-b',
  }),
  rec('r13', 240, {
    event: 'grant',
    host: 'cdn.example.net',
    rule: 'docs',
    reason: 'granted',
    status: null,
    method: null,
    path: null,
    port: 443,
    policyRevision: 'rev-b',
  }),
  rec('r14', 241, {
    host: 'cdn.example.net',
    path: '/img.png',
    rule: 'grant',
    bytesOut: 10,
    bytesIn: 20000,
    policyRevision: 'rev-b',
  }),
];

/** Writes KNOWN as leash would (redacted, chained, each record at its time) to DIR/audit.log; returns the path. */
export async function writeKnownLog(dir: string, records: readonly Known[] = KNOWN): Promise<string> {
  const file = path.join(dir, 'audit.log');
  let i = 0;
  const log = openAuditLog(file, { now: () => new Date(records[Math.min(i, records.length - 1)]?.time ?? BASE) });
  for (const record of records) {
    log.write(record as unknown as AuditRecord);
    i++;
  }
  await log.close();
  return file;
}

export const ids = (records: readonly { id?: unknown }[]) => records.map((r) => r.id);
