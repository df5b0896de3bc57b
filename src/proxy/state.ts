// What the request handlers share: the policy in force (swapped whole on reload, so a request keeps the policy
// it started under), the audit log, the forwarding machinery, and the set of exchanges still open.

import type http from 'node:http';
import type HttpProxy from 'http-proxy';
import type { AuditLog } from '../audit/logger.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { GrantStore } from '../grants/store.js';
import type { ApprovalStore } from '../approvals/store.js';
import type { ScopeStore } from '../scopes/store.js';
import type { RateLimitStore } from '../limits/store.js';
import type { Interceptor } from './intercept-server.js';
import type { Exchange } from './exchange.js';
import type { PolicyRuntimes } from './policy-runtime.js';
import type { KeepAliveConnections } from './keep-alive.js';
import type { RecentRequests } from '../grants/recent.js';
import type { LockdownView } from '../lockdown/step.js';
import type { SocketOwners } from './socket-owner.js';

export interface ProxyState {
  policy: CompiledPolicy;
  readonly audit: AuditLog;
  readonly open: Set<Exchange>;
  readonly httpProxy: HttpProxy;
  readonly upstreamAgent: http.Agent;
  /** What agents sent inspected APIs lately, so a stored echo cannot be granted (grants/recent.ts). */
  readonly recentRequests: RecentRequests;
  /** Plain-HTTP connections between requests, so a reload can close those it denies. */
  readonly keepAlive: KeepAliveConnections;
  /** What each policy revision in use needs (tokens, resolver, HTTPS agent), built on swap, retired after. */
  readonly runtimes: PolicyRuntimes;
  /** Which local user owns each agent connection (agents identified by uid). */
  readonly socketOwners: SocketOwners;
  draining: boolean;
  /** The lockdown in force (leash lockdown, SIGUSR1); undefined: nothing is locked down. */
  readonly lockdown: LockdownView | undefined;
  readonly rateLimits: RateLimitStore;
  /** Hosts trusted responses referenced, per agent, for a short while. */
  readonly grants: GrantStore;
  /** Sandbox-scope accesses (scopes/) and approvals (approvals/), shared by replicas with --store. */
  readonly scopes: ScopeStore;
  readonly approvals: ApprovalStore;
  /** The clock for rate limits; injected so tests can control time. */
  readonly now: () => number;
  /** TLS interception, set up on first use (the CA is created then if there is none). */
  readonly interceptor: () => Promise<Interceptor>;
}
