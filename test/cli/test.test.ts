// `leash test [--policy PATH]... [--format text|junit] [TESTFILE|DIR]...`: one line per failure (file:line, the
// expectation, the decision, the trace), `N passed, N failed`, exit 1 on a failure; JUnit XML for CI; every
// problem with the inputs named file:line, and nothing passes vacuously.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DomUtils, parseDocument } from 'htmlparser2';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/audit-sink.js';
import { run } from './run.js';

const POLICY = `version: 1
rules:
  - { name: openai, domain: api.openai.com, ports: [443], effect: allow }
  - { name: docs, domain: docs.example.com, ports: [443], methods: [GET], effect: allow }
  - { name: exfil, domain: "*.attacker.test", effect: deny }
`;
const PASSING = `- { request: GET https://api.openai.com/v1/models, expect: allow, rule: openai }
- { request: POST https://docs.example.com/x, expect: deny, reason: no_rule }
`;
const FAILING = `- { request: GET https://api.openai.com/v1/models, expect: allow }
- { request: CONNECT a.attacker.test:443, expect: allow, name: "exfil is open" }
`;

let dir: string;
let policy: string;
let tests: string;
let failing: string;

beforeAll(async () => {
  dir = await tempDir('leash-test-cli-');
  policy = path.join(dir, 'policy.yaml');
  tests = path.join(dir, 'tests');
  await mkdir(path.join(tests, 'nested'), { recursive: true });
  await writeFile(policy, POLICY);
  await writeFile(path.join(tests, 'a.yaml'), PASSING);
  await writeFile(path.join(tests, '.#a.yaml'), 'editor lock file, not a test');
  await writeFile(path.join(tests, 'nested', 'other.yaml'), 'not read: directories are not recursive');
  failing = path.join(dir, 'failing.yaml');
  await writeFile(failing, FAILING);
});

describe('text output', () => {
  it('all pass: the summary alone, exit 0', async () => {
    expect(await run('test', '--policy', policy, tests)).toEqual({ code: 0, out: ['2 passed, 0 failed'], err: [] });
  });

  it('a failure: one line with file:line, the case, the expectation, the decision and the trace; exit 1', async () => {
    const { code, out, err } = await run('test', '--policy', policy, tests, failing);
    expect(code).toBe(1);
    expect(err).toEqual([]);
    expect(out).toEqual([
      `${failing}:2: exfil is open: expected allow, got deny (rule exfil at ${policy}:5, denied_by_rule); ` +
        'CONNECT a.attacker.test:443 denied by rule exfil; ' +
        `trace: deny exfil (${policy}:5) matched: CONNECT a.attacker.test:443 matches deny rule exfil; a matching deny rule always wins; domain *.attacker.test, ports *`,
      '3 passed, 1 failed',
    ]);
  });

  it('an https:// case decided on its CONNECT says so', async () => {
    const file = path.join(dir, 'tunnel.yaml');
    await writeFile(file, '- { request: DELETE https://api.openai.com/v1/files/x, expect: deny }\n');
    const { code, out } = await run('test', '--policy', policy, file);
    expect(code).toBe(1);
    expect(out[0]).toContain(
      'decided on the CONNECT: HTTPS travels in a tunnel, and leash sees inside only when it intercepts',
    );
  });

  it('hostile strings in a test file cannot repaint the terminal', async () => {
    const file = path.join(dir, 'hostile.yaml');
    await writeFile(file, '- { request: GET http://x.test/, expect: allow, name: "\\e[2J\\u202eevil" }\n');
    const { out } = await run('test', '--policy', policy, file);
    expect(out[0]).toContain('\\x1b[2J\\u{202e}evil');
    expect(out.join('\n')).not.toMatch(/[\u001b\u202e]/);
  });
});

describe('--format junit', () => {
  it('a testsuite per file, a testcase per case with its line, a failure with the trace; exit 1', async () => {
    const { code, out } = await run('test', '--policy', policy, '--format', 'junit', tests, failing);
    expect(code).toBe(1);
    const xml = out.join('\n');
    expect(
      xml.startsWith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="leash test" tests="4" failures="1" errors="0">',
      ),
    ).toBe(true);
    const doc = parseDocument(xml, { xmlMode: true });
    const suites = DomUtils.getElementsByTagName('testsuite', doc);
    expect(suites.map((s) => [s.attribs.name, s.attribs.tests, s.attribs.failures])).toEqual([
      [path.join(tests, 'a.yaml'), '2', '0'],
      [failing, '2', '1'],
    ]);
    const failure = DomUtils.getElementsByTagName('failure', doc)[0];
    expect(failure?.attribs.message).toBe(`expected allow, got deny (rule exfil at ${policy}:5, denied_by_rule)`);
    expect(failure?.parent && (failure.parent as { attribs: Record<string, string> }).attribs.line).toBe('2');
    expect(DomUtils.textContent(failure ? [failure] : [])).toContain(
      `trace:&#10;  deny exfil (${policy}:5) matched`.replace('&#10;', '\n'),
    );
  });

  it('markup and characters XML cannot carry are escaped', async () => {
    const file = path.join(dir, 'markup.yaml');
    await writeFile(
      file,
      `- { request: GET http://x.test/, expect: allow, name: "</testcase><x a=\\"1\\">]]>&amp; \\e \\uD800" }\n`,
    );
    const { out } = await run('test', '--policy', policy, '--format', 'junit', file);
    const xml = out.join('\n');
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff]/);
    const testcase = DomUtils.getElementsByTagName(
      'testcase',
      parseDocument(xml, { xmlMode: true, decodeEntities: true }),
    )[0];
    expect(testcase?.attribs.name).toBe('</testcase><x a="1">]]>&amp; \\x1b \ufffd');
  });
});

describe('inputs: named precisely, never a vacuous pass', () => {
  it.each<[name: string, files: Record<string, string>, args: (d: string) => string[], code: number, err: RegExp]>([
    [
      'a malformed test file: file:line:column',
      { 'bad.yaml': '- { request: GET http://x.test/, expect: maybe }\n' },
      (d) => [path.join(d, 'bad.yaml')],
      1,
      /bad\.yaml:1:42: \[0\]\.expect: "maybe" is not allowed; allowed: allow or deny/,
    ],
    [
      'every file is checked before any runs',
      { 'ok.yaml': PASSING, 'bad.yaml': '- { request: CONNECT x.test, expect: deny }\n' },
      (d) => [d],
      1,
      /bad\.yaml:1:14: \[0\]\.request: CONNECT needs host:port/,
    ],
    [
      'an empty test file',
      { 'empty.yaml': '' },
      (d) => [path.join(d, 'empty.yaml')],
      1,
      /empty\.yaml:1:1: \(file\): expected a list of cases/,
    ],
    [
      'a directory with no test files',
      { 'README.md': 'no tests' },
      (d) => [d],
      1,
      /no \*\.yaml or \*\.yml test files in this directory/,
    ],
    [
      'a path that does not exist',
      {},
      (d) => [path.join(d, 'nope')],
      1,
      /nope: cannot read tests: no such file or directory/,
    ],
    [
      'an unknown format',
      { 'ok.yaml': PASSING },
      (d) => ['--format', 'tap', d],
      2,
      /--format needs text or junit, got "tap"/,
    ],
  ])('%s', async (_name, files, args, code, err) => {
    const d = await tempDir('leash-test-inputs-');
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(d, name), text);
    const result = await run('test', '--policy', policy, ...args(d));
    expect(result.code).toBe(code);
    expect(result.out).toEqual([]);
    expect(result.err.join('\n')).toMatch(err);
  });

  it('an invalid policy: its errors, exit 1', async () => {
    const bad = path.join(dir, 'bad-policy.yaml');
    await writeFile(bad, 'version: 1\nrules:\n  - { name: x, domain: "*.com", effect: allow }\n');
    const { code, err } = await run('test', '--policy', bad, tests);
    expect(code).toBe(1);
    expect(err.join('\n')).toContain(`${bad}:3:24: rules[0].domain: "*.com" is too broad`);
  });

  it('default: policies/tests/ with the policy in policies/ (here: the shipped default policy and its tests)', async () => {
    const { code, out } = await run('test');
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\d{2,} passed, 0 failed$/);
  });

  it('--help: usage, flags and an example', async () => {
    const { code, out } = await run('test', '--help');
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/^Usage: leash test \[--policy PATH\]\.\.\. \[--format text\|junit\] \[TESTFILE\|DIR\]\.\.\./);
    expect(text).toContain('--format <format>');
    expect(text).toMatch(/\nExample:\n {2}leash test /);
  });
});
