// The contract every rate-limit store honours, written once so a shared store (Redis) runs the very same
// specification as the in-memory one.

import { describe, expect, it } from 'vitest';
import type { RateLimitStore } from '../../src/limits/store.js';
import { parseBandwidth, parseRate } from '../../src/policy/duration.js';

export function describeRateLimitStore(name: string, create: () => RateLimitStore | Promise<RateLimitStore>): void {
  const rate =
    parseRate('3/1m') ??
    (() => {
      throw new Error('rate');
    })();
  const bytes =
    parseBandwidth('1KB/1s') ??
    (() => {
      throw new Error('bandwidth');
    })();

  describe(`rate-limit store contract: ${name}`, () => {
    it('allows a burst of N, refuses the next with the time until a token is back', async () => {
      const store = await create();
      const outcomes = [];
      for (let i = 0; i < 4; i++) outcomes.push(await store.take('k1', rate, 1_000));
      expect(outcomes.map((o) => o.ok)).toEqual([true, true, true, false]);
      expect(outcomes[3]?.retryAfterMs).toBe(20_000);
    });

    it('recovers exactly when Retry-After says', async () => {
      const store = await create();
      for (let i = 0; i < 3; i++) await store.take('k2', rate, 0);
      expect((await store.take('k2', rate, 19_999)).ok).toBe(false);
      expect((await store.take('k2', rate, 20_000)).ok).toBe(true);
    });

    it('keeps keys apart', async () => {
      const store = await create();
      for (let i = 0; i < 3; i++) await store.take('k3', rate, 0);
      expect((await store.take('k3', rate, 0)).ok).toBe(false);
      expect((await store.take('k4', rate, 0)).ok).toBe(true);
    });

    it('takes a cost in bytes, and refuses a chunk larger than what is left', async () => {
      const store = await create();
      expect((await store.take('k5', bytes, 0, 600)).ok).toBe(true);
      expect((await store.take('k5', bytes, 0, 600)).ok).toBe(false);
      expect((await store.take('k5', bytes, 0, 400)).ok).toBe(true);
      expect((await store.take('k5', bytes, 1_000, 1_000)).ok).toBe(true);
    });
  });
}
