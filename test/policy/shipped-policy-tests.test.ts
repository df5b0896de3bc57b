// The policies leash ships are tested as operators test theirs: `leash test` (its library function, runTestFiles)
// over policies/tests/ with the default policy, and over policies/tests/examples/NAME.yaml with each
// policies/examples/NAME.yaml. A failing case fails `npm test` with its `leash test` line, trace included.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runTestFiles } from '../../src/cli/test.js';
import { failureLine } from '../../src/cli/test-report.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const POLICIES = path.join(ROOT, 'policies');
const EXAMPLES = path.join(POLICIES, 'examples');
const EXAMPLE_TESTS = path.join(POLICIES, 'tests', 'examples');
const yaml = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();

async function failuresOf(policy: string, tests: string): Promise<{ cases: number; failures: string[] }> {
  const { run } = await runTestFiles([policy], [tests]);
  return { cases: run.results.length, failures: run.results.filter((r) => !r.passed).map(failureLine) };
}

describe('policies/tests/: the default policy', () => {
  it('passes every case', async () => {
    const { cases, failures } = await failuresOf(POLICIES, path.join(POLICIES, 'tests'));
    expect(failures).toEqual([]);
    expect(cases).toBeGreaterThan(50);
  });
});

it.each([
  ...yaml(path.join(POLICIES, 'tests')).map((f) => path.join('tests', f)),
  ...yaml(EXAMPLE_TESTS).map((f) => path.join('tests', 'examples', f)),
])('policies/%s points editors at the test schema', (file) => {
  const first = readFileSync(path.join(POLICIES, file), 'utf8').split('\n')[0];
  const schema = path.relative(
    path.dirname(path.join(POLICIES, file)),
    path.join(ROOT, 'src', 'policy', 'policy-test.schema.json'),
  );
  expect(first).toBe(`# yaml-language-server: $schema=${schema}`);
});

describe('policies/tests/examples/: each example', () => {
  it('every example has a test file, and every test file an example', () => {
    expect(yaml(EXAMPLE_TESTS)).toEqual(yaml(EXAMPLES));
  });

  it.each(yaml(EXAMPLES))('%s passes every case', async (file) => {
    const { cases, failures } = await failuresOf(path.join(EXAMPLES, file), path.join(EXAMPLE_TESTS, file));
    expect(failures).toEqual([]);
    expect(cases).toBeGreaterThan(0);
  });
});
