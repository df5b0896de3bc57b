// `leash policy suggest` as an operator runs it, on a log written by the real audit logger (redaction, chain):
// it writes a policy that `leash check` accepts beside the policy it was checked against, to a file or stdout,
// filters by agent and time, names unreadable lines (exit 1, the policy still written), and refuses a command line
// it cannot honour (exit 2).

import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/audit-sink.js';
import { writeKnownLog } from '../helpers/known-audit-log.js';
import { at, grant, grantUse, intercepted, request, tunnel, type Rec } from '../policy/suggest/records.js';
import { run } from './run.js';

const POLICY = `version: 1
agents:
  research: { token: env:LEASH_T_RESEARCH }
  builder: { token: env:LEASH_T_BUILDER }
rules:
  - { name: block-exfil, domain: "*.exfil.test", effect: deny }
`;

const RECORDS: Rec[] = [
  request('docs.example.test', { path: '/v1/a', time: at(0) }),
  request('docs.example.test', { path: '/v1/b', method: 'POST', time: at(1) }),
  tunnel('api.github.com', { agent: 'builder', time: at(2) }),
  request('up.exfil.test', { method: 'POST', path: '/x', time: at(3) }),
  request('10.1.2.3', { time: at(4) }),
  intercepted('api.search.test', '/q', { rule: 'search', time: at(5) }),
  grant('img.cdn.test', 'search', 'https://api.search.test/q', '$.results[0].image', { time: at(5) }),
  grantUse('img.cdn.test', 'search', { time: at(6) }),
  request('late.example.test', { agent: 'builder', time: at(60) }),
];

let dir: string;
let log: string;
let policy: string;

beforeAll(async () => {
  dir = await tempDir('leash-suggest-');
  log = await writeKnownLog(dir, RECORDS as never);
  policy = path.join(dir, 'policy.yaml');
  await writeFile(policy, POLICY);
});

const domains = (yaml: string) => [...yaml.matchAll(/^ {4}domain: (.*)$/gm)].map((m) => m[1]);

describe('leash policy suggest', () => {
  it('writes -o FILE, which leash check accepts beside the policy; says what it did and how fast', async () => {
    const out = path.join(dir, 'suggested.yaml');
    const result = await run('policy', 'suggest', log, '--policy', policy, '-o', out);
    expect(result.code).toBe(0);
    expect(result.out).toEqual([]);
    expect(result.err.join('\n')).toMatch(
      /^leash policy suggest: 4 rules proposed, 3 not proposed, from 9 records in 1 file \(\d+ records\/s\); wrote .*suggested\.yaml$/,
    );
    const yaml = await readFile(out, 'utf8');
    expect(domains(yaml)).toEqual(['api.github.com', 'api.search.test', 'docs.example.test', 'late.example.test']);
    expect(yaml).toMatch(/# {3}img\.cdn\.test: reached only through grants made by rule search/);
    expect(yaml).toMatch(/# {3}up\.exfil\.test:80: the policy denies it \(deny rule block-exfil\)/);
    expect(yaml).toMatch(/# {3}10\.1\.2\.3:80: the address guard refuses it/);
    const check = await run('check', '--policy', policy, '--policy', out);
    expect(check.code, check.out.join('\n')).toBe(0);
  });

  it('run again into a file of the policy it checks against: that file is replaced, not counted as policy', async () => {
    const policies = path.join(dir, 'policies');
    await mkdir(policies);
    await writeFile(path.join(policies, '00-base.yaml'), POLICY);
    const out = path.join(policies, '50-suggested.yaml');
    expect((await run('policy', 'suggest', log, '--policy', policies, '-o', out)).code).toBe(0);
    const first = await readFile(out, 'utf8');
    expect((await run('policy', 'suggest', log, '--policy', policies, '-o', out)).code).toBe(0);
    expect(domains(await readFile(out, 'utf8'))).toEqual(domains(first));
    expect((await run('check', '--policy', policies)).code).toBe(0);
  });

  it('prints to stdout without -o', async () => {
    const result = await run('policy', 'suggest', log, '--policy', policy);
    expect(result.code).toBe(0);
    expect(result.out.join('\n')).toMatch(/^# Suggested by leash policy suggest from 9 audit records/);
  });

  it.each([
    ['--agent builder', ['--agent', 'builder'], ['api.github.com', 'late.example.test']],
    ['--since an ISO time', ['--since', '2026-11-22T00:30Z'], ['late.example.test']],
    ['--min-requests 2', ['--min-requests', '2'], ['docs.example.test']],
  ])('%s', async (_name, flags, expected) => {
    const result = await run('policy', 'suggest', log, '--policy', policy, ...flags);
    expect(result.code).toBe(0);
    expect(domains(result.out.join('\n'))).toEqual(expected);
  });

  it('names an unreadable line and exits 1, the policy still written', async () => {
    const broken = path.join(dir, 'broken.log');
    await writeFile(broken, await readFile(log));
    await appendFile(broken, 'not json\n');
    const result = await run('policy', 'suggest', broken, '--policy', policy);
    expect(result.code).toBe(1);
    expect(result.err[0]).toMatch(/broken\.log:10: not a JSON record, skipped/);
    expect(domains(result.out.join('\n'))).toHaveLength(4);
  });

  it.each([
    [['--min-requests', '0'], '--min-requests needs a whole number of at least 1, got "0"'],
    [['--wildcard-min', 'x'], '--wildcard-min needs a whole number of at least 2, got "x"'],
    [['--since', 'last week'], '--since needs a duration back from now'],
  ])('refuses %s (exit 2)', async (flags, message) => {
    const result = await run('policy', 'suggest', log, '--policy', policy, ...flags);
    expect(result.code).toBe(2);
    expect(result.err[0]).toContain(message);
  });

  it('answers --help with its flags and an example', async () => {
    const { code, out } = await run('policy', 'suggest', '--help');
    expect(code).toBe(0);
    const text = out.join('\n');
    for (const flag of [
      '--agent <name>',
      '--since <when>',
      '--min-requests <n>',
      '--wildcard-min <n>',
      '--policy <path>',
      '-o, --output <file>',
    ])
      expect(text).toContain(flag);
    expect(text).toMatch(/\nExample:\n {2}leash policy suggest /);
  });
});
