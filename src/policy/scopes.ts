// The `scopes:` section and `settings.approvals`: the two ways a request no rule allows and no deny rule matches
// can still go through, each checked here at load so that what the operator wrote is what leash does. A scope
// names the agents that may activate it, and an agent's `scope:` must name a scope that lists it: leash never
// lets an agent into a sandbox the scope itself does not grant it. `anonymous` cannot be given a scope (any
// unidentified client could then open hosts). Scopes merge across files like agents; a name defined twice is an
// error naming both places.
// PURE: no I/O, no clock, no module state.

import { formatLocation, type PolicyIssue, type SourceLocation } from '../errors.js';
import { parseDuration } from './duration.js';
import type { AgentSpec, ApprovalSettings, ScopeSpec } from './policy.js';
import { ANONYMOUS_AGENT } from './rule.js';
import { fieldName } from './schema.js';
import type { ParsedYaml } from './yaml.js';

export const SCOPE_DEFAULTS = { maxHosts: 50, ports: [443] } as const;
/** A scope's ttl: from 1 s to 30 days (an access that outlives a month is a rule someone should review). */
export const SCOPE_TTL_MAX_MS = 720 * 3_600_000;
export const APPROVAL_DEFAULTS = { wait: '0s', expire: '1h' } as const;
/** How long leash may hold a request waiting for an approval: a client or a load balancer gives up long before. */
export const APPROVAL_WAIT_MAX_MS = 10 * 60_000;

interface RawScope {
  agents: string[];
  ttl: string;
  maxHosts?: number;
  ports?: number[];
}

export function collectScopes(
  files: readonly ParsedYaml[],
  agents: ReadonlyMap<string, AgentSpec>,
  issues: PolicyIssue[],
): Map<string, ScopeSpec> {
  const scopes = new Map<string, ScopeSpec>();
  for (const file of files) {
    const raw = (file.value as { scopes?: Record<string, RawScope> }).scopes ?? {};
    for (const [name, spec] of Object.entries(raw)) {
      const before = issues.length;
      const fail = (path: (string | number)[], message: string) =>
        issues.push({
          severity: 'error',
          location: file.locate(['scopes', name, ...path], path.length ? 'value' : 'key'),
          field: fieldName(['scopes', name, ...path]),
          message,
        });
      const location = file.locate(['scopes', name], 'key');
      const first = scopes.get(name);
      if (first) {
        fail([], `is defined twice; first at ${formatLocation(first.location)}`);
        continue;
      }
      spec.agents.forEach((agent, i) => {
        if (agent === ANONYMOUS_AGENT)
          fail(
            ['agents', i],
            `"${ANONYMOUS_AGENT}" cannot activate a scope: any unidentified client could then open hosts; name identified agents`,
          );
        else if (!agents.has(agent))
          fail(
            ['agents', i],
            `"${agent}" is not a defined agent; defined: ${[...agents.keys()].join(', ') || '(none)'}`,
          );
      });
      const ttlMs = parseDuration(spec.ttl);
      if (ttlMs === undefined || ttlMs < 1000 || ttlMs > SCOPE_TTL_MAX_MS)
        fail(['ttl'], `"${spec.ttl}" is not allowed; allowed: a duration from 1s to 720h (30 days)`);
      const ports = new Set(spec.ports ?? SCOPE_DEFAULTS.ports);
      if (spec.ports && ports.size !== spec.ports.length) fail(['ports'], 'lists a port twice');
      if (issues.length > before) continue;
      scopes.set(
        name,
        Object.freeze({
          name,
          agents: new Set(spec.agents),
          ttlMs: ttlMs as number,
          maxHosts: spec.maxHosts ?? SCOPE_DEFAULTS.maxHosts,
          ports,
          location,
        }),
      );
    }
  }
  return scopes;
}

/** An agent's `scope:` names a defined scope that lists the agent. */
export function checkAgentScopes(
  files: readonly ParsedYaml[],
  agents: ReadonlyMap<string, AgentSpec>,
  scopes: ReadonlyMap<string, ScopeSpec>,
  definedScopes: ReadonlySet<string>,
  issues: PolicyIssue[],
): void {
  for (const agent of agents.values()) {
    if (agent.scope === null) continue;
    const file = files.find((f) => f.file === agent.location.file);
    const path = ['agents', agent.name, 'scope'];
    const location = file?.locate(path) ?? agent.location;
    const fail = (message: string) => issues.push({ severity: 'error', location, field: fieldName(path), message });
    const scope = scopes.get(agent.scope);
    if (!definedScopes.has(agent.scope))
      fail(`"${agent.scope}" is not a defined scope; defined: ${[...definedScopes].join(', ') || '(none)'}`);
    // A scope that failed its own checks is reported there; only a valid one is checked for membership.
    else if (scope && !scope.agents.has(agent.name))
      fail(
        `scope ${agent.scope} (${formatLocation(scope.location)}) does not list agent ${agent.name} in its agents; add it there, or remove scope: from the agent`,
      );
  }
}

/** Every scope name written in any file, valid or not, so an agent naming a broken scope is not told it is undefined. */
export function scopeNames(files: readonly ParsedYaml[]): Set<string> {
  const names = new Set<string>();
  for (const file of files)
    for (const name of Object.keys((file.value as { scopes?: object }).scopes ?? {})) names.add(name);
  return names;
}

interface SettingsLeaf {
  readonly value: unknown;
  readonly location: SourceLocation;
}

/** `settings.approvals` from the merged settings leaves, or null when it is not set. */
export function resolveApprovals(
  leaves: ReadonlyMap<string, SettingsLeaf>,
  agents: ReadonlyMap<string, AgentSpec>,
  issues: PolicyIssue[],
): ApprovalSettings | null {
  const agentsLeaf = leaves.get('settings.approvals.agents');
  const waitLeaf = leaves.get('settings.approvals.wait');
  const expireLeaf = leaves.get('settings.approvals.expire');
  if (!agentsLeaf) return null;
  const before = issues.length;
  const fail = (leaf: SettingsLeaf, field: string, message: string) =>
    issues.push({ severity: 'error', location: leaf.location, field, message });
  const names = agentsLeaf.value as string[];
  names.forEach((name, i) => {
    if (name !== ANONYMOUS_AGENT && !agents.has(name))
      fail(
        agentsLeaf,
        `settings.approvals.agents[${i}]`,
        `"${name}" is not a defined agent; defined: ${[...agents.keys(), ANONYMOUS_AGENT].join(', ')}`,
      );
  });
  const waitText = (waitLeaf?.value as string | undefined) ?? APPROVAL_DEFAULTS.wait;
  const expireText = (expireLeaf?.value as string | undefined) ?? APPROVAL_DEFAULTS.expire;
  const waitMs = parseDuration(waitText);
  const expireMs = parseDuration(expireText);
  if (waitLeaf && (waitMs === undefined || waitMs > APPROVAL_WAIT_MAX_MS))
    fail(
      waitLeaf,
      'settings.approvals.wait',
      `"${waitText}" is not allowed; allowed: a duration from 0s to 10m (leash holds the request that long)`,
    );
  if (expireLeaf && (expireMs === undefined || expireMs < 1000 || expireMs > SCOPE_TTL_MAX_MS))
    fail(
      expireLeaf,
      'settings.approvals.expire',
      `"${expireText}" is not allowed; allowed: a duration from 1s to 720h`,
    );
  if (issues.length === before && waitMs !== undefined && expireMs !== undefined && waitMs >= expireMs) {
    fail(
      waitLeaf ?? agentsLeaf,
      'settings.approvals.wait',
      `${waitText} is not shorter than settings.approvals.expire (${expireText}): a held request would outlive its approval`,
    );
  }
  if (issues.length > before) return null;
  return Object.freeze({ agents: new Set(names), waitMs: waitMs as number, expireMs: expireMs as number });
}
