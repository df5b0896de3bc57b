// What a command needs from the outside world, passed in so tests can run commands in-process and read what
// they printed.

export interface CommandIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** A transient status line (progress), redrawn in place; absent when stderr is not a terminal. '' clears it. */
  readonly progress?: (text: string) => void;
}

export const processIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  progress: process.stderr.isTTY ? (text) => process.stderr.write(`\r\x1b[K${text}`) : undefined,
};
