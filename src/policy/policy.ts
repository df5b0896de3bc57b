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
}

export interface CompiledPolicy {
  readonly revision: string;
  readonly files: readonly string[];
  readonly rules: readonly CompiledRule[];
  readonly settings: PolicySettings;
  readonly agents: ReadonlyMap<string, AgentSpec>;
  /** `secrets:`: where each value lives and where it may go; never the values (read per revision at run time). */
  readonly secrets: ReadonlyMap<string, CompiledSecret>;
  readonly index: HostIndex;
  readonly warnings: readonly PolicyIssue[];
}
