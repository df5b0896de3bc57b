// What a valid policy will do that its author may not have in mind: notes `leash check` prints beside errors and
// warnings, never blocking a load. Today: how each rate limit is counted, since `rateLimit` on a TLS port makes
// leash intercept (agents must trust its CA) and `connections` counts tunnels, not requests; and where each
// secret's value goes (never the value). PURE.

import { formatLocation } from '../errors.js';
import type { CompiledPolicy } from './policy.js';

export function policyNotes(policy: CompiledPolicy): string[] {
  const notes: string[] = [];
  const tls = policy.settings.tlsPorts;
  for (const rule of policy.rules) {
    const at = `${formatLocation(rule.location)}: note: rules (${rule.name})`;
    const tlsPorts = rule.ports === 'any' ? [...tls] : [...rule.ports].filter((p) => tls.has(p));
    if (rule.rateLimit) {
      const how =
        tlsPorts.length > 0
          ? `; on TLS port${tlsPorts.length === 1 ? '' : 's'} ${tlsPorts.join(', ')} its tunnels are intercepted so each request inside is counted (agents must trust leash's CA), and the CONNECT takes no token`
          : '';
      notes.push(
        `${at}: rateLimit ${rule.rateLimit.text} counts requests per agent${how}. To limit tunnels without interception, use connections: N/WINDOW instead`,
      );
    }
    if (rule.connections) {
      notes.push(
        `${at}: connections ${rule.connections.text} counts tunnels (CONNECTs) per agent, not the requests inside them; plain HTTP requests are not limited by it`,
      );
    }
  }
  for (const secret of policy.secrets.values()) {
    const where =
      secret.target.kind === 'header'
        ? `header ${secret.target.name}${secret.target.format ? ` (as "${secret.target.format}")` : ''}`
        : secret.target.kind === 'query'
          ? `query parameter ${secret.target.name}`
          : 'whichever header carries its placeholder';
    notes.push(
      `${formatLocation(secret.location)}: note: secrets (${secret.name}): its value (from ${secret.source.kind}:${secret.source.ref}) goes into ${where} on intercepted requests to ${secret.hosts.map((h) => h.pattern.text).join(', ')}; the agent holds a placeholder (leash secrets placeholder ${secret.name}), refused anywhere else`,
    );
  }
  return notes;
}
