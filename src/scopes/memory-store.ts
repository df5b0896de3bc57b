// Scope accesses in process memory. Bounded by the policy: each (scope, agent) holds at most its scope's
// `maxHosts` accesses in force, and expired ones are pruned whenever that (scope, agent) is touched or listed.

import {
  byOpening,
  matchesScopeFilter,
  type ScopeAccess,
  type ScopeAdmission,
  type ScopeFilter,
  type ScopeRequest,
  type ScopeStore,
} from './store.js';

const key = (scope: string, agent: string) => `${scope}\u0000${agent}`;
const field = (host: string, port: number) => `${host}\u0000${port}`;

export class MemoryScopeStore implements ScopeStore {
  /** (scope, agent) → (host, port) → access. */
  private readonly sandboxes = new Map<string, Map<string, ScopeAccess>>();

  async admit(
    request: ScopeRequest,
    limits: { ttlMs: number; maxHosts: number },
    nowMs: number,
  ): Promise<ScopeAdmission> {
    const k = key(request.scope, request.agent);
    let accesses = this.sandboxes.get(k);
    if (!accesses) {
      accesses = new Map();
      this.sandboxes.set(k, accesses);
    }
    prune(accesses, nowMs);
    const f = field(request.host, request.port);
    const existing = accesses.get(f);
    if (existing) return { kind: 'open', access: existing };
    if (accesses.size >= limits.maxHosts) return { kind: 'full', open: accesses.size };
    const access: ScopeAccess = { ...request, openedAt: nowMs, expiresAt: nowMs + limits.ttlMs };
    accesses.set(f, access);
    return { kind: 'opened', access };
  }

  async list(filter: ScopeFilter, nowMs: number): Promise<ScopeAccess[]> {
    const found: ScopeAccess[] = [];
    for (const [k, accesses] of this.sandboxes) {
      prune(accesses, nowMs);
      if (accesses.size === 0) this.sandboxes.delete(k);
      for (const access of accesses.values()) if (matchesScopeFilter(access, filter)) found.push(access);
    }
    return found.sort(byOpening);
  }

  async revoke(filter: ScopeFilter, nowMs: number): Promise<ScopeAccess[]> {
    const removed = await this.list(filter, nowMs);
    for (const access of removed)
      this.sandboxes.get(key(access.scope, access.agent))?.delete(field(access.host, access.port));
    return removed;
  }
}

function prune(accesses: Map<string, ScopeAccess>, nowMs: number): void {
  for (const [f, access] of accesses) if (access.expiresAt <= nowMs) accesses.delete(f);
}
