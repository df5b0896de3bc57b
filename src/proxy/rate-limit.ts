// Holds an allowed request to its rule's `rateLimit`, per agent. Counted after the policy allowed the request
// and before anything is resolved or dialled, so a throttled request costs the upstream nothing. A plain CONNECT
// tunnel counts once.

import type { ProxyState } from './state.js';
import type { Verdict } from './verdict.js';

export async function overRateLimit(state: ProxyState, verdict: Verdict): Promise<{ retryAfterSeconds: number; message: string } | undefined> {
  const rule = verdict.rule;
  if (verdict.effect !== 'allow' || verdict.wouldDeny || !rule?.rateLimit || !verdict.request) return undefined;
  const outcome = await state.rateLimits.take(`${rule.name}\u0000${verdict.request.agent}`, rule.rateLimit, state.now());
  if (outcome.ok) return undefined;
  const retryAfterSeconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
  return { retryAfterSeconds, message: `agent ${verdict.request.agent} exceeded rule ${rule.name}'s rate limit of ${rule.rateLimit.text}; retry in ${retryAfterSeconds} s` };
}
