// The compiled policy: the only shape evaluation ever sees. Frozen, stamped with a revision hash that every audit
// record names, so a reviewer can tell which policy made each decision.

import type { PolicyIssue, SourceLocation } from '../errors.js';
import type { HostIndex } from './host-index.js';
import type { HostPattern } from './host-pattern.js';
import type { CompiledRule } from './rule.js';
import type { PolicySettings } from './settings.js';
import type { CompiledSecret } from '../secrets/spec.js';

export interface AgentSpec {
  readonly name: string;
  readonly token: { readonly kind: 'env' | 'file'; readonly ref: string } | null;
  readonly uid: number | null;
  readonly cidrs: readonly Extract<HostPattern, { kind: 'cidr' }>[];
  readonly location: SourceLocation;
  /** A sandbox scope active on every request of this agent (`scope:`), or null. */
  readonly scope: string | null;
}

/**
 * A sandbox scope (`scopes:`): the agents that may activate it, how long each access it opens lasts, how many
 * (host, port) accesses one agent may hold open in it, and the ports it may open.
 */
export interface ScopeSpec {
  readonly name: string;
  readonly agents: ReadonlySet<string>;
  readonly ttlMs: number;
  readonly maxHosts: number;
  readonly ports: ReadonlySet<number>;
  readonly location: SourceLocation;
}

/** `settings.approvals`: whose unknown requests wait for a human, how long leash holds them, how long they are kept. */
export interface ApprovalSettings {
  readonly agents: ReadonlySet<string>;
  readonly waitMs: number;
  readonly expireMs: number;
}

export interface CompiledPolicy {
  readonly revision: string;
  readonly files: readonly string[];
  readonly rules: readonly CompiledRule[];
  readonly settings: PolicySettings;
  readonly agents: ReadonlyMap<string, AgentSpec>;
  /** `secrets:`: where each value lives and where it may go; never the values (read per revision at run time). */
  readonly secrets: ReadonlyMap<string, CompiledSecret>;
  readonly scopes: ReadonlyMap<string, ScopeSpec>;
  /** `settings.approvals`, or null when no agent's requests wait for approval. */
  readonly approvals: ApprovalSettings | null;
  readonly index: HostIndex;
  readonly warnings: readonly PolicyIssue[];
}
