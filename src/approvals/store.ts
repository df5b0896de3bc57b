// Where approvals live: a request no rule allows and no deny rule matches, from an agent under
// `settings.approvals`, waiting for a human's answer. A contract so a shared store (Redis) can replace the
// in-memory one; every store passes the same contract tests (test/approvals/store-contract.ts).
//
// One approval per (agent, host, port): identical requests while it is pending are coalesced into it (counted, not
// queued), so a retrying agent produces one question for its human, not a hundred. The method is not part of the
// key: what a human approves is "this agent may reach this host", and a CONNECT (most traffic) has no method to
// tell apart anyway. Its lifecycle:
//   pending  until `expireMs` after it was asked, then gone (the next request asks again)
//   allowed  once: the next request (or the held one) is let through and the approval is used up;
//            for: every request until its end; always: a rule was written (policies/approved.yaml), kept for
//            `expireMs` while the reload takes effect
//   denied   requests are refused at once (approval_denied) for `expireMs`, so a denied agent stops asking
// `arrive` is one atomic step (find, coalesce, consume a once, or create), so two replicas can neither create two
// approvals for one question nor both use one `--once`.

export type ApprovalGrant = 'once' | 'for' | 'always';

export interface Approval {
  /** Short and unguessable (approvals/id.ts): it is what `leash approvals allow ID` names. */
  readonly id: string;
  readonly agent: string;
  readonly host: string;
  readonly port: number;
  /** The request that asked first. */
  readonly first: { readonly requestId: string; readonly method: string; readonly path: string | null };
  /** Requests coalesced into it, the first included. */
  readonly requests: number;
  readonly createdAt: number;
  readonly state: 'pending' | 'allowed' | 'denied';
  readonly grant: ApprovalGrant | null;
  /** Pending: when it lapses; allowed for: when the grant ends; otherwise when it is forgotten. */
  readonly expiresAt: number;
  /** Who answered (as the control API was told) and when. */
  readonly decidedBy: string | null;
  readonly decidedAt: number | null;
}

export interface ApprovalCandidate {
  /** The id a new approval gets; ignored when the request is coalesced into an existing one. */
  readonly id: string;
  readonly agent: string;
  readonly host: string;
  readonly port: number;
  readonly first: Approval['first'];
}

export type Arrival =
  /** A new pending approval, asked by this request. */
  | { readonly kind: 'created'; readonly approval: Approval }
  /** Coalesced into the pending approval for the same (agent, host, port). */
  | { readonly kind: 'pending'; readonly approval: Approval }
  /** Allowed: `once` was used up by this request, or `for`/`always` is in force. */
  | { readonly kind: 'allowed'; readonly approval: Approval }
  | { readonly kind: 'denied'; readonly approval: Approval }
  /** The agent already has MAX_PENDING_PER_AGENT approvals open: nothing was created. */
  | { readonly kind: 'full' };

/** A human's answer; `forMs` only with grant `for`. */
export type ApprovalDecision =
  | { readonly grant: 'once' | 'always'; readonly by: string }
  | { readonly grant: 'for'; readonly forMs: number; readonly by: string }
  | { readonly grant: 'deny'; readonly by: string };

/** Open approvals one agent may have at once: an agent asking for thousands of hosts must not grow the store. */
export const MAX_PENDING_PER_AGENT = 1_000;

export interface ApprovalStore {
  /**
   * A request arrives: an approval in force for its (agent, host, port) answers it (a `once` is used up), a pending
   * one coalesces it (`count` false: a held request checking again is not another request), else a new one is made.
   */
  arrive(candidate: ApprovalCandidate, expireMs: number, nowMs: number, count?: boolean): Promise<Arrival>;
  /** Approvals in force, oldest first. */
  list(nowMs: number): Promise<Approval[]>;
  get(id: string, nowMs: number): Promise<Approval | undefined>;
  /** Answers an approval in force (pending, or changes an earlier answer); undefined if there is none by that id. */
  decide(id: string, decision: ApprovalDecision, expireMs: number, nowMs: number): Promise<Approval | undefined>;
}

export function approvalKey(agent: string, host: string, port: number): string {
  return `${agent}\u0000${host}\u0000${port}`;
}

/** The approval after a decision, at `nowMs`: pure, shared by both stores (the Redis one mirrors it in Lua). */
export function decided(approval: Approval, decision: ApprovalDecision, expireMs: number, nowMs: number): Approval {
  const base = { ...approval, decidedBy: decision.by, decidedAt: nowMs };
  switch (decision.grant) {
    case 'deny':
      return { ...base, state: 'denied', grant: null, expiresAt: nowMs + expireMs };
    case 'for':
      return { ...base, state: 'allowed', grant: 'for', expiresAt: nowMs + decision.forMs };
    default:
      return { ...base, state: 'allowed', grant: decision.grant, expiresAt: nowMs + expireMs };
  }
}
