// The one canonical audit record: a JSON line per request, per tunnel and per policy change, with constant field
// names that reviewers' tools are written against. Records are redacted when written (logger.ts), never here,
// so there is exactly one place where secrets are removed.

import type { AuditReason, Reason } from '../proxy/reasons.js';

export type AuditEvent = 'request' | 'tunnel' | 'policy' | 'connection' | 'grant' | 'lockdown' | 'scope' | 'approval';

export interface AuditRecord {
  /** Set by the logger when the record is written; ISO 8601. */
  time?: string;
  id: string;
  event: AuditEvent;
  agent: string;
  /** How the agent was identified: a proxy token, the socket owner's uid, both, a source CIDR, or `none`. */
  identity: 'token' | 'uid' | 'token+uid' | 'cidr' | 'none';
  client: { address: string; port: number } | null;
  method: string | null;
  scheme: 'http' | 'https' | 'tunnel' | null;
  host: string | null;
  port: number | null;
  /** Path and query, with the values of sensitive query keys replaced by [REDACTED]. */
  path: string | null;
  effect: 'allow' | 'deny';
  /** Report mode only: enforce mode would have denied this. */
  wouldDeny?: boolean;
  rule: string | null;
  /** A code from the closed catalogue (proxy/reasons.ts): what the client was told, or an audit-only event. */
  reason: Reason | AuditReason;
  message?: string;
  /** Status sent to the client; null when none could be sent (the connection was cut). */
  status: number | null;
  /** Bytes from the upstream to the agent (response body or tunnel download). */
  bytesIn: number;
  /** Bytes from the agent to the upstream (request body or tunnel upload): the exfiltration view. */
  bytesOut: number;
  durationMs: number;
  /** Time from the first byte to leash's decision (admission, DNS included). */
  decisionMs?: number;
  /** Time from the decision to the upstream's response head (requests) or connection (tunnels). */
  upstreamMs?: number;
  /** The address leash dialled, exactly the one it checked. */
  resolved: string | null;
  policyRevision: string;
  userAgent?: string;
  /** `intercepted`: a request leash read inside a tunnel whose TLS it terminated. */
  tls?: 'intercepted';
  /** A request that upgraded (WebSocket) and was spliced; its record closes with the stream. */
  upgrade?: 'websocket';
  /** Intercepted tunnels: how many requests they carried. */
  requests?: number;
  /**
   * `event: grant` records: a host a trusted response referenced (reason granted or grant_skipped). On requests
   * allowed by a grant (rule "grant"): the grant used, naming the response that caused it.
   */
  grant?: {
    readonly source: string;
    readonly sourceRule: string;
    readonly sourceUrl: string;
    /** Where in the response: `$.results[0].image`, `html a[href]`, `header Location`. */
    readonly found: string;
    readonly expiresAt: string;
    /** settings.grants.scope url: the one URL granted (a target: redacted like `path`). */
    readonly url?: string;
    readonly ttlMs?: number;
    /** grant_skipped: why (reflected, not_in_grant_hosts, not_in_grant_paths, request_unseen, deny_rule, ...). */
    readonly skipped?: string;
    /** inspection_stopped: which budget ran out (reference_budget, time_budget), after how many references. */
    readonly stopped?: string;
    readonly references?: number;
    /** grant_revoked: why (malformed, truncated). */
    readonly revoked?: string;
  };
  /**
   * Sandbox scopes. On a request: the scope it asked for (`X-Leash-Scope`) or the agent has, and, when the scope
   * let it through, the access it used. On `event: scope` records (scope_opened, scope_revoked): the access.
   */
  scope?: {
    readonly name: string;
    /** `header` (X-Leash-Scope) or `agent` (scope: on the agent). */
    readonly via?: 'header' | 'agent';
    /** The request that opened the access. */
    readonly openedBy?: string;
    readonly expiresAt?: string;
    /** scope_full: how many accesses the agent holds open in the scope. */
    readonly open?: number;
    /** scope_revoked: who ended it. */
    readonly by?: string;
  };
  /**
   * Approvals. On a request refused pending_approval or approval_denied, or allowed (reason approved): the approval.
   * On `event: approval` records (approval_requested, approval_decided): the approval and its answer.
   */
  approval?: {
    readonly id: string;
    readonly state: 'pending' | 'allowed' | 'denied';
    readonly grant?: 'once' | 'for' | 'always' | null;
    /** Requests coalesced into it so far. */
    readonly requests?: number;
    readonly expiresAt?: string;
    /** approval_decided: who answered (as the control API was told). */
    readonly by?: string;
    /** --always: the file the rule was written to, and the rule's name. */
    readonly file?: string;
    readonly rule?: string;
  };
  /** Report mode: this grant was recorded; enforce mode would have made it too. */
  wouldGrant?: boolean;
  /** secret_misuse and secret_unavailable: the secret whose placeholder the request carried (never its value). */
  secret?: string;
  /** Intercepted requests: the secrets whose values leash put in on the way upstream (never the values). */
  injected?: string[];
  /** Tunnels: the server name the client's TLS ClientHello asked for. */
  sni?: string | null;
  /**
   * `event: lockdown` records (reason lockdown_on or lockdown_off; agent `*` for every agent): who asked (the OS
   * user on the control socket, `admin-token` over TCP, `SIGUSR1`), the operator's reason, where the state is kept
   * and whether the store took it (false: only this replica obeys it until the store answers).
   */
  lockdown?: { readonly by: string; readonly reason?: string; readonly store: string; readonly stored: boolean };
  /** Policy events: the files and the errors of a rejected reload. */
  files?: string[];
  errors?: string[];
  previousRevision?: string;
}

/**
 * A record with every field present and nothing decided yet (a deny with reason internal_error until someone says
 * otherwise), so a record that is written early still fails closed in what it claims.
 */
export function newRecord(
  id: string,
  event: AuditEvent,
  policyRevision: string,
  fields: Partial<AuditRecord> = {},
): AuditRecord {
  return {
    id,
    event,
    agent: 'anonymous',
    identity: 'none',
    client: null,
    method: null,
    scheme: null,
    host: null,
    port: null,
    path: null,
    effect: 'deny',
    rule: null,
    reason: 'internal_error',
    status: null,
    bytesIn: 0,
    bytesOut: 0,
    durationMs: 0,
    resolved: null,
    policyRevision,
    ...fields,
  };
}
