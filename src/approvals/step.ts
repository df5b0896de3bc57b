// The approval step of the admission pipeline (proxy/admission.ts calls it after the scope step, on the raw
// decision). For the agents under `settings.approvals`, a request no rule allows and no deny rule matches becomes
// a question for a human instead of a plain deny: a pending approval (one per agent, host and port; identical
// requests coalesce into it), audited as its own record (`event: approval`, approval_requested), and a `403
// pending_approval` whose body and reason phrase carry the exact command that approves it, so the agent (or its
// human) sees what to do and nothing hangs. With `wait`, leash holds the request up to that long for an answer,
// checking the store (shared by replicas) every POLL_MS; the client going away releases it at once.
//
// An answer then decides the same question: `--once` lets exactly one request through (the held one, or the next
// retry), `--for` every request until it ends, `--always` every request until the rule it wrote takes over, and
// `deny` refuses them at once (`approval_denied`) so a denied agent stops asking. Allowed requests get reason
// `approved`. Like scopes, it never applies where a rule speaks about the host (policy/unknown-host.ts), and the
// steps after it (rate limits, the address guard) still apply. The store failing refuses (`store_unavailable`).

import { randomUUID } from 'node:crypto';
import { newRecord, type AuditRecord } from '../audit/record.js';
import { StoreUnavailableError } from '../errors.js';
import { describeRequest } from '../policy/evaluate.js';
import type { LockdownView } from '../lockdown/step.js';
import type { CompiledPolicy } from '../policy/policy.js';
import { denyLooksInside, noRuleSpeaks } from '../policy/unknown-host.js';
import type { Verdict } from '../proxy/verdict.js';
import type { Approval, ApprovalStore, Arrival } from './store.js';

/** How often a held request asks the store whether its approval was answered. */
export const POLL_MS = 250;

export interface ApprovalContext {
  readonly policy: CompiledPolicy;
  readonly approvals: ApprovalStore;
  readonly now: () => number;
  /** Writes an audit record of its own (approval_requested). */
  readonly record: (record: AuditRecord) => void;
  /** A fresh approval id (approvals/id.ts). */
  readonly newId: () => string;
  /** Resolves after `ms`, or at once when `signal` aborts; injected so table tests step a clock instead. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The lockdown in force: a held request of an agent locked down meanwhile is let go at once (and refused). */
  readonly lockdown?: LockdownView;
}

export interface ApprovalAsk {
  readonly requestId: string;
  readonly identity: AuditRecord['identity'];
  /** Aborts when the client goes away: a held request is released. */
  readonly signal?: AbortSignal;
}

export type ApprovalOutcome =
  | { readonly kind: 'none' }
  | { readonly kind: 'allowed'; readonly verdict: Verdict; readonly approval: AuditRecord['approval'] }
  | { readonly kind: 'refused'; readonly verdict: Verdict; readonly approval?: AuditRecord['approval'] };

export async function approvalFor(ctx: ApprovalContext, verdict: Verdict, ask: ApprovalAsk): Promise<ApprovalOutcome> {
  const settings = ctx.policy.approvals;
  const request = verdict.request;
  if (!settings || !request || !settings.agents.has(request.agent) || !noRuleSpeaks(verdict)) return { kind: 'none' };
  const what = describeRequest(request);
  const refuse = (reason: Verdict['reason'], message: string, approval?: Approval): ApprovalOutcome => ({
    kind: 'refused',
    verdict: { ...verdict, effect: 'deny', wouldDeny: false, reason, rule: null, message },
    ...(approval ? { approval: auditFields(approval) } : {}),
  });
  const candidate = {
    id: ctx.newId(),
    agent: request.agent,
    host: request.host,
    port: request.port,
    first: { requestId: ask.requestId, method: request.method, path: request.path ?? null },
  };

  let arrival: Arrival;
  // Report mode blocks nothing, so it holds nothing either: the question is asked, the request goes on.
  const waitMs = ctx.policy.settings.mode === 'report' ? 0 : settings.waitMs;
  try {
    arrival = await ctx.approvals.arrive(candidate, settings.expireMs, ctx.now());
    if (arrival.kind === 'created') ctx.record(requested(ctx.policy, arrival.approval, request, ask));
    // Held: ask again until answered, the wait ends, or the client goes away. A check is not another request.
    const until = ctx.now() + waitMs;
    while (
      (arrival.kind === 'created' || arrival.kind === 'pending') &&
      ctx.now() < until &&
      !ask.signal?.aborted &&
      !ctx.lockdown?.lockOf(request.agent)
    ) {
      await ctx.sleep(Math.min(POLL_MS, until - ctx.now()), ask.signal);
      if (ask.signal?.aborted) break;
      arrival = await ctx.approvals.arrive(candidate, settings.expireMs, ctx.now(), false);
      // The approval it waited on was used up (a --once for an identical request): the new one it waits on now is
      // on record like any other.
      if (arrival.kind === 'created') ctx.record(requested(ctx.policy, arrival.approval, request, ask));
    }
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    return refuse('store_unavailable', `${what}: the approval for it cannot be checked: ${err.message}`);
  }

  switch (arrival.kind) {
    case 'full':
      return {
        kind: 'refused',
        verdict: {
          ...verdict,
          message: `${verdict.message}; agent ${request.agent} already has the most open approvals leash keeps, so no new one was made: answer them (leash approvals list)`,
        },
      };
    case 'denied':
      return refuse(
        'approval_denied',
        `${what} denied: ${arrival.approval.decidedBy ?? 'a human'} denied approval ${arrival.approval.id} for ${request.host}:${request.port}; it is refused until ${new Date(arrival.approval.expiresAt).toISOString()}`,
        arrival.approval,
      );
    case 'allowed': {
      const a = arrival.approval;
      const how =
        a.grant === 'once'
          ? 'once (used by this request)'
          : a.grant === 'for'
            ? `until ${new Date(a.expiresAt).toISOString()}`
            : 'always (a rule was written)';
      return {
        kind: 'allowed',
        approval: auditFields(a),
        verdict: {
          ...verdict,
          effect: 'allow',
          wouldDeny: false,
          reason: 'approved',
          rule: null,
          intercept: request.method === 'CONNECT' && request.path === undefined && denyLooksInside(ctx.policy, request),
          message: `${what} allowed by approval ${a.id}, ${how}, by ${a.decidedBy ?? 'a human'}`,
        },
      };
    }
    default: {
      const a = arrival.approval;
      const held = waitMs > 0 ? ` (held ${waitMs / 1000} s without an answer)` : '';
      return refuse(
        'pending_approval',
        `${what} is waiting for approval ${a.id}${held}; a human approves it with: leash approvals allow ${a.id} (--once, --for 1h or --always), or refuses it with: leash approvals deny ${a.id}`,
        a,
      );
    }
  }
}

export function auditFields(a: Approval): NonNullable<AuditRecord['approval']> {
  return {
    id: a.id,
    state: a.state,
    grant: a.grant,
    requests: a.requests,
    expiresAt: new Date(a.expiresAt).toISOString(),
    ...(a.decidedBy ? { by: a.decidedBy } : {}),
  };
}

function requested(
  policy: CompiledPolicy,
  approval: Approval,
  request: NonNullable<Verdict['request']>,
  ask: ApprovalAsk,
): AuditRecord {
  return newRecord(randomUUID(), 'approval', policy.revision, {
    agent: request.agent,
    identity: ask.identity,
    method: request.method,
    host: request.host,
    port: request.port,
    path: request.path ?? null,
    effect: 'deny',
    reason: 'approval_requested',
    message: `request ${ask.requestId} (${describeRequest(request)}) is waiting for approval ${approval.id}: leash approvals allow ${approval.id}`,
    approval: auditFields(approval),
  });
}

/** The sleep the proxy uses: a timer, released at once when the client goes away. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
