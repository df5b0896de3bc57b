#!/usr/bin/env node
// The `leash` command: runs one command line (declared in cli/program.ts) and maps errors to exit codes (0 ok, 1
// the command found a problem, 2 the command line itself is wrong). Stack traces are for bugs only.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { processIo, type CommandIo } from './cli/io.js';
import { runProgram } from './cli/program.js';

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  return runProgram(argv, io);
}

function isEntryPoint(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // `leash audit | head`: the reader went away. That is the reader's choice, not an error: end quietly, status 0.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(
        `leash: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 70;
    },
  );
}
