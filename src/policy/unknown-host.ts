// "A request no rule allows and no deny rule matches": the one definition sandbox scopes and approvals open doors
// with, so they can never disagree about which requests they may let through.
//
// It is the engine's default deny (`no_rule`) and nothing else. A deny rule's match (`denied_by_rule`), an opaque
// tunnel an allow rule would open with CONNECT (`opaque_tunnel`), and a `no_rule` where an allow rule's pattern
// matches the host and port but not this method, path or agent (`hostHasRule`) are all excluded: there the
// operator wrote a rule about this host, and a scope or an approval must never widen what a reviewed rule
// restricts (as a grant never does). Such a host is promoted by editing its rule, not by a sandbox.
// PURE: no I/O, no clock, no module state.

import { decideAmong, isInterceptable, type NormalizedRequest, type PolicyReason } from './evaluate.js';
import { candidateRules } from './host-index.js';
import type { CompiledPolicy } from './policy.js';

export interface DecidedFacts {
  readonly reason: string;
  readonly hostHasRule?: boolean;
  readonly request: NormalizedRequest | null;
}

export function noRuleSpeaks(decision: DecidedFacts): decision is DecidedFacts & { request: NormalizedRequest } {
  return (
    decision.reason === ('no_rule' satisfies PolicyReason) && decision.hostHasRule !== true && decision.request !== null
  );
}

/**
 * A CONNECT to a TLS port that a deny rule limited to methods or paths covers: the engine cannot judge such a rule
 * on the CONNECT (it answers no_rule), so whatever opens the tunnel must open it intercepted, or the deny rule
 * would be passed inside a spliced tunnel.
 */
export function denyLooksInside(policy: CompiledPolicy, request: NormalizedRequest): boolean {
  if (!isInterceptable(policy, request)) return false;
  let inspects = false;
  decideAmong(
    policy,
    request,
    candidateRules(policy.index, policy.rules, request.host, request.hostKind),
    (_rule, how) => {
      if (how === 'inspects') inspects = true;
    },
  );
  return inspects;
}
