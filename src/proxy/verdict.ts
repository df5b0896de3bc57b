// The proxy's side of a policy decision: asks the pure engine, fails closed around it (a throw is a deny with
// reason internal_error), and applies report mode (allow, but remember that enforce mode would have denied).

import { decide, type NormalizedRequest, type RequestFacts } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { CompiledRule } from '../policy/rule.js';
import type { Reason } from './reasons.js';

export interface Verdict {
  /** What leash enforces. */
  readonly effect: 'allow' | 'deny';
  /** Report mode: the policy denied, leash let it through. */
  readonly wouldDeny: boolean;
  readonly reason: Reason;
  readonly rule: CompiledRule | null;
  readonly message: string;
  readonly request: NormalizedRequest | null;
  /** A tunnel to open with TLS interception. */
  readonly intercept: boolean;
  /** An allow rule speaks about this host and port: grants never apply (see Decision.hostHasRule). */
  readonly hostHasRule?: boolean;
}

export function judge(policy: CompiledPolicy, facts: RequestFacts): Verdict {
  let verdict: Verdict;
  try {
    const d = decide(policy, facts);
    verdict = { effect: d.effect, wouldDeny: false, reason: d.reason, rule: d.rule, message: d.message, request: d.request, intercept: d.intercept === true, ...(d.hostHasRule ? { hostHasRule: true } : {}) };
  } catch (err) {
    verdict = { effect: 'deny', wouldDeny: false, reason: 'internal_error', rule: null, message: `internal error while deciding: ${(err as Error).message}`, request: null, intercept: false };
  }
  return reportMode(policy, verdict);
}

/** In report mode a deny is recorded and not enforced; an internal error still denies, since nothing was decided. */
export function reportMode(policy: CompiledPolicy, verdict: Verdict): Verdict {
  if (policy.settings.mode !== 'report' || verdict.effect === 'allow' || verdict.reason === 'internal_error') return verdict;
  return { ...verdict, effect: 'allow', wouldDeny: true };
}
