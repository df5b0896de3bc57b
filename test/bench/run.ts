// `npm run bench`: runs the benchmark suites (all, or those named on the command line), prints a table and
// writes bench-results.json in the current directory. Exits 0 even when a target is missed: the table says so,
// and CI decides what to do with the JSON.

import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { auditBench } from './audit.js';
import { grantsBench } from './grants.js';
import { inspectBench } from './inspect.js';
import { interceptBench } from './intercept.js';
import { policyBench } from './policy.js';
import { proxyBench } from './proxy.js';
import { storeBench } from './store.js';
import { suggestBench } from './suggest.js';
import { printBench, type BenchLine } from './report.js';

const SUITES: readonly { name: string; run: () => Promise<BenchLine[]> }[] = [
  { name: 'policy', run: policyBench },
  { name: 'proxy', run: proxyBench },
  { name: 'audit', run: auditBench },
  { name: 'inspect', run: inspectBench },
  { name: 'intercept', run: interceptBench },
  { name: 'grants', run: grantsBench },
  { name: 'store', run: storeBench },
  { name: 'suggest', run: suggestBench },
];

async function runBench(argv: readonly string[]): Promise<number> {
  const unknown = argv.filter((name) => !SUITES.some((s) => s.name === name));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown suite ${unknown.map((n) => `"${n}"`).join(', ')}; suites: ${SUITES.map((s) => s.name).join(', ')}\n`);
    return 2;
  }
  const selected = argv.length === 0 ? SUITES : SUITES.filter((s) => argv.includes(s.name));
  const lines: BenchLine[] = [];
  for (const suite of selected) {
    process.stderr.write(`bench: running ${suite.name}...\n`);
    lines.push(...(await suite.run()));
  }
  printBench(lines);
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    suites: selected.map((s) => s.name),
    lines,
  };
  writeFileSync('bench-results.json', `${JSON.stringify(results, null, 2)}\n`);
  process.stderr.write('bench: wrote bench-results.json\n');
  return 0;
}

runBench(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
