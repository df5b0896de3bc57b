// What a fleet's monitoring sees: Prometheus metrics derived from the audit records as they are written (so the
// metrics and the log can never disagree about what was decided), plus gauges read at scrape time. Label values
// are bounded: effects, events, reason codes from the closed catalogue, and rule names from the policy (plus
// `grant` and `none`); never hosts, paths or agents. One registry per process, never prom-client's global one.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditLog } from '../audit/logger.js';
import type { AuditRecord } from '../audit/record.js';

export interface MetricsSources {
  /** Exchanges in flight (requests, tunnels, upgraded streams). */
  readonly openExchanges: () => number;
  /** The policy revision in force. */
  readonly revision: () => string;
  /** Records the audit log has written. */
  readonly auditRecords: () => number;
  /** Age of the oldest audit record not yet written to the file, in ms. */
  readonly auditLagMs?: () => number;
  /** Grants in force now, where the store can count them cheaply (the memory store); absent otherwise. */
  readonly activeGrants?: () => number | undefined;
}

export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'event' | 'effect' | 'reason' | 'rule'>;
  private readonly bytes: Counter<'direction' | 'rule'>;
  private readonly duration: Histogram<'event'>;
  private readonly grants: Counter<'result'>;
  private readonly reloads: Counter<'outcome'>;
  private readonly secretMisuse: Counter<'secret'>;
  private readonly secretsInjected: Counter<'secret'>;
  private readonly decision: Histogram<'event'>;
  private readonly upstream: Histogram<'event'>;
  private readonly grantsUsed: Counter;
  private readonly storeSeconds: Histogram<'operation' | 'outcome'>;
  private readonly storeErrors: Counter<'operation'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'leash_requests_total',
      help: 'Requests, tunnels and refused connections, by how they were decided.',
      labelNames: ['event', 'effect', 'reason', 'rule'],
      registers,
    });
    this.bytes = new Counter({
      name: 'leash_bytes_total',
      help: 'Bytes relayed, by direction (up: agent to upstream, the exfiltration view; down) and rule.',
      labelNames: ['direction', 'rule'],
      registers,
    });
    this.duration = new Histogram({
      name: 'leash_exchange_duration_seconds',
      help: 'Time from the first byte of a request or tunnel to its audit record (decision, upstream and transfer).',
      labelNames: ['event'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
      registers,
    });
    this.grants = new Counter({
      name: 'leash_grants_total',
      help: 'References in inspected responses, by outcome (granted, grant_skipped, grant_revoked).',
      labelNames: ['result'],
      registers,
    });
    this.decision = new Histogram({
      name: 'leash_decision_seconds',
      help: "Time from a request's or tunnel's first byte to leash's decision (identity, policy, grants, limits, DNS).",
      labelNames: ['event'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.upstream = new Histogram({
      name: 'leash_upstream_seconds',
      help: "Time from the decision to the upstream's response head (requests) or accepted connection (tunnels).",
      labelNames: ['event'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.grantsUsed = new Counter({
      name: 'leash_grants_used_total',
      help: 'Requests and tunnels a grant let through (no rule allowed them).',
      registers,
    });
    this.storeSeconds = new Histogram({
      name: 'leash_store_operation_seconds',
      help: 'Shared store (--store) operations, by operation and outcome (ok, error: refused, timed out, unreachable).',
      labelNames: ['operation', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.storeErrors = new Counter({
      name: 'leash_store_errors_total',
      help: 'Shared store operations that failed (what needed them was refused store_unavailable).',
      labelNames: ['operation'],
      registers,
    });
    this.reloads = new Counter({
      name: 'leash_policy_reloads_total',
      help: 'Policy reloads, by outcome (loaded, rejected).',
      labelNames: ['outcome'],
      registers,
    });
    // Secret names come from the policy (plus `unknown` for a placeholder naming none): bounded, never a value.
    this.secretMisuse = new Counter({
      name: 'leash_secret_misuse_total',
      help: "Requests refused because they carried a secret's placeholder where it does not belong (secret_misuse), by secret.",
      labelNames: ['secret'],
      registers,
    });
    this.secretsInjected = new Counter({
      name: 'leash_secrets_injected_total',
      help: "Requests into which leash put a secret's value on the way to its host, by secret.",
      labelNames: ['secret'],
      registers,
    });
    new Gauge({
      name: 'leash_open_exchanges',
      help: 'Requests, tunnels and upgraded streams open now.',
      registers,
      collect() {
        this.set(sources.openExchanges());
      },
    });
    new Gauge({
      name: 'leash_audit_records_written',
      help: 'Audit records written since start.',
      registers,
      collect() {
        this.set(sources.auditRecords());
      },
    });
    new Gauge({
      name: 'leash_audit_write_lag_seconds',
      help: 'How long the oldest audit record not yet written to the file has waited (0: all written).',
      registers,
      collect() {
        this.set((sources.auditLagMs?.() ?? 0) / 1000);
      },
    });
    new Gauge({
      name: 'leash_grants_active',
      help: 'Grants in force now (memory store only; a Redis store is not scanned).',
      registers,
      collect() {
        const active = sources.activeGrants?.();
        if (active !== undefined) this.set(active);
      },
    });
    new Gauge({
      name: 'leash_policy_info',
      help: 'The policy revision in force (value 1).',
      labelNames: ['revision'],
      registers,
      collect() {
        this.reset();
        this.set({ revision: sources.revision() }, 1);
      },
    });
  }

  /** Counts one audit record. */
  observe(record: AuditRecord): void {
    if (record.event === 'policy') {
      this.reloads.inc({ outcome: record.reason === 'policy_loaded' ? 'loaded' : 'rejected' });
      return;
    }
    // Switching a lockdown is not traffic; the requests it refuses are (reason="lockdown").
    if (record.event === 'lockdown') return;
    // A scope opened or revoked, an approval asked for or answered: steps of requests, each counted on its own record.
    if (record.event === 'scope' || record.event === 'approval') return;
    if (record.event === 'grant') {
      this.grants.inc({ result: record.reason });
      return;
    }
    const rule = record.rule ?? 'none';
    this.requests.inc({ event: record.event, effect: record.effect, reason: record.reason, rule });
    if (record.reason === 'secret_misuse') this.secretMisuse.inc({ secret: record.secret ?? 'unknown' });
    for (const secret of record.injected ?? []) this.secretsInjected.inc({ secret });
    if (record.bytesOut > 0) this.bytes.inc({ direction: 'up', rule }, record.bytesOut);
    if (record.bytesIn > 0) this.bytes.inc({ direction: 'down', rule }, record.bytesIn);
    this.duration.observe({ event: record.event }, record.durationMs / 1000);
    if (record.decisionMs !== undefined) this.decision.observe({ event: record.event }, record.decisionMs / 1000);
    if (record.upstreamMs !== undefined) this.upstream.observe({ event: record.event }, record.upstreamMs / 1000);
    if (record.rule === 'grant' && record.effect === 'allow' && !record.wouldDeny) this.grantsUsed.inc();
  }

  /** One shared-store operation (store/redis.ts StoreObserver). */
  observeStore(operation: string, seconds: number, ok: boolean): void {
    this.storeSeconds.observe({ operation, outcome: ok ? 'ok' : 'error' }, seconds);
    if (!ok) this.storeErrors.inc({ operation });
  }

  /** An audit log that counts every record it writes into these metrics. */
  counting(audit: AuditLog): AuditLog {
    return {
      write: (record) => {
        audit.write(record);
        this.observe(record);
      },
      flush: () => audit.flush(),
      lagMs: () => audit.lagMs?.() ?? 0,
      close: () => audit.close(),
      reopen: () => audit.reopen(),
      get count() {
        return audit.count;
      },
      get head() {
        return audit.head;
      },
    };
  }
}
