// The figures behind `leash audit report`: one pass over the (already filtered) records builds everything the HTML
// page shows, per agent and for all agents: requests over time by effect, the most denied hosts and the deny
// reasons, bytes sent upstream per host with outliers flagged (the exfiltration view), rate-limit and bandwidth
// hits, grants from the rule whose response granted them to the host used, rules hit, rules never hit, and the
// policy reloads on the timeline. The chain verification result is handed in (verify.ts); this module only states it.
// Records are untrusted data: a field of the wrong type counts as absent and never throws.
// PURE: no I/O, no clock, no module state. Memory is bounded whatever the size of the log: at most MAX_BUCKETS
// time buckets (their width doubles as the log gets longer), MAX_AGENTS agents with their own figures (the rest are
// counted together), MAX_PAIRS agent×host entries and MAX_KEYS of each other kind; what does not fit is counted and
// the report says so. Outlier rule: a host's bytes out > median + 3·MAD over the hosts with any bytes out (MAD, the
// median absolute deviation; at least MIN_OUTLIER_HOSTS hosts), a robust rule that one huge upload cannot hide by
// inflating the mean and standard deviation as it would with mean + 3σ.

import type { VerifyResult } from './verify.js';
import type { AuditLineRecord } from './query.js';

export const MAX_BUCKETS = 500;
export const MAX_AGENTS = 50;
export const MAX_PAIRS = 20_000;
export const MAX_KEYS = 5_000;
export const MAX_EVENTS = 1_000;
export const TOP_N = 25;
export const MIN_OUTLIER_HOSTS = 3;
/**
 * Bucket widths, each a multiple of the one before, so buckets merge exactly when the log's span outgrows
 * MAX_BUCKETS; aligned on the epoch, so they start on whole UTC minutes, hours and days. Past a week: doubling.
 */
export const BUCKET_LADDER_MS: readonly number[] = [
  1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 86400, 604800,
].map((s) => s * 1000);
export const OTHER_AGENTS = '(other agents)';
const NO_HOST = '(none)';

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0);
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// ---- what the page is given ----

export type ChainState = 'verified' | 'broken' | 'not_chained' | 'empty';

export interface ChainStatus {
  readonly state: ChainState;
  /** One line for humans, as `leash audit verify` would put it. */
  readonly message: string;
  readonly records: number;
  readonly firstSeq: number | null;
  readonly head: { readonly seq: number; readonly hash: string } | null;
  /** `broken`: the seq of the record where the chain breaks, when that record has one. */
  readonly brokenAtSeq: number | null;
}

export interface Totals {
  requests: number;
  allowed: number;
  denied: number;
  wouldDeny: number;
  rateLimited: number;
  bandwidth: number;
  bytesOut: number;
  bytesIn: number;
  grantsIssued: number;
  grantsUsed: number;
}

export interface HostBytesRow {
  readonly host: string;
  readonly bytesOut: number;
  readonly requests: number;
  readonly outlier: boolean;
}

export interface BytesOutView {
  /** The hosts with most bytes out, most first (at most TOP_N); outliers are always among them when TOP_N allows. */
  readonly hosts: readonly HostBytesRow[];
  /** Hosts with any bytes out: the population the rule is applied to. */
  readonly hostsConsidered: number;
  readonly median: number;
  readonly mad: number;
  /** median + 3·MAD; null when fewer than MIN_OUTLIER_HOSTS hosts sent anything. */
  readonly threshold: number | null;
  readonly outliers: number;
}

export interface GrantEdge {
  /** The rule whose (trusted) response referenced the host. */
  readonly sourceRule: string;
  /** The host of the response that granted (from `grant.sourceUrl`). */
  readonly sourceHost: string;
  /** The host granted and then used. */
  readonly host: string;
  /** `event: grant` records with reason `granted`. */
  readonly issued: number;
  /** Grants refused (`grant_skipped`). */
  readonly skipped: number;
  /** Requests allowed by one of these grants (`rule: grant`). */
  readonly used: number;
  readonly bytesOut: number;
  /** The TTL stated on the grants (the largest seen), ms; null when none stated one. */
  readonly ttlMs: number | null;
}

export interface View {
  readonly totals: Totals;
  readonly topDeniedHosts: readonly { host: string; count: number }[];
  readonly denyReasons: readonly { reason: string; count: number }[];
  readonly bytesOut: BytesOutView;
  readonly limits: readonly { host: string; rateLimited: number; bandwidth: number }[];
  readonly rules: readonly { rule: string; hits: number; allowed: number; denied: number }[];
  readonly grants: readonly GrantEdge[];
}

export interface PolicyEvent {
  readonly time: string | null;
  /** `policy_loaded` (a reload) or `policy_invalid` (a change rejected). */
  readonly reason: string;
  readonly revision: string | null;
  readonly previousRevision: string | null;
  readonly message: string | null;
}

export interface ReportData {
  readonly firstTime: string | null;
  readonly lastTime: string | null;
  readonly records: number;
  readonly chain: ChainStatus;
  /** Agents with their own figures, by requests, most first; OTHER_AGENTS last when there were more. */
  readonly agents: readonly string[];
  readonly views: Readonly<Record<string, View>>;
  readonly all: View;
  /** Per agent and bucket: allowed, denied, and of those denied, rate-limited or over bandwidth. */
  readonly series: {
    readonly bucketMs: number;
    /** Wider bucket widths the page may merge into for display (BUCKET_LADDER_MS from bucketMs on). */
    readonly ladderMs: readonly number[];
    /** Bucket starts, epoch seconds (uPlot's x). */
    readonly xs: readonly number[];
    readonly byAgent: Readonly<Record<string, { allow: number[]; deny: number[]; limited: number[] }>>;
  };
  readonly policyEvents: readonly PolicyEvent[];
  readonly revisions: readonly {
    revision: string;
    records: number;
    firstSeen: string | null;
    lastSeen: string | null;
  }[];
  /** Policy rules with no record naming them; null when no policy was given. */
  readonly rulesNeverHit: readonly string[] | null;
  readonly policyRules: number | null;
  /** Entries that did not fit the bounds, so they are missing from the lists (0 normally). */
  readonly untracked: {
    readonly hosts: number;
    readonly keys: number;
    readonly events: number;
    readonly agents: number;
  };
}

// ---- the chain ----

/** States a ChainVerifier's result for the top of the page. */
export function chainStatus(result: VerifyResult, brokenAtSeq: number | null = null): ChainStatus {
  const base = {
    records: result.records,
    firstSeq: result.startsAt ?? (result.head ? 1 : null),
    head: result.head ? { seq: result.head.seq, hash: result.head.hash } : null,
    brokenAtSeq: null,
  };
  if (result.finding?.problem === 'unchained') {
    return {
      ...base,
      state: 'not_chained',
      message: `not chained: ${result.finding.message}`,
      firstSeq: null,
      head: null,
    };
  }
  if (result.finding) return { ...base, state: 'broken', brokenAtSeq, message: result.finding.message };
  if (!result.head) return { ...base, state: 'empty', message: 'no records' };
  const first = result.startsAt ?? 1;
  const notes = result.startsAt !== undefined ? `; records before seq ${first} are not in these files` : '';
  const chains =
    result.chains > 1
      ? `; ${result.chains} chains (leash started a new one ${result.chains - 1} time${result.chains === 2 ? '' : 's'})`
      : '';
  return {
    ...base,
    state: 'verified',
    message: `chain intact: ${result.records} records, seq ${first}..${result.head.seq}${notes}${chains}`,
  };
}

// ---- accumulating ----

interface HostTally {
  requests: number;
  denied: number;
  bytesOut: number;
  /** Requests with bytes out. */
  sending: number;
  rateLimited: number;
  bandwidth: number;
}

interface RuleTally {
  hits: number;
  allowed: number;
  denied: number;
}

interface GrantTally {
  issued: number;
  skipped: number;
  used: number;
  bytesOut: number;
  ttlMs: number | null;
}

const newTotals = (): Totals => ({
  requests: 0,
  allowed: 0,
  denied: 0,
  wouldDeny: 0,
  rateLimited: 0,
  bandwidth: 0,
  bytesOut: 0,
  bytesIn: 0,
  grantsIssued: 0,
  grantsUsed: 0,
});

/** Counts per bucket index, per agent slot: [allow, deny, limited] × slots. */
class TimeBuckets {
  width = BUCKET_LADDER_MS[0] as number;
  private buckets = new Map<number, number[]>();
  private min = Infinity;
  private max = -Infinity;

  add(ms: number, slot: number, kind: 0 | 1, limited: boolean): void {
    let index = Math.floor(ms / this.width);
    if (index < this.min || index > this.max) {
      this.min = Math.min(this.min, index);
      this.max = Math.max(this.max, index);
      while (this.max - this.min + 1 > MAX_BUCKETS) this.widen();
      index = Math.floor(ms / this.width);
    }
    let counts = this.buckets.get(index);
    if (!counts) this.buckets.set(index, (counts = []));
    const at = slot * 3;
    counts[at + kind] = (counts[at + kind] ?? 0) + 1;
    if (limited) counts[at + 2] = (counts[at + 2] ?? 0) + 1;
  }

  /** The next width of the ladder, k times this one: bucket i of width w lies in bucket floor(i/k) of width k·w. */
  private widen(): void {
    const next = nextWidth(this.width);
    const k = next / this.width;
    this.width = next;
    this.min = Math.floor(this.min / k);
    this.max = Math.floor(this.max / k);
    const merged = new Map<number, number[]>();
    for (const [index, counts] of this.buckets) {
      const to = Math.floor(index / k);
      const into = merged.get(to);
      if (!into) merged.set(to, counts);
      else counts.forEach((n, i) => (into[i] = (into[i] ?? 0) + (n ?? 0)));
    }
    this.buckets = merged;
  }

  series(slots: readonly string[]): ReportData['series'] {
    const xs: number[] = [];
    const byAgent: Record<string, { allow: number[]; deny: number[]; limited: number[] }> = {};
    for (const name of slots) byAgent[name] = { allow: [], deny: [], limited: [] };
    if (this.buckets.size > 0) {
      for (let i = this.min; i <= this.max; i++) {
        xs.push((i * this.width) / 1000);
        const counts = this.buckets.get(i) ?? [];
        slots.forEach((name, slot) => {
          const s = byAgent[name] as { allow: number[]; deny: number[]; limited: number[] };
          s.allow.push(counts[slot * 3] ?? 0);
          s.deny.push(counts[slot * 3 + 1] ?? 0);
          s.limited.push(counts[slot * 3 + 2] ?? 0);
        });
      }
    }
    return { bucketMs: this.width, ladderMs: BUCKET_LADDER_MS.filter((w) => w >= this.width), xs, byAgent };
  }
}

/** The bucket width after `width`: the next on the ladder, or twice it past the ladder's end. */
export function nextWidth(width: number): number {
  return BUCKET_LADDER_MS.find((w) => w > width) ?? width * 2;
}

/** Accumulates the report one record at a time (records already filtered); result() can be called at any point. */
export class ReportBuilder {
  private records = 0;
  private firstTime: string | null = null;
  private lastTime: string | null = null;
  private readonly slots = new Map<string, number>();
  private readonly slotNames: string[] = [];
  private readonly totals: Totals[] = [];
  private readonly hosts = new SlotMaps<HostTally>(MAX_PAIRS);
  private readonly reasons = new SlotMaps<{ count: number }>(MAX_KEYS);
  private readonly rules = new SlotMaps<RuleTally>(MAX_KEYS);
  private readonly grants = new SlotMaps<GrantTally>(MAX_KEYS);
  private readonly time = new TimeBuckets();
  private readonly events: PolicyEvent[] = [];
  private readonly revisions = new Map<
    string,
    { records: number; firstSeen: string | null; lastSeen: string | null }
  >();
  private readonly untracked = { hosts: 0, keys: 0, events: 0, agents: 0 };

  add(record: AuditLineRecord): void {
    this.records++;
    const time = str(record.time) ?? null;
    const ms = time === null ? NaN : Date.parse(time);
    if (time !== null && !Number.isNaN(ms)) {
      if (this.firstTime === null || time < this.firstTime) this.firstTime = time;
      if (this.lastTime === null || time > this.lastTime) this.lastTime = time;
    }
    const revision = str(record.policyRevision);
    if (revision !== undefined) this.revision(revision, time);
    const event = str(record.event);
    if (event === 'policy') {
      if (this.events.length < MAX_EVENTS) {
        this.events.push({
          time,
          reason: str(record.reason) ?? 'unknown',
          revision: revision ?? null,
          previousRevision: str(record.previousRevision) ?? null,
          message: str(record.message) ?? null,
        });
      } else {
        this.untracked.events++;
      }
      return;
    }
    const slot = this.slot(str(record.agent) ?? '(unknown)');
    const totals = this.totals[slot] as Totals;
    const host = str(record.host) ?? NO_HOST;
    const grant =
      typeof record.grant === 'object' && record.grant !== null ? (record.grant as Record<string, unknown>) : undefined;
    if (event === 'grant') {
      const granted = record.reason === 'granted' || record.reason === 'grant';
      if (granted) totals.grantsIssued++;
      const tally = this.grant(slot, grant, host);
      if (tally) {
        if (granted) tally.issued++;
        else tally.skipped++;
        const ttl = num(grant?.ttlMs);
        if (granted && ttl > 0) tally.ttlMs = Math.max(tally.ttlMs ?? 0, ttl);
      }
      return;
    }
    const bytesOut = num(record.bytesOut);
    const denied = record.effect === 'deny';
    const reason = str(record.reason) ?? '(none)';
    const rateLimited = reason === 'rate_limited';
    const bandwidth = reason === 'bandwidth';
    totals.requests++;
    totals.bytesOut += bytesOut;
    totals.bytesIn += num(record.bytesIn);
    if (record.wouldDeny === true) totals.wouldDeny++;
    if (rateLimited) totals.rateLimited++;
    if (bandwidth) totals.bandwidth++;
    if (record.effect === 'allow') totals.allowed++;
    else if (denied) totals.denied++;
    if (!Number.isNaN(ms) && (record.effect === 'allow' || denied))
      this.time.add(ms, slot, denied ? 1 : 0, rateLimited || bandwidth);

    const hostTally = this.keyed(this.hosts, slot, host, 'hosts', () => ({
      requests: 0,
      denied: 0,
      bytesOut: 0,
      sending: 0,
      rateLimited: 0,
      bandwidth: 0,
    }));
    if (hostTally) {
      hostTally.requests++;
      if (denied) hostTally.denied++;
      if (bytesOut > 0) {
        hostTally.bytesOut += bytesOut;
        hostTally.sending++;
      }
      if (rateLimited) hostTally.rateLimited++;
      if (bandwidth) hostTally.bandwidth++;
    }
    if (denied) {
      const tally = this.keyed(this.reasons, slot, reason, 'keys', () => ({ count: 0 }));
      if (tally) tally.count++;
    }
    const rule = str(record.rule);
    if (rule === 'grant') {
      totals.grantsUsed++;
      const tally = this.grant(slot, grant, host);
      if (tally) {
        tally.used++;
        tally.bytesOut += bytesOut;
      }
    } else if (rule !== undefined) {
      const tally = this.keyed(this.rules, slot, rule, 'keys', () => ({ hits: 0, allowed: 0, denied: 0 }));
      if (tally) {
        tally.hits++;
        if (denied) tally.denied++;
        else if (record.effect === 'allow') tally.allowed++;
      }
    }
  }

  /** The report; `policyRules` (the rule names of the policy given) enables "rules never hit". */
  result(chain: ChainStatus, policyRules?: readonly string[]): ReportData {
    // Agents by requests, most first; OTHER_AGENTS (if any) last.
    const order = this.slotNames
      .map((name, slot) => ({
        name,
        slot,
        n: (this.totals[slot] as Totals).requests + (this.totals[slot] as Totals).grantsIssued,
      }))
      .sort((a, b) =>
        a.name === OTHER_AGENTS ? 1 : b.name === OTHER_AGENTS ? -1 : b.n - a.n || compare(a.name, b.name),
      );
    const views: Record<string, View> = {};
    for (const { name, slot } of order) views[name] = this.view((s) => s === slot);
    const all = this.view(() => true);
    let rulesNeverHit: string[] | null = null;
    if (policyRules !== undefined) {
      const hit = new Set(this.rules.maps.flatMap((map) => [...map.keys()]));
      rulesNeverHit = [...new Set(policyRules)].filter((rule) => !hit.has(rule)).sort(compare);
    }
    const revisions = [...this.revisions.entries()]
      .map(([revision, r]) => ({ revision, ...r }))
      .sort((a, b) => compare(a.firstSeen ?? '', b.firstSeen ?? '') || compare(a.revision, b.revision));
    return {
      firstTime: this.firstTime,
      lastTime: this.lastTime,
      records: this.records,
      chain,
      agents: order.map((o) => o.name),
      views,
      all,
      series: this.time.series(this.slotNames),
      policyEvents: [...this.events].sort((a, b) => compare(a.time ?? '', b.time ?? '')),
      revisions,
      rulesNeverHit,
      policyRules: policyRules === undefined ? null : new Set(policyRules).size,
      untracked: { ...this.untracked },
    };
  }

  private view(inView: (slot: number) => boolean): View {
    const totals = newTotals();
    this.totals.forEach((t, slot) => {
      if (!inView(slot)) return;
      for (const key of Object.keys(totals) as (keyof Totals)[]) totals[key] += t[key];
    });
    const hosts = sumBy(this.hosts, inView, (a, b) => ({
      requests: a.requests + b.requests,
      denied: a.denied + b.denied,
      bytesOut: a.bytesOut + b.bytesOut,
      sending: a.sending + b.sending,
      rateLimited: a.rateLimited + b.rateLimited,
      bandwidth: a.bandwidth + b.bandwidth,
    }));
    const reasons = sumBy(this.reasons, inView, (a, b) => ({ count: a.count + b.count }));
    const rules = sumBy(this.rules, inView, (a, b) => ({
      hits: a.hits + b.hits,
      allowed: a.allowed + b.allowed,
      denied: a.denied + b.denied,
    }));
    const grants = sumBy(this.grants, inView, (a, b) => ({
      issued: a.issued + b.issued,
      skipped: a.skipped + b.skipped,
      used: a.used + b.used,
      bytesOut: a.bytesOut + b.bytesOut,
      ttlMs: a.ttlMs === null ? b.ttlMs : b.ttlMs === null ? a.ttlMs : Math.max(a.ttlMs, b.ttlMs),
    }));
    const hostRows = [...hosts.entries()];
    return {
      totals,
      topDeniedHosts: top(
        hostRows.filter(([, h]) => h.denied > 0).map(([host, h]) => ({ host, count: h.denied })),
        (a, b) => b.count - a.count || compare(a.host, b.host),
      ),
      denyReasons: [...reasons.entries()]
        .map(([reason, { count }]) => ({ reason, count }))
        .sort((a, b) => b.count - a.count || compare(a.reason, b.reason)),
      bytesOut: bytesOutView(
        hostRows
          .filter(([, h]) => h.bytesOut > 0)
          .map(([host, h]) => ({ host, bytesOut: h.bytesOut, requests: h.sending })),
      ),
      limits: top(
        hostRows
          .filter(([, h]) => h.rateLimited + h.bandwidth > 0)
          .map(([host, h]) => ({ host, rateLimited: h.rateLimited, bandwidth: h.bandwidth })),
        (a, b) => b.rateLimited + b.bandwidth - (a.rateLimited + a.bandwidth) || compare(a.host, b.host),
      ),
      rules: top(
        [...rules.entries()].map(([rule, r]) => ({ rule, ...r })),
        (a, b) => b.hits - a.hits || compare(a.rule, b.rule),
      ),
      grants: top(
        [...grants.entries()].map(([key, g]) => {
          const [sourceRule, sourceHost, host] = key.split('\n') as [string, string, string];
          return { sourceRule, sourceHost, host, ...g };
        }),
        (a, b) =>
          b.used + b.issued - (a.used + a.issued) || compare(a.sourceRule, b.sourceRule) || compare(a.host, b.host),
      ),
    };
  }

  private slot(agent: string): number {
    let slot = this.slots.get(agent);
    if (slot !== undefined) return slot;
    if (this.slotNames.length >= MAX_AGENTS) {
      this.untracked.agents++;
      agent = OTHER_AGENTS;
      slot = this.slots.get(agent);
      if (slot !== undefined) return slot;
    }
    slot = this.slotNames.length;
    this.slots.set(agent, slot);
    this.slotNames.push(agent);
    this.totals.push(newTotals());
    return slot;
  }

  private revision(revision: string, time: string | null): void {
    let seen = this.revisions.get(revision);
    if (!seen) {
      if (this.revisions.size >= MAX_EVENTS) return void this.untracked.events++;
      seen = { records: 0, firstSeen: time, lastSeen: time };
      this.revisions.set(revision, seen);
    }
    seen.records++;
    if (time !== null && (seen.firstSeen === null || time < seen.firstSeen)) seen.firstSeen = time;
    if (time !== null && (seen.lastSeen === null || time > seen.lastSeen)) seen.lastSeen = time;
  }

  private grant(slot: number, grant: Record<string, unknown> | undefined, host: string): GrantTally | undefined {
    const sourceRule = str(grant?.sourceRule) ?? '(unknown)';
    const sourceHost = hostOf(str(grant?.sourceUrl));
    return this.keyed(this.grants, slot, `${sourceRule}\n${sourceHost}\n${host}`, 'keys', () => ({
      issued: 0,
      skipped: 0,
      used: 0,
      bytesOut: 0,
      ttlMs: null,
    }));
  }

  private keyed<T>(maps: SlotMaps<T>, slot: number, key: string, kind: 'hosts' | 'keys', make: () => T): T | undefined {
    const value = maps.get(slot, key, make);
    if (value === undefined) this.untracked[kind]++;
    return value;
  }
}

/** Per agent slot, a map by key (no key strings built per record); at most `max` entries over all slots. */
class SlotMaps<T> {
  readonly maps: Map<string, T>[] = [];
  private size = 0;

  constructor(private readonly max: number) {}

  /** The entry, made if there is room; undefined when the bound is reached. */
  get(slot: number, key: string, make: () => T): T | undefined {
    let map = this.maps[slot];
    if (!map) this.maps[slot] = map = new Map();
    let value = map.get(key);
    if (value === undefined) {
      if (this.size >= this.max) return undefined;
      value = make();
      map.set(key, value);
      this.size++;
    }
    return value;
  }
}

/** Sums the entries of the slots in view, by key. */
function sumBy<T>(maps: SlotMaps<T>, inView: (slot: number) => boolean, add: (a: T, b: T) => T): Map<string, T> {
  const out = new Map<string, T>();
  maps.maps.forEach((map, slot) => {
    if (!map || !inView(slot)) return;
    for (const [key, value] of map) {
      const had = out.get(key);
      out.set(key, had === undefined ? value : add(had, value));
    }
  });
  return out;
}

function top<T>(rows: T[], order: (a: T, b: T) => number): T[] {
  return rows.sort(order).slice(0, TOP_N);
}

function hostOf(url: string | undefined): string {
  if (url === undefined) return '(unknown)';
  try {
    return new URL(url).host || '(unknown)';
  } catch {
    return '(unknown)';
  }
}

/** Median of numbers sorted ascending. */
export function median(sorted: readonly number[]): number {
  if (sorted.length === 0) return 0;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The outlier rule on hosts' bytes out: > median + 3·MAD, over at least MIN_OUTLIER_HOSTS hosts. */
export function bytesOutView(rows: readonly { host: string; bytesOut: number; requests: number }[]): BytesOutView {
  const values = rows.map((r) => r.bytesOut).sort((a, b) => a - b);
  const med = median(values);
  const mad = median(values.map((v) => Math.abs(v - med)).sort((a, b) => a - b));
  const threshold = rows.length >= MIN_OUTLIER_HOSTS ? med + 3 * mad : null;
  const flagged = rows.map((r) => ({ ...r, outlier: threshold !== null && r.bytesOut > threshold }));
  return {
    hosts: top(flagged, (a, b) => b.bytesOut - a.bytesOut || compare(a.host, b.host)),
    hostsConsidered: rows.length,
    median: med,
    mad,
    threshold,
    outliers: flagged.filter((r) => r.outlier).length,
  };
}
