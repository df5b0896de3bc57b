// Where rate-limit counters live. A contract so a shared store (Redis) can replace the in-memory one for several
// leash instances; every store must pass the same contract tests.

import type { Rate } from '../policy/duration.js';

export interface RateOutcome {
  readonly ok: boolean;
  readonly retryAfterMs: number;
}

export interface RateLimitStore {
  /** Takes `cost` (default 1 request; bytes for bandwidth budgets) from `key`'s budget at time `nowMs`. */
  take(key: string, rate: Rate, nowMs: number, cost?: number): Promise<RateOutcome>;
}
