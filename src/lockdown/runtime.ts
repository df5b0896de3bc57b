// The lockdown in force in one leash process: what the proxy asks on every request (`state`), what the control
// API and SIGUSR1 change (`on`, `off`), and the loop that keeps it in step with a shared store. Per process, owned
// by `leash serve`; nothing in module scope.
//
// Fleet: replicas notice a lockdown set through another replica by polling the store every 250 ms (one HGETALL of
// a small hash). Polling, not Redis pub/sub: a pub/sub message sent while a replica is reconnecting is lost for
// good, and a kill switch that misses its message fails open; a poll that misses catches up on the next one, and
// four tiny reads a second per replica cost Redis nothing. A change is applied within a poll period plus one store
// round trip, well inside the promised second.
//
// Store trouble never unlocks anything: a lock that cannot be stored is kept in this replica's memory (an overlay
// written to the store once it answers) and the caller is told that only this replica obeys it for now; lifting a
// lockdown needs the store (nothing is lifted on a guess). A poll that fails keeps the last state known.

import { LockdownLostError } from './redis-store.js';
import { StoreUnavailableError } from '../errors.js';
import {
  EMPTY_LOCKDOWN,
  lockdownOf,
  mergeLockdown,
  sameLockdown,
  withLock,
  withoutLock,
  type LockdownEntry,
  type LockdownState,
  type LockdownTarget,
} from './state.js';
import type { LockdownStore } from './store.js';

export const POLL_MS = 250;

export interface LockdownRuntimeOptions {
  readonly store: LockdownStore;
  /** Wall clock for `since` (tests inject one). */
  readonly now: () => number;
  /** Operational messages (stderr). */
  readonly log: (line: string) => void;
  /** The state in force changed (here or through another replica): cut what became locked. */
  readonly onChange: (before: LockdownState, after: LockdownState) => void;
  readonly pollMs?: number;
}

export interface LockOutcome {
  readonly state: LockdownState;
  /** False: the store did not take it; this replica obeys it, others do not know yet. */
  readonly stored: boolean;
  readonly problem?: string;
}

export class LockdownRuntime {
  /** What the store holds, as last read. */
  private stored: LockdownState = EMPTY_LOCKDOWN;
  /** Locks this replica holds that the store has not taken yet (it did not answer). */
  private overlay: LockdownState = EMPTY_LOCKDOWN;
  private current: LockdownState = EMPTY_LOCKDOWN;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private storeDown = false;

  private constructor(private readonly options: LockdownRuntimeOptions) {}

  /**
   * Reads the store's state and starts following it. A file that cannot be read throws (LEASH_LOCKDOWN); a shared
   * store that does not answer yet is read again on every poll.
   */
  static async open(options: LockdownRuntimeOptions): Promise<LockdownRuntime> {
    const runtime = new LockdownRuntime(options);
    try {
      runtime.stored = await options.store.read();
      runtime.current = runtime.stored;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      runtime.noteDown();
    }
    // A shared store is polled for what other replicas changed; any store, for the locks it did not take yet (a
    // state file that could not be written once is written as soon as it can be).
    runtime.timer = setInterval(
      () => void (options.store.shared ? runtime.poll() : runtime.retryPending()),
      options.pollMs ?? POLL_MS,
    );
    runtime.timer.unref();
    return runtime;
  }

  get state(): LockdownState {
    return this.current;
  }

  get display(): string {
    return this.options.store.display;
  }

  /** The entry that locks `agent` down, and whether it is the all-agents one. */
  lockOf(agent: string): { entry: LockdownEntry; scope: 'all' | 'agent' } | undefined {
    const entry = lockdownOf(this.current, agent);
    return entry && { entry, scope: this.current.all ? 'all' : 'agent' };
  }

  /** Locks the target down at once in this replica, then in the store. */
  async on(target: LockdownTarget, reason: string, by: string): Promise<LockOutcome> {
    const entry: LockdownEntry = { reason, by, since: this.options.now() };
    // In force here before the store round trip: the kill switch must not wait on Redis.
    this.overlay = withLock(this.overlay, target, entry);
    this.apply();
    try {
      this.stored = await this.options.store.lock(target, entry);
      this.overlay = withoutLockedIn(this.overlay, target);
      this.apply();
      return { state: this.current, stored: true };
    } catch (err) {
      const problem = `the lockdown store ${this.display} did not take it (${(err as Error).message}); this leash obeys it, and writes it there once the store answers`;
      this.options.log(`leash: lockdown: ${problem}`);
      return { state: this.current, stored: false, problem };
    }
  }

  /** Lifts the target's lockdown; rejects (nothing lifted) when the store does not answer. */
  async off(target: LockdownTarget): Promise<LockdownState> {
    this.stored = await this.options.store.unlock(target);
    this.overlay = withoutLock(this.overlay, target);
    this.apply();
    return this.current;
  }

  /** Reads the store now (the poll does this every POLL_MS for a shared store). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await this.flushOverlay();
      this.stored = await this.options.store.read();
      if (this.storeDown) {
        this.storeDown = false;
        this.options.log(`leash: lockdown: the store ${this.display} answers again; its lockdown state is in force`);
      }
      this.apply();
    } catch (err) {
      if (err instanceof LockdownLostError) await this.restore(err);
      else this.noteDown();
    } finally {
      this.polling = false;
    }
  }

  /**
   * The store lost the state (a Redis restarted without persistence): nothing is lifted on a loss. The locks known
   * here stay in force and are written back, so the other replicas get them again on their next poll.
   */
  private async restore(err: LockdownLostError): Promise<void> {
    const { all, agents } = this.stored;
    const count = (all ? 1 : 0) + Object.keys(agents).length;
    this.options.log(`leash: lockdown: ${err.message}; writing back the ${count} lock(s) known here`);
    this.overlay = mergeLockdown(this.overlay, this.stored);
    await this.flushOverlay().catch(() => this.noteDown());
    // Nothing to write back: put the marker back alone (a lock of no agent), never deleting what another replica
    // may have written since.
    if (count === 0)
      await this.options.store.lock({ agents: [] }, { reason: '', by: '', since: 0 }).catch(() => this.noteDown());
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Writes the locks only this process holds to the store, if there are any (a local store that failed once). */
  async retryPending(): Promise<void> {
    if (this.polling || (!this.overlay.all && Object.keys(this.overlay.agents).length === 0)) return;
    this.polling = true;
    try {
      await this.flushOverlay();
      this.stored = await this.options.store.read();
      this.apply();
    } catch {
      this.noteDown();
    } finally {
      this.polling = false;
    }
  }

  /** Stops polling and lets the store finish what it was writing (a lock it did not take yet gets a last try). */
  async close(): Promise<void> {
    this.stop();
    await this.retryPending();
    await this.options.store.close();
  }

  /** Writes the locks held only here to the store, oldest state first. */
  private async flushOverlay(): Promise<void> {
    const { all, agents } = this.overlay;
    if (all) await this.options.store.lock({ all: true }, all);
    for (const [agent, entry] of Object.entries(agents)) await this.options.store.lock({ agents: [agent] }, entry);
    if (all || Object.keys(agents).length > 0) this.overlay = EMPTY_LOCKDOWN;
  }

  private apply(): void {
    const next = mergeLockdown(this.stored, this.overlay);
    if (sameLockdown(next, this.current)) return;
    const before = this.current;
    this.current = next;
    this.options.onChange(before, next);
  }

  private noteDown(): void {
    if (this.storeDown) return;
    this.storeDown = true;
    // The connection says once why the store is down; this says what that means for lockdown.
    this.options.log(
      `leash: lockdown: the store ${this.display} does not answer; the last lockdown state known stays in force`,
    );
  }
}

/** The overlay without what the store has now taken for `target`. */
function withoutLockedIn(overlay: LockdownState, target: LockdownTarget): LockdownState {
  return 'all' in target ? { all: null, agents: overlay.agents } : withoutLock(overlay, target);
}
