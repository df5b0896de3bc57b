// What the shared store costs on the request path (issue 14), in one run, as ratios of the Redis figures to the
// memory ones: small plain-HTTP requests (1 KiB, keep-alive, 64 connections) through one leash keeping its state
// in memory and one keeping it in a real redis-server on loopback (`LEASH_STORE`), interleaved, each side keeping
// its best round, for the two store calls a request can make:
//   - rate-limit check: a rule with a `rateLimit` far above what the run reaches, so every request takes a token;
//   - grant lookup: a host no rule names, reached through a grant an inspected response made (settings.grants.ttl
//     outlasts the run), so every request looks its grant up.
// Every answer must be a 200 (a 403, 429 or 503 would be a figure of refusals, and the run fails instead).
// Then the fleet: two leash replicas sharing the one Redis, the load client spreading its 64 connections over
// them round-robin, against one replica alone, on the rate-limited requests (both replicas take from the same
// buckets). On a machine with fewer cores than replicas plus origin plus generator, the ratio says how much the
// shared store leaves to gain, not how a fleet on separate machines scales.
//
// Separate processes, as in proxy.ts: leash (test/bench/leash-process.mjs, compiled dist/), the load generator,
// redis-server; this process holds the origin and is idle while a phase runs. Bounded in count and in time.
// Never: send traffic anywhere but 127.0.0.1; leave a process behind.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../helpers/audit-sink.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import type { HttpResult, Job } from './loadgen.js';
import { benchMode } from './mode.js';
import {
  cpuMeter,
  expectStatus,
  rate,
  startLeashProcess,
  startLoadgen,
  type LeashProcess,
  type Loadgen,
} from './proxy.js';
import type { BenchLine } from './report.js';

const SUITE = 'store';
const LIMITED_HOST = 'limited.test';
const REFS_HOST = 'refs.test';
const GRANTED_HOST = 'granted.test';
const SMALL_BYTES = 1024;
const mode = benchMode();
const SMALL = { connections: 64, warmupMs: 500, durationMs: mode.window(3000), maxRequests: 500_000 };
const ROUNDS = 2;
const progress = (text: string) => process.stderr.write(`bench store: ${text}\n`);

interface Sample {
  result: HttpResult;
  perSecond: number;
  leashUs: number;
  redisUs: number;
}

export async function storeBench(): Promise<BenchLine[]> {
  const small = Buffer.alloc(SMALL_BYTES, 'a');
  let originPort = 0;
  const origin = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    if (req.url === '/refs') {
      // What an API hands back: a link the agent may then fetch, granted by leash.
      const body = JSON.stringify({ results: [{ image: `http://${GRANTED_HOST}:${originPort}/small` }] });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': SMALL_BYTES }).end(small);
  });
  originPort = await new Promise<number>((resolve, reject) => {
    origin.once('error', reject);
    origin.listen(0, '127.0.0.1', () => resolve((origin.address() as AddressInfo).port));
  });
  const dir = await tempDir('leash-bench-store-');
  await mkdir(path.join(dir, 'policies'));
  await writeFile(
    path.join(dir, 'policies', 'p.yaml'),
    `version: 1
settings:
  dns: { hosts: { ${LIMITED_HOST}: 127.0.0.1, ${REFS_HOST}: 127.0.0.1, ${GRANTED_HOST}: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  grants: { ttl: 1h }
rules:
  - { name: limited, domain: ${LIMITED_HOST}, ports: [${originPort}], rateLimit: 1000000000/1s, effect: allow }
  - { name: refs, domain: ${REFS_HOST}, ports: [${originPort}], inspect: { types: [json], grant: { hosts: [${GRANTED_HOST}] } }, effect: allow }
`,
  );
  let redis: RedisServer | undefined;
  let gen: Loadgen | undefined;
  const leashes = new Map<string, LeashProcess>();
  try {
    redis = await startRedisServer();
    gen = await startLoadgen();
    const env = { ...process.env, LEASH_STORE: `${redis.url}/0` };
    const policies = path.join(dir, 'policies');
    leashes.set('memory', await startLeashProcess(policies, path.join(dir, 'memory.log')));
    leashes.set('redis', await startLeashProcess(policies, path.join(dir, 'redis.log'), { env }));
    leashes.set('redis replica 2', await startLeashProcess(policies, path.join(dir, 'redis-2.log'), { env }));
    const leash = (name: string) => leashes.get(name) as LeashProcess;
    const head = (host: string, target: string) =>
      `GET http://${host}:${originPort}${target} HTTP/1.1\r\nHost: ${host}:${originPort}\r\nUser-Agent: leash-bench\r\n\r\n`;
    const limited = head(LIMITED_HOST, '/small');
    const granted = head(GRANTED_HOST, '/small');

    /** One request for the grant through this leash: the agent (anonymous) may then fetch granted.test. */
    const obtainGrant = async (port: number) => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.get(
          {
            host: '127.0.0.1',
            port,
            path: `http://${REFS_HOST}:${originPort}/refs`,
            headers: { host: `${REFS_HOST}:${originPort}` },
            agent: false,
            timeout: 5000,
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('timeout', () => req.destroy(new Error('no answer to the grant request in 5 s')));
        req.on('error', reject);
      });
      if (status !== 200) throw new Error(`the request that makes the grant got ${status}`);
    };

    const samples = new Map<string, Sample[]>();
    const measure = async (label: string, round: number, names: string[], request: string) => {
      const pids: Record<string, number> = { redis: redis?.pid as number, loadgen: gen?.pid as number };
      for (const name of names) pids[`leash ${name}`] = leash(name).pid;
      const meter = cpuMeter(pids);
      const ports = names.map((n) => leash(n).port);
      const job: Job = {
        kind: 'http',
        port: ports[0] as number,
        ...(ports.length > 1 ? { ports } : {}),
        request,
        ...SMALL,
      };
      const result = expectStatus(await (gen as Loadgen).run<HttpResult>(job, 30_000), 200, label);
      const { seconds, cpu } = meter();
      const leashCpu = names.reduce((sum, n) => sum + (cpu[`leash ${n}`] ?? NaN), 0);
      progress(
        `round ${round}, ${label}: ${rate(result.requests, result.seconds).toFixed(0)} req/s; cores busy: ${Object.entries(
          cpu,
        )
          .map(([n, c]) => `${n} ${(c / seconds).toFixed(2)}`)
          .join(', ')}`,
      );
      const sample = {
        result,
        perSecond: rate(result.requests, result.seconds),
        leashUs: (leashCpu / result.totalRequests) * 1e6,
        redisUs: ((cpu.redis ?? NaN) / result.totalRequests) * 1e6,
      };
      samples.set(label, [...(samples.get(label) ?? []), sample]);
    };

    for (const name of ['memory', 'redis']) await obtainGrant(leash(name).port);
    for (let round = 1; round <= ROUNDS; round++) {
      // A different order each round, so that no side always runs first.
      const sides = round % 2 === 1 ? ['memory', 'redis'] : ['redis', 'memory'];
      for (const side of sides) await measure(`rate limit, ${side}`, round, [side], limited);
      for (const side of sides) await measure(`grant lookup, ${side}`, round, [side], granted);
      const fleet = round % 2 === 1 ? ['one', 'two'] : ['two', 'one'];
      for (const size of fleet)
        await measure(`replicas, ${size}`, round, size === 'one' ? ['redis'] : ['redis', 'redis replica 2'], limited);
    }

    const best = (label: string) => (samples.get(label) ?? []).reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    const lines: BenchLine[] = [];
    const push = (line: Omit<BenchLine, 'suite'>) => lines.push({ suite: SUITE, ...line });
    for (const [call, what] of [
      ['rate limit', 'rate-limited requests'],
      ['grant lookup', 'granted requests'],
    ] as const) {
      const memory = best(`${call}, memory`);
      const inRedis = best(`${call}, redis`);
      const base = `${what}, memory store`;
      push({ name: base, value: memory.perSecond, unit: 'req/s' });
      push({
        name: `${what}, Redis store`,
        value: inRedis.perSecond,
        unit: 'req/s',
        ratio: inRedis.perSecond / memory.perSecond,
        ratioOf: base,
      });
      push({ name: `${what} p99, memory store`, value: memory.result.p99Ms, unit: 'ms' });
      push({
        name: `${what} p99, Redis store`,
        value: inRedis.result.p99Ms,
        unit: 'ms',
        ratio: inRedis.result.p99Ms / memory.result.p99Ms,
        ratioOf: `${what} p99, memory store`,
      });
      push({
        name: `leash CPU per ${call === 'rate limit' ? 'rate-limited' : 'granted'} request, memory store`,
        value: memory.leashUs,
        unit: 'us',
      });
      push({
        name: `leash CPU per ${call === 'rate limit' ? 'rate-limited' : 'granted'} request, Redis store`,
        value: inRedis.leashUs,
        unit: 'us',
        ratio: inRedis.leashUs / memory.leashUs,
        ratioOf: `leash CPU per ${call === 'rate limit' ? 'rate-limited' : 'granted'} request, memory store`,
      });
      push({
        name: `redis-server CPU per ${call === 'rate limit' ? 'rate-limited' : 'granted'} request`,
        value: inRedis.redisUs,
        unit: 'us',
      });
    }
    const one = best('replicas, one');
    const two = best('replicas, two');
    push({ name: 'rate-limited requests, one replica on Redis', value: one.perSecond, unit: 'req/s' });
    push({
      name: 'rate-limited requests, two replicas sharing Redis',
      value: two.perSecond,
      unit: 'req/s',
      ratio: two.perSecond / one.perSecond,
      ratioOf: 'rate-limited requests, one replica on Redis',
    });
    push({ name: 'leash CPU per request, one replica', value: one.leashUs, unit: 'us' });
    push({
      name: 'leash CPU per request, two replicas (sum)',
      value: two.leashUs,
      unit: 'us',
      ratio: two.leashUs / one.leashUs,
      ratioOf: 'leash CPU per request, one replica',
    });
    for (const [name, running] of leashes) {
      const records = await running.stop();
      if (records === 0) throw new Error(`leash ${name} wrote no audit records: the audit log was not on`);
    }
    return lines;
  } finally {
    for (const running of leashes.values()) await running.stop().catch(() => 0);
    await gen?.stop().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    await new Promise<void>((resolve) => {
      origin.close(() => resolve());
      origin.closeAllConnections();
    });
  }
}
