// Runs the wrapped command and reports how it ended, forwarding SIGINT and SIGTERM (and SIGHUP) to it while it
// runs. Two ways: directly (as --user when given), or through the namespace relay (netns.ts), which gets what
// to run over fd 3 and says whether it started, so a namespace that could not be set up is told apart from a
// command that failed.
// Never: leave a signal handler behind (tests run many commands in one process), or report success for a
// command that was killed: a signal is 128 + its number, as a shell reports it.

import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import { LeashError } from '../errors.js';
import type { RelayReply, RelayRequest } from './netns-relay.js';
import type { Ending } from './summary.js';

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

export interface Launch {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly uid?: number;
  readonly gid?: number;
  /** Run inside a network namespace through this relay command line, relaying to `socket` on `port`. */
  readonly relay?: {
    readonly command: string;
    readonly args: readonly string[];
    readonly socket: string;
    readonly port: number;
  };
}

export interface Started {
  /** Resolves when the command has ended. */
  readonly ended: Promise<Ending>;
}

function ending(code: number | null, signal: NodeJS.Signals | null): Ending {
  if (signal) return { signal, code: 128 + (constants.signals[signal] ?? 0) };
  return { code: code ?? 1 };
}

function forwardSignals(child: ChildProcess): () => void {
  const handlers = FORWARDED_SIGNALS.map((signal) => {
    const handler = () => child.kill(signal);
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

function exited(child: ChildProcess): Promise<Ending> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(ending(code, signal))));
}

/** Starts the command; rejects (the command never ran) with 127 not found / 126 not runnable, or the isolation failure. */
export async function startChild(launch: Launch): Promise<Started> {
  return launch.relay ? startInNamespace(launch, launch.relay) : startDirectly(launch);
}

function startDirectly(launch: Launch): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(launch.command, [...launch.args], {
      stdio: 'inherit',
      env: launch.env,
      uid: launch.uid,
      gid: launch.gid,
    });
    // Forwarding starts now, not at 'spawn': the command may be running (and be signalled) before that event.
    const stop = forwardSignals(child);
    const ended = exited(child).finally(stop);
    child.once('error', (err: NodeJS.ErrnoException) => {
      stop();
      reject(notRunnable(launch.command, err));
    });
    child.once('spawn', () => resolve({ ended }));
  });
}

export class CommandNotRun extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CommandNotRun';
  }
}

function notRunnable(command: string, err: NodeJS.ErrnoException): CommandNotRun {
  return err.code === 'ENOENT'
    ? new CommandNotRun(`cannot run ${command}: not found`, 127)
    : new CommandNotRun(`cannot run ${command}: ${err.message}`, 126);
}

function startInNamespace(launch: Launch, relay: NonNullable<Launch['relay']>): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(relay.command, [...relay.args], {
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
      env: { PATH: launch.env.PATH ?? process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    const stop = forwardSignals(child);
    const ended = exited(child).finally(stop);
    const control = child.stdio[3] as Duplex;
    control.on('error', () => {});
    child.once('error', (err: NodeJS.ErrnoException) => {
      stop();
      reject(new LeashError('LEASH_ISOLATION', `--isolate netns: cannot start ${relay.command}: ${err.message}`));
    });
    let text = '';
    let answered = false;
    control.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\n');
      if (end < 0 || answered) return;
      answered = true;
      let reply: RelayReply;
      try {
        reply = JSON.parse(text.slice(0, end)) as RelayReply;
      } catch {
        return reject(
          new LeashError('LEASH_ISOLATION', '--isolate netns: the namespace relay answered something unreadable'),
        );
      }
      if ('started' in reply) return resolve({ ended });
      // The relay got as far as running the command only if it says so with a command's exit code.
      if (reply.code === 126 || reply.code === 127) return reject(new CommandNotRun(reply.error, reply.code));
      reject(new LeashError('LEASH_ISOLATION', `--isolate netns: ${reply.error}`));
    });
    void ended.then((how) => {
      if (!answered)
        reject(
          new LeashError(
            'LEASH_ISOLATION',
            `--isolate netns: the namespace could not be set up (${relay.command} exited with ${how.code})`,
          ),
        );
    });
    const request: RelayRequest = {
      socket: relay.socket,
      port: relay.port,
      command: launch.command,
      args: launch.args,
      env: launch.env,
      uid: launch.uid,
      gid: launch.gid,
    };
    control.write(`${JSON.stringify(request)}\n`);
  });
}
