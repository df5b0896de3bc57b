// Learn-mode benchmark. The requirement: `leash policy suggest` over a 1 GiB audit log runs in constant
// memory, and `npm run bench` reports its throughput (records/s).
//  - Generates a learn-mode log (generateSuggestLog below: 2,000 hosts, five agents, plain requests, spliced and
//    intercepted tunnels, grants, a few hosts denied by rule or refused by the address guard; unchained, which
//    suggest does not read) of LEASH_BENCH_SUGGEST_BYTES (default 1 GiB; set it lower for a quick run) in a
//    temporary directory, and one a tenth of the size (at most 100 MB) beside it; checks the disk has room first;
//    deletes both at the end, pass or fail.
//  - Runs `leash policy suggest` as installed (a build of src/, as the audit bench does) as a child process, with
//    a policy that defines the agents, output to a file in the temporary directory. Peak RSS from getrusage at exit.
//  - Baseline, same run, same file: a plain JSON.parse line loop (audit-baseline.mjs).
//  - Constant memory: peak RSS over the big log against the small one (the same hosts and agents, so the evidence
//    held is the same; only the record count differs).

import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildLeash, PEAK, runChild } from './audit.js';
import { prng } from './prng.js';
import type { BenchLine } from './report.js';

const SUITE = 'suggest';
const LOG_BYTES = Number(process.env.LEASH_BENCH_SUGGEST_BYTES ?? 1024 ** 3);
const SMALL_BYTES = Math.min(LOG_BYTES / 10, 100 * 1024 ** 2);

const POLICY = `version: 1
agents:
  research: { token: env:LEASH_BENCH_RESEARCH }
  builder: { token: env:LEASH_BENCH_BUILDER }
  support: { token: env:LEASH_BENCH_SUPPORT }
  ops: { token: env:LEASH_BENCH_OPS }
rules:
  - { name: deny-seven, domain: "*.svc-7.example", effect: deny }
`;

const AGENTS = ['research', 'builder', 'support', 'ops', 'anonymous'];
const HOSTS = 2000;

/** Writes about `bytes` of learn-mode records to `file`; returns the record count. */
export function generateSuggestLog(file: string, bytes: number, seed: number): number {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const fd = openSync(file, 'w');
  let written = 0;
  let records = 0;
  let batch: string[] = [];
  let batchBytes = 0;
  let time = Date.parse('2026-11-01T00:00:00.000Z');
  try {
    while (written + batchBytes < bytes) {
      const n = Math.floor(random() * HOSTS);
      const host = `h${n}.svc-${n % 50}.example`;
      const agent = n % 3 === 0 ? pick(AGENTS) : AGENTS[n % AGENTS.length];
      time += Math.floor(random() * 20);
      const roll = random();
      const base = {
        v: 2,
        time: new Date(time).toISOString(),
        seq: records + 1,
        id: `id-${records}`,
        agent,
        identity: agent === 'anonymous' ? 'none' : 'token',
        client: { address: '127.0.0.1', port: 40000 + (records % 20000) },
        host,
        effect: 'allow',
        wouldDeny: true,
        rule: null,
        reason: 'no_rule',
        status: 200,
        bytesIn: Math.floor(random() * 50_000),
        bytesOut: Math.floor(random() * 2_000),
        durationMs: 3.2,
        resolved: `93.184.215.${n % 250}`,
        policyRevision: 'a1b2c3d4e5f6',
        userAgent: 'python-requests/2.32.3',
      };
      let record: Record<string, unknown>;
      if (n % 97 === 0 && roll < 0.5)
        record = {
          ...base,
          event: 'request',
          method: 'GET',
          scheme: 'http',
          port: 80,
          path: '/',
          reason: 'denied_by_rule',
          rule: 'legacy-deny',
        };
      else if (n % 89 === 0)
        record = {
          ...base,
          event: 'request',
          method: 'GET',
          scheme: 'http',
          port: 80,
          path: '/',
          effect: 'deny',
          wouldDeny: undefined,
          reason: 'address_denied',
          status: 403,
          resolved: null,
        };
      else if (roll < 0.02) {
        const cdn = `img${n % 40}.cdn.example`;
        record = {
          ...base,
          event: 'grant',
          host: cdn,
          method: null,
          scheme: 'https',
          port: 443,
          path: null,
          wouldDeny: undefined,
          wouldGrant: true,
          rule: 'search',
          reason: 'granted',
          status: null,
          grant: {
            source: 'id-1',
            sourceRule: 'search',
            sourceUrl: 'https://api.search.example/v1/search?q=x',
            found: '$.results[3].image',
            expiresAt: new Date(time + 30_000).toISOString(),
          },
        };
      } else if (roll < 0.04)
        record = {
          ...base,
          event: 'request',
          host: 'api.search.example',
          method: 'GET',
          scheme: 'https',
          tls: 'intercepted',
          port: 443,
          path: '/v1/search?q=x',
          wouldDeny: undefined,
          reason: 'allowed_by_rule',
          rule: 'search',
        };
      else if (roll < 0.45)
        record = {
          ...base,
          event: 'request',
          method: random() < 0.8 ? 'GET' : 'POST',
          scheme: 'http',
          port: 80,
          path: `/v${1 + (n % 3)}/items/${Math.floor(random() * 1e6)}?page=${Math.floor(random() * 20)}`,
        };
      else if (roll < 0.75 && n % 4 !== 0)
        record = { ...base, event: 'tunnel', method: 'CONNECT', scheme: 'tunnel', port: 443, path: null, sni: host };
      else
        record = {
          ...base,
          event: 'request',
          method: 'GET',
          scheme: 'https',
          tls: 'intercepted',
          port: 443,
          path: `/api/${n % 7}/x`,
          wouldDeny: undefined,
          reason: 'allowed_by_rule',
          rule: 'old',
        };
      const line = `${JSON.stringify(record)}\n`;
      batch.push(line);
      batchBytes += Buffer.byteLength(line);
      records++;
      if (batchBytes >= 4 << 20) {
        writeSync(fd, batch.join(''));
        written += batchBytes;
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length > 0) writeSync(fd, batch.join(''));
  } finally {
    closeSync(fd);
  }
  return records;
}

export async function suggestBench(): Promise<BenchLine[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'leash-bench-suggest-'));
  try {
    const s = statfsSync(dir);
    const free = s.bavail * s.bsize;
    if (free < (LOG_BYTES + SMALL_BYTES) * 1.5)
      throw new Error(
        `suggest bench needs ${Math.ceil(((LOG_BYTES + SMALL_BYTES) * 1.5) / 1024 ** 2)} MB free in ${os.tmpdir()}, has ${Math.floor(free / 1024 ** 2)} MB`,
      );
    const big = path.join(dir, 'audit.log');
    const small = path.join(dir, 'small', 'audit.log');
    mkdirSync(path.dirname(small));
    const policy = path.join(dir, 'policy.yaml');
    writeFileSync(policy, POLICY);
    process.stderr.write(`bench: suggest: generating a ${Math.round(LOG_BYTES / 1024 ** 2)} MB log in ${dir}...\n`);
    const genStart = performance.now();
    const records = generateSuggestLog(big, LOG_BYTES, 3);
    const genSeconds = (performance.now() - genStart) / 1000;
    const smallRecords = generateSuggestLog(small, SMALL_BYTES, 4);
    const build = buildLeash(dir);
    const suggest = (log: string, out: string) =>
      runChild(process.execPath, [
        ...PEAK,
        ...build.argv,
        'policy',
        'suggest',
        log,
        '--policy',
        policy,
        '-o',
        path.join(dir, out),
      ]);

    const baseline = await runChild(
      process.execPath,
      [...PEAK, path.resolve('test/bench/audit-baseline.mjs'), big],
      true,
    );
    const smallRun = await suggest(small, 'small.yaml');
    const bigRun = await suggest(big, 'big.yaml');
    for (const run of [smallRun, bigRun])
      if (run.code !== 0) throw new Error(`leash policy suggest exited ${run.code} on the generated log`);
    const rss = (run: { peakRssMb: number | undefined }) => run.peakRssMb ?? NaN;
    const ratio = rss(bigRun) / rss(smallRun);
    return [
      {
        suite: SUITE,
        name: `generated log: ${(LOG_BYTES / 1024 ** 3).toFixed(2)} GiB, ${records} records`,
        value: records / genSeconds,
        unit: 'records/s written',
      },
      {
        suite: SUITE,
        name: `leash policy suggest, ${Math.round(SMALL_BYTES / 1024 ** 2)} MB log (from ${build.how}, start-up included)`,
        value: smallRecords / smallRun.seconds,
        unit: 'records/s',
      },
      {
        suite: SUITE,
        name: 'baseline: JSON.parse line loop, same log',
        value: records / baseline.seconds,
        unit: 'records/s',
      },
      {
        suite: SUITE,
        name: `leash policy suggest, ${(LOG_BYTES / 1024 ** 3).toFixed(2)} GiB log (start-up included)`,
        value: records / bigRun.seconds,
        unit: 'records/s',
        ratio: baseline.seconds / bigRun.seconds,
        ratioOf: 'JSON.parse loop',
      },
      {
        suite: SUITE,
        name: `peak RSS: leash policy suggest, ${Math.round(SMALL_BYTES / 1024 ** 2)} MB log`,
        value: rss(smallRun),
        unit: 'MB',
      },
      {
        suite: SUITE,
        name: `peak RSS: leash policy suggest, ${(LOG_BYTES / 1024 ** 3).toFixed(2)} GiB log`,
        value: rss(bigRun),
        unit: 'MB',
        ratio,
        ratioOf: 'small log',
        target: '≤ 1.25x (constant memory)',
        pass: ratio <= 1.25,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
