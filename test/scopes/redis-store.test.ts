// The Redis scope store runs the very same contract as the memory store against a real redis-server, plus what only
// a shared store promises: an access opened through one replica is open through another, in Redis time, maxHosts
// counts the fleet, and the hash expires with its last access.

import { expect, it } from 'vitest';
import { RedisScopeStore } from '../../src/scopes/redis-store.js';
import type { ScopeRequest } from '../../src/scopes/store.js';
import { describeWithRedis, useRedis } from '../helpers/redis-server.js';
import { describeScopeStore } from './store-contract.js';

describeWithRedis('Redis scope store', () => {
  const { server, connect } = useRedis();
  let stores = 0;
  describeScopeStore(
    'redis',
    async () => new RedisScopeStore(await connect(), { clock: 'caller', prefix: `t${++stores}:` }),
  );

  const request = (host: string): ScopeRequest => ({
    scope: 's',
    agent: 'dev',
    host,
    port: 443,
    openedBy: { requestId: 'r', method: 'CONNECT', path: null },
  });

  it('an access opened through one replica is open through another, on its own clock, and maxHosts counts both', async () => {
    const a = new RedisScopeStore(await connect(), { prefix: 'fleet:' });
    const b = new RedisScopeStore(await connect(), { prefix: 'fleet:' });
    const skewed = Date.now() + 3_600_000;
    expect((await a.admit(request('x.test'), { ttlMs: 60_000, maxHosts: 2 }, skewed)).kind).toBe('opened');
    const now = Date.now();
    const seen = await b.admit(request('x.test'), { ttlMs: 60_000, maxHosts: 2 }, now);
    expect(seen.kind).toBe('open');
    if (seen.kind === 'open') {
      expect(seen.access.expiresAt).toBeGreaterThan(now + 55_000);
      expect(seen.access.expiresAt).toBeLessThanOrEqual(now + 60_000);
    }
    expect((await b.admit(request('y.test'), { ttlMs: 60_000, maxHosts: 2 }, now)).kind).toBe('opened');
    expect(await a.admit(request('z.test'), { ttlMs: 60_000, maxHosts: 2 }, now)).toEqual({ kind: 'full', open: 2 });
    expect((await a.list({}, now)).map((x) => x.host)).toEqual(['x.test', 'y.test']);
  });

  it('the hash expires from Redis with its last access', async () => {
    const store = new RedisScopeStore(await connect(), { prefix: 'ttl:' });
    await store.admit(request('x.test'), { ttlMs: 5_000, maxHosts: 2 }, Date.now());
    const { createClient } = await import('@redis/client');
    const probe = createClient({ url: server().url });
    await probe.connect();
    try {
      const ttl = await probe.pTTL('ttl:scope:s\u0000dev');
      expect(ttl).toBeGreaterThan(4_000);
      expect(ttl).toBeLessThanOrEqual(6_000);
    } finally {
      probe.destroy();
    }
  });
});
