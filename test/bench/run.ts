// `npm run bench`: runs the benchmark suites (all, or those named on the command line), prints a table and
// writes bench-results.json in the current directory. Exits 0 even when a target is missed: the table says so,
// and CI decides what to do with the JSON.
//
//   npm run bench [-- [--quick] [--runs N] [SUITE...]]
//
// --runs N (default 2) runs the selected suites N times and reports the median of each figure and of each ratio
// (every ratio is to a baseline of its own run); the JSON keeps each run's figure. --quick (or LEASH_BENCH_QUICK=1)
// shortens every measured window (see mode.ts) so that a whole run fits in a few minutes; without it, the full
// mode, whose figures the README quotes.

import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { medianOfRuns, printBench, type BenchLine } from './report.js';

interface Suite {
  name: string;
  run: () => Promise<BenchLine[]>;
}

// Loaded after the flags are read: the suites size their windows from the mode when they load.
async function suites(): Promise<readonly Suite[]> {
  const [
    { policyBench },
    { proxyBench },
    { auditBench },
    { inspectBench },
    { interceptBench },
    { grantsBench },
    { storeBench },
    { suggestBench },
  ] = await Promise.all([
    import('./policy.js'),
    import('./proxy.js'),
    import('./audit.js'),
    import('./inspect.js'),
    import('./intercept.js'),
    import('./grants.js'),
    import('./store.js'),
    import('./suggest.js'),
  ]);
  return [
    { name: 'policy', run: policyBench },
    { name: 'proxy', run: proxyBench },
    { name: 'audit', run: auditBench },
    { name: 'inspect', run: inspectBench },
    { name: 'intercept', run: interceptBench },
    { name: 'grants', run: grantsBench },
    { name: 'store', run: storeBench },
    { name: 'suggest', run: suggestBench },
  ];
}

const SUITE_NAMES = ['policy', 'proxy', 'audit', 'inspect', 'intercept', 'grants', 'store', 'suggest'];

async function runBench(argv: readonly string[]): Promise<number> {
  const names: string[] = [];
  let runs = 2;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--quick') process.env.LEASH_BENCH_QUICK = '1';
    else if (arg === '--runs') {
      runs = Number(argv[++i]);
      if (!Number.isInteger(runs) || runs < 1 || runs > 9) {
        process.stderr.write('bench: --runs takes a whole number from 1 to 9\n');
        return 2;
      }
    } else names.push(arg);
  }
  const unknown = names.filter((name) => !SUITE_NAMES.includes(name));
  if (unknown.length > 0) {
    process.stderr.write(
      `bench: unknown suite ${unknown.map((n) => `"${n}"`).join(', ')}; suites: ${SUITE_NAMES.join(', ')}\n`,
    );
    return 2;
  }
  // A quick run generates smaller logs for the audit and suggest suites, unless told otherwise.
  if (process.env.LEASH_BENCH_QUICK === '1') {
    process.env.LEASH_BENCH_AUDIT_BYTES ??= String(200 * 1024 ** 2);
    process.env.LEASH_BENCH_SUGGEST_BYTES ??= String(200 * 1024 ** 2);
  }
  const all = await suites();
  const selected = names.length === 0 ? all : all.filter((s) => names.includes(s.name));
  const perRun: BenchLine[][] = [];
  const startedAt = performance.now();
  for (let run = 1; run <= runs; run++) {
    const lines: BenchLine[] = [];
    for (const suite of selected) {
      // One retry: on this shared machine a child process can die under the load of others (the load generator
      // has been seen to segfault in Node's TLS); a suite that fails twice is reported as failed, and the rest run.
      for (let attempt = 1; attempt <= 2; attempt++) {
        process.stderr.write(`bench: run ${run} of ${runs}: ${suite.name}${attempt > 1 ? ' (again)' : ''}...\n`);
        try {
          lines.push(...(await suite.run()));
          break;
        } catch (err) {
          const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
          process.stderr.write(
            `bench: ${suite.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
          );
          if (attempt === 2)
            lines.push({
              suite: suite.name,
              name: `suite failed: ${message}`,
              value: NaN,
              unit: '',
              target: 'completes',
              pass: false,
            });
        }
      }
    }
    perRun.push(lines);
  }
  const lines = runs === 1 ? (perRun[0] as BenchLine[]) : medianOfRuns(perRun);
  process.stdout.write(
    `${runs === 1 ? 'One run' : `Medians of ${runs} runs`}, ${process.env.LEASH_BENCH_QUICK === '1' ? 'quick' : 'full'} mode, ${((performance.now() - startedAt) / 1000).toFixed(0)} s:\n`,
  );
  printBench(lines);
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    mode: process.env.LEASH_BENCH_QUICK === '1' ? 'quick' : 'full',
    runs,
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
