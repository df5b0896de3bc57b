// The first process inside the network namespace `leash run --isolate netns` makes (`unshare --net` execs it):
// brings up the namespace's loopback, listens on 127.0.0.1:PORT there and relays each connection to leash's Unix
// socket outside, then runs the command and exits with its code. The command's HTTP(S)_PROXY names that port,
// so a client that honours the variables reaches leash; anything else finds a namespace with no route out.
// Protocol on fd 3 (a socketpair leash made): leash writes one JSON line (what to run, as whom, with which
// environment); this answers one JSON line, {"started":true} or {"error":"...","code":N}, so leash can tell a
// namespace that could not be set up from a command that failed.
// Never: relay anywhere but the one socket path it was given, or listen on anything but the namespace's loopback.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { constants } from 'node:os';

export interface RelayRequest {
  readonly socket: string;
  readonly port: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly uid?: number;
  readonly gid?: number;
}

export type RelayReply = { readonly started: true } | { readonly error: string; readonly code: number };

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

function readRequest(control: net.Socket): Promise<RelayRequest> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\n');
      if (end < 0) return;
      control.off('data', onData);
      try {
        resolve(JSON.parse(text.slice(0, end)) as RelayRequest);
      } catch (err) {
        reject(err as Error);
      }
    };
    control.on('data', onData);
    control.once('end', () => reject(new Error('leash closed the control channel before saying what to run')));
  });
}

function relayTo(socketPath: string): net.Server {
  return net.createServer((client) => {
    const upstream = net.connect(socketPath);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cut);
    upstream.on('error', cut);
    client.pipe(upstream).pipe(client);
  });
}

async function main(): Promise<void> {
  const control = new net.Socket({ fd: 3, readable: true, writable: true });
  const reply = (message: RelayReply) => control.write(`${JSON.stringify(message)}\n`);
  const fail = (error: string, code: number) => {
    reply({ error, code });
    control.end(() => process.exit(code));
  };
  const request = await readRequest(control);
  // A fresh namespace has its loopback down and no address on it; nothing can listen until it is up.
  const lo = spawnSync('ip', ['link', 'set', 'lo', 'up'], { encoding: 'utf8' });
  if (lo.status !== 0)
    return fail(`cannot bring up loopback in the namespace: ${(lo.stderr || lo.error?.message || '').trim()}`, 1);
  const server = relayTo(request.socket);
  server.once('error', (err) => fail(`cannot listen on 127.0.0.1:${request.port} in the namespace: ${err.message}`, 1));
  server.listen(request.port, '127.0.0.1', () => {
    let child: ChildProcess;
    // Root keeps its capabilities in a network namespace of its own: with CAP_SYS_ADMIN it could setns() back into
    // leash's. A command left to run as root (no --user) runs without any capability and cannot regain one
    // (util-linux setpriv: bounding and inheritable sets emptied, no_new_privs).
    const asRoot = request.uid === undefined && process.getuid?.() === 0;
    const command = asRoot ? 'setpriv' : request.command;
    const args = asRoot
      ? ['--bounding-set=-all', '--inh-caps=-all', '--no-new-privs', '--', request.command, ...request.args]
      : [...request.args];
    try {
      child = spawn(command, args, {
        stdio: 'inherit',
        env: request.env,
        uid: request.uid,
        gid: request.gid,
      });
    } catch (err) {
      return fail(`cannot run ${request.command}: ${(err as Error).message}`, 126);
    }
    child.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        `cannot run ${request.command}: ${err.code === 'ENOENT' ? 'not found' : err.message}`,
        err.code === 'ENOENT' ? 127 : 126,
      ),
    );
    child.once('spawn', () => reply({ started: true }));
    for (const signal of FORWARDED_SIGNALS) process.on(signal, () => child.kill(signal));
    child.once('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`leash: namespace relay: ${(err as Error).message}\n`);
  process.exit(1);
});
