// The token bucket behind `rateLimit: N/WINDOW`: bursts up to N, then N per WINDOW, and an exact Retry-After.

import { describe, expect, it } from 'vitest';
import { takeToken, type Bucket } from '../../src/limits/token-bucket.js';
import { parseRate } from '../../src/policy/duration.js';

const rate = (text: string) =>
  parseRate(text) ??
  (() => {
    throw new Error(text);
  })();

describe('takeToken', () => {
  it('a fresh bucket allows a burst of exactly N', () => {
    let bucket: Bucket | undefined;
    const results: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      const r = takeToken(bucket, rate('5/1m'), 0);
      bucket = r.bucket;
      results.push(r.ok);
    }
    expect(results).toEqual([true, true, true, true, true, false, false, false]);
  });

  it.each([
    { name: '5/1m, empty bucket', limit: '5/1m', retryAfterMs: 12_000 },
    { name: '10/s, empty bucket', limit: '10/s', retryAfterMs: 100 },
    { name: '1/1h, empty bucket', limit: '1/1h', retryAfterMs: 3_600_000 },
  ])('Retry-After is the time until one token is back: $name', ({ limit, retryAfterMs }) => {
    let bucket: Bucket | undefined;
    const r = rate(limit);
    for (let i = 0; i < r.limit; i++) bucket = takeToken(bucket, r, 1000).bucket;
    const refused = takeToken(bucket, r, 1000);
    expect(refused.ok).toBe(false);
    expect(refused.retryAfterMs).toBe(retryAfterMs);
    expect(takeToken(refused.bucket, r, 1000 + retryAfterMs - 1).ok).toBe(false);
    expect(takeToken(refused.bucket, r, 1000 + retryAfterMs).ok).toBe(true);
  });

  it('refills to at most N after a long pause', () => {
    let bucket = takeToken(undefined, rate('3/1s'), 0).bucket;
    bucket = takeToken(bucket, rate('3/1s'), 1_000_000).bucket;
    expect(bucket.tokens).toBe(2);
  });
});
