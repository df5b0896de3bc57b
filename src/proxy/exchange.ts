// One request or tunnel as it passes through the proxy: its id, timing, what was decided and what happened, and
// the guarantee that it produces exactly one audit record, however it ends (completion, refusal, error, a client
// that vanished, shutdown).

import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { AuditLog } from '../audit/logger.js';
import { newRecord, type AuditEvent, type AuditRecord } from '../audit/record.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { Reason } from './reasons.js';
import { refuseResponse, refuseSocket, statusOf } from './respond.js';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AdmissionNotes } from './admission.js';

export interface ExchangeSink {
  readonly audit: AuditLog;
  readonly open: Set<Exchange>;
}

export class Exchange {
  readonly id = randomUUID();
  readonly startedAt = performance.now();
  private done = false;
  readonly record: AuditRecord;
  /** Called once when the exchange ends, e.g. to destroy sockets at shutdown. */
  abort: () => void = () => {};
  /** The deciding rule's `reason:` text, for the reason phrase of a refusal. */
  ruleReason: string | null = null;
  /**
   * Long-lived exchanges (tunnels, upgraded streams): decides again under `policy` after a reload; a reason to end
   * the exchange when the new policy would not allow it. Absent for exchanges that end on their own.
   */
  revalidate?: (policy: CompiledPolicy) => Promise<{ reason: Reason; message: string } | undefined>;
  private readonly finishers: (() => void)[] = [];
  private decidedAt: number | undefined;

  constructor(
    private readonly sink: ExchangeSink,
    readonly policy: CompiledPolicy,
    event: AuditEvent,
    socket: Socket | null,
  ) {
    this.record = newRecord(this.id, event, policy.revision, {
      client: socket?.remoteAddress ? { address: socket.remoteAddress, port: socket.remotePort ?? 0 } : null,
    });
    sink.open.add(this);
  }

  get finished(): boolean {
    return this.done;
  }

  /** What admission decided (admission.ts), into the record, with how long deciding took. */
  noteAdmission(notes: AdmissionNotes): void {
    this.decidedAt = performance.now();
    this.record.decisionMs = round(this.decidedAt - this.startedAt);
    const { ruleReason, wouldDeny, ...fields } = notes;
    Object.assign(this.record, fields);
    if (wouldDeny) this.record.wouldDeny = true;
    else delete this.record.wouldDeny;
    if (ruleReason !== undefined) this.ruleReason = ruleReason;
  }

  /** The upstream answered (a response head) or accepted the connection (a tunnel). */
  noteUpstream(): void {
    if (this.decidedAt !== undefined && this.record.upstreamMs === undefined)
      this.record.upstreamMs = round(performance.now() - this.decidedAt);
  }

  /** A refusal after (or instead of) the policy decision: the exchange is denied for `reason`. */
  deny(reason: Reason, message: string): void {
    this.record.effect = 'deny';
    this.record.reason = reason;
    this.record.message = message;
    delete this.record.wouldDeny;
  }

  /** Refuses over HTTP: the response names the rule and reason, and the record is finished. */
  refuse(res: ServerResponse, reason: Reason, message: string, retryAfterSeconds?: number): void {
    this.deny(reason, message);
    refuseResponse(
      res,
      { reason, rule: this.record.rule, message, requestId: this.id, retryAfterSeconds },
      this.ruleReason,
    );
    this.finish({ status: res.statusCode });
  }

  /** Refuses on a bare socket (CONNECT, parse errors, upgrades), the same way. */
  refuseOnSocket(socket: Duplex, reason: Reason, message: string, retryAfterSeconds?: number): void {
    this.deny(reason, message);
    refuseSocket(
      socket,
      { reason, rule: this.record.rule, message, requestId: this.id, retryAfterSeconds },
      this.ruleReason,
    );
    this.finish({ status: statusOf(reason) });
  }

  /**
   * Ends an open exchange for `reason` (a reload that revokes it, an expired grant, its maximum lifetime): the
   * record says why, the sockets are closed, and the record is written when they are (with the byte totals).
   */
  cut(reason: Reason, message: string): void {
    this.deny(reason, message);
    this.abort();
    // The close handlers finish the record; should a socket never report its close, finish it anyway.
    setTimeout(() => this.finish(), 2000).unref();
  }

  /** Runs `fn` once when the exchange finishes (timers to clear). */
  onFinish(fn: () => void): void {
    if (this.done) fn();
    else this.finishers.push(fn);
  }

  finish(fields: Partial<AuditRecord> = {}): void {
    if (this.done) return;
    this.done = true;
    for (const fn of this.finishers.splice(0)) fn();
    Object.assign(this.record, fields);
    this.record.durationMs = round(performance.now() - this.startedAt);
    this.sink.open.delete(this);
    this.sink.audit.write(this.record);
  }
}

/** Milliseconds to the microsecond. */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
