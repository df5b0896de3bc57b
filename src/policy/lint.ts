// Warnings that do not stop a policy from loading but usually mean the author misread it: a rule that can never
// match because an earlier rule always matches first, in particular an allow rule after a catch-all deny; and an
// `inspect` rule that does not narrow the hosts it may grant.

import { formatLocation, type PolicyIssue } from '../errors.js';
import { patternCovers } from './host-pattern.js';
import type { HostIndex } from './host-index.js';
import type { CompiledRule } from './rule.js';

export function lintRules(rules: readonly CompiledRule[], index: HostIndex): PolicyIssue[] {
  const warnings: PolicyIssue[] = [];
  for (const rule of rules) {
    if (rule.inspect.length > 0 && !rule.grantNarrowing?.hosts) {
      warnings.push({
        severity: 'warning',
        location: rule.location,
        field: `rules (${rule.name}).inspect`,
        message: 'no inspect.grant.hosts: it will grant any host its responses name; list the hosts it may grant, e.g. inspect: { types: [json], grant: { hosts: ["*.cdn.example"] } }',
      });
    }
    const shadow = earlierCoveringRules(rule, rules, index).find((earlier) => covers(earlier, rule));
    if (!shadow) continue;
    const catchAllDeny = shadow.effect === 'deny' && shadow.pattern.kind === 'any' && rule.effect === 'allow';
    const message = catchAllDeny
      ? `this allow rule comes after the catch-all deny rule ${shadow.name} (${formatLocation(shadow.location)}), which matches first; move it above`
      : `never matches: rule ${shadow.name} (${formatLocation(shadow.location)}) comes first and matches every request this rule would`;
    warnings.push({ severity: 'warning', location: rule.location, field: `rules (${rule.name})`, message });
  }
  return warnings;
}

/** Earlier rules whose host pattern could cover this rule's, found through the index rather than a scan. */
function earlierCoveringRules(rule: CompiledRule, rules: readonly CompiledRule[], index: HostIndex): CompiledRule[] {
  const out: number[] = [...index.any];
  const p = rule.pattern;
  if (p.kind === 'exact') {
    out.push(...(index.exact.get(p.host) ?? []));
    if (p.hostKind === 'name') out.push(...suffixHits(p.host, index));
    else out.push(...index.cidr);
  } else if (p.kind === 'wildcard') {
    out.push(...(index.wildcard.get(p.suffix) ?? []), ...suffixHits(p.suffix, index));
  } else if (p.kind === 'cidr') {
    out.push(...index.cidr);
  }
  return out.filter((i) => i < rule.index).sort((a, b) => a - b).map((i) => rules[i] as CompiledRule);
}

function suffixHits(host: string, index: HostIndex): number[] {
  const hits: number[] = [];
  for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) hits.push(...(index.wildcard.get(host.slice(dot + 1)) ?? []));
  return hits;
}

/** Does `outer` match every request `inner` matches? */
function covers(outer: CompiledRule, inner: CompiledRule): boolean {
  if (!patternCovers(outer.pattern, inner.pattern)) return false;
  if (outer.ports !== 'any' && (inner.ports === 'any' || ![...inner.ports].every((p) => (outer.ports as ReadonlySet<number>).has(p)))) return false;
  if (outer.methods && (!inner.methods || ![...inner.methods].every((m) => outer.methods?.has(m)))) return false;
  if (outer.agents && (!inner.agents || ![...inner.agents].every((a) => outer.agents?.has(a)))) return false;
  if (outer.paths && (!inner.paths || !inner.paths.every((p) => outer.paths?.some((o) => o.text === p.text)))) return false;
  return true;
}
