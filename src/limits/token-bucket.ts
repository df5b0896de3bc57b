// Token bucket for `rateLimit: N/WINDOW`: a full bucket holds N tokens and refills at N per WINDOW, so an agent
// may burst up to N requests at once and then sustain N per WINDOW. PURE: the time is a parameter.

import type { Rate } from '../policy/duration.js';

const EPSILON = 1e-9;

export interface Bucket {
  readonly tokens: number;
  readonly updatedMs: number;
}

export interface TakeResult {
  readonly bucket: Bucket;
  readonly ok: boolean;
  /** When refused: how long until one token is back. */
  readonly retryAfterMs: number;
}

/** Takes `cost` tokens (1 per request for rate limits, the byte count for bandwidth budgets). */
export function takeToken(bucket: Bucket | undefined, rate: Rate, nowMs: number, cost = 1): TakeResult {
  // Multiply before dividing and allow for rounding, so 1/1h is refilled after exactly 3,600,000 ms.
  const elapsed = bucket ? Math.max(0, nowMs - bucket.updatedMs) : 0;
  const tokens = bucket ? Math.min(rate.limit, bucket.tokens + (elapsed * rate.limit) / rate.windowMs) : rate.limit;
  if (tokens >= cost - EPSILON)
    return { bucket: { tokens: Math.max(0, tokens - cost), updatedMs: nowMs }, ok: true, retryAfterMs: 0 };
  return {
    bucket: { tokens, updatedMs: nowMs },
    ok: false,
    retryAfterMs: Math.ceil(((cost - tokens) * rate.windowMs) / rate.limit - EPSILON),
  };
}
