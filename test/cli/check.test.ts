// `leash check`: validates policy files before they are deployed. Prints every error and warning with
// file:line:column and exits 1 on any error; otherwise prints `ok: N rules from M files (revision <hash>)`.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './run.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = path.join(ROOT, 'test', 'policy', 'fixtures');

let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'leash-check-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function policyFile(name: string, text: string): Promise<string> {
  const file = path.join(work, name);
  await writeFile(file, text);
  return file;
}

describe('leash check', () => {
  it('prints ok with the rule count, file count and revision, and exits 0', async () => {
    const file = await policyFile(
      'ok.yaml',
      'version: 1\nrules:\n  - { name: a, domain: a.example, effect: allow }\n  - { name: b, domain: b.example, effect: allow }\n',
    );
    const { code, out, err } = await run('check', '--policy', file);
    expect(code).toBe(0);
    expect(out).toEqual([expect.stringMatching(/^ok: 2 rules from 1 file \(revision [0-9a-f]{12}\)$/)]);
    expect(err).toEqual([]);
  });

  it('counts rules and files across several --policy paths', async () => {
    const one = await policyFile(
      'one.yaml',
      'version: 1\nrules:\n  - { name: one, domain: one.example, effect: allow }\n',
    );
    const two = await policyFile('two.yaml', 'version: 1\n');
    const { code, out } = await run('check', '--policy', one, '--policy', two);
    expect(code).toBe(0);
    expect(out).toEqual([expect.stringMatching(/^ok: 1 rule from 2 files \(revision [0-9a-f]{12}\)$/)]);
  });

  it('checks the default policy directory when no --policy is given', async () => {
    const { code, out } = await run('check');
    expect(code).toBe(0);
    expect(out.at(-1)).toMatch(/^ok: \d+ rules from 1 file \(revision [0-9a-f]{12}\)$/);
  });

  it('prints every error, then a summary, and exits 1', async () => {
    const file = await policyFile(
      'errors.yaml',
      [
        'version: 1',
        'rules:',
        '  - { name: a, domain: "*.com", effect: allow }',
        '  - { name: b, domain: 10.0.0.1/8, effect: allow }',
        '  - { name: c, domain: c.example, agents: [ghost], effect: allow }',
        '',
      ].join('\n'),
    );
    const { code, out } = await run('check', '--policy', file);
    expect(code).toBe(1);
    expect(out).toEqual([
      `${file}:3:24: rules[0].domain: "*.com" is too broad: a wildcard must keep at least two labels; name the sites, or add broad: true if that is really meant`,
      `${file}:4:24: rules[1].domain: "10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?`,
      expect.stringMatching(
        new RegExp(
          `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:\\d+: rules\\[2\\]\\.agents\\[0\\]: "ghost" is not a defined agent`,
        ),
      ),
      'error: 3 errors in 1 file; nothing was loaded',
    ]);
  });

  it('prints errors from every file of a directory', async () => {
    const { code, out } = await run('check', '--policy', path.join(FIXTURES, 'invalid', 'settings-defined-twice'));
    expect(code).toBe(1);
    expect(out).toEqual([
      expect.stringMatching(
        /settings-defined-twice\/20-team\.yaml:5:5: settings\.grants\.ttl: is defined twice; first at .*settings-defined-twice\/10-base\.yaml:5:5$/,
      ),
      'error: 1 error in 2 files; nothing was loaded',
    ]);
  });

  it('prints warnings and still exits 0', async () => {
    const fixture = path.join(FIXTURES, 'warnings', 'shadowed-rule.yaml');
    const { code, out } = await run('check', '--policy', fixture);
    expect(code).toBe(0);
    expect(out).toEqual([
      `${fixture}:7:5: warning: rules (corp-payroll): never matches: rule corp (${fixture}:3:5) comes first and matches every request this rule would`,
      expect.stringMatching(/^ok: 2 rules from 1 file \(revision [0-9a-f]{12}\)$/),
    ]);
  });

  it('explains how each limit is counted: rateLimit counts requests (intercepting on TLS ports), connections counts tunnels', async () => {
    const file = path.join(work, 'limits.yaml');
    await writeFile(
      file,
      `version: 1
rules:
  - { name: search, domain: search.example.com, ports: [443], rateLimit: 60/1m, effect: allow }
  - { name: plain, domain: plain.example.com, ports: [80], rateLimit: 10/s, effect: allow }
  - { name: llm, domain: api.example.com, ports: [443], connections: 30/1m, effect: allow }
`,
    );
    const { code, out } = await run('check', '--policy', file);
    expect(code).toBe(0);
    expect(out.slice(0, 3)).toEqual([
      `${file}:3:5: note: rules (search): rateLimit 60/1m counts requests per agent; on TLS port 443 its tunnels are intercepted so each request inside is counted (agents must trust leash's CA), and the CONNECT takes no token. To limit tunnels without interception, use connections: N/WINDOW instead`,
      `${file}:4:5: note: rules (plain): rateLimit 10/s counts requests per agent. To limit tunnels without interception, use connections: N/WINDOW instead`,
      `${file}:5:5: note: rules (llm): connections 30/1m counts tunnels (CONNECTs) per agent, not the requests inside them; plain HTTP requests are not limited by it`,
    ]);
  });

  it('warns, with file:line, about an env: token not set here and a secret-looking literal', async () => {
    const file = path.join(work, 'secrets.yaml');
    await writeFile(
      file,
      `version: 1
agents:
  research: { token: env:LEASH_CHECK_TEST_UNSET }
rules:
  # the key is sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z
  - { name: openai, domain: api.openai.com, ports: [443], effect: allow }
`,
    );
    const { code, out } = await run('check', '--policy', file);
    expect(code).toBe(0);
    expect(out.slice(0, 2)).toEqual([
      `${file}:3:3: warning: agents.research.token: environment variable LEASH_CHECK_TEST_UNSET is not set here; agent research cannot authenticate with a token until it is`,
      `${file}:5:3: warning: (file): this line holds what looks like a secret (an API key, a token or a password); keep secrets out of policy files: env:NAME or file:PATH`,
    ]);
    // The secret itself is never printed.
    expect(out.join('\n')).not.toContain('sk-proj-Ab3');
  });

  it('--format github prints workflow commands CI turns into annotations', async () => {
    const fixture = path.join(FIXTURES, 'warnings', 'inspect-on-deny.yaml');
    const { code, out } = await run('check', '--policy', fixture, '--format', 'github');
    expect(code).toBe(0);
    expect(out[0]).toBe(
      `::warning file=${fixture},line=3,col=5,title=leash check%3A rules (no-search)::${fixture}:3:5: rules (no-search): inspect on a deny rule does nothing: leash reads the responses of requests it allows, and this rule allows none`,
    );
    const invalid = await run(
      'check',
      '--policy',
      path.join(FIXTURES, 'invalid', 'domain-url.yaml'),
      '--format',
      'github',
    );
    expect(invalid.code).toBe(1);
    expect(invalid.out[0]).toMatch(
      /^::error file=.*domain-url\.yaml,line=4,col=13,title=leash check%3A rules\[0\]\.domain::/,
    );
  });

  it('does not print a literal token it refuses', async () => {
    const { code, out } = await run('check', '--policy', path.join(FIXTURES, 'invalid', 'token-literal.yaml'));
    expect(code).toBe(1);
    expect(out.join('\n')).toContain('agents.research.token');
    expect(out.join('\n')).not.toContain('sk-live');
  });

  it.each<[name: string, target: () => string, message: RegExp]>([
    [
      'a missing file',
      () => path.join(work, 'missing.yaml'),
      /^leash check: .*missing\.yaml: cannot read policy: no such file or directory$/,
    ],
    [
      'a directory without policy files',
      () => ROOT + 'test/cli',
      /^leash check: .*test\/cli: no \*\.yaml or \*\.yml policy files in this directory$/,
    ],
  ])('exits 1 with a clear message for %s', async (_name, target, message) => {
    const { code, out, err } = await run('check', '--policy', target());
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err).toEqual([expect.stringMatching(message)]);
  });

  it.each<[name: string, argv: string[], message: string]>([
    ['an unknown flag', ['check', '--polcy', 'x.yaml'], "leash check: unknown option '--polcy'"],
    ['a positional argument', ['check', 'policies/'], 'check takes no arguments, got "policies/"'],
    ['--policy without a value', ['check', '--policy'], "leash check: option '--policy <path>' argument missing"],
  ])('exits 2 on %s, with usage', async (_name, argv, message) => {
    const { code, err } = await run(...argv);
    expect(code).toBe(2);
    expect(err[0]).toContain(message);
    // One line naming the problem (and a suggestion), then the command's usage: not the whole manual.
    expect(err.at(-1)).toBe('usage: leash check [options]   (leash help check for the flags and an example)');
    expect(err.length).toBeLessThanOrEqual(3);
  });
});

describe('leash (no command)', () => {
  it.each<[name: string, argv: string[], code: number]>([
    ['no arguments: usage, exit 2', [], 2],
    ['help: usage, exit 0', ['help'], 0],
    ['--help: usage, exit 0', ['--help'], 0],
  ])('%s', async (_name, argv, code) => {
    const result = await run(...argv);
    expect(result.code).toBe(code);
    expect(result.out.join('\n')).toContain('usage: leash <command> [options]');
  });

  it('exits 2 on an unknown command', async () => {
    const { code, err } = await run('chekc');
    expect(code).toBe(2);
    expect(err).toEqual([
      "leash: unknown command 'chekc'",
      '(Did you mean check?)',
      'usage: leash <command> [options]   (leash help lists the commands)',
    ]);
  });
});
