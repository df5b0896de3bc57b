// In-process rate-limit counters, bounded by an LRU so a flood of distinct keys cannot grow memory without limit.
// Keys are (rule, agent) pairs, so in practice the bound is never reached; if it were, the least recently used
// bucket would start full again, which can only favour an idle key.

import { LRUCache } from 'lru-cache';
import type { Rate } from '../policy/duration.js';
import type { RateLimitStore, RateOutcome } from './store.js';
import { takeToken, type Bucket } from './token-bucket.js';

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(maxKeys = 100_000) {
    this.buckets = new LRUCache({ max: maxKeys });
  }

  async take(key: string, rate: Rate, nowMs: number, cost = 1): Promise<RateOutcome> {
    const result = takeToken(this.buckets.get(key), rate, nowMs, cost);
    this.buckets.set(key, result.bucket);
    return { ok: result.ok, retryAfterMs: result.retryAfterMs };
  }
}
