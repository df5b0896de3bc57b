// The proxy's side of a policy decision: asks the pure engine and fails closed around it (a throw is a deny with
// reason internal_error). `reportMode` is the one definition of report mode (allow, but remember that enforce mode
// would have denied): the admission pipeline applies it to new requests, `judge` to what a reload revalidates.

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

/** The policy's own answer, failing closed: a throw is a deny with reason internal_error. */
export function decideSafely(policy: CompiledPolicy, facts: RequestFacts): Verdict {
  try {
    const d = decide(policy, facts);
    return {
      effect: d.effect,
      wouldDeny: false,
      reason: d.reason,
      rule: d.rule,
      message: d.message,
      request: d.request,
      intercept: d.intercept === true,
      ...(d.hostHasRule ? { hostHasRule: true } : {}),
    };
  } catch (err) {
    return {
      effect: 'deny',
      wouldDeny: false,
      reason: 'internal_error',
      rule: null,
      message: `internal error while deciding: ${(err as Error).message}`,
      request: null,
      intercept: false,
    };
  }
}

/** The answer leash enforces on what is already open (reload revalidation): report mode applied. */
export function judge(policy: CompiledPolicy, facts: RequestFacts): Verdict {
  return reportMode(policy, decideSafely(policy, facts));
}

/**
 * Refusals report mode records instead of enforcing: what the policy decides (rules, overrides, limits, budgets, the
 * grant store's say, what the tunnel's ClientHello shows). Everything else (identity, malformed or unnormalisable
 * requests, the address guard, DNS, a ClientHello that never came, internal errors) protects the host, not the
 * policy, and is enforced in every mode.
 */
const REPORTABLE: ReadonlySet<Reason> = new Set<Reason>([
  'denied_by_rule',
  'no_rule',
  'opaque_tunnel',
  'method_override',
  'rate_limited',
  'bandwidth',
  'store_unavailable',
  'sni_mismatch',
  'sni_missing',
  'not_tls',
  'scope_full',
  'scope_denied',
  'pending_approval',
  'approval_denied',
  'secret_misuse',
]);

/** Report mode, the one definition: true when `policy` records a refusal for `reason` and lets the request through. */
export function reported(policy: CompiledPolicy, reason: Reason): boolean {
  return policy.settings.mode === 'report' && REPORTABLE.has(reason);
}

/** A verdict as report mode enforces it: a reported deny becomes an allow with wouldDeny. */
export function reportMode(policy: CompiledPolicy, verdict: Verdict): Verdict {
  if (verdict.effect === 'allow' || !reported(policy, verdict.reason)) return verdict;
  return { ...verdict, effect: 'allow', wouldDeny: true };
}
