// The lockdown state in process memory: for tests, and the contract's reference. Nothing survives a restart.

import {
  EMPTY_LOCKDOWN,
  withLock,
  withoutLock,
  type LockdownEntry,
  type LockdownState,
  type LockdownTarget,
} from './state.js';
import type { LockdownStore } from './store.js';

export class MemoryLockdownStore implements LockdownStore {
  readonly display = 'memory';
  readonly shared = false;
  private state: LockdownState = EMPTY_LOCKDOWN;

  async read(): Promise<LockdownState> {
    return this.state;
  }

  async lock(target: LockdownTarget, entry: LockdownEntry): Promise<LockdownState> {
    this.state = withLock(this.state, target, entry);
    return this.state;
  }

  async unlock(target: LockdownTarget): Promise<LockdownState> {
    this.state = withoutLock(this.state, target);
    return this.state;
  }

  async close(): Promise<void> {}
}
