// Warnings that do not stop a policy from loading but usually mean the author misread it: an allow rule that can
// never allow anything because a deny rule covers it (deny rules win whatever their order), a rule that can never
// decide because an equally specific rule before it always matches first, and an `inspect` rule that does not
// narrow the hosts it may grant.

import { formatLocation, type PolicyIssue } from '../errors.js';
import { patternCovers, specificity } from './host-pattern.js';
import type { HostIndex } from './host-index.js';
import type { CompiledRule } from './rule.js';

export function lintRules(rules: readonly CompiledRule[], index: HostIndex): PolicyIssue[] {
  const warnings: PolicyIssue[] = [];
  for (const rule of rules) {
    if (rule.inspect.length > 0 && rule.effect === 'allow' && !rule.grantNarrowing?.hosts) {
      warnings.push({
        severity: 'warning',
        location: rule.location,
        field: `rules (${rule.name}).inspect`,
        message:
          'no inspect.grant.hosts: it will grant any host its responses name; list the hosts it may grant, e.g. inspect: { types: [json], grant: { hosts: ["*.cdn.example"] } }',
      });
    }
    const covering = coveringRules(rule, rules, index).filter((other) => other !== rule && covers(other, rule));
    const deny = rule.effect === 'allow' ? covering.find((other) => other.effect === 'deny') : undefined;
    const shadow =
      deny ??
      covering.find(
        (other) =>
          other.index < rule.index &&
          other.effect === rule.effect &&
          specificity(other.pattern) === specificity(rule.pattern),
      );
    if (!shadow) continue;
    const message = deny
      ? `never allows anything: deny rule ${deny.name} (${formatLocation(deny.location)}) covers every request this rule would allow, and deny rules always win`
      : `never matches: rule ${shadow.name} (${formatLocation(shadow.location)}) comes first and matches every request this rule would`;
    warnings.push({ severity: 'warning', location: rule.location, field: `rules (${rule.name})`, message });
  }
  return warnings;
}

/** Rules whose host pattern could cover this rule's, found through the index rather than a scan. */
function coveringRules(rule: CompiledRule, rules: readonly CompiledRule[], index: HostIndex): CompiledRule[] {
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
  return [...new Set(out)].sort((a, b) => a - b).map((i) => rules[i] as CompiledRule);
}

function suffixHits(host: string, index: HostIndex): number[] {
  const hits: number[] = [];
  for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1))
    hits.push(...(index.wildcard.get(host.slice(dot + 1)) ?? []));
  return hits;
}

/** Does `outer` match every request `inner` matches? */
function covers(outer: CompiledRule, inner: CompiledRule): boolean {
  if (!patternCovers(outer.pattern, inner.pattern)) return false;
  if (
    outer.ports !== 'any' &&
    (inner.ports === 'any' || ![...inner.ports].every((p) => (outer.ports as ReadonlySet<number>).has(p)))
  )
    return false;
  if (outer.methods && (!inner.methods || ![...inner.methods].every((m) => outer.methods?.has(m)))) return false;
  if (outer.agents && (!inner.agents || ![...inner.agents].every((a) => outer.agents?.has(a)))) return false;
  if (outer.paths && (!inner.paths || !inner.paths.every((p) => outer.paths?.some((o) => o.text === p.text))))
    return false;
  return true;
}
