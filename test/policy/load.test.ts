// Loading a policy: files and directories, in lexical order, rules forming one list and settings merging across
// files, a revision that names the content; and the policies that ship with leash.

import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatIssue, LeashError } from '../../src/errors.js';
import { decide, type RequestFacts } from '../../src/policy/evaluate.js';
import { compilePolicy } from '../../src/policy/load.js';
import type { CompiledPolicy } from '../../src/policy/policy.js';
import { readPolicySources } from '../../src/policy/read.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEFAULT_DIR = path.join(ROOT, 'policies');
const EXAMPLES_DIR = path.join(ROOT, 'policies', 'examples');

let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'leash-load-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function writeTree(dir: string, files: Record<string, string>): Promise<string> {
  const root = path.join(work, dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), text);
  }
  return root;
}

async function loadClean(paths: string[]): Promise<CompiledPolicy> {
  const { policy, issues } = compilePolicy(await readPolicySources(paths));
  if (!policy || issues.length > 0) throw new Error(issues.map(formatIssue).join('\n'));
  return policy;
}

const rule = (name: string, domain: string, effect = 'allow') =>
  `version: 1\nrules:\n  - { name: ${name}, domain: ${domain}, effect: ${effect} }\n`;

describe('reading a directory', () => {
  it('loads *.yaml and *.yml in lexical order, skips other files and does not recurse', async () => {
    const dir = await writeTree('order', {
      '20-b.yaml': rule('b', 'b.example'),
      '10-a.yml': rule('a', 'a.example'),
      '30-c.yaml': rule('c', 'c.example'),
      'README.md': '# not a policy',
      'notes.txt': 'not a policy',
      'old.yaml.bak': rule('bak', 'bak.example'),
      'upper.YAML': rule('upper', 'upper.example'),
      'nested/40-d.yaml': rule('d', 'd.example'),
    });
    const policy = await loadClean([dir]);
    expect(policy.files.map((f) => path.basename(f))).toEqual(['10-a.yml', '20-b.yaml', '30-c.yaml']);
    expect(policy.rules.map((r) => r.name)).toEqual(['a', 'b', 'c']);
  });

  it('orders by code point, so 10- sorts before 9- and upper case before lower case', async () => {
    const dir = await writeTree('codepoint', {
      '9-x.yaml': rule('nine', 'nine.example'),
      '10-x.yaml': rule('ten', 'ten.example'),
      'B.yaml': rule('upper-b', 'b.example'),
      'a.yaml': rule('lower-a', 'a.example'),
    });
    expect((await loadClean([dir])).rules.map((r) => r.name)).toEqual(['ten', 'nine', 'upper-b', 'lower-a']);
  });

  it('follows a symlinked policy file', async () => {
    const dir = await writeTree('symlink', { 'real/team.yaml': rule('team', 'team.example') });
    await mkdir(path.join(dir, 'linked'));
    await symlink(path.join(dir, 'real', 'team.yaml'), path.join(dir, 'linked', 'team.yaml'));
    expect((await loadClean([path.join(dir, 'linked')])).rules.map((r) => r.name)).toEqual(['team']);
  });

  it('loads several --policy paths in the order given, files and directories alike', async () => {
    const dir = await writeTree('paths', {
      'd/1.yaml': rule('one', 'one.example'),
      'd/2.yaml': rule('two', 'two.example'),
      'single.yaml': rule('single', 'single.example'),
    });
    const policy = await loadClean([path.join(dir, 'single.yaml'), path.join(dir, 'd')]);
    expect(policy.rules.map((r) => r.name)).toEqual(['single', 'one', 'two']);
    expect(policy.files).toHaveLength(3);
  });

  it.each<[name: string, make: () => Promise<string>, message: RegExp]>([
    [
      'a missing path',
      async () => path.join(work, 'does-not-exist'),
      /does-not-exist: cannot read policy: no such file or directory/,
    ],
    [
      'a directory without policy files',
      async () => writeTree('empty', { 'README.md': 'nothing here' }),
      /empty: no \*\.yaml or \*\.yml policy files in this directory/,
    ],
  ])('refuses %s with LEASH_POLICY_READ', async (_name, make, message) => {
    const target = await make();
    const error = await readPolicySources([target]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeashError);
    expect(error).toMatchObject({ code: 'LEASH_POLICY_READ', message: expect.stringMatching(message) });
  });
});

describe('several files form one policy', () => {
  it('rules from all files form one ordered list: the first match across files wins', async () => {
    const dir = await writeTree('first-match', {
      '10-deny.yaml': rule('deny-wiki', 'wiki.corp.example', 'deny'),
      '20-allow.yaml': rule('corp', '"*.corp.example"'),
    });
    const policy = await loadClean([dir]);
    expect(policy.rules.map((r) => [r.index, r.name])).toEqual([
      [0, 'deny-wiki'],
      [1, 'corp'],
    ]);
    expect(decide(policy, { method: 'CONNECT', host: 'wiki.corp.example', port: 443 }).rule?.name).toBe('deny-wiki');
    expect(decide(policy, { method: 'CONNECT', host: 'git.corp.example', port: 443 }).rule?.name).toBe('corp');
    expect(policy.rules[1]?.location.file).toBe(path.join(dir, '20-allow.yaml'));
  });

  it('settings from several files merge key by key', async () => {
    const dir = await writeTree('merge', {
      '10-dns.yaml':
        'version: 1\nsettings:\n  dns:\n    servers: ["127.0.0.1:5353"]\n    hosts: { api.example.test: 127.0.0.1 }\n',
      '20-network.yaml':
        'version: 1\nsettings:\n  mode: report\n  dns:\n    hosts: { db.example.test: [10.0.0.5, "::1"] }\n  network:\n    allowCidrs: ["127.0.0.0/8"]\n',
      '30-grants.yaml': 'version: 1\nsettings:\n  grants: { ttl: 2m, scope: url }\n  timeouts: { connect: 500ms }\n',
    });
    const { settings } = await loadClean([dir]);
    expect(settings.mode).toBe('report');
    expect(settings.dns.servers).toEqual(['127.0.0.1:5353']);
    expect(Object.fromEntries(settings.dns.hosts)).toEqual({
      'api.example.test': ['127.0.0.1'],
      'db.example.test': ['10.0.0.5', '::1'],
    });
    expect(settings.network.allowCidrs).toEqual(['127.0.0.0/8']);
    expect(settings.grants).toMatchObject({ ttlMs: 120_000, scope: 'url', maxPerResponse: 64 });
    expect(settings.timeouts).toMatchObject({ connectMs: 500, headersMs: 10_000 });
  });

  it('agents from several files merge, and rules in one file may name agents defined in another', async () => {
    const dir = await writeTree('agents', {
      '10-agents.yaml': 'version: 1\nagents:\n  research: { token: env:LEASH_TOKEN_RESEARCH, uid: 1001 }\n',
      '20-agents.yaml': 'version: 1\nagents:\n  ci: { token: "file:/run/secrets/ci" }\n',
      '30-rules.yaml':
        'version: 1\nrules:\n  - { name: papers, domain: papers.example.org, agents: [research, ci], effect: allow }\n',
    });
    const policy = await loadClean([dir]);
    expect([...policy.agents.values()].map((a) => [a.name, a.token, a.uid])).toEqual([
      ['research', { kind: 'env', ref: 'LEASH_TOKEN_RESEARCH' }, 1001],
      ['ci', { kind: 'file', ref: '/run/secrets/ci' }, null],
    ]);
  });

  it('defaults apply where no file sets a value', async () => {
    const { settings } = await loadClean([await writeTree('defaults', { 'p.yaml': 'version: 1\n' })]);
    expect(settings).toMatchObject({
      mode: 'enforce',
      dns: { servers: [], timeoutMs: 5000 },
      network: { allowCidrs: [], denyCidrs: [] },
      grants: { ttlMs: 30_000, maxPerResponse: 64, scope: 'host' },
      timeouts: { headersMs: 10_000, connectMs: 10_000, responseMs: 60_000, idleMs: 300_000, drainMs: 10_000 },
    });
    expect([...settings.tlsPorts]).toEqual([443, 8443]);
  });
});

describe('revision', () => {
  const sources = (text: string) => [{ file: 'p.yaml', text }];
  const revision = (s: { file: string; text: string }[]) => compilePolicy(s).policy?.revision;
  const base = rule('a', 'a.example');

  it('is 12 hex digits', () => {
    expect(revision(sources(base))).toMatch(/^[0-9a-f]{12}$/);
  });

  it('is stable for the same content', () => {
    expect(revision(sources(base))).toBe(revision(sources(base)));
  });

  it.each<[name: string, other: { file: string; text: string }[]]>([
    ['a rule changes', [{ file: 'p.yaml', text: rule('a', 'b.example') }]],
    ['only a comment changes', [{ file: 'p.yaml', text: `# reviewed\n${base}` }]],
    ['the file is renamed', [{ file: 'q.yaml', text: base }]],
    [
      'a file is added',
      [
        { file: 'p.yaml', text: base },
        { file: 'q.yaml', text: 'version: 1\n' },
      ],
    ],
  ])('changes when %s', (_name, other) => {
    expect(revision(other)).not.toBe(revision(sources(base)));
  });
});

describe('the default policy (policies/)', () => {
  let policy: CompiledPolicy;

  beforeAll(async () => {
    const sources = await readPolicySources([DEFAULT_DIR]);
    const result = compilePolicy(sources);
    expect(result.issues.map(formatIssue)).toEqual([]);
    policy = result.policy as CompiledPolicy;
  });

  it('loads policies/*.yaml only, not the examples', () => {
    expect(policy.files.map((f) => path.relative(DEFAULT_DIR, f))).toEqual(['default.yaml']);
  });

  const connect = (host: string, port = 443): RequestFacts => ({ method: 'CONNECT', host, port });
  const get = (host: string, port = 80): RequestFacts => ({ method: 'GET', host, port, path: '/' });

  it.each<[name: string, request: RequestFacts, effect: 'allow' | 'deny', rule: string | null, reason: string]>([
    ['OpenAI API', connect('api.openai.com'), 'allow', 'openai', 'allowed_by_rule'],
    ['Anthropic API', connect('api.anthropic.com'), 'allow', 'anthropic', 'allowed_by_rule'],
    ['Anthropic API, odd spelling', connect('API.Anthropic.com.'), 'allow', 'anthropic', 'allowed_by_rule'],
    ['OpenAI API over plain HTTP', get('api.openai.com'), 'deny', null, 'no_rule'],
    ['OpenAI API on another port', connect('api.openai.com', 8443), 'deny', null, 'no_rule'],
    ['an ordinary site', connect('example.com'), 'deny', null, 'no_rule'],
    ['an ordinary site over HTTP', get('example.com'), 'deny', null, 'no_rule'],
    ['ngrok tunnel', connect('abc123.ngrok.io'), 'deny', 'tunnel-ngrok', 'denied_by_rule'],
    ['ngrok apex', connect('ngrok.io'), 'deny', 'tunnel-ngrok-apex', 'denied_by_rule'],
    ['ngrok-free tunnel', connect('x.ngrok-free.app'), 'deny', 'tunnel-ngrok-free', 'denied_by_rule'],
    ['Cloudflare quick tunnel', connect('words-here.trycloudflare.com'), 'deny', 'tunnel-cloudflare', 'denied_by_rule'],
    ['webhook.site', connect('webhook.site'), 'deny', 'capture-webhook-site-apex', 'denied_by_rule'],
    ['webhook.site subdomain', get('abc.webhook.site'), 'deny', 'capture-webhook-site', 'denied_by_rule'],
    ['requestbin', connect('eo1.m.requestbin.com'), 'deny', 'capture-requestbin', 'denied_by_rule'],
    ['Burp Collaborator', connect('x1y2.burpcollaborator.net', 8080), 'deny', 'capture-burp', 'denied_by_rule'],
    ['interactsh', connect('c0ffee.interact.sh'), 'deny', 'capture-interactsh', 'denied_by_rule'],
    ['GCP metadata', get('metadata.google.internal'), 'deny', 'metadata', 'denied_by_rule'],
    ['IMDS', get('169.254.169.254'), 'deny', 'metadata-imds', 'denied_by_rule'],
    ['IMDS as an integer', get('2852039166'), 'deny', 'metadata-imds', 'denied_by_rule'],
    ['IMDS as hex', get('0xa9.0xfe.0xa9.0xfe'), 'deny', 'metadata-imds', 'denied_by_rule'],
    ['IMDS as IPv4-mapped IPv6', get('[::ffff:169.254.169.254]'), 'deny', 'metadata-imds', 'denied_by_rule'],
    ['IMDS on any port', connect('169.254.169.254', 1338), 'deny', 'metadata-imds', 'denied_by_rule'],
    ['AWS IMDS over IPv6', get('[fd00:ec2::254]'), 'deny', 'metadata-aws-ipv6', 'denied_by_rule'],
    ['ECS credentials', get('169.254.170.2'), 'deny', 'metadata-ecs', 'denied_by_rule'],
  ])('%s', (_name, request, effect, ruleName, reason) => {
    const decision = decide(policy, request);
    expect({ effect: decision.effect, rule: decision.rule?.name ?? null, reason: decision.reason }).toEqual({
      effect,
      rule: ruleName,
      reason,
    });
  });

  it('every rule states its reason', () => {
    expect(policy.rules.filter((r) => !r.reason).map((r) => r.name)).toEqual([]);
  });
});

describe('policies/examples/', () => {
  const examples = readdirSync(EXAMPLES_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();

  it('holds examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(5);
  });

  it.each(examples)('%s loads on its own, without errors or warnings', async (file) => {
    const { policy, issues } = compilePolicy(await readPolicySources([path.join(EXAMPLES_DIR, file)]));
    expect(issues.map(formatIssue)).toEqual([]);
    expect(policy).toBeDefined();
  });

  it.each(examples)('%s points editors at the schema', async (file) => {
    const text = (await readPolicySources([path.join(EXAMPLES_DIR, file)]))[0]?.text ?? '';
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../../src/policy/policy.schema.json');
  });
});
