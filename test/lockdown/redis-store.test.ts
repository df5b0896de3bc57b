// The Redis lockdown store runs the same contract against a real redis-server, plus what only a shared store
// promises: replicas see one state, a corrupted entry locks down what it names, and an unreachable store rejects.

import { expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { RedisLockdownStore } from '../../src/lockdown/redis-store.js';
import { describeWithRedis, useRedis } from '../helpers/redis-server.js';
import { describeLockdownStore } from './store-contract.js';

describeWithRedis('Redis lockdown store', () => {
  const { server, connect } = useRedis();
  let stores = 0;

  describeLockdownStore('redis', async () => new RedisLockdownStore(await connect(), { prefix: `t${++stores}:` }));

  it('two replicas (two connections) see one state', async () => {
    const a = new RedisLockdownStore(await connect(), { prefix: 'fleet:' });
    const b = new RedisLockdownStore(await connect(), { prefix: 'fleet:' });
    await a.lock({ agents: ['research'] }, { reason: 'r', by: 'admin-token', since: 7 });
    expect(await b.read()).toEqual({ all: null, agents: { research: { reason: 'r', by: 'admin-token', since: 7 } } });
    await b.unlock({ all: true });
    expect(await a.read()).toEqual({ all: null, agents: {} });
  });

  it('an entry that cannot be read locks down what it names (fail closed); a field naming no agent locks nobody', async () => {
    const store = new RedisLockdownStore(await connect(), { prefix: 'bad:' });
    const { createClient } = await import('@redis/client');
    const probe = createClient({ url: server().url });
    await probe.connect();
    try {
      await probe.hSet('bad:lockdown', { '*': 'not json', 'a:mail': '{"reason":1}', 'a:Not Valid': '{}', junk: '{}' });
    } finally {
      probe.destroy();
    }
    const state = await store.read();
    expect(state.all?.reason).toMatch(/unreadable; locked down to fail closed/);
    expect(Object.keys(state.agents)).toEqual(['mail']);
  });

  it('a store that answers nothing rejects within the bound', async () => {
    const store = new RedisLockdownStore(await connect(server().url, 150), { prefix: 'slow:' });
    server().pause();
    try {
      await expect(store.read()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.lock({ all: true }, { reason: 'r', by: 'b', since: 0 })).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    } finally {
      server().resume();
    }
  });
});
