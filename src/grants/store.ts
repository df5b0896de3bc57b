// Where grants live: short-lived permissions for an agent to GET the hosts a trusted API response referenced.
// A contract so a shared store can replace the in-memory one; every store passes the same contract tests.

export interface Grant {
  readonly agent: string;
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  readonly expiresAt: number;
  /** The response that referenced the host: its request id, rule and URL, and where in it the reference was. */
  readonly source: { readonly requestId: string; readonly rule: string; readonly url: string; readonly found: string };
  /** settings.grants.scope url: the exact URLs seen (GET/HEAD to anything else on the host is refused). */
  readonly urls: readonly string[] | null;
}

export interface GrantStore {
  /** Adds or extends a grant: a later expiry wins, URL lists merge (bounded). */
  add(grant: Grant): Promise<void>;
  /** The grant for exactly (agent, scheme, host, port) in force at `nowMs`. */
  find(agent: string, scheme: 'http' | 'https', host: string, port: number, nowMs: number): Promise<Grant | undefined>;
}

export function grantKey(agent: string, scheme: string, host: string, port: number): string {
  return `${agent}\u0000${scheme}\u0000${host}\u0000${port}`;
}
