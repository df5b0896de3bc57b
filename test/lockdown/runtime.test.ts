// The lockdown in force in one process: applied before the store answers, kept when the store cannot take it (and
// written there once it can), never lifted on a guess, and followed across replicas by polling.

import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { MemoryLockdownStore } from '../../src/lockdown/memory-store.js';
import { LockdownRuntime } from '../../src/lockdown/runtime.js';
import type { LockdownState } from '../../src/lockdown/state.js';
import type { LockdownStore } from '../../src/lockdown/store.js';

/** A shared store that can be taken down, backed by a memory store (what another replica would also see). */
class FlakyStore implements LockdownStore {
  readonly display = 'flaky';
  readonly shared = true;
  down = false;
  constructor(readonly inner = new MemoryLockdownStore()) {}
  private check() {
    if (this.down) throw new StoreUnavailableError('store flaky did not answer within 1 ms');
  }
  async read() {
    this.check();
    return this.inner.read();
  }
  async lock(...args: Parameters<LockdownStore['lock']>) {
    this.check();
    return this.inner.lock(...args);
  }
  async unlock(...args: Parameters<LockdownStore['unlock']>) {
    this.check();
    return this.inner.unlock(...args);
  }
  async close() {}
}

async function runtime(store: LockdownStore) {
  const changes: LockdownState[] = [];
  const log: string[] = [];
  const r = await LockdownRuntime.open({
    store,
    now: () => 1_000,
    log: (l) => log.push(l),
    onChange: (_b, a) => changes.push(a),
    pollMs: 60_000,
  });
  return { r, changes, log };
}

describe('LockdownRuntime', () => {
  it('a lock is in force and announced before the store has answered', async () => {
    const { r, changes } = await runtime(new MemoryLockdownStore());
    const pending = r.on({ agents: ['research'] }, 'why', 'me');
    expect(r.lockOf('research')).toEqual({ entry: { reason: 'why', by: 'me', since: 1_000 }, scope: 'agent' });
    expect(changes).toHaveLength(1);
    expect(await pending).toMatchObject({ stored: true });
  });

  it('a store that cannot take a lock: this replica obeys it, and writes it there once the store answers', async () => {
    const store = new FlakyStore();
    const { r, log } = await runtime(store);
    store.down = true;
    const outcome = await r.on({ all: true }, 'SIGUSR1', 'SIGUSR1');
    expect(outcome).toMatchObject({ stored: false, problem: expect.stringContaining('this leash obeys it') });
    expect(r.lockOf('mail')?.scope).toBe('all');
    await r.poll(); // still down: the last state stays
    expect(r.lockOf('mail')).toBeDefined();
    expect(log.filter((l) => l.includes('does not answer'))).toHaveLength(1);
    store.down = false;
    await r.poll();
    expect((await store.inner.read()).all).toMatchObject({ reason: 'SIGUSR1' });
    expect(r.lockOf('mail')).toBeDefined();
  });

  it('lifting needs the store: when it does not answer nothing is lifted', async () => {
    const store = new FlakyStore();
    const { r } = await runtime(store);
    await r.on({ agents: ['research'] }, 'why', 'me');
    store.down = true;
    await expect(r.off({ all: true })).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(r.lockOf('research')).toBeDefined();
  });

  it('a poll brings in what another replica changed, and announces it once', async () => {
    const store = new FlakyStore();
    const { r, changes } = await runtime(store);
    await store.inner.lock({ agents: ['mail'] }, { reason: 'elsewhere', by: 'admin-token', since: 5 });
    await r.poll();
    await r.poll();
    expect(r.lockOf('mail')?.entry.reason).toBe('elsewhere');
    expect(changes).toHaveLength(1);
    await store.inner.unlock({ all: true });
    await r.poll();
    expect(r.lockOf('mail')).toBeUndefined();
    expect(changes).toHaveLength(2);
  });
});
