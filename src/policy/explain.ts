// `leash explain`: the decision for one request together with the reasoning, rule by rule. It runs the very
// function `decide` runs (decideAmong), over candidates found by scanning every rule instead of the index, so it
// doubles as the reference the indexed matcher is tested against and cannot disagree with enforcement.

import {
  decide,
  decideAmong,
  hostMatches,
  normalizeRequest,
  type Consideration,
  type Decision,
  type RequestFacts,
} from './evaluate.js';
import type { CompiledPolicy } from './policy.js';
import type { CompiledRule } from './rule.js';

export interface TraceEntry {
  readonly rule: string;
  readonly at: string;
  readonly effect: 'allow' | 'deny';
  readonly matched: boolean;
  /** How the rule took part: it decided (matched), did not apply (skipped), lost to a more specific allow rule
   * (outranked), makes leash look inside the tunnel (inspects), or its host does not match (host). */
  readonly how: Consideration | 'host';
  readonly why: string;
}

export interface Explanation {
  readonly decision: Decision;
  readonly trace: readonly TraceEntry[];
  /** Rules left out of the trace because their host pattern cannot match (only for policies over TRACE_ALL_LIMIT rules). */
  readonly omitted: number;
}

/** Up to this many rules, the trace lists every rule considered, including those whose host does not match. */
export const TRACE_ALL_LIMIT = 200;

export function explain(policy: CompiledPolicy, facts: RequestFacts): Explanation {
  const request = normalizeRequest(facts);
  if ('error' in request) return { decision: decide(policy, facts), trace: [], omitted: 0 };
  const entries = new Map<number, TraceEntry>();
  const entry = (rule: CompiledRule, how: Consideration | 'host', why: string): TraceEntry => ({
    rule: rule.name,
    at: `${rule.location.file}:${rule.location.line}`,
    effect: rule.effect,
    matched: how === 'matched' || how === 'inspects',
    how,
    why,
  });
  let omitted = 0;
  const candidates: number[] = [];
  for (const rule of policy.rules) {
    if (hostMatches(rule.pattern, request.host, request.hostKind)) candidates.push(rule.index);
    else if (policy.rules.length <= TRACE_ALL_LIMIT)
      entries.set(rule.index, entry(rule, 'host', `host ${request.host} does not match ${rule.pattern.text}`));
    else omitted++;
  }
  const decision = decideAmong(policy, request, candidates, (rule, how, why) =>
    entries.set(rule.index, entry(rule, how, `${why}${how === 'matched' ? `; ${describeRule(rule)}` : ''}`)),
  );
  // In rule order, whatever order precedence considered them in.
  const trace = [...entries.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e);
  return { decision, trace, omitted };
}

function describeRule(rule: CompiledRule): string {
  const parts = [
    `domain ${rule.pattern.text}`,
    `ports ${rule.ports === 'any' ? '*' : `[${[...rule.ports].join(', ')}]`}`,
  ];
  if (rule.methods) parts.push(`methods [${[...rule.methods].join(', ')}]`);
  if (rule.paths) parts.push(`paths [${rule.paths.map((p) => p.text).join(', ')}]`);
  if (rule.agents) parts.push(`agents [${[...rule.agents].join(', ')}]`);
  return parts.join(', ');
}
