// Approvals in process memory: by id, and by (agent, host, port) for coalescing. Bounded: each agent holds at most
// MAX_PENDING_PER_AGENT approvals in force, and every approval goes at its expiry (pruned as the store is used).

import {
  approvalKey,
  decided,
  MAX_PENDING_PER_AGENT,
  type Approval,
  type ApprovalCandidate,
  type ApprovalDecision,
  type ApprovalStore,
  type Arrival,
} from './store.js';

export class MemoryApprovalStore implements ApprovalStore {
  private readonly byId = new Map<string, Approval>();
  private readonly byKey = new Map<string, string>();

  async arrive(candidate: ApprovalCandidate, expireMs: number, nowMs: number, count = true): Promise<Arrival> {
    this.prune(nowMs);
    const key = approvalKey(candidate.agent, candidate.host, candidate.port);
    const id = this.byKey.get(key);
    const existing = id === undefined ? undefined : this.byId.get(id);
    if (existing) {
      if (existing.state === 'denied') return { kind: 'denied', approval: existing };
      if (existing.state === 'allowed') {
        if (existing.grant === 'once') this.remove(existing);
        return { kind: 'allowed', approval: existing };
      }
      const coalesced = count ? { ...existing, requests: existing.requests + 1 } : existing;
      this.byId.set(existing.id, coalesced);
      return { kind: 'pending', approval: coalesced };
    }
    let held = 0;
    for (const a of this.byId.values()) if (a.agent === candidate.agent) held++;
    if (held >= MAX_PENDING_PER_AGENT) return { kind: 'full' };
    const approval: Approval = {
      ...candidate,
      requests: 1,
      createdAt: nowMs,
      state: 'pending',
      grant: null,
      expiresAt: nowMs + expireMs,
      decidedBy: null,
      decidedAt: null,
    };
    this.byId.set(approval.id, approval);
    this.byKey.set(key, approval.id);
    return { kind: 'created', approval };
  }

  async list(nowMs: number): Promise<Approval[]> {
    this.prune(nowMs);
    return [...this.byId.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async get(id: string, nowMs: number): Promise<Approval | undefined> {
    this.prune(nowMs);
    return this.byId.get(id);
  }

  async decide(id: string, decision: ApprovalDecision, expireMs: number, nowMs: number): Promise<Approval | undefined> {
    this.prune(nowMs);
    const approval = this.byId.get(id);
    if (!approval) return undefined;
    const next = decided(approval, decision, expireMs, nowMs);
    this.byId.set(id, next);
    return next;
  }

  private prune(nowMs: number): void {
    for (const approval of this.byId.values()) if (approval.expiresAt <= nowMs) this.remove(approval);
  }

  private remove(approval: Approval): void {
    this.byId.delete(approval.id);
    const key = approvalKey(approval.agent, approval.host, approval.port);
    if (this.byKey.get(key) === approval.id) this.byKey.delete(key);
  }
}
