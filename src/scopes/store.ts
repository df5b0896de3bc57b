// Where sandbox-scope accesses live: for one agent in one scope, time-bound access to one (host, port) that no
// rule allows and no deny rule matches. A contract so a shared store (Redis) can replace the in-memory one; every
// store passes the same contract tests (test/scopes/store-contract.ts).
//
// An access means exactly what it says: (scope, agent, host, port) until its expiry, fixed when it was opened.
// Using it never extends it (a scope is a sandbox for a while, not a rule that lives as long as it is used), and
// another agent, scope, host or port never sees it. `admit` is one atomic step: find the access in force, else
// open one if the agent holds fewer than `maxHosts` in that scope, so two replicas cannot both open the 51st.

export interface ScopeAccess {
  readonly scope: string;
  readonly agent: string;
  readonly host: string;
  readonly port: number;
  readonly openedAt: number;
  readonly expiresAt: number;
  /** The request that opened it (its id names its audit record), with what it asked for. */
  readonly openedBy: { readonly requestId: string; readonly method: string; readonly path: string | null };
}

export type ScopeAdmission =
  /** The access in force, opened by an earlier request. */
  | { readonly kind: 'open'; readonly access: ScopeAccess }
  /** Opened now, by this request. */
  | { readonly kind: 'opened'; readonly access: ScopeAccess }
  /** The agent already holds `maxHosts` accesses in this scope. */
  | { readonly kind: 'full'; readonly open: number };

export interface ScopeRequest {
  readonly scope: string;
  readonly agent: string;
  readonly host: string;
  readonly port: number;
  readonly openedBy: ScopeAccess['openedBy'];
}

/** What `leash scopes list` and `leash scopes revoke` select by; an absent member selects everything. */
export interface ScopeFilter {
  readonly scope?: string;
  readonly agent?: string;
  readonly host?: string;
  readonly port?: number;
}

export interface ScopeStore {
  /** The access in force for the request's (scope, agent, host, port), else a new one, else `full`. */
  admit(
    request: ScopeRequest,
    limits: { readonly ttlMs: number; readonly maxHosts: number },
    nowMs: number,
  ): Promise<ScopeAdmission>;
  /** Accesses in force at `nowMs`, oldest first. */
  list(filter: ScopeFilter, nowMs: number): Promise<ScopeAccess[]>;
  /** Ends the accesses in force that match; returns them. */
  revoke(filter: ScopeFilter, nowMs: number): Promise<ScopeAccess[]>;
}

export function matchesScopeFilter(access: ScopeAccess, filter: ScopeFilter): boolean {
  return (
    (filter.scope === undefined || access.scope === filter.scope) &&
    (filter.agent === undefined || access.agent === filter.agent) &&
    (filter.host === undefined || access.host === filter.host) &&
    (filter.port === undefined || access.port === filter.port)
  );
}

export function byOpening(a: ScopeAccess, b: ScopeAccess): number {
  return a.openedAt - b.openedAt || (a.host < b.host ? -1 : a.host > b.host ? 1 : a.port - b.port);
}
