// The Redis rate-limit store runs the very same contract as the memory store, against a real redis-server, plus
// what only a shared store promises: one bucket for every replica, Redis time, bounded keys, and failing closed.

import { expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { RedisRateLimitStore } from '../../src/limits/redis-store.js';
import { parseRate } from '../../src/policy/duration.js';
import { RedisConnection } from '../../src/store/redis.js';
import { parseStoreUrl } from '../../src/store/url.js';
import { describeWithRedis, freePort, useRedis } from '../helpers/redis-server.js';
import { describeRateLimitStore } from './store-contract.js';

describeWithRedis('Redis rate-limit store', () => {
  const { server, connect } = useRedis();
  let stores = 0;

  // Each store its own prefix: one server, no test sees another's keys. Clock `caller`: the contract steps time.
  describeRateLimitStore(
    'redis',
    async () => new RedisRateLimitStore(await connect(), { clock: 'caller', prefix: `t${++stores}:` }),
  );

  const rate =
    parseRate('3/1m') ??
    (() => {
      throw new Error('rate');
    })();

  it('two replicas (two connections) take from one bucket, atomically', async () => {
    const a = new RedisRateLimitStore(await connect(), { prefix: 'fleet:' });
    const b = new RedisRateLimitStore(await connect(), { prefix: 'fleet:' });
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).take('k', rate, 0)));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(3);
    expect(Math.max(...outcomes.map((o) => o.retryAfterMs))).toBeLessThanOrEqual(20_000);
  });

  it('with Redis time, the nowMs a replica passes (its own, skewed clock) changes nothing', async () => {
    const store = new RedisRateLimitStore(await connect(), { prefix: 'skew:' });
    const skewed = [0, 3_600_000, -3_600_000, 1e13];
    const outcomes = [];
    for (const now of skewed) outcomes.push(await store.take('k', rate, now));
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, true, false]);
    expect(outcomes[3]?.retryAfterMs).toBeGreaterThan(19_000);
  });

  it('a bucket expires from Redis once it would be full again, so memory stays bounded', async () => {
    const connection = await connect();
    const store = new RedisRateLimitStore(connection, { prefix: 'ttl:' });
    await store.take('k', parseRate('10/1s') ?? rate, 0);
    const { createClient } = await import('@redis/client');
    const probe = createClient({ url: server().url });
    await probe.connect();
    try {
      const ttl = await probe.pTTL('ttl:rl:k');
      // One token of ten at 10/s is back in 100 ms; plus a second of slack.
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(1_100);
    } finally {
      probe.destroy();
    }
  });

  it('a store that answers nothing (overloaded, paused) rejects within the bound, and recovers when it answers', async () => {
    const lines: string[] = [];
    const connection = await connect(server().url, 150, (l) => lines.push(l));
    const store = new RedisRateLimitStore(connection, { prefix: 'slow:' });
    expect((await store.take('k', rate, 0)).ok).toBe(true);
    server().pause();
    try {
      const started = Date.now();
      await expect(store.take('k', rate, 0)).rejects.toThrow(/did not answer within 150 ms/);
      await expect(store.take('k', rate, 0)).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      server().resume();
    }
    await expect(store.take('k', rate, 0)).resolves.toMatchObject({ ok: expect.any(Boolean) });
    expect(lines.filter((l) => / unavailable /.test(l))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/ is back$/);
  });

  it('closing while Redis answers nothing takes no longer than the bound', async () => {
    const connection = await connect(server().url, 150);
    server().pause();
    try {
      const started = Date.now();
      await connection.close();
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      server().resume();
    }
  });

  it('an unreachable store rejects with StoreUnavailableError within the bound, and says so once', async () => {
    const lines: string[] = [];
    const connection = new RedisConnection(parseStoreUrl(`redis://u:hunter2@127.0.0.1:${await freePort()}/0`), {
      timeoutMs: 100,
      log: (l) => lines.push(l),
    });
    connection.start();
    const store = new RedisRateLimitStore(connection);
    const started = Date.now();
    for (let i = 0; i < 3; i++) await expect(store.take('k', rate, 0)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(lines.filter((l) => l.includes('unavailable'))).toHaveLength(1);
    expect(lines.join('\n')).not.toContain('hunter2');
    expect(lines[0]).toMatch(/store redis:\/\/127\.0\.0\.1:\d+\/0 unavailable/);
    await connection.close();
  });
});
