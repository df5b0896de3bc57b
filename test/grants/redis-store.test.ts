// The Redis grant store runs the very same contract as the memory store (per-URL expiry and revoke included),
// against a real redis-server, plus what only a shared store promises: a grant made through one replica is found
// through another, in Redis time, and Redis memory stays bounded.

import { expect, it } from 'vitest';
import { MAX_URLS_PER_GRANT } from '../../src/grants/memory-store.js';
import { RedisGrantStore } from '../../src/grants/redis-store.js';
import type { Grant } from '../../src/grants/store.js';
import { describeWithRedis, useRedis } from '../helpers/redis-server.js';
import { describeGrantStore } from './store-contract.js';

describeWithRedis('Redis grant store', () => {
  const { server, connect } = useRedis();
  let stores = 0;

  // Each store its own prefix: one server, no test sees another's keys. Clock `caller`: the contract steps time.
  const create = async () => new RedisGrantStore(await connect(), { clock: 'caller', prefix: `t${++stores}:` });
  describeGrantStore('redis', create);

  const grant = (over: Partial<Grant> = {}): Grant => ({
    agent: 'a',
    scheme: 'http',
    host: 'cdn.test',
    port: 80,
    expiresAt: 0,
    source: { requestId: 'r1', rule: 'api', url: 'http://api.test/', found: '$.x' },
    url: null,
    ...over,
  });

  it('a grant made through one replica is found through another, in Redis time, whatever their clocks say', async () => {
    // Replica a's clock is an hour ahead of b's; both hand the store their own now.
    const skew = 3_600_000;
    const a = new RedisGrantStore(await connect(), { prefix: 'fleet:', now: () => Date.now() + skew });
    const b = new RedisGrantStore(await connect(), { prefix: 'fleet:' });
    await a.add(grant({ expiresAt: Date.now() + skew + 60_000 }));
    const now = Date.now();
    const found = await b.find('a', 'http', 'cdn.test', 80, now);
    // About a minute left, on b's own clock (not an hour and a minute).
    expect(found?.expiresAt).toBeGreaterThan(now + 55_000);
    expect(found?.expiresAt).toBeLessThanOrEqual(now + 60_000);
    expect(await b.find('b', 'http', 'cdn.test', 80, now)).toBeUndefined();
  });

  it(`at most ${MAX_URLS_PER_GRANT} URL grants per host; past it the one expiring first goes`, async () => {
    const store = await create();
    const url = (i: number) => `http://cdn.test/${i}`;
    for (let i = 0; i <= MAX_URLS_PER_GRANT; i++)
      await store.add(grant({ url: url(i), expiresAt: i === 7 ? 20_000 : 30_000 + i }));
    expect(await store.find('a', 'http', 'cdn.test', 80, 0, url(7))).toBeUndefined();
    expect(await store.find('a', 'http', 'cdn.test', 80, 0, url(0))).toBeDefined();
    expect(await store.find('a', 'http', 'cdn.test', 80, 0, url(MAX_URLS_PER_GRANT))).toBeDefined();
  });

  it('a grant already expired by the time it is added is never stored', async () => {
    const store = new RedisGrantStore(await connect(), { prefix: 'late:' });
    await store.add(grant({ expiresAt: Date.now() - 1 }));
    expect(await store.find('a', 'http', 'cdn.test', 80, Date.now())).toBeUndefined();
  });

  it('the hash expires from Redis with its last grant, so memory stays bounded', async () => {
    const store = new RedisGrantStore(await connect(), { prefix: 'ttl:' });
    await store.add(grant({ expiresAt: Date.now() + 5_000, url: 'http://cdn.test/a' }));
    await store.add(grant({ expiresAt: Date.now() + 2_000, url: 'http://cdn.test/b' }));
    const { createClient } = await import('@redis/client');
    const probe = createClient({ url: server().url });
    await probe.connect();
    try {
      const ttl = await probe.pTTL('ttl:grant:a\u0000http\u0000cdn.test\u000080');
      expect(ttl).toBeGreaterThan(4_000);
      expect(ttl).toBeLessThanOrEqual(6_000);
    } finally {
      probe.destroy();
    }
  });
});
