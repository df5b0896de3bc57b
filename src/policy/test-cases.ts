// `leash test`: runs policy test cases (test-file.ts) against a compiled policy. A function from (policy, cases) to
// results, deciding each request exactly as `leash explain` and `leash serve` do (request-line.ts: an https:// URL
// is its CONNECT first), with explain's trace so a failure shows which rules took part and why.
// A case that names an agent or a rule the policy does not have fails, whatever the decision: a typo in a test
// (`agent: reserch`) would otherwise test the unknown agent and pass for the wrong reason.
// PURE: no I/O, no clock, no state between calls.

import type { Decision } from './evaluate.js';
import { explain, type Explanation, type TraceEntry } from './explain.js';
import type { CompiledPolicy } from './policy.js';
import { asServed } from './request-line.js';
import { ANONYMOUS_AGENT } from './rule.js';
import type { PolicyTestCase } from './test-file.js';

export interface DecisionSummary {
  readonly effect: 'allow' | 'deny';
  readonly reason: string;
  readonly rule: string | null;
  /** `file:line` of the rule. */
  readonly at: string | null;
  readonly message: string;
}

export interface CaseResult {
  readonly case: PolicyTestCase;
  readonly passed: boolean;
  /** Failed: what was expected against what the policy decided, or what is wrong with the case. */
  readonly failure?: string;
  /** The failure is about the case itself (an agent or rule the policy lacks), not the decision. */
  readonly caseProblem?: boolean;
  /** What serve does with the request (the request inside the tunnel when it is intercepted). */
  readonly decided: DecisionSummary;
  /** https:// only: the decision on the CONNECT that carries the request. */
  readonly tunnel?: DecisionSummary;
  /** The CONNECT was intercepted, so `decided` is the request inside it, decided on its own. */
  readonly intercepted: boolean;
  /** The rules whose host pattern matches the request, and how each took part. */
  readonly trace: readonly TraceEntry[];
}

export interface TestRun {
  readonly results: readonly CaseResult[];
  readonly passed: number;
  readonly failed: number;
}

export function runPolicyTests(policy: CompiledPolicy, cases: readonly PolicyTestCase[]): TestRun {
  const results = cases.map((c) => runCase(policy, c));
  const passed = results.filter((r) => r.passed).length;
  return { results, passed, failed: results.length - passed };
}

export function runCase(policy: CompiledPolicy, c: PolicyTestCase): CaseResult {
  const served = asServed<Explanation>(c.line, (facts) => explain(policy, facts));
  const decided = summary(served.result.decision);
  const base = {
    case: c,
    decided,
    ...(served.tunnel ? { tunnel: summary(served.tunnel.decision) } : {}),
    intercepted: served.intercepted,
    trace: served.result.trace.filter((t) => t.how !== 'host'),
  };
  const problem = caseProblem(policy, c);
  if (problem) return { ...base, passed: false, failure: problem, caseProblem: true };
  const mismatch =
    c.expect !== decided.effect ||
    (c.rule !== undefined && c.rule !== decided.rule) ||
    (c.reason !== undefined && c.reason !== decided.reason);
  if (!mismatch) return { ...base, passed: true };
  return { ...base, passed: false, failure: `expected ${describeExpectation(c)}, got ${describeDecision(decided)}` };
}

function caseProblem(policy: CompiledPolicy, c: PolicyTestCase): string | undefined {
  if (c.agent !== undefined && c.agent !== ANONYMOUS_AGENT && !policy.agents.has(c.agent)) {
    return `agent "${c.agent}" is not defined in the policy (defined: ${[...policy.agents.keys(), ANONYMOUS_AGENT].join(', ')})`;
  }
  if (c.rule !== undefined && !policy.rules.some((r) => r.name === c.rule))
    return `the policy has no rule named "${c.rule}"`;
  return undefined;
}

function summary(decision: Decision): DecisionSummary {
  const rule = decision.rule;
  return {
    effect: decision.effect,
    reason: decision.reason,
    rule: rule?.name ?? null,
    at: rule ? `${rule.location.file}:${rule.location.line}` : null,
    message: decision.message,
  };
}

export function describeExpectation(c: PolicyTestCase): string {
  const parts = [c.rule !== undefined ? `rule ${c.rule}` : '', c.reason ?? ''].filter((p) => p !== '');
  return parts.length > 0 ? `${c.expect} (${parts.join(', ')})` : c.expect;
}

export function describeDecision(d: DecisionSummary): string {
  return `${d.effect} (${d.rule !== null ? `rule ${d.rule} at ${d.at}, ` : ''}${d.reason})`;
}

/** A case's name in reports: its own, or the request, the agent and the expectation. */
export function caseName(c: PolicyTestCase): string {
  return c.name ?? `${c.request}${c.agent !== undefined ? ` as ${c.agent}` : ''} -> ${describeExpectation(c)}`;
}
