// Where grants live: short-lived permissions for an agent to GET what a trusted API response referenced. A contract
// so a shared store can replace the in-memory one; every store passes the same contract tests
// (test/grants/store-contract.ts).
//
// A grant means exactly what it says. With scope host it is (agent, scheme, host, port) until its expiry; a later
// reference to the same host is the same permission and may extend it. With scope url it is one exact URL until
// its own expiry: a reference to another URL on the same host is another grant, and never extends, shortens or
// resurrects this one (the attack: a steady trickle of references to /a keeping an old /secret-path alive).

export interface Grant {
  readonly agent: string;
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  readonly expiresAt: number;
  /** The response that referenced it: its request id, rule and URL, and where in it the reference was. */
  readonly source: { readonly requestId: string; readonly rule: string; readonly url: string; readonly found: string };
  /** settings.grants.scope url: the exact URL granted (no fragment, no userinfo); null: the whole host. */
  readonly url: string | null;
}

/** What names one grant: with `url` null, the host grant; otherwise the grant of that exact URL. */
export type GrantKey = Pick<Grant, 'agent' | 'scheme' | 'host' | 'port' | 'url'>;

export interface GrantStore {
  /**
   * Adds a grant, or extends the same one (same key): a later expiry wins and names the newer source; an earlier
   * one changes nothing. Never touches a grant with another key.
   */
  add(grant: Grant): Promise<void>;
  /**
   * The grant in force at `nowMs` for (agent, scheme, host, port). With `url`: the host grant, else the grant of
   * exactly that URL. Without: the host grant, else the URL grant on that host that lasts longest (a tunnel to the
   * host, whose requests are each held to their own URL, may stay open until then).
   */
  find(
    agent: string,
    scheme: 'http' | 'https',
    host: string,
    port: number,
    nowMs: number,
    url?: string,
  ): Promise<Grant | undefined>;
  /**
   * Removes the grant with this key if it still names `sourceRequestId` (a later response that extended it
   * made it its own). True if one was removed.
   */
  revoke(key: GrantKey, sourceRequestId: string): Promise<boolean>;
  /** Grants in force at `nowMs`, for metrics; only stores that can count without scanning a server offer it. */
  active?(nowMs: number): number;
}

export function grantKey(agent: string, scheme: string, host: string, port: number): string {
  return `${agent}\u0000${scheme}\u0000${host}\u0000${port}`;
}
