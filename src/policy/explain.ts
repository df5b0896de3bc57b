// `leash explain`: the decision for one request together with the reasoning, rule by rule. It walks the rules in
// order without the index, so it doubles as the reference the indexed matcher is tested against.

import { decide, describeRequest, hostMatches, interceptDecision, isInterceptable, mismatch, needsInterception, noRule, normalizeRequest, ruleDecision, type Decision, type RequestFacts } from './evaluate.js';
import type { CompiledPolicy } from './policy.js';
import type { CompiledRule } from './rule.js';

export interface TraceEntry {
  readonly rule: string;
  readonly at: string;
  readonly effect: 'allow' | 'deny';
  readonly matched: boolean;
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
  const trace: TraceEntry[] = [];
  let omitted = 0;
  let decision: Decision | undefined;
  const tunnel = isInterceptable(policy, request);
  for (const rule of policy.rules) {
    const entry = (matched: boolean, why: string): TraceEntry => ({ rule: rule.name, at: `${rule.location.file}:${rule.location.line}`, effect: rule.effect, matched, why });
    if (!hostMatches(rule.pattern, request.host, request.hostKind)) {
      if (policy.rules.length <= TRACE_ALL_LIMIT) trace.push(entry(false, `host ${request.host} does not match ${rule.pattern.text}`));
      else omitted++;
      continue;
    }
    const why = mismatch(rule, request, tunnel);
    if (why !== undefined) {
      trace.push(entry(false, why));
      continue;
    }
    if (tunnel && needsInterception(rule)) {
      trace.push(entry(true, `${describeRequest(request)} matches ${describeRule(rule)}, which looks inside requests: the tunnel is intercepted and each request in it is decided on its own`));
      decision = interceptDecision(policy, rule, request);
      break;
    }
    trace.push(entry(true, `${describeRequest(request)} matches ${describeRule(rule)}; the first match decides`));
    decision = ruleDecision(policy, rule, request);
    break;
  }
  return { decision: decision ?? noRule(policy, request), trace, omitted };
}

function describeRule(rule: CompiledRule): string {
  const parts = [`domain ${rule.pattern.text}`, `ports ${rule.ports === 'any' ? '*' : `[${[...rule.ports].join(', ')}]`}`];
  if (rule.methods) parts.push(`methods [${[...rule.methods].join(', ')}]`);
  if (rule.paths) parts.push(`paths [${rule.paths.map((p) => p.text).join(', ')}]`);
  if (rule.agents) parts.push(`agents [${[...rule.agents].join(', ')}]`);
  return parts.join(', ');
}
