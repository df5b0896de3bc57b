// Holds an allowed request to its rule's `rateLimit`, and an allowed tunnel to its rule's `connections`, per
// agent. Counted last in admission, once the policy allowed and the address guard passed, and before anything is
// dialled: a throttled request costs the upstream nothing, and a refused one (a private address under a wildcard
// rule) spends no token of the budget it shares with good names. A tunnel whose upstream then refuses the
// connection did take its token: it was a connection attempt. `rateLimit` counts requests, as the README promises: plain HTTP requests one by one
// whatever the keep-alive pattern, and each request inside an intercepted tunnel (a rule with rateLimit on a TLS
// port is intercepted so its requests can be counted), never the CONNECT that carries them. `connections` counts
// tunnels, for operators who mean exactly that.

import { StoreUnavailableError } from '../errors.js';
import type { ProxyState } from './state.js';
import type { Verdict } from './verdict.js';

/** A request over its limit (`rate_limited`), or one whose limit the shared store cannot check (`store_unavailable`). */
export interface Limited {
  readonly reason: 'rate_limited' | 'store_unavailable';
  readonly retryAfterSeconds?: number;
  readonly message: string;
}

export async function overRateLimit(
  state: Pick<ProxyState, 'rateLimits' | 'now'>,
  verdict: Verdict,
): Promise<Limited | undefined> {
  const rule = verdict.rule;
  const request = verdict.request;
  if (verdict.effect !== 'allow' || verdict.wouldDeny || !rule || !request) return undefined;
  const tunnel = request.method === 'CONNECT' && request.path === undefined;
  const rate = tunnel ? rule.connections : rule.rateLimit;
  if (!rate) return undefined;
  const key = tunnel ? `connections\u0000${rule.name}\u0000${request.agent}` : `${rule.name}\u0000${request.agent}`;
  const what = tunnel ? `connection limit of ${rate.text} tunnels` : `rate limit of ${rate.text}`;
  let outcome;
  try {
    outcome = await state.rateLimits.take(key, rate, state.now());
  } catch (err) {
    // Fail closed: a limit that cannot be checked is not a limit that was respected.
    if (!(err instanceof StoreUnavailableError)) throw err;
    return { reason: 'store_unavailable', message: `rule ${rule.name}'s ${what} cannot be checked: ${err.message}` };
  }
  if (outcome.ok) return undefined;
  const retryAfterSeconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
  return {
    reason: 'rate_limited',
    retryAfterSeconds,
    message: `agent ${request.agent} exceeded rule ${rule.name}'s ${what}; retry in ${retryAfterSeconds} s`,
  };
}
