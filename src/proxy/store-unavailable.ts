// What a request becomes when the shared store (--store) cannot say whether a grant lets it through. Fails closed:
// nothing is ever allowed because the store was down. A request no rule allows "needs a grant" only if grants can
// exist: if the policy in force has no `inspect` rule, no grant can be earned under it, so the policy alone decides
// (no_rule) and a Redis outage changes nothing for it. Otherwise the request is refused with store_unavailable
// (503), not no_rule: the agent may well hold a grant, and should retry rather than give up on the host.

import type { StoreUnavailableError } from '../errors.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { Verdict } from './verdict.js';

export function grantUnknown(policy: CompiledPolicy, verdict: Verdict, err: StoreUnavailableError): Verdict {
  if (!policy.rules.some((rule) => rule.inspect.length > 0)) return verdict;
  const request = verdict.request;
  const what = request ? `${request.method} ${request.host}:${request.port}` : 'the request';
  // A policy refusal: report mode (admission.ts) lets it through with wouldDeny, as it does for no_rule.
  return {
    ...verdict,
    effect: 'deny',
    wouldDeny: false,
    reason: 'store_unavailable',
    message: `no rule allows ${what}, and whether a grant does cannot be checked: ${err.message}`,
  };
}
