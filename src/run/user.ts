// Who `leash run --user` runs the command as: a name (looked up like `leash rules --user`: /etc/passwd, then
// `id`) or a uid, with its primary group. A uid with no account runs with a group of the same number.

import { readFile } from 'node:fs/promises';
import { LeashError } from '../errors.js';
import { USER_NAME } from '../kernel/model.js';
import type { KernelHost } from '../kernel/system.js';

export interface RunUser {
  readonly uid: number;
  readonly gid: number;
  readonly name?: string;
}

async function passwdEntry(
  match: (user: string, uid: number) => boolean,
): Promise<{ name: string; uid: number; gid: number } | undefined> {
  try {
    for (const line of (await readFile('/etc/passwd', 'utf8')).split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name && uid && gid && /^\d+$/.test(uid) && /^\d+$/.test(gid) && match(name, Number(uid)))
        return { name, uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // No /etc/passwd: the name service below, or the uid as given.
  }
  return undefined;
}

export async function resolveRunUser(text: string, host: KernelHost): Promise<RunUser> {
  if (/^\d+$/.test(text)) {
    const uid = Number(text);
    const entry = await passwdEntry((_, u) => u === uid);
    return entry ?? { uid, gid: uid };
  }
  if (!USER_NAME.test(text))
    throw new LeashError('LEASH_USAGE', `--user: "${text}" is neither a uid nor a valid user name`);
  const entry = await passwdEntry((name) => name === text);
  if (entry) return entry;
  const uid = await host.lookupUser(text);
  if (uid === undefined)
    throw new LeashError(
      'LEASH_USER_UNKNOWN',
      `--user ${text}: no such user (not in /etc/passwd, and id -u does not know it)`,
    );
  const gid = await host.run('id', ['-g', '--', text], { timeoutMs: 5_000 });
  return { uid, gid: gid.code === 0 && /^\d+$/.test(gid.stdout.trim()) ? Number(gid.stdout.trim()) : uid, name: text };
}
