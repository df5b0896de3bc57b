// The lockdown state of one leash in a JSON file beside its audit log (`leash-lockdown.json`), so a lockdown
// survives a restart: a leash restarted by its supervisor at 3 a.m. must not hand the misbehaving agent its network
// back. Written whole to a temporary file and renamed over the old one (a crash leaves the old state or the new,
// never half of one), mode 0600. A file that exists but cannot be read as a lockdown state stops leash from
// starting (LEASH_LOCKDOWN, naming the file): guessing "no lockdown" would fail open.

import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { LeashError } from '../errors.js';
import {
  EMPTY_LOCKDOWN,
  parseLockdownState,
  withLock,
  withoutLock,
  type LockdownEntry,
  type LockdownState,
  type LockdownTarget,
} from './state.js';
import type { LockdownStore } from './store.js';

export const LOCKDOWN_FILE_NAME = 'leash-lockdown.json';

/** The state file's default path: beside the audit log (the working directory when the log is stdout). */
export function defaultLockdownFile(auditPath: string): string {
  return path.join(auditPath === '-' ? '.' : path.dirname(auditPath), LOCKDOWN_FILE_NAME);
}

export class FileLockdownStore implements LockdownStore {
  readonly shared = false;
  private state: LockdownState = EMPTY_LOCKDOWN;
  /** Writes one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(readonly display: string) {}

  /** Opens the state file, reading what a previous run left. */
  static async open(file: string): Promise<FileLockdownStore> {
    const store = new FileLockdownStore(file);
    store.state = await readState(file);
    return store;
  }

  async read(): Promise<LockdownState> {
    return this.state;
  }

  lock(target: LockdownTarget, entry: LockdownEntry): Promise<LockdownState> {
    return this.change((state) => withLock(state, target, entry));
  }

  unlock(target: LockdownTarget): Promise<LockdownState> {
    return this.change((state) => withoutLock(state, target));
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  private change(next: (state: LockdownState) => LockdownState): Promise<LockdownState> {
    const run = this.queue.then(async () => {
      const state = next(this.state);
      await writeState(this.display, state);
      this.state = state;
      return state;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

async function readState(file: string): Promise<LockdownState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_LOCKDOWN;
    throw new LeashError('LEASH_LOCKDOWN', `cannot read the lockdown state ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new LeashError(
      'LEASH_LOCKDOWN',
      `the lockdown state ${file} is not JSON; leash will not guess that nothing is locked down (fix it, or remove it to lift every lockdown)`,
    );
  }
  const parsed = parseLockdownState(value);
  if (!parsed.ok)
    throw new LeashError(
      'LEASH_LOCKDOWN',
      `the lockdown state ${file} is not a lockdown state (${parsed.message}); leash will not guess that nothing is locked down (fix it, or remove it to lift every lockdown)`,
    );
  return parsed.state;
}

async function writeState(file: string, state: LockdownState): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify({ all: state.all, agents: state.agents }, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw new LeashError('LEASH_LOCKDOWN', `cannot write the lockdown state ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
