// Where the lockdown state lives, behind one contract so a fleet can share it: in memory (tests), in a file beside
// the audit log (one leash; survives a restart), or in the shared Redis store (`--store`; every replica obeys it).
// Every store passes the same contract suite (test/lockdown/store-contract.ts).

import type { LockdownEntry, LockdownState, LockdownTarget } from './state.js';

export interface LockdownStore {
  /** Where the state is kept, for messages and audit records: `memory`, the file's path, `redis://HOST:PORT/DB`. */
  readonly display: string;
  /** Other processes may change it (a shared store): the runtime polls it. */
  readonly shared: boolean;
  read(): Promise<LockdownState>;
  /** Locks the target down with `entry` (replacing an entry it had) and returns the state after, atomically. */
  lock(target: LockdownTarget, entry: LockdownEntry): Promise<LockdownState>;
  /** Lifts the target's lockdown (without agents: every lockdown) and returns the state after, atomically. */
  unlock(target: LockdownTarget): Promise<LockdownState>;
  close(): Promise<void>;
}
