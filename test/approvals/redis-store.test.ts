// The Redis approval store runs the very same contract as the memory store against a real redis-server, plus what
// only a shared store promises: a question asked through one replica is answered through another, one --once is
// used by one request of the whole fleet, and every key expires with its approval.

import { expect, it } from 'vitest';
import { RedisApprovalStore } from '../../src/approvals/redis-store.js';
import type { ApprovalCandidate } from '../../src/approvals/store.js';
import { describeWithRedis, useRedis } from '../helpers/redis-server.js';
import { describeApprovalStore } from './store-contract.js';

describeWithRedis('Redis approval store', () => {
  const { server, connect } = useRedis();
  let stores = 0;
  describeApprovalStore(
    'redis',
    async () => new RedisApprovalStore(await connect(), { clock: 'caller', prefix: `t${++stores}:` }),
  );

  const candidate = (id: string): ApprovalCandidate => ({
    id,
    agent: 'dev',
    host: 'new.test',
    port: 443,
    first: { requestId: id, method: 'CONNECT', path: null },
  });

  it('asked through one replica, answered through another; one --once serves one request of the fleet', async () => {
    const a = new RedisApprovalStore(await connect(), { prefix: 'fleet:' });
    const b = new RedisApprovalStore(await connect(), { prefix: 'fleet:' });
    const now = Date.now();
    expect((await a.arrive(candidate('x1'), 60_000, now + 3_600_000)).kind).toBe('created');
    expect(await b.arrive(candidate('x2'), 60_000, now)).toMatchObject({ approval: { id: 'x1', requests: 2 } });
    const listed = await b.list(now);
    expect(listed.map((x) => x.id)).toEqual(['x1']);
    expect(listed[0]?.expiresAt).toBeGreaterThan(now + 55_000);
    expect(listed[0]?.expiresAt).toBeLessThanOrEqual(now + 60_000);
    await b.decide('x1', { grant: 'once', by: 'alice' }, 60_000, now);
    const both = await Promise.all([a.arrive(candidate('y1'), 60_000, now), b.arrive(candidate('y2'), 60_000, now)]);
    expect(both.map((x) => x.kind).sort()).toEqual(['allowed', 'created']);
  });

  it('an id that is not of the id alphabet reaches no key', async () => {
    const store = new RedisApprovalStore(await connect(), { prefix: 'ids:' });
    expect(await store.get('x*', Date.now())).toBeUndefined();
    expect(await store.decide('../x', { grant: 'once', by: 'a' }, 1000, Date.now())).toBeUndefined();
  });

  it('every key expires with its approval', async () => {
    const store = new RedisApprovalStore(await connect(), { prefix: 'ttl:' });
    await store.arrive(candidate('z1'), 5_000, Date.now());
    const { createClient } = await import('@redis/client');
    const probe = createClient({ url: server().url });
    await probe.connect();
    try {
      for (const key of ['ttl:approval:z1', 'ttl:approval-key:dev\u0000new.test\u0000443']) {
        const ttl = await probe.pTTL(key);
        expect(ttl).toBeGreaterThan(4_000);
        expect(ttl).toBeLessThanOrEqual(6_000);
      }
    } finally {
      probe.destroy();
    }
  });
});
