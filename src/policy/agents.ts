// The `agents:` section: who may be told apart, and by what. A token source (env:NAME or file:PATH, never the
// secret itself), an OS uid for clients on this machine, source CIDRs for agents in containers or namespaces.
// Agents merge across files; a name, a uid or a token defined twice is an error, since identity must be
// unambiguous.

import { formatLocation, type PolicyIssue } from '../errors.js';
import { compileHostPattern, type HostPattern } from './host-pattern.js';
import type { AgentSpec } from './policy.js';
import { ANONYMOUS_AGENT } from './rule.js';
import { fieldName } from './schema.js';
import type { ParsedYaml } from './yaml.js';

interface RawAgent {
  token?: string;
  uid?: number;
  cidrs?: string[];
  scope?: string;
}

export function collectAgents(files: readonly ParsedYaml[], issues: PolicyIssue[]): Map<string, AgentSpec> {
  const agents = new Map<string, AgentSpec>();
  const uids = new Map<number, AgentSpec>();
  for (const file of files) {
    const raw = (file.value as { agents?: Record<string, RawAgent | null> }).agents ?? {};
    for (const [name, spec] of Object.entries(raw)) {
      const location = file.locate(['agents', name], 'key');
      const fail = (path: (string | number)[], message: string) =>
        issues.push({
          severity: 'error',
          location: file.locate(['agents', name, ...path], path.length ? 'value' : 'key'),
          field: fieldName(['agents', name, ...path]),
          message,
        });
      const first = agents.get(name);
      if (first) {
        fail([], `is defined twice; first at ${formatLocation(first.location)}`);
        continue;
      }
      if (name === ANONYMOUS_AGENT) {
        fail([], `"${ANONYMOUS_AGENT}" is reserved for unidentified clients; rules can name it without defining it`);
        continue;
      }
      const cidrs: Extract<HostPattern, { kind: 'cidr' }>[] = [];
      (spec?.cidrs ?? []).forEach((text, i) => {
        const compiled = compileHostPattern(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`);
        if (!compiled.ok || compiled.pattern.kind !== 'cidr')
          fail(['cidrs', i], compiled.ok ? `"${text}" is not a CIDR` : compiled.message);
        else cidrs.push(compiled.pattern);
      });
      const token = spec?.token
        ? {
            kind: spec.token.startsWith('env:') ? ('env' as const) : ('file' as const),
            ref: spec.token.slice(spec.token.indexOf(':') + 1),
          }
        : null;
      const agent: AgentSpec = Object.freeze({
        name,
        token,
        uid: spec?.uid ?? null,
        cidrs,
        location,
        scope: spec?.scope ?? null,
      });
      if (agent.uid !== null) {
        const other = uids.get(agent.uid);
        if (other)
          fail(['uid'], `uid ${agent.uid} already identifies agent ${other.name} (${formatLocation(other.location)})`);
        else uids.set(agent.uid, agent);
      }
      agents.set(name, agent);
    }
  }
  return agents;
}
