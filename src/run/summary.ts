// The line `leash run` prints when the command ends: how many of its requests were allowed, denied and granted,
// counted from the audit records this run wrote, and where the log is. PURE: records in, counts and text out.
// Counted: each request record, and each tunnel record except an intercepted tunnel's (its requests have records
// of their own, so counting the tunnel too would count them twice). Policy and grant events are not requests.

import type { AuditRecord } from '../audit/record.js';

export interface RunTally {
  /** Allowed by a rule (report mode's would-be denials included: nothing was blocked). */
  readonly allowed: number;
  readonly denied: number;
  /** Allowed by a grant: no rule matched, a trusted response referenced the host (reason granted). */
  readonly granted: number;
}

export const EMPTY_TALLY: RunTally = { allowed: 0, denied: 0, granted: 0 };

export function tally(previous: RunTally, record: Pick<AuditRecord, 'event' | 'effect' | 'reason'>): RunTally {
  if (record.event !== 'request' && record.event !== 'tunnel') return previous;
  if (record.event === 'tunnel' && record.reason === 'intercepted') return previous;
  if (record.effect === 'deny') return { ...previous, denied: previous.denied + 1 };
  if (record.reason === 'granted') return { ...previous, granted: previous.granted + 1 };
  return { ...previous, allowed: previous.allowed + 1 };
}

/** How the command ended, as a shell would report it. */
export type Ending = { readonly code: number } | { readonly signal: string; readonly code: number };

/** Where the requests are recorded: this run's audit log, or a leash running elsewhere (--proxy). */
export type Recorded = { readonly auditLog: string; readonly counts: RunTally } | { readonly proxy: string };

export function summaryLine(command: string, ending: Ending, recorded: Recorded): string {
  const how =
    'signal' in ending ? `was killed by ${ending.signal} (exit ${ending.code})` : `exited with ${ending.code}`;
  if ('proxy' in recorded)
    return `leash: ${command} ${how}; its requests went through the leash at ${recorded.proxy} (see that leash's audit log)`;
  const { allowed, denied, granted } = recorded.counts;
  return `leash: ${command} ${how}; ${allowed} requests allowed, ${denied} denied, ${granted} granted; audit log: ${recorded.auditLog}`;
}
