// `leash policy replay`: what a policy change would do to the traffic leash has seen. Each recorded request and
// tunnel is decided again under the new policy, exactly as serve would decide it (request-line.ts: an intercepted
// request is its CONNECT first), and compared with the decision the record states. The changes (allow → deny,
// deny → allow) are grouped by host and rule, with counts, a few sample requests and the agents affected, so a
// reviewer sees the real effect of a pull request before merging it.
//
// What a record says the policy decided (its reason, closed tables below):
//  - allowed_by_rule, intercepted, granted: allowed. A deny reason (denied_by_rule, no_rule, opaque_tunnel,
//    invalid_request): denied, also in report mode, where the record says effect allow with wouldDeny: the
//    policy denied and leash let it through; replay compares what policies decide, not what the mode enforced.
//  - A refusal after the policy allowed (rate_limited, dns_failure, address_denied, upstream errors...): the record
//    keeps the allowing rule, so it is an allow by that rule. Without a rule, nothing says the policy was asked
//    (auth_failed, bad_request, too_many_connections...): skipped, counted by reason.
//  - method_override: the policy judged methods the record does not keep; skipped rather than guessed.
//  - Allowed by a grant (rule "grant"): grants come from responses, not from the policy. Replay reports it as a
//    change only where the new policy makes a grant impossible (a deny rule matches, or an allow rule now speaks
//    for the host: grants never widen a rule); where no rule speaks for the host a grant would still apply, and
//    it is counted as such, never as a change.
//  - Grant, policy and connection events are not requests: counted, never decided.
// Records are untrusted input: a field of the wrong type, a reason that contradicts the effect, or a host that
// does not parse is counted and skipped, never thrown on and never guessed.
// PURE: no I/O, no clock. Memory is bounded whatever the log: at most MAX_GROUPS groups (further changes are
// counted, not grouped), SAMPLES samples and AGENTS agents per group, MAX_SKIP_LABELS skip labels.

import { checkAddress } from './address.js';
import { decide, type Decision, type RequestFacts } from './evaluate.js';
import type { CompiledPolicy } from './policy.js';
import { asServed, type RequestLine } from './request-line.js';

export type AuditLine = Readonly<Record<string, unknown>>;

export const MAX_GROUPS = 10_000;
export const SAMPLES = 3;
export const AGENTS = 5;
export const MAX_SKIP_LABELS = 64;
const MAX_SAMPLE = 200;

const POLICY_ALLOW: ReadonlySet<string> = new Set(['allowed_by_rule', 'intercepted', 'granted']);
const POLICY_DENY: ReadonlySet<string> = new Set(['denied_by_rule', 'no_rule', 'opaque_tunnel', 'invalid_request']);
/** The policy judged something the record does not keep. */
const NOT_REPLAYABLE: ReadonlySet<string> = new Set(['method_override']);
/** The rule grants are recorded under. */
export const GRANT_RULE = 'grant';

export type Direction = 'tightened' | 'loosened';

export interface ReplayGroup {
  /** tightened: allowed, now denied; loosened: denied, now allowed. */
  readonly direction: Direction;
  readonly host: string;
  readonly port: number;
  /** What the record says decided: the rule (or `grant`), and the reason. */
  readonly was: { readonly rule: string | null; readonly reason: string };
  /** What the new policy decides. */
  readonly now: { readonly rule: string | null; readonly reason: string; readonly at: string | null };
  readonly count: number;
  /** A few of the requests, as request lines (`GET https://host/path`, `CONNECT host:443`). */
  readonly samples: readonly string[];
  readonly agents: readonly string[];
  /** Agents beyond those listed. */
  readonly moreAgents: number;
}

export interface ReplayResult {
  readonly revision: string;
  /** Records read (JSON objects). */
  readonly records: number;
  /** Requests and tunnels decided again. */
  readonly replayed: number;
  readonly unchanged: number;
  readonly tightened: number;
  readonly loosened: number;
  /** Allowed by a grant, and a grant would still apply: no rule of the new policy speaks for the host. */
  readonly keptByGrant: number;
  /** Tunnels that were spliced and would now be intercepted: the requests inside them were never recorded. */
  readonly nowIntercepted: number;
  /** Records not decided again, by why; most first. */
  readonly skipped: readonly { readonly label: string; readonly count: number }[];
  /** Most changes first; tightened before loosened at equal counts. */
  readonly groups: readonly ReplayGroup[];
  /** Changes past MAX_GROUPS groups: counted in tightened/loosened, not grouped. */
  readonly ungrouped: { readonly tightened: number; readonly loosened: number };
}

interface Recorded {
  readonly effect: 'allow' | 'deny';
  readonly rule: string | null;
  readonly reason: string;
  readonly viaGrant: boolean;
}

type Classified =
  | {
      readonly replay: true;
      readonly line: RequestLine;
      readonly was: Recorded;
      readonly sample: string;
      readonly agent: string;
      readonly tunnel: boolean;
    }
  | { readonly replay: false; readonly label: string };

interface MutableGroup {
  direction: Direction;
  host: string;
  port: number;
  was: { rule: string | null; reason: string };
  now: { rule: string | null; reason: string; at: string | null };
  count: number;
  samples: string[];
  agents: Set<string>;
  moreAgents: number;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** Takes records one at a time (the caller streams the log); result() at any point. */
export class Replay {
  private records = 0;
  private replayed = 0;
  private unchanged = 0;
  private tightened = 0;
  private loosened = 0;
  private keptByGrant = 0;
  private nowIntercepted = 0;
  private readonly skipped = new Map<string, number>();
  private readonly groups = new Map<string, MutableGroup>();
  private readonly ungrouped = { tightened: 0, loosened: 0 };

  constructor(private readonly policy: CompiledPolicy) {}

  add(record: AuditLine): void {
    this.records++;
    const classified = classify(record);
    if (!classified.replay) return this.skip(classified.label);
    this.replayed++;
    const { line, was } = classified;
    // A grant opens a tunnel no rule speaks for, intercepted; the request inside is then decided on its own.
    const served = asServed(
      line,
      (facts: RequestFacts) => ({ decision: decide(this.policy, facts) }),
      (t) => t.decision.intercept === true || (was.viaGrant && grantMayApply(t.decision)),
    );
    const now = served.result.decision;
    if (was.viaGrant && now.effect === 'deny' && grantMayApply(now)) {
      this.keptByGrant++;
      return;
    }
    // The new settings may refuse the address the request went to (allowCidrs narrowed, denyCidrs widened): the
    // record kept it, so the guard is asked again, as serve would after resolving.
    const resolved = typeof record.resolved === 'string' ? record.resolved : undefined;
    const guarded =
      now.effect === 'allow' && resolved !== undefined && !checkAddress(this.policy.settings.guard, resolved).ok;
    const effect = guarded ? 'deny' : now.effect;
    if (effect === was.effect) {
      this.unchanged++;
      if (classified.tunnel && was.reason === 'allowed_by_rule' && now.intercept === true) this.nowIntercepted++;
      return;
    }
    const direction: Direction = was.effect === 'allow' ? 'tightened' : 'loosened';
    this[direction]++;
    this.group(direction, classified, now, guarded ? 'address_denied' : undefined);
  }

  result(): ReplayResult {
    const groups = [...this.groups.values()]
      .map((g): ReplayGroup => ({
        ...g,
        samples: [...g.samples],
        agents: [...g.agents].sort(),
        moreAgents: g.moreAgents,
      }))
      .sort(
        (a, b) =>
          b.count - a.count ||
          (a.direction === b.direction ? 0 : a.direction === 'tightened' ? -1 : 1) ||
          compare(a.host, b.host) ||
          a.port - b.port,
      );
    const skipped = [...this.skipped.entries()]
      .map(([label, count]) => ({ label, count }))
      .sort((a, b) => b.count - a.count || compare(a.label, b.label));
    return {
      revision: this.policy.revision,
      records: this.records,
      replayed: this.replayed,
      unchanged: this.unchanged,
      tightened: this.tightened,
      loosened: this.loosened,
      keptByGrant: this.keptByGrant,
      nowIntercepted: this.nowIntercepted,
      skipped,
      groups,
      ungrouped: { ...this.ungrouped },
    };
  }

  private skip(label: string): void {
    const key = this.skipped.has(label) || this.skipped.size < MAX_SKIP_LABELS ? label : 'other';
    this.skipped.set(key, (this.skipped.get(key) ?? 0) + 1);
  }

  private group(direction: Direction, c: Extract<Classified, { replay: true }>, now: Decision, reason?: string): void {
    const host = now.request?.host ?? (c.line.facts.host || '(none)');
    const port = now.request?.port ?? c.line.facts.port;
    const was = { rule: c.was.rule, reason: c.was.reason };
    const rule = now.rule;
    const nowPart = {
      rule: rule?.name ?? null,
      reason: reason ?? now.reason,
      at: rule ? `${rule.location.file}:${rule.location.line}` : null,
    };
    const key = [direction, host, port, was.rule ?? '', was.reason, nowPart.rule ?? '', nowPart.reason].join('\u0000');
    let group = this.groups.get(key);
    if (!group) {
      if (this.groups.size >= MAX_GROUPS) {
        this.ungrouped[direction]++;
        return;
      }
      group = { direction, host, port, was, now: nowPart, count: 0, samples: [], agents: new Set(), moreAgents: 0 };
      this.groups.set(key, group);
    }
    group.count++;
    if (group.samples.length < SAMPLES && !group.samples.includes(c.sample)) group.samples.push(c.sample);
    if (!group.agents.has(c.agent)) {
      if (group.agents.size < AGENTS) group.agents.add(c.agent);
      else group.moreAgents++;
    }
  }
}

/** A decision a grant could still turn into an allow: no rule denied it and no allow rule speaks for the host. */
function grantMayApply(decision: Decision): boolean {
  return decision.reason === 'no_rule' && decision.hostHasRule !== true;
}

/** Whether a record can be decided again, and if so the request and what the record says was decided. */
export function classify(record: AuditLine): Classified {
  const event = str(record.event);
  if (event !== 'request' && event !== 'tunnel') {
    return {
      replay: false,
      label:
        event === 'grant' || event === 'policy' || event === 'connection'
          ? `${event} events (not requests)`
          : 'records of no known event',
    };
  }
  const reason = str(record.reason);
  const effect = record.effect;
  if (reason === undefined || (effect !== 'allow' && effect !== 'deny')) return { replay: false, label: INCOMPLETE };
  if (NOT_REPLAYABLE.has(reason))
    return { replay: false, label: `${reason} (the method the request asked for is not recorded)` };
  const rule = record.rule === null || record.rule === undefined ? null : str(record.rule);
  if (rule === undefined) return { replay: false, label: INCOMPLETE };
  const wouldDeny = record.wouldDeny === true;

  let was: Recorded;
  if (POLICY_ALLOW.has(reason)) {
    if (effect !== 'allow' || wouldDeny || (reason !== 'granted' && rule === null))
      return { replay: false, label: INCONSISTENT };
    was = {
      effect: 'allow',
      rule: reason === 'granted' ? GRANT_RULE : rule,
      reason,
      viaGrant: reason === 'granted' || rule === GRANT_RULE,
    };
  } else if (POLICY_DENY.has(reason)) {
    // Report mode lets a deny through and says so with wouldDeny; the policy still denied.
    if ((effect !== 'deny' && !wouldDeny) || (reason === 'denied_by_rule' && rule === null) || rule === GRANT_RULE)
      return { replay: false, label: INCONSISTENT };
    was = { effect: 'deny', rule, reason, viaGrant: false };
  } else if (rule !== null) {
    // Refused after the policy allowed (the record keeps the allowing rule): an allow by that rule, or by a grant.
    was = { effect: 'allow', rule, reason, viaGrant: rule === GRANT_RULE };
  } else {
    return {
      replay: false,
      label: /^[a-z_]{1,40}$/.test(reason) ? `${reason} (refused without a policy decision)` : 'unknown reasons',
    };
  }

  const method = str(record.method);
  const host = str(record.host);
  const port = record.port;
  const agent = str(record.agent);
  if (
    method === undefined ||
    host === undefined ||
    host === '' ||
    agent === undefined ||
    typeof port !== 'number' ||
    !Number.isInteger(port)
  )
    return { replay: false, label: INCOMPLETE };
  const display = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  if (event === 'tunnel') {
    if (method !== 'CONNECT' || (record.path !== null && record.path !== undefined))
      return { replay: false, label: INCONSISTENT };
    return {
      replay: true,
      line: { facts: { method, host, port, agent } },
      was,
      sample: `CONNECT ${display}:${port}`,
      agent,
      tunnel: true,
    };
  }
  const path = str(record.path);
  if (path === undefined || method === 'CONNECT') return { replay: false, label: INCOMPLETE };
  const facts: RequestFacts = { method, host, port, path, agent };
  const sample = (scheme: 'http' | 'https') =>
    clip(`${method} ${scheme}://${display}${port === (scheme === 'http' ? 80 : 443) ? '' : `:${port}`}${path}`);
  if (record.tls === 'intercepted' || record.scheme === 'https') {
    return {
      replay: true,
      line: { facts: { method: 'CONNECT', host, port, agent }, inner: facts },
      was,
      sample: sample('https'),
      agent,
      tunnel: false,
    };
  }
  return { replay: true, line: { facts }, was, sample: sample('http'), agent, tunnel: false };
}

const INCOMPLETE = 'incomplete records (method, host, port, path, agent, effect or reason missing or malformed)';
const INCONSISTENT = 'inconsistent records (the effect, rule and reason contradict each other)';

function clip(text: string): string {
  return text.length > MAX_SAMPLE ? `${text.slice(0, MAX_SAMPLE - 1)}…` : text;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
