// What the shared store costs on the request path: small plain-HTTP requests (1 KiB, keep-alive, 64 connections)
// through a rule with a `rateLimit` (so every request takes a token from the store), through one leash keeping its
// buckets in memory and one keeping them in a real redis-server on loopback (`LEASH_STORE`), in the same run and
// interleaved, each side keeping its best round. Reported as ratios of the Redis figures to the memory ones, plus
// redis-server's own CPU per request. The limit is far above what the run can reach: every answer must be a 200
// (a 429 or a 503 would be a figure of refusals, and the run fails instead).
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
import { cpuMeter, expectStatus, rate, startLeashProcess, startLoadgen, type LeashProcess, type Loadgen } from './proxy.js';
import type { BenchLine } from './report.js';

const SUITE = 'store';
const HOST = 'limited.test';
const SMALL_BYTES = 1024;
const SMALL = { connections: 64, warmupMs: 500, durationMs: 3000, maxRequests: 500_000 };
const ROUNDS = 2;
const progress = (text: string) => process.stderr.write(`bench store: ${text}\n`);

export async function storeBench(): Promise<BenchLine[]> {
  const small = Buffer.alloc(SMALL_BYTES, 'a');
  const origin = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': SMALL_BYTES }).end(small);
  });
  const originPort = await new Promise<number>((resolve, reject) => {
    origin.once('error', reject);
    origin.listen(0, '127.0.0.1', () => resolve((origin.address() as AddressInfo).port));
  });
  const dir = await tempDir('leash-bench-store-');
  await mkdir(path.join(dir, 'policies'));
  await writeFile(
    path.join(dir, 'policies', 'p.yaml'),
    `version: 1
settings:
  dns: { hosts: { ${HOST}: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: limited, domain: ${HOST}, ports: [${originPort}], rateLimit: 1000000000/1s, effect: allow }
`,
  );
  let redis: RedisServer | undefined;
  let gen: Loadgen | undefined;
  const leashes: { name: string; leash: LeashProcess }[] = [];
  try {
    redis = await startRedisServer();
    gen = await startLoadgen();
    const env = { ...process.env, LEASH_STORE: `${redis.url}/0` };
    leashes.push({ name: 'memory', leash: await startLeashProcess(path.join(dir, 'policies'), path.join(dir, 'memory.log')) });
    leashes.push({ name: 'redis', leash: await startLeashProcess(path.join(dir, 'policies'), path.join(dir, 'redis.log'), { env }) });
    const request = `GET http://${HOST}:${originPort}/small HTTP/1.1\r\nHost: ${HOST}:${originPort}\r\nUser-Agent: leash-bench\r\n\r\n`;
    const samples = new Map<string, { result: HttpResult; perSecond: number; leashUs: number; redisUs: number }[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const { name, leash } of leashes) {
        const meter = cpuMeter({ leash: leash.pid, redis: redis.pid, loadgen: gen.pid });
        const job: Job = { kind: 'http', port: leash.port, request, ...SMALL };
        const result = expectStatus(await gen.run<HttpResult>(job, 20_000), 200, `${name} store requests`);
        const { seconds, cpu } = meter();
        progress(`round ${round}, ${name} store: ${rate(result.requests, result.seconds).toFixed(0)} req/s; cores busy: ${Object.entries(cpu).map(([n, c]) => `${n} ${(c / seconds).toFixed(2)}`).join(', ')}`);
        const sample = { result, perSecond: rate(result.requests, result.seconds), leashUs: ((cpu.leash ?? NaN) / result.totalRequests) * 1e6, redisUs: ((cpu.redis ?? NaN) / result.totalRequests) * 1e6 };
        samples.set(name, [...(samples.get(name) ?? []), sample]);
      }
    }
    const best = (name: string) => (samples.get(name) ?? []).reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    const memory = best('memory');
    const redisBest = best('redis');
    return [
      { suite: SUITE, name: 'rate-limited requests, memory store', value: memory.perSecond, unit: 'req/s' },
      { suite: SUITE, name: 'rate-limited requests, Redis store', value: redisBest.perSecond, unit: 'req/s', ratio: redisBest.perSecond / memory.perSecond, ratioOf: 'rate-limited requests, memory store' },
      { suite: SUITE, name: 'rate-limited p99, memory store', value: memory.result.p99Ms, unit: 'ms' },
      { suite: SUITE, name: 'rate-limited p99, Redis store', value: redisBest.result.p99Ms, unit: 'ms', ratio: redisBest.result.p99Ms / memory.result.p99Ms, ratioOf: 'rate-limited p99, memory store' },
      { suite: SUITE, name: 'leash CPU per request, memory store', value: memory.leashUs, unit: 'us' },
      { suite: SUITE, name: 'leash CPU per request, Redis store', value: redisBest.leashUs, unit: 'us', ratio: redisBest.leashUs / memory.leashUs, ratioOf: 'leash CPU per request, memory store' },
      { suite: SUITE, name: 'redis-server CPU per request', value: redisBest.redisUs, unit: 'us' },
    ];
  } finally {
    for (const { leash } of leashes) await leash.stop().catch(() => 0);
    await gen?.stop().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    await new Promise<void>((resolve) => {
      origin.close(() => resolve());
      origin.closeAllConnections();
    });
  }
}
