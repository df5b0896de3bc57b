// What `leash audit` asks of records: the filters (effect, host glob, agent, rule, reason, time window) and the
// `--summary` figures (per agent: allowed and denied, top denied hosts, grants, rate-limit hits, bytes out per
// host; and the policy revisions seen). Records are parsed JSON lines, read as untrusted data: a field of the wrong
// type never matches a filter and never throws.
// PURE: no I/O, no clock (`now` is a parameter for relative times), no module state. Memory is bounded: the
// summary keeps at most MAX_HOSTS hosts per agent and counts the rest together.

import { LeashError } from '../errors.js';

/** A parsed audit line. */
export type AuditLineRecord = Readonly<Record<string, unknown>>;

export interface AuditQuery {
  readonly effect?: 'allow' | 'deny';
  /** Shell-style globs on the normalised host, case-insensitive: `*` any run of characters (dots too), `?` one. */
  readonly hosts?: readonly string[];
  readonly agents?: readonly string[];
  readonly rules?: readonly string[];
  readonly reasons?: readonly string[];
  /** Epoch ms, inclusive. */
  readonly since?: number;
  /** Epoch ms, exclusive. */
  readonly until?: number;
}

export interface CompiledQuery {
  matches(record: AuditLineRecord): boolean;
  /**
   * JSON string tokens (`"deny"`, `"research"`) of which a matching line holds every one, verbatim, whenever the
   * line contains no backslash: without escapes a JSON string's bytes are its value between quotes. A reader may
   * skip parsing a backslash-free line that lacks one; a line with a backslash must be parsed.
   */
  readonly needles: readonly string[];
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

export function compileQuery(query: AuditQuery): CompiledQuery {
  const tests: ((r: AuditLineRecord) => boolean)[] = [];
  const needles: string[] = [];
  const oneOf = (field: string, values: readonly string[] | undefined) => {
    if (values === undefined || values.length === 0) return;
    const set = new Set(values);
    tests.push((r) => {
      const value = str(r[field]);
      return value !== undefined && set.has(value);
    });
    if (values.length === 1) needles.push(JSON.stringify(values[0]));
  };
  if (query.effect !== undefined) {
    const effect = query.effect;
    tests.push((r) => r.effect === effect);
    needles.push(JSON.stringify(effect));
  }
  oneOf('agent', query.agents);
  oneOf('rule', query.rules);
  oneOf('reason', query.reasons);
  if (query.hosts !== undefined && query.hosts.length > 0) {
    const globs = query.hosts.map(compileHostGlob);
    tests.push((r) => {
      const host = str(r.host);
      return host !== undefined && globs.some((glob) => glob(host));
    });
  }
  if (query.since !== undefined || query.until !== undefined) {
    const since = query.since === undefined ? undefined : new Date(query.since).toISOString();
    const until = query.until === undefined ? undefined : new Date(query.until).toISOString();
    tests.push((r) => {
      const time = canonicalTime(r.time);
      return time !== undefined && (since === undefined || time >= since) && (until === undefined || time < until);
    });
  }
  return { matches: (r) => tests.every((test) => test(r)), needles };
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The record's time as a comparable `YYYY-MM-DDTHH:MM:SS.sssZ` string (what leash writes), or undefined. */
function canonicalTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (ISO_UTC.test(value)) return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** `*.example.com`, `api.*`, `*attacker*`, `host?.test`: a matcher on a host, case-insensitive, trailing dot ignored. */
export function compileHostGlob(glob: string): (host: string) => boolean {
  const body = normalizeHost(glob)
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${body}$`);
  return (host) => re.test(normalizeHost(host));
}

function normalizeHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

const UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `--since`/`--until`: a duration back from `now` (`90s`, `30m`, `24h`, `7d`, `2w`) or an ISO 8601 date or time.
 * A date or time without an offset is UTC, like the log's own times (`2026-11-22` is midnight UTC).
 */
export function parseTimeBound(text: string, now: number, flag: string): number {
  const trimmed = text.trim();
  const relative = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(trimmed);
  if (relative) return now - Number(relative[1]) * (UNITS[relative[2] as string] as number);
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(trimmed);
  const ms = m ? Date.parse(`${m[1]}T${m[2] ?? '00:00'}${m[3] ?? 'Z'}`) : NaN;
  if (Number.isNaN(ms)) {
    throw new LeashError(
      'LEASH_USAGE',
      `--${flag} needs a duration back from now (30m, 24h, 7d) or an ISO date or time (2026-11-22, 2026-11-22T07:00Z), got "${text}"`,
    );
  }
  return ms;
}

// ---- --summary ----

export const MAX_HOSTS = 10_000;
export const TOP = 10;

export interface HostCount {
  readonly host: string;
  readonly count: number;
}

export interface HostBytes {
  readonly host: string;
  readonly bytesOut: number;
  readonly requests: number;
}

export interface AgentSummary {
  readonly agent: string;
  /** Requests, tunnels and refused connections. */
  readonly requests: number;
  readonly allowed: number;
  readonly denied: number;
  /** Report mode: allowed, but enforce mode would have denied. */
  readonly wouldDeny: number;
  readonly rateLimited: number;
  /** `event: grant` records (response-aware allowlisting). */
  readonly grantsIssued: number;
  /** Requests allowed by a grant (`rule: grant`). */
  readonly grantsUsed: number;
  readonly bytesOut: number;
  readonly bytesIn: number;
  /** The most denied hosts, most first. */
  readonly topDeniedHosts: readonly HostCount[];
  /** Hosts by bytes sent to them, most first: the exfiltration view. */
  readonly bytesOutByHost: readonly HostBytes[];
  /** Records about hosts beyond the first MAX_HOSTS of this agent, left out of the two lists above (0 normally). */
  readonly recordsNotTracked: number;
  /** Requests, tunnels and connections refused or cut by a lockdown (reason lockdown). */
  readonly lockdownRefused: number;
}

/** One lockdown switched on or off (`event: lockdown`), in log order. */
export interface LockdownSwitch {
  readonly time: string | null;
  readonly on: boolean;
  /** An agent, or `*` for every agent. */
  readonly agent: string;
  readonly by: string;
  readonly reason: string | null;
}

export interface RevisionSeen {
  readonly revision: string;
  readonly records: number;
  readonly firstSeen: string | null;
  readonly lastSeen: string | null;
}

/** One (agent, host, port) a sandbox scope opened: what a reviewer reads before promoting a host to a rule. */
export interface ScopeHost {
  readonly agent: string;
  readonly host: string;
  readonly port: number | null;
  /** Times an access was opened (scope_opened records), the first time and the request that first opened it. */
  readonly opened: number;
  readonly firstOpened: string | null;
  readonly openedBy: string | null;
  /** Requests and tunnels allowed through the scope (reason scope), and the bytes they sent upstream. */
  readonly requests: number;
  readonly bytesOut: number;
  /** Requests refused scope_full in this scope for this host. */
  readonly refusedFull: number;
  /** Revoked by an operator (scope_revoked). */
  readonly revoked: number;
}

export interface ScopeSummary {
  readonly scope: string;
  /** Most bytes out first. */
  readonly hosts: readonly ScopeHost[];
  /** Records about hosts beyond the first MAX_HOSTS of this scope (0 normally). */
  readonly recordsNotTracked: number;
}

/** One approval's story: asked, answered, used. */
export interface ApprovalSummary {
  readonly id: string;
  readonly agent: string;
  readonly host: string;
  readonly port: number | null;
  readonly requestedAt: string | null;
  /** Requests refused while it was pending (pending_approval). */
  readonly pendingRefusals: number;
  /** The answers, in log order: `once by alice`, `deny by bob`. */
  readonly decisions: readonly {
    readonly grant: string;
    readonly by: string;
    readonly time: string | null;
    readonly rule?: string;
  }[];
  /** Requests let through by it (reason approved), and the bytes they sent upstream. */
  readonly approvedRequests: number;
  readonly bytesOut: number;
  readonly deniedRequests: number;
}

export interface AuditSummary {
  readonly records: number;
  readonly firstTime: string | null;
  readonly lastTime: string | null;
  readonly agents: readonly AgentSummary[];
  readonly revisions: readonly RevisionSeen[];
  readonly policyReloads: number;
  readonly policyRejected: number;
  /** Every lockdown switched on or off, the most recent MAX_LOCKDOWNS. */
  readonly lockdowns: readonly LockdownSwitch[];
  readonly scopes: readonly ScopeSummary[];
  readonly approvals: readonly ApprovalSummary[];
  /** Approvals beyond the first MAX_HOSTS, counted but not listed (0 normally). */
  readonly approvalsNotTracked: number;
}

export const MAX_LOCKDOWNS = 100;

interface AgentTally {
  requests: number;
  allowed: number;
  denied: number;
  wouldDeny: number;
  rateLimited: number;
  grantsIssued: number;
  grantsUsed: number;
  bytesOut: number;
  bytesIn: number;
  lockdownRefused: number;
  /** Per host: denials and bytes out; only hosts with a denial or bytes out, at most MAX_HOSTS. */
  hosts: Map<string, { denied: number; bytesOut: number; requests: number }>;
  notTracked: number;
}

const NO_HOST = '(none)';

/** Accumulates `--summary` figures one record at a time; result() can be called at any point. */
export class SummaryBuilder {
  private records = 0;
  private firstTime: string | null = null;
  private lastTime: string | null = null;
  private readonly agents = new Map<string, AgentTally>();
  private readonly revisions = new Map<
    string,
    { records: number; firstSeen: string | null; lastSeen: string | null }
  >();
  private policyReloads = 0;
  private policyRejected = 0;
  private readonly lockdowns: LockdownSwitch[] = [];
  private readonly scopes = new Map<string, { hosts: Map<string, Mutable<ScopeHost>>; notTracked: number }>();
  private readonly approvals = new Map<
    string,
    Mutable<ApprovalSummary> & { decisions: ApprovalSummary['decisions'][number][] }
  >();
  private approvalsNotTracked = 0;

  add(record: AuditLineRecord): void {
    this.records++;
    const time = str(record.time) ?? null;
    if (time !== null) {
      if (this.firstTime === null || time < this.firstTime) this.firstTime = time;
      if (this.lastTime === null || time > this.lastTime) this.lastTime = time;
    }
    const revision = str(record.policyRevision);
    if (revision !== undefined) {
      const seen = this.revisions.get(revision) ?? { records: 0, firstSeen: time, lastSeen: time };
      seen.records++;
      if (time !== null && (seen.firstSeen === null || time < seen.firstSeen)) seen.firstSeen = time;
      if (time !== null && (seen.lastSeen === null || time > seen.lastSeen)) seen.lastSeen = time;
      this.revisions.set(revision, seen);
    }
    const event = str(record.event);
    if (event === 'policy') {
      if (record.reason === 'policy_loaded') this.policyReloads++;
      else if (record.reason === 'policy_invalid') this.policyRejected++;
      return;
    }
    if (event === 'lockdown') {
      const detail = (typeof record.lockdown === 'object' && record.lockdown !== null ? record.lockdown : {}) as Record<
        string,
        unknown
      >;
      this.lockdowns.push({
        time,
        on: record.reason === 'lockdown_on',
        agent: str(record.agent) ?? '(unknown)',
        by: str(detail.by) ?? '(unknown)',
        reason: str(detail.reason) ?? null,
      });
      if (this.lockdowns.length > MAX_LOCKDOWNS) this.lockdowns.shift();
      return;
    }
    this.addScope(record, event, time);
    this.addApproval(record, event, time);
    // A scope or approval event is a step of someone's request, not a request of its own.
    if (event === 'scope' || event === 'approval') return;
    const tally = this.tally(str(record.agent) ?? '(unknown)');
    if (event === 'grant') {
      tally.grantsIssued++;
      return;
    }
    const host = str(record.host) ?? NO_HOST;
    const bytesOut = num(record.bytesOut);
    tally.requests++;
    tally.bytesOut += bytesOut;
    tally.bytesIn += num(record.bytesIn);
    if (record.wouldDeny === true) tally.wouldDeny++;
    if (record.reason === 'rate_limited') tally.rateLimited++;
    if (record.reason === 'lockdown') tally.lockdownRefused++;
    if (record.effect === 'allow') {
      tally.allowed++;
      if (record.rule === 'grant') tally.grantsUsed++;
    } else if (record.effect === 'deny') {
      tally.denied++;
    }
    const denied = record.effect === 'deny' ? 1 : 0;
    if (denied === 0 && bytesOut === 0) return;
    let entry = tally.hosts.get(host);
    if (!entry) {
      if (tally.hosts.size >= MAX_HOSTS) {
        tally.notTracked++;
        return;
      }
      entry = { denied: 0, bytesOut: 0, requests: 0 };
      tally.hosts.set(host, entry);
    }
    entry.denied += denied;
    if (bytesOut > 0) {
      entry.bytesOut += bytesOut;
      entry.requests++;
    }
  }

  result(): AuditSummary {
    const agents = [...this.agents.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([agent, t]): AgentSummary => ({
        agent,
        requests: t.requests,
        allowed: t.allowed,
        denied: t.denied,
        wouldDeny: t.wouldDeny,
        rateLimited: t.rateLimited,
        grantsIssued: t.grantsIssued,
        grantsUsed: t.grantsUsed,
        bytesOut: t.bytesOut,
        bytesIn: t.bytesIn,
        topDeniedHosts: [...t.hosts.entries()]
          .filter(([, e]) => e.denied > 0)
          .map(([host, e]) => ({ host, count: e.denied }))
          .sort((a, b) => b.count - a.count || compare(a.host, b.host))
          .slice(0, TOP),
        bytesOutByHost: [...t.hosts.entries()]
          .filter(([, e]) => e.bytesOut > 0)
          .map(([host, e]) => ({ host, bytesOut: e.bytesOut, requests: e.requests }))
          .sort((a, b) => b.bytesOut - a.bytesOut || compare(a.host, b.host))
          .slice(0, TOP),
        recordsNotTracked: t.notTracked,
        lockdownRefused: t.lockdownRefused,
      }));
    const revisions = [...this.revisions.entries()]
      .map(([revision, r]) => ({ revision, ...r }))
      .sort((a, b) => compare(a.firstSeen ?? '', b.firstSeen ?? '') || compare(a.revision, b.revision));
    const scopes = [...this.scopes.entries()]
      .sort(([a], [b]) => compare(a, b))
      .map(([scope, s]) => ({
        scope,
        hosts: [...s.hosts.values()].sort(
          (a, b) =>
            b.bytesOut - a.bytesOut ||
            b.requests - a.requests ||
            compare(`${a.host}:${a.agent}`, `${b.host}:${b.agent}`),
        ),
        recordsNotTracked: s.notTracked,
      }));
    const approvals = [...this.approvals.values()].sort(
      (a, b) => compare(a.requestedAt ?? '', b.requestedAt ?? '') || compare(a.id, b.id),
    );
    return {
      records: this.records,
      firstTime: this.firstTime,
      lastTime: this.lastTime,
      agents,
      revisions,
      policyReloads: this.policyReloads,
      policyRejected: this.policyRejected,
      lockdowns: [...this.lockdowns],
      scopes,
      approvals,
      approvalsNotTracked: this.approvalsNotTracked,
    };
  }

  /** scope_opened, scope_revoked and scope_full records, and requests allowed with reason scope. */
  private addScope(record: AuditLineRecord, event: string | undefined, time: string | null): void {
    const scope = record.scope as { name?: unknown; openedBy?: unknown } | undefined;
    const name = str(scope?.name);
    if (name === undefined) return;
    const reason = record.reason;
    const counts = event === 'scope' || reason === 'scope' || reason === 'scope_full';
    if (!counts) return;
    let s = this.scopes.get(name);
    if (!s) {
      if (this.scopes.size >= MAX_HOSTS) return;
      s = { hosts: new Map(), notTracked: 0 };
      this.scopes.set(name, s);
    }
    const agent = str(record.agent) ?? '(unknown)';
    const host = str(record.host) ?? NO_HOST;
    const port = typeof record.port === 'number' ? record.port : null;
    const key = `${agent}\u0000${host}\u0000${port}`;
    let entry = s.hosts.get(key);
    if (!entry) {
      if (s.hosts.size >= MAX_HOSTS) {
        s.notTracked++;
        return;
      }
      entry = {
        agent,
        host,
        port,
        opened: 0,
        firstOpened: null,
        openedBy: null,
        requests: 0,
        bytesOut: 0,
        refusedFull: 0,
        revoked: 0,
      };
      s.hosts.set(key, entry);
    }
    if (event === 'scope' && reason === 'scope_opened') {
      entry.opened++;
      if (entry.firstOpened === null || (time !== null && time < entry.firstOpened)) {
        entry.firstOpened = time;
        entry.openedBy = str(scope?.openedBy) ?? null;
      }
    } else if (event === 'scope' && reason === 'scope_revoked') {
      entry.revoked++;
    } else if (reason === 'scope_full') {
      entry.refusedFull++;
    } else if (reason === 'scope') {
      entry.requests++;
      entry.bytesOut += num(record.bytesOut);
    }
  }

  /** approval_requested and approval_decided records, and requests refused or allowed by an approval. */
  private addApproval(record: AuditLineRecord, event: string | undefined, time: string | null): void {
    const approval = record.approval as
      { id?: unknown; grant?: unknown; by?: unknown; rule?: unknown; state?: unknown } | undefined;
    const id = str(approval?.id);
    if (id === undefined) return;
    let entry = this.approvals.get(id);
    if (!entry) {
      if (this.approvals.size >= MAX_HOSTS) {
        this.approvalsNotTracked++;
        return;
      }
      entry = {
        id,
        agent: str(record.agent) ?? '(unknown)',
        host: str(record.host) ?? NO_HOST,
        port: typeof record.port === 'number' ? record.port : null,
        requestedAt: null,
        pendingRefusals: 0,
        decisions: [],
        approvedRequests: 0,
        bytesOut: 0,
        deniedRequests: 0,
      };
      this.approvals.set(id, entry);
    }
    const reason = record.reason;
    if (event === 'approval' && reason === 'approval_requested') {
      if (entry.requestedAt === null || (time !== null && time < entry.requestedAt)) entry.requestedAt = time;
    } else if (event === 'approval' && reason === 'approval_decided') {
      const grant = approval?.state === 'denied' ? 'deny' : (str(approval?.grant) ?? '?');
      const rule = str(approval?.rule);
      entry.decisions.push({ grant, by: str(approval?.by) ?? '?', time, ...(rule ? { rule } : {}) });
    } else if (reason === 'pending_approval') {
      entry.pendingRefusals++;
    } else if (reason === 'approved') {
      entry.approvedRequests++;
      entry.bytesOut += num(record.bytesOut);
    } else if (reason === 'approval_denied') {
      entry.deniedRequests++;
    }
  }

  private tally(agent: string): AgentTally {
    let tally = this.agents.get(agent);
    if (!tally) {
      tally = {
        requests: 0,
        allowed: 0,
        denied: 0,
        wouldDeny: 0,
        rateLimited: 0,
        grantsIssued: 0,
        grantsUsed: 0,
        bytesOut: 0,
        bytesIn: 0,
        lockdownRefused: 0,
        hosts: new Map(),
        notTracked: 0,
      };
      this.agents.set(agent, tally);
    }
    return tally;
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
