// The private directory of one `leash run`: the merged CA bundle, the Node preload and the Unix socket of the
// namespace bridge live here, 0700, and go away when the run ends (also after a failure to start).
// Why a directory of its own: the files are made per run and read by the command; nothing else should find,
// replace or read them (the socket is a way out of the namespace). Never: hold the CA key or a token here.

import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Workspace {
  readonly dir: string;
  /** A path inside the directory. */
  file(name: string): string;
  /** Hands the directory (and what is in it) to the user the command runs as, so it can read the bundle. */
  giveTo(uid: number, gid: number, files: readonly string[]): Promise<void>;
  remove(): Promise<void>;
}

export async function openWorkspace(): Promise<Workspace> {
  const dir = await mkdtemp(path.join(tmpdir(), 'leash-run-')); // mkdtemp makes it 0700
  return {
    dir,
    file: (name) => path.join(dir, name),
    async giveTo(uid, gid, files) {
      await chown(dir, uid, gid);
      for (const name of files) await chown(path.join(dir, name), uid, gid);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
