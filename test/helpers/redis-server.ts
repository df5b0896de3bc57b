// A real redis-server for the tests of the shared stores, started by the test on a free loopback port and stopped
// after it; never a system Redis service, never a mock. Redis needs an explicit port, so one is found by binding
// port 0 first. No persistence: each server starts empty.
//
// Without redis-server on the PATH the suites that need it are skipped with the reason outside CI, and fail under
// CI=true (.ci/run installs it): a missing prerequisite must never pass silently there.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis.js';
import { parseStoreUrl } from '../../src/store/url.js';

const inCi = process.env.CI === 'true';

function redisMissing(): string | null {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? null : 'redis-server is not installed (Debian: apt-get install redis-server)';
}

const missing = redisMissing();

/** `describe` for suites that need redis-server: skipped with the reason outside CI, failing under CI. */
export function describeWithRedis(name: string, body: () => void): void {
  if (missing === null) {
    describe(name, body);
  } else if (inCi) {
    describe(name, () => {
      it('has redis-server to run against', () => {
        throw new Error(`${missing}; CI must install it (.ci/run APT_PACKAGES)`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${missing})`, body);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  readonly port: number;
  /** The running redis-server's pid (changes on restart). */
  readonly pid: number;
  readonly url: string;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that accepts connections and answers nothing, as when it is overloaded. */
  pause(): void;
  resume(): void;
}

/** `extra`: more redis-server arguments, e.g. ['--requirepass', 'secret']; kept on restart. */
export async function startRedisServer(port?: number, extra: readonly string[] = []): Promise<RedisServer> {
  const chosen = port ?? (await freePort());
  let child = await spawnRedis(chosen, extra);
  const server: RedisServer = {
    port: chosen,
    get pid() {
      return child.pid as number;
    },
    url: `redis://127.0.0.1:${chosen}`,
    async stop() {
      await stopChild(child);
    },
    async restart() {
      await stopChild(child);
      child = await spawnRedis(chosen, extra);
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
  };
  return server;
}

async function spawnRedis(port: number, extra: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server on port ${port} not ready within 10 s:\n${output}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server on port ${port} exited (${code}) before it was ready:\n${output}`));
    });
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * For a describe block: a redis-server started before its tests and stopped after, and `connect()` for leash's
 * connections to it (closed after the tests too). `server()` is valid inside tests and hooks.
 */
export function useRedis(): {
  server: () => RedisServer;
  connect: (url?: string, timeoutMs?: number, log?: (line: string) => void) => Promise<RedisConnection>;
} {
  let redis: RedisServer | undefined;
  const connections: RedisConnection[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const c of connections) await c.close();
    await redis?.stop();
  });
  const server = () => {
    if (!redis) throw new Error('redis-server is not started yet: call server() inside a test or hook');
    return redis;
  };
  return {
    server,
    async connect(url, timeoutMs, log) {
      const connection = new RedisConnection(parseStoreUrl(url ?? server().url), { timeoutMs, log });
      connections.push(connection);
      connection.start();
      await connection.ready(5_000);
      return connection;
    },
  };
}
