// Squid, side by side with leash in the proxy benchmark: Debian's package (/usr/sbin/squid), installed by the
// benchmark with `apt-get install -y squid` when it is missing and the benchmark runs as root; otherwise the run
// says so and goes on without the Squid figures. Configured like leash is there: listening on 127.0.0.1 only, serving loopback clients only,
// the benchmark's names pinned to 127.0.0.1 by a hosts file, nothing cached, and its access log on (leash's audit
// log is on too), so the two do comparable work per request.
//
// Never: listen on anything but 127.0.0.1; resolve a name through anything but the hosts file (its resolver is
// pointed at 127.0.0.1); outlive the benchmark (it runs in the foreground, as our child, and is killed at stop).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

export const SQUID_BINARY = '/usr/sbin/squid';

export interface SquidOptions {
  /** An empty directory for its configuration, logs and pid file. */
  dir: string;
  /** Names to pin, each to 127.0.0.1. */
  hosts: readonly string[];
  /** The one name it may proxy to (plain requests and CONNECT, any port). */
  allow: string;
  /** A name it must refuse (403), as leash does. */
  deny: string;
}

export interface RunningSquid {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/**
 * Makes sure Squid is there: installs Debian's package when it is missing and this process is root. Returns why
 * there is no Squid, or undefined when there is one. Bounded: apt-get gets at most 5 minutes.
 */
export function ensureSquid(progress: (text: string) => void): string | undefined {
  if (existsSync(SQUID_BINARY)) return undefined;
  if (process.getuid?.() !== 0)
    return `${SQUID_BINARY} is missing and the benchmark is not root (install it: apt-get install -y squid)`;
  progress(`${SQUID_BINARY} is missing: apt-get install -y squid`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = spawnSync('apt-get', ['install', '-y', 'squid'], { env, encoding: 'utf8', timeout: 300_000 });
  if (install.status !== 0 || !existsSync(SQUID_BINARY)) {
    const why = (install.stderr || install.error?.message || '').trim().split('\n').slice(-1)[0];
    return `apt-get install -y squid failed${why ? `: ${why}` : ''}`;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts Squid, or returns undefined when it is not installed. */
export async function startSquid(options: SquidOptions): Promise<RunningSquid | undefined> {
  if (!existsSync(SQUID_BINARY)) return undefined;
  const dir = options.dir;
  await mkdir(dir, { recursive: true });
  // Started as root, Squid drops to its own user, which must still write its logs here.
  await chmod(dir, 0o777);
  const port = await freePort();
  await writeFile(path.join(dir, 'hosts'), options.hosts.map((h) => `127.0.0.1 ${h}\n`).join(''));
  const conf = path.join(dir, 'squid.conf');
  await writeFile(
    conf,
    `http_port 127.0.0.1:${port}
pid_filename ${dir}/squid.pid
cache_log ${dir}/cache.log
access_log stdio:${dir}/access.log squid
cache_store_log none
coredump_dir ${dir}
cache deny all
cache_mem 0 MB
hosts_file ${dir}/hosts
dns_nameservers 127.0.0.1
pinger_enable off
via off
forwarded_for delete
max_filedescriptors 16384
shutdown_lifetime 1 seconds
acl bench_origin dstdomain ${options.allow}
acl bench_denied dstdomain ${options.deny}
http_access deny bench_denied
http_access allow localhost bench_origin
http_access deny all
`,
  );
  const child = spawn(SQUID_BINARY, ['-N', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };
  const deadline = performance.now() + 15_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || performance.now() > deadline) {
      await stop();
      throw new Error(`squid did not start on 127.0.0.1:${port}: ${stderr.join('').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid as number, port, stop };
}
