// Reloads the policy when its files change (and on demand, for SIGHUP). A valid change is compiled completely
// before it is handed over, so the running policy is replaced whole or not at all; an invalid one leaves the
// running policy in force and reports every error with file:line.

import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { formatIssue, PolicyInvalidError, type PolicyIssue } from '../errors.js';
import { compilePolicy } from './load.js';
import type { CompiledPolicy } from './policy.js';
import { readPolicySources } from './read.js';

export type ReloadOutcome =
  | { kind: 'loaded'; policy: CompiledPolicy; previous: CompiledPolicy }
  | { kind: 'unchanged'; policy: CompiledPolicy }
  | { kind: 'rejected'; errors: string[]; issues: readonly PolicyIssue[] };

export async function loadPolicy(paths: readonly string[]): Promise<CompiledPolicy> {
  const result = compilePolicy(await readPolicySources(paths));
  if (!result.policy) throw new PolicyInvalidError(result.issues);
  return result.policy;
}

export class PolicyWatcher {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly paths: readonly string[],
    private current: () => CompiledPolicy,
    private readonly onOutcome: (outcome: ReloadOutcome) => void,
    private readonly debounceMs = 150,
  ) {}

  start(): void {
    for (const path of this.paths) {
      // Editors and tools save by writing a new file and renaming it over the old one (vim, sed -i, mv), which
      // ends a watch on the file itself after the first save. So a file is watched through its directory, and a
      // directory is watched as it is; either way the watch outlives any number of renames.
      let target = path;
      let name: string | undefined;
      try {
        if (!statSync(path).isDirectory()) {
          target = dirname(path);
          name = basename(path);
        }
      } catch {
        // A path that vanished is reported by the next reload.
        continue;
      }
      try {
        const watcher = watch(target, { persistent: false }, (_event, file) => {
          if (name === undefined || file === null || file === name) this.schedule();
        });
        watcher.on('error', () => {});
        this.watchers.push(watcher);
      } catch {
        // Unwatchable (a vanished directory): SIGHUP still reloads.
      }
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload(), this.debounceMs);
  }

  /** Reloads now; concurrent calls run one after another. */
  reload(): Promise<void> {
    this.running = this.running.then(() => this.reloadOnce());
    return this.running;
  }

  private async reloadOnce(): Promise<void> {
    let outcome: ReloadOutcome;
    try {
      const result = compilePolicy(await readPolicySources(this.paths));
      const previous = this.current();
      if (!result.policy) {
        outcome = {
          kind: 'rejected',
          errors: result.issues.filter((i) => i.severity === 'error').map(formatIssue),
          issues: result.issues,
        };
      } else if (result.policy.revision === previous.revision) {
        outcome = { kind: 'unchanged', policy: previous };
      } else {
        outcome = { kind: 'loaded', policy: result.policy, previous };
      }
    } catch (err) {
      outcome = { kind: 'rejected', errors: [(err as Error).message], issues: [] };
    }
    this.onOutcome(outcome);
  }
}
