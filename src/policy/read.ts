// Reads policy files from disk: the one impure step of the policy engine. A path is a file or a directory whose
// *.yaml / *.yml files load in lexical order (not recursively, so policies/examples/ stays out of the default).

import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { LeashError } from '../errors.js';
import type { PolicySource } from './load.js';

const POLICY_FILE = /\.ya?ml$/;

export async function readPolicySources(paths: readonly string[]): Promise<PolicySource[]> {
  const sources: PolicySource[] = [];
  for (const p of paths) {
    let info;
    try {
      info = await stat(p);
    } catch (err) {
      throw new LeashError(
        'LEASH_POLICY_READ',
        `${p}: cannot read policy: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
        { cause: err },
      );
    }
    const files = info.isDirectory()
      ? (await readdir(p, { withFileTypes: true }))
          // Hidden files are editor swap and lock files (.#team.yaml), never policy.
          .filter((e) => (e.isFile() || e.isSymbolicLink()) && POLICY_FILE.test(e.name) && !e.name.startsWith('.'))
          .map((e) => path.join(p, e.name))
          .sort()
      : [p];
    if (files.length === 0)
      throw new LeashError('LEASH_POLICY_READ', `${p}: no *.yaml or *.yml policy files in this directory`);
    for (const file of files) {
      try {
        sources.push({ file, text: await readFile(file, 'utf8') });
      } catch (err) {
        throw new LeashError('LEASH_POLICY_READ', `${file}: cannot read policy: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
  }
  return sources;
}

/** The policy shipped with leash, used when no --policy is given and ./policies does not exist. */
export function embeddedPolicyDir(): string {
  return path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'policies');
}
