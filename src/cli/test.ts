// `leash test [--policy PATH]... [--format text|junit] [TESTFILE|DIR]...`: policy unit tests. Reads the policy and
// the test files (default: tests/ beside the default policy, i.e. policies/tests/), runs every case
// (policy/test-cases.ts) and prints each failure on one line and `N passed, N failed`, or JUnit XML for CI.
// Exit 0 when every case passes; 1 when one fails, or the policy or a test file is invalid or unreadable (each
// error named file:line:column); 2 usage. Never passes vacuously: no test file, or a file with no case, is an error.

import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { formatIssue, LeashError, PolicyInvalidError, type PolicyIssue } from '../errors.js';
import { compilePolicy } from '../policy/load.js';
import type { CompiledPolicy } from '../policy/policy.js';
import { readPolicySources } from '../policy/read.js';
import { runPolicyTests, type TestRun } from '../policy/test-cases.js';
import { parseTestFile, type ParsedTestFile } from '../policy/test-file.js';
import type { CommandIo } from './io.js';
import { policyPaths } from './policy-paths.js';
import { testJunit, testText } from './test-report.js';

export interface TestOptions {
  policy?: string[];
  format?: string;
}

/** Test files live in tests/ beside the policy they test; not loaded as policy (directories are not recursive). */
export const TESTS_DIR = 'tests';

export async function testCommand(options: TestOptions, args: readonly string[], io: CommandIo): Promise<number> {
  const format = options.format ?? 'text';
  if (format !== 'text' && format !== 'junit')
    throw new LeashError('LEASH_USAGE', `--format needs text or junit, got "${format}"`);
  const { run } = await runTestFiles(policyPaths(options.policy), args.length > 0 ? args : [defaultTestsDir()]);
  if (format === 'junit') io.out(testJunit(run));
  else for (const line of testText(run)) io.out(line);
  return run.failed > 0 ? 1 : 0;
}

/** policies/tests/ here, else the tests shipped with leash's own policy. */
export function defaultTestsDir(): string {
  return path.join(policyPaths(undefined)[0] as string, TESTS_DIR);
}

export interface TestFilesRun {
  readonly policy: CompiledPolicy;
  readonly files: readonly ParsedTestFile[];
  readonly run: TestRun;
}

/** The library form of `leash test`: compile the policy, read and validate every test file, run every case. */
export async function runTestFiles(
  policyPathList: readonly string[],
  testPaths: readonly string[],
): Promise<TestFilesRun> {
  const compiled = compilePolicy(await readPolicySources(policyPathList));
  if (!compiled.policy) throw new PolicyInvalidError(compiled.issues);
  const policy = compiled.policy;
  const files: ParsedTestFile[] = [];
  for (const file of await testFiles(testPaths)) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new LeashError('LEASH_TEST_READ', `${file}: cannot read test file: ${(err as Error).message}`, {
        cause: err,
      });
    }
    files.push(parseTestFile(file, text));
  }
  const issues: PolicyIssue[] = files.flatMap((f) => f.issues);
  if (issues.length > 0) throw new LeashError('LEASH_TEST_INVALID', issues.map(formatIssue).join('\n'));
  return {
    policy,
    files,
    run: runPolicyTests(
      policy,
      files.flatMap((f) => f.cases),
    ),
  };
}

const TEST_FILE = /\.ya?ml$/;

/** FILE as given; DIR: its *.yaml / *.yml files, not hidden, not recursive, in lexical order. */
async function testFiles(paths: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const p of paths) {
    let directory: boolean;
    try {
      directory = (await stat(p)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new LeashError(
        'LEASH_TEST_READ',
        `${p}: cannot read tests: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
        { cause: err },
      );
    }
    if (!directory) {
      found.push(p);
      continue;
    }
    const entries = await readdir(p, { withFileTypes: true });
    const names = entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && TEST_FILE.test(e.name) && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
    if (names.length === 0)
      throw new LeashError('LEASH_TEST_READ', `${p}: no *.yaml or *.yml test files in this directory`);
    found.push(...names.map((name) => path.join(p, name)));
  }
  return [...new Set(found)];
}
