// Learn-mode benchmark. The requirement: `leash policy suggest` over a 1 GiB audit log runs in constant
// memory, and `npm run bench` reports its throughput (records/s).
//  - Generates the audit bench's log (generateLog in audit.ts: 1,000 hosts, five agents, allowed, denied by rule,
//    refused by the address guard, rate-limited) of LEASH_BENCH_SUGGEST_BYTES (default 1 GiB; set it lower for a
//    quick run) in a temporary directory, and one a tenth of the size (at most 100 MB) beside it; checks the disk has
//    room first; deletes both at the end, pass or fail.
//  - Runs `leash policy suggest` as installed (a build of src/, as the audit bench does) as a child process, with
//    a policy that defines the agents, output to a file in the temporary directory. Peak RSS from getrusage at exit.
//  - Constant memory: peak RSS over the big log against the small one (the same hosts and agents, so the evidence
//    held is the same; only the record count differs).

import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildLeash, generateLog, PEAK, runChild } from './audit.js';
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
  - { name: deny-seven, domain: "*.example-7.test", effect: deny }
`;

export async function suggestBench(): Promise<BenchLine[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'leash-bench-suggest-'));
  try {
    const s = statfsSync(dir);
    const free = s.bavail * s.bsize;
    if (free < (LOG_BYTES + SMALL_BYTES) * 1.5) throw new Error(`suggest bench needs ${Math.ceil(((LOG_BYTES + SMALL_BYTES) * 1.5) / 1024 ** 2)} MB free in ${os.tmpdir()}, has ${Math.floor(free / 1024 ** 2)} MB`);
    const big = path.join(dir, 'audit.log');
    const small = path.join(dir, 'small', 'audit.log');
    mkdirSync(path.dirname(small));
    const policy = path.join(dir, 'policy.yaml');
    writeFileSync(policy, POLICY);
    process.stderr.write(`bench: suggest: generating a ${Math.round(LOG_BYTES / 1024 ** 2)} MB log in ${dir}...\n`);
    const genStart = performance.now();
    const records = generateLog(big, LOG_BYTES, 3);
    const genSeconds = (performance.now() - genStart) / 1000;
    const smallRecords = generateLog(small, SMALL_BYTES, 4);
    const build = buildLeash(dir);
    const suggest = (log: string, out: string) => runChild(process.execPath, [...PEAK, ...build.argv, 'policy', 'suggest', log, '--policy', policy, '-o', path.join(dir, out)]);

    const smallRun = await suggest(small, 'small.yaml');
    const bigRun = await suggest(big, 'big.yaml');
    for (const run of [smallRun, bigRun]) if (run.code !== 0) throw new Error(`leash policy suggest exited ${run.code} on the generated log`);
    const rss = (run: { peakRssMb: number | undefined }) => run.peakRssMb ?? NaN;
    const ratio = rss(bigRun) / rss(smallRun);
    return [
      { suite: SUITE, name: `generated log: ${(LOG_BYTES / 1024 ** 3).toFixed(2)} GiB, ${records} records`, value: records / genSeconds, unit: 'records/s written' },
      { suite: SUITE, name: `leash policy suggest, ${Math.round(SMALL_BYTES / 1024 ** 2)} MB log (from ${build.how}, start-up included)`, value: smallRecords / smallRun.seconds, unit: 'records/s' },
      { suite: SUITE, name: `leash policy suggest, ${(LOG_BYTES / 1024 ** 3).toFixed(2)} GiB log (start-up included)`, value: records / bigRun.seconds, unit: 'records/s' },
      { suite: SUITE, name: `peak RSS: leash policy suggest, ${Math.round(SMALL_BYTES / 1024 ** 2)} MB log`, value: rss(smallRun), unit: 'MB' },
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
