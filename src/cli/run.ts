// `leash run [--policy PATH]... [--agent NAME] [--user USER] [--isolate netns|uid|none] [--proxy URL] -- COMMAND
// [ARGS]...`: run one command through leash. The logic is in src/run/session.ts; this maps flags to it.

import type { CommandIo } from './io.js';
import { runSession } from '../run/session.js';

export interface RunFlags {
  policy?: string[];
  agent?: string;
  user?: string;
  isolate?: string;
  proxy?: string;
  audit?: string;
  certs?: string;
}

export async function runCommand(flags: RunFlags, command: readonly string[], io: CommandIo): Promise<number> {
  const [file, ...args] = command;
  if (file === undefined) {
    const { LeashError } = await import('../errors.js');
    throw new LeashError('LEASH_USAGE', 'run needs a command: leash run [options] -- COMMAND [ARGS]...');
  }
  return runSession({ ...flags, command: file, args }, io);
}
