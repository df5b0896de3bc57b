// A promise leash could not keep is refused at load: leash can put a secret only into requests it reads, so every
// tunnel to a secret's host must be intercepted. If a rule would let an agent open a tunnel to one of those hosts
// that leash splices (the rule decides on host and port only) or cannot see into (an opaque CONNECT on a port
// outside settings.tlsPorts), requests in it would carry only the placeholder, and the agent would learn nothing
// works: the policy is refused with the secret's file:line and how to fix the rule. Found by asking the decision
// itself (decide) what a CONNECT to each host, port and agent would get, so the check and enforcement agree.
// Plain HTTP to a secret's host is not a load error: the rule may serve other traffic; a placeholder sent that way
// is refused at run time (secret_misuse), since leash never sends a secret in clear text.
// PURE: no I/O, no clock, no state.

import { formatLocation, type PolicyIssue } from '../errors.js';
import { decide, hostMatches } from '../policy/evaluate.js';
import { normalizeHost } from '../policy/host.js';
import type { CompiledPolicy } from '../policy/policy.js';
import { ANONYMOUS_AGENT } from '../policy/rule.js';
import type { CompiledSecret, SecretHost } from './spec.js';

export function secretsOutsideInterception(
  policy: CompiledPolicy,
  secrets: ReadonlyMap<string, CompiledSecret>,
): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  const agents = [...policy.agents.keys(), ANONYMOUS_AGENT];
  for (const secret of secrets.values()) {
    secret.hosts.forEach((host, i) => {
      const problem = firstSplicedTunnel(policy, host, agents);
      if (!problem) return;
      issues.push({
        severity: 'error',
        location: host.location,
        field: `secrets.${secret.name}.hosts[${i}]`,
        message: `leash cannot put secret ${secret.name} into requests to ${problem.host}:${problem.port}: ${problem.why}`,
      });
    });
  }
  return issues;
}

interface Spliced {
  readonly host: string;
  readonly port: number;
  readonly why: string;
}

function firstSplicedTunnel(
  policy: CompiledPolicy,
  secretHost: SecretHost,
  agents: readonly string[],
): Spliced | undefined {
  for (const host of hostsToTry(policy, secretHost)) {
    for (const port of portsToTry(policy, host)) {
      for (const agent of agents) {
        const d = decide(policy, { method: 'CONNECT', host, port, agent });
        if (d.effect !== 'allow' || d.intercept) continue;
        const rule = d.rule;
        const named = rule ? `rule ${rule.name} (${formatLocation(rule.location)})` : 'a rule';
        const forAgent = agents.length > 1 ? ` for agent ${agent}` : '';
        const why = policy.settings.tlsPorts.has(port)
          ? `${named} allows its tunnels${forAgent} without looking inside, so leash splices them and never sees a request; make the rule look inside requests (list its methods, e.g. methods: [GET, POST], or give it a rateLimit) so leash intercepts them`
          : `${named} allows opaque CONNECT tunnels to port ${port}${forAgent}, which leash cannot see into; remove CONNECT from its methods, or add the port to settings.tlsPorts if it carries TLS`;
        return { host, port, why };
      }
    }
  }
  return undefined;
}

/** The exact host, or for a wildcard one name under it plus every exact host a rule names under it. */
function hostsToTry(policy: CompiledPolicy, secretHost: SecretHost): string[] {
  const pattern = secretHost.pattern;
  if (pattern.kind === 'exact') return [pattern.host];
  const named = policy.rules
    .map((rule) => rule.pattern)
    .filter((p) => p.kind === 'exact' && hostMatches(pattern, p.host, p.hostKind))
    .map((p) => (p as Extract<typeof p, { kind: 'exact' }>).host);
  return [`leash-secret-check.${pattern.suffix}`, ...new Set(named)];
}

/**
 * settings.tlsPorts, every port a rule for this host names (80 and 443 by default), and for a rule on any port one
 * port outside settings.tlsPorts, where a CONNECT is opaque.
 */
function portsToTry(policy: CompiledPolicy, host: string): number[] {
  const tls = policy.settings.tlsPorts;
  const ports = new Set(tls);
  const normalized = normalizeHost(host);
  if (!normalized.ok) return [...ports];
  for (const rule of policy.rules) {
    if (!hostMatches(rule.pattern, normalized.host, normalized.kind)) continue;
    if (rule.ports !== 'any') for (const port of rule.ports) ports.add(port);
    else
      for (let port = 1; port <= 65535; port++)
        if (!tls.has(port)) {
          ports.add(port);
          break;
        }
  }
  return [...ports].sort((a, b) => a - b);
}
