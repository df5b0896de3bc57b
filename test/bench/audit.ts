// Audit-review benchmark. The requirement: `leash audit` filters a generated 1 GB log in constant memory,
// and `npm run bench` reports its throughput (records/s) and peak memory.
//  - Generates a chained log (the real chainLine, so `verify` runs on it) of LOG_BYTES in a temporary directory,
//    and a 100 MB one beside it; checks the disk has room first; deletes both at the end, pass or fail.
//  - Runs each command as a child process, as installed: `node dist/main.js audit ...` from a build of src/ made
//    in the temporary directory (tsx's on-the-fly compile would add a second of start-up to every run; if the
//    build fails, it falls back to tsx and says so), output to /dev/null. Peak RSS comes from getrusage at exit
//    (peak-rss.mjs). Records/s is records in the log / wall time, process start included. The page cache is
//    warm for every run (the log was just written).
//  - Baseline, same run, same file: a plain JSON.parse line loop (audit-baseline.mjs); `grep -c` for reference.
//  - Constant memory: peak RSS filtering the 1 GB log against filtering the 100 MB one; the same for
//    `leash audit report` (which verifies the chain and parses every line: two parses per line).

import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statfsSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { boundRecord } from '../../src/audit/bound.js';
import { chainLine, EMPTY_CHAIN, type ChainHead } from '../../src/audit/chain.js';
import { redactFlatRecord } from '../../src/audit/redact.js';
import type { BenchLine } from './report.js';
import { prng } from './prng.js';

const SUITE = 'audit';
const LOG_BYTES = Number(process.env.LEASH_BENCH_AUDIT_BYTES ?? 1024 ** 3);
const SMALL_BYTES = Math.min(LOG_BYTES / 10, 100 * 1024 ** 2);
const RUN_TIMEOUT_MS = 10 * 60_000;

const AGENTS = ['research', 'builder', 'support', 'anonymous', 'ops'];
const REASONS_DENY = ['no_rule', 'denied_by_rule', 'address_denied', 'rate_limited'];

/** Writes a chained log of about `bytes` to `file`; returns the record count. */
export function generateLog(file: string, bytes: number, seed: number): number {
  const random = prng(seed);
  const fd = openSync(file, 'w');
  let head: ChainHead = EMPTY_CHAIN;
  let written = 0;
  let records = 0;
  let batch: string[] = [];
  let batchBytes = 0;
  let time = Date.parse('2026-11-01T00:00:00.000Z');
  try {
    while (written + batchBytes < bytes) {
      const deny = random() < 0.2;
      const agent = AGENTS[Math.floor(random() * AGENTS.length)] as string;
      const hostN = Math.floor(random() * 1000);
      const tunnel = random() < 0.5;
      time += Math.floor(random() * 50);
      const record = {
        id: `${(records + 1).toString(16).padStart(8, '0')}-4c1e-4a5b-9d2e-${Math.floor(random() * 1e12)
          .toString(16)
          .padStart(12, '0')}`,
        event: tunnel ? 'tunnel' : 'request',
        agent,
        identity: agent === 'anonymous' ? 'none' : 'token',
        client: { address: '127.0.0.1', port: 30000 + Math.floor(random() * 30000) },
        method: tunnel ? 'CONNECT' : random() < 0.8 ? 'GET' : 'POST',
        scheme: tunnel ? 'tunnel' : 'http',
        host: `api-${hostN}.example-${hostN % 10}.test`,
        port: tunnel ? 443 : 80,
        path: tunnel
          ? null
          : `/v1/items/${Math.floor(random() * 1e6)}?page=${Math.floor(random() * 20)}&q=search+terms`,
        effect: deny ? 'deny' : 'allow',
        rule: deny && random() < 0.5 ? null : `rule-${hostN % 50}`,
        reason: deny ? (REASONS_DENY[Math.floor(random() * REASONS_DENY.length)] as string) : 'allowed_by_rule',
        message: deny
          ? `GET api-${hostN}.example-${hostN % 10}.test denied: no rule allows it (default deny)`
          : undefined,
        status: deny ? 403 : 200,
        bytesIn: deny ? 0 : Math.floor(random() * 100_000),
        bytesOut: deny ? 0 : Math.floor(random() * 5_000),
        durationMs: Math.round(random() * 200_000) / 1000,
        resolved: deny ? null : `203.0.113.${hostN % 250}`,
        policyRevision: 'a1b2c3d4e5f6',
        userAgent: 'python-requests/2.32.3',
      };
      const next = chainLine(head, record, new Date(time).toISOString());
      head = next.head;
      const line = `${next.line}\n`;
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

export interface ChildRun {
  seconds: number;
  peakRssMb: number | undefined;
  code: number | null;
  stdout: string;
}

/** Runs a command with stdout captured (small) or discarded, and reads the peak RSS line peak-rss.mjs prints. */
export function runChild(command: string, args: string[], keepStdout = false): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, {
      stdio: ['ignore', keepStdout ? 'pipe' : 'ignore', 'pipe'],
      cwd: process.cwd(),
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      const kb = /peak-rss-kb (\d+)/.exec(stderr);
      if (code !== 0 && code !== 1)
        return reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-500)}`));
      resolve({ seconds, peakRssMb: kb ? Number(kb[1]) / 1024 : undefined, code, stdout });
    });
  });
}

export const PEAK = ['--import', path.resolve('test/bench/peak-rss.mjs')];

/** Compiles src/ into DIR/dist (with node_modules linked beside it); returns how to run leash. */
export function buildLeash(dir: string): { argv: string[]; how: string } {
  const out = path.join(dir, 'build');
  mkdirSync(out);
  // The real version: `leash --version` (and commander's program set-up) reads it from this file.
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  writeFileSync(path.join(out, 'package.json'), `${JSON.stringify({ type: 'module', version })}\n`);
  symlinkSync(path.resolve('node_modules'), path.join(out, 'node_modules'));
  const tsc = spawnSync(
    process.execPath,
    [path.resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', path.join(out, 'dist')],
    { encoding: 'utf8' },
  );
  if (tsc.status === 0) return { argv: [path.join(out, 'dist', 'main.js')], how: 'dist' };
  process.stderr.write(
    `bench: audit: build failed, running leash through tsx instead:\n${tsc.stdout.slice(0, 1000)}\n`,
  );
  return { argv: ['--import', 'tsx', 'src/main.ts'], how: 'tsx' };
}

/**
 * The write path per record, in-process: redaction + size cap + chain (what AuditLog.write does) against the chain
 * alone (JSON.stringify and SHA-256), for a record with nothing to hide, one with a query, and one with a planted key.
 */
export function writePathLines(): BenchLine[] {
  const record = (path: string, userAgent: string) => ({
    id: '3f1c2b9e-7d4a-4c1e-9b2f-8a6d5e4c3b2a',
    event: 'request',
    agent: 'research',
    identity: 'token',
    client: { address: '127.0.0.1', port: 40000 },
    method: 'GET',
    scheme: 'http',
    host: 'api.example-7.test',
    port: 80,
    path,
    effect: 'allow',
    rule: 'rule-7',
    reason: 'allowed_by_rule',
    message: `GET api.example-7.test:80${path} allowed by rule rule-7`,
    status: 200,
    bytesIn: 512,
    bytesOut: 128,
    durationMs: 1.2,
    resolved: '127.0.0.1',
    policyRevision: '133de760891a',
    userAgent,
  });
  const key = ['sk', 'proj', 'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z'].join('-');
  const cases = [
    ['nothing to hide', record('/v1/chat/completions', 'python-requests/2.31.0')],
    [
      'a query string',
      record(
        '/v1/items/1?page=2&q=search+terms',
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      ),
    ],
    ['a planted key, encoded', record(`/v1/%73${key.slice(1)}?token=abc`, `agent/1.0 ${key}`)],
  ] as const;
  const perRecordUs = (write: () => void) => {
    for (let i = 0; i < 5_000; i++) write();
    const n = 50_000;
    const started = performance.now();
    for (let i = 0; i < n; i++) write();
    return ((performance.now() - started) * 1000) / n;
  };
  const lines: BenchLine[] = [];
  for (const [name, r] of cases) {
    const chainOnly = perRecordUs(() => chainLine(EMPTY_CHAIN, r, 't'));
    const full = perRecordUs(() => chainLine(EMPTY_CHAIN, boundRecord(redactFlatRecord(r), r), 't'));
    lines.push({ suite: SUITE, name: `write path, ${name}: chain only`, value: chainOnly, unit: 'µs/record' });
    lines.push({
      suite: SUITE,
      name: `write path, ${name}: redact + cap + chain`,
      value: full,
      unit: 'µs/record',
      ratio: full / chainOnly,
      ratioOf: 'chain only',
    });
  }
  return lines;
}

export async function auditBench(): Promise<BenchLine[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'leash-bench-audit-'));
  try {
    const free = (() => {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    })();
    if (free < (LOG_BYTES + SMALL_BYTES) * 1.5)
      throw new Error(
        `audit bench needs ${Math.ceil(((LOG_BYTES + SMALL_BYTES) * 1.5) / 1024 ** 2)} MB free in ${os.tmpdir()}, has ${Math.floor(free / 1024 ** 2)} MB`,
      );
    const big = path.join(dir, 'audit.log');
    const small = path.join(dir, 'small', 'audit.log');
    mkdirSync(path.dirname(small));
    process.stderr.write(`bench: audit: generating a ${Math.round(LOG_BYTES / 1024 ** 2)} MB log in ${dir}...\n`);
    const genStart = performance.now();
    const records = generateLog(big, LOG_BYTES, 1);
    const genSeconds = (performance.now() - genStart) / 1000;
    generateLog(small, SMALL_BYTES, 2);
    const build = buildLeash(dir);
    const leash = (...args: string[]) => runChild(process.execPath, [...PEAK, ...build.argv, 'audit', ...args]);
    const start = await runChild(process.execPath, [...PEAK, ...build.argv, 'help'], true);

    const rate = (run: ChildRun, n = records) => n / run.seconds;
    const baseline = await runChild(
      process.execPath,
      [...PEAK, path.resolve('test/bench/audit-baseline.mjs'), big],
      true,
    );
    const [baseRecords, baseDenied] = baseline.stdout.trim().split(' ').map(Number);
    if (baseRecords !== records) throw new Error(`baseline read ${baseRecords} records, the log has ${records}`);
    const grep = await runChild('grep', ['-c', '"effect":"deny"', big], true);
    if (Number(grep.stdout.trim()) !== baseDenied)
      throw new Error(`grep counted ${grep.stdout.trim()} denials, the baseline ${baseDenied}`);

    const deny = await leash(big, '--effect', 'deny', '--format', 'json');
    const host = await leash(big, '--host', '*.example-7.test', '--format', 'json');
    const table = await leash(big, '--agent', 'research', '--since', '2026-11-01T12:00Z');
    const summary = await leash(big, '--summary', '--format', 'json');
    const verify = await leash('verify', big);
    if (verify.code !== 0) throw new Error('leash audit verify failed on the generated log');
    const report = await leash('report', big, '-o', path.join(dir, 'report.html'));
    const smallReport = await leash('report', small, '-o', path.join(dir, 'report-small.html'));
    if (report.code !== 0 || smallReport.code !== 0) throw new Error('leash audit report failed on the generated log');
    const smallDeny = await leash(small, '--effect', 'deny', '--format', 'json');
    for (const run of [deny, host, table, summary, smallDeny])
      if (run.code !== 0) throw new Error('leash audit exited 1 on the generated log');

    const base = rate(baseline);
    const line = (name: string, run: ChildRun, target?: { min: number; text: string }): BenchLine => {
      const value = rate(run);
      const ratio = value / base;
      return {
        suite: SUITE,
        name,
        value,
        unit: 'records/s',
        ratio,
        ratioOf: 'JSON.parse loop',
        ...(target ? { target: target.text, pass: ratio >= target.min } : {}),
      };
    };
    const rss = (run: ChildRun) => run.peakRssMb ?? NaN;
    return [
      ...writePathLines(),
      {
        suite: SUITE,
        name: `generated log: ${(LOG_BYTES / 1024 ** 3).toFixed(2)} GiB, ${records} records`,
        value: records / genSeconds,
        unit: 'records/s written',
      },
      {
        suite: SUITE,
        name: `leash start-up (leash help, from ${build.how}), included below`,
        value: start.seconds * 1000,
        unit: 'ms',
      },
      { suite: SUITE, name: 'baseline: JSON.parse line loop', value: base, unit: 'records/s' },
      {
        suite: SUITE,
        name: 'reference: grep -c',
        value: rate(grep),
        unit: 'records/s',
        ratio: rate(grep) / base,
        ratioOf: 'JSON.parse loop',
      },
      line('leash audit --effect deny --format json', deny, { min: 1, text: '≥ 1x' }),
      line('leash audit --host GLOB --format json (every line parsed)', host, { min: 0.5, text: '≥ 0.5x' }),
      line('leash audit --agent --since (table)', table),
      line('leash audit --summary', summary, { min: 0.5, text: '≥ 0.5x' }),
      line('leash audit verify (SHA-256 per line)', verify),
      line('leash audit report -o report.html (verify + every line parsed)', report),
      { suite: SUITE, name: 'peak RSS: JSON.parse loop', value: rss(baseline), unit: 'MB' },
      { suite: SUITE, name: 'peak RSS: leash audit --effect deny, 100 MB log', value: rss(smallDeny), unit: 'MB' },
      {
        suite: SUITE,
        name: 'peak RSS: leash audit --effect deny, 1 GB log',
        value: rss(deny),
        unit: 'MB',
        ratio: rss(deny) / rss(smallDeny),
        ratioOf: '100 MB log',
        target: '≤ 1.25x (constant memory)',
        pass: rss(deny) / rss(smallDeny) <= 1.25,
      },
      {
        suite: SUITE,
        name: 'peak RSS: leash audit --summary, 1 GB log',
        value: rss(summary),
        unit: 'MB',
        ratio: rss(summary) / rss(smallDeny),
        ratioOf: '100 MB log',
        target: '≤ 2x',
        pass: rss(summary) / rss(smallDeny) <= 2,
      },
      {
        suite: SUITE,
        name: 'peak RSS: leash audit verify, 1 GB log',
        value: rss(verify),
        unit: 'MB',
        ratio: rss(verify) / rss(smallDeny),
        ratioOf: '100 MB log',
        target: '≤ 1.25x',
        pass: rss(verify) / rss(smallDeny) <= 1.25,
      },
      {
        suite: SUITE,
        name: 'peak RSS: leash audit report, 1 GB log',
        value: rss(report),
        unit: 'MB',
        ratio: rss(report) / rss(smallReport),
        ratioOf: 'report, 100 MB log',
        target: '≤ 1.25x (constant memory)',
        pass: rss(report) / rss(smallReport) <= 1.25,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
