// `leash explain`: which rule decides one request, and why, as one JSON object: effect, rule (name and
// file:line), reason, the normalised host, and a trace of every rule considered.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './run.js';

const POLICY = `version: 1
agents:
  research: { token: env:LEASH_TOKEN_RESEARCH }
rules:
  - name: docs-admin
    domain: docs.example.com
    ports: [80]
    paths: ["/admin/**"]
    effect: deny
    reason: admin console
  - name: docs
    domain: docs.example.com
    ports: [80]
    methods: [GET]
    effect: allow
  - name: openai
    domain: api.openai.com
    ports: [443]
    effect: allow
    reason: OpenAI API
  - name: papers
    domain: papers.example.org
    agents: [research]
    effect: allow
  - name: lab
    domain: 10.20.0.0/16
    ports: "*"
    methods: [GET, CONNECT]
    effect: allow
  - name: secure-read
    domain: secure.example.com
    ports: [443]
    methods: [GET]
    effect: allow
  - name: internal
    domain: internal.example.com
    effect: allow
  - name: pinned
    domain: pinned.example.com
    effect: allow
settings:
  dns: { hosts: { internal.example.com: 10.1.2.3, pinned.example.com: 93.184.216.34 } }
`;

let work: string;
let policy: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'leash-explain-'));
  policy = path.join(work, 'team.yaml');
  await writeFile(policy, POLICY);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Explained {
  effect: string;
  rule: { name: string; at: string } | null;
  reason: string;
  message: string;
  host: string | null;
  port: number;
  method: string;
  path: string | null;
  agent: string;
  seenAs?: string;
  revision: string;
  trace: { rule: string; at: string; effect: string; matched: boolean; why: string }[];
}

async function explain(...args: string[]): Promise<Explained> {
  const { code, out, err } = await run('explain', '--policy', policy, ...args);
  expect({ code, err }).toEqual({ code: 0, err: [] });
  // One JSON object, nothing else.
  expect(out).toHaveLength(1);
  return JSON.parse(out[0] as string) as Explained;
}

describe('leash explain', () => {
  it('prints the effect, the deciding rule with file:line, the reason and the normalised host', async () => {
    const result = await explain('GET', 'http://DOCS.Example.com./%61dmin/users?x=1');
    expect(result).toMatchObject({
      effect: 'deny',
      rule: { name: 'docs-admin', at: `${policy}:5` },
      reason: 'denied_by_rule',
      message: 'GET docs.example.com:80/admin/users denied by rule docs-admin (admin console)',
      host: 'docs.example.com',
      port: 80,
      method: 'GET',
      path: '/admin/users',
      agent: 'anonymous',
    });
    expect(result.revision).toMatch(/^[0-9a-f]{12}$/);
  });

  it('traces the rules considered: deny rules first, then the most specific allow rule decides', async () => {
    const result = await explain('GET', 'http://docs.example.com/guide');
    expect(result.rule).toEqual({ name: 'docs', at: `${policy}:11` });
    expect(result.trace.slice(0, 2)).toEqual([
      {
        rule: 'docs-admin',
        at: `${policy}:5`,
        effect: 'deny',
        matched: false,
        how: 'skipped',
        why: 'path /guide matches none of [/admin/**]',
      },
      {
        rule: 'docs',
        at: `${policy}:11`,
        effect: 'allow',
        matched: true,
        how: 'matched',
        why: 'GET docs.example.com:80/guide matches docs, the most specific allow rule for this host; domain docs.example.com, ports [80], methods [GET]',
      },
    ]);
  });

  it('says which deny rule won, and that it wins whatever the order', async () => {
    const result = await explain('GET', 'http://docs.example.com/admin/users');
    expect(result).toMatchObject({ effect: 'deny', rule: { name: 'docs-admin' }, reason: 'denied_by_rule' });
    expect(result.trace[0]).toMatchObject({
      rule: 'docs-admin',
      matched: true,
      how: 'matched',
      why: expect.stringContaining('a matching deny rule always wins'),
    });
  });

  it('says why the rule that decides the host did not allow the request', async () => {
    const result = await explain('POST', 'http://docs.example.com/guide');
    expect(result).toMatchObject({ effect: 'deny', rule: null, reason: 'no_rule' });
    expect(result.message).toBe(
      'POST docs.example.com:80/guide denied: rule docs decides for this host and does not allow it (method POST is not in [GET])',
    );
  });

  it('traces every rule when none matches, and denies with no_rule', async () => {
    const result = await explain('GET', 'http://example.com/');
    expect(result).toMatchObject({ effect: 'deny', rule: null, reason: 'no_rule', host: 'example.com' });
    expect(result.trace.map((t) => [t.rule, t.matched])).toEqual([
      ['docs-admin', false],
      ['docs', false],
      ['openai', false],
      ['papers', false],
      ['lab', false],
      ['secure-read', false],
      ['internal', false],
      ['pinned', false],
    ]);
    expect(result.trace[2]?.why).toBe('host example.com does not match api.openai.com');
  });

  it('explains an https URL as the CONNECT tunnel leash sees', async () => {
    const result = await explain('POST', 'https://api.openai.com/v1/chat/completions');
    expect(result).toMatchObject({
      effect: 'allow',
      rule: { name: 'openai' },
      reason: 'allowed_by_rule',
      method: 'CONNECT',
      host: 'api.openai.com',
      port: 443,
      path: null,
    });
    expect(result.seenAs).toContain('HTTPS travels in a tunnel');
  });

  it.each<[name: string, target: string, rule: string | null, host: string, port: number]>([
    ['a host name', 'api.openai.com:443', 'openai', 'api.openai.com', 443],
    ['an odd IPv4 spelling', '0x0a.0x14.1.2:5432', 'lab', '10.20.1.2', 5432],
    ['an IPv4-mapped IPv6 address', '[::ffff:10.20.1.2]:22', 'lab', '10.20.1.2', 22],
    [
      'a tunnel meets a deny rule with paths: it could carry them',
      'docs.example.com:80',
      'docs-admin',
      'docs.example.com',
      80,
    ],
    ['an opaque tunnel no rule naming CONNECT allows', 'api.openai.com:22', null, 'api.openai.com', 22],
  ])('accepts CONNECT host:port: %s', async (_name, target, rule, host, port) => {
    const result = await explain('CONNECT', target);
    expect({ rule: result.rule?.name ?? null, host: result.host, port: result.port, method: result.method }).toEqual({
      rule,
      host,
      port,
      method: 'CONNECT',
    });
  });

  it('an intercepted host: the request inside the tunnel is decided as leash serve decides it', async () => {
    const refused = await explain('DELETE', 'https://secure.example.com/v1/items/1');
    expect(refused).toMatchObject({
      effect: 'deny',
      reason: 'no_rule',
      method: 'DELETE',
      path: '/v1/items/1',
      rule: null,
    });
    expect(refused.message).toContain(
      'rule secure-read decides for this host and does not allow it (method DELETE is not in [GET])',
    );
    expect((refused as unknown as { tunnel: object }).tunnel).toMatchObject({
      effect: 'allow',
      reason: 'intercepted',
      rule: 'secure-read',
    });
    expect(refused.seenAs).toContain('is intercepted (rule secure-read), so this DELETE is decided inside the tunnel');
    expect(await explain('GET', 'https://secure.example.com/v1/items/1')).toMatchObject({
      effect: 'allow',
      reason: 'allowed_by_rule',
      rule: { name: 'secure-read' },
    });
  });

  it('--resolve: resolves as serve would and applies the address guard', async () => {
    const denied = await explain('--resolve', 'GET', 'http://internal.example.com/');
    expect(denied).toMatchObject({
      effect: 'deny',
      reason: 'address_denied',
      rule: { name: 'internal' },
      resolved: null,
    });
    expect(denied.message).toContain('internal.example.com resolves to 10.1.2.3');
    const allowed = await explain('--resolve', 'GET', 'http://pinned.example.com/');
    expect(allowed).toMatchObject({
      effect: 'allow',
      reason: 'allowed_by_rule',
      resolved: { address: '93.184.216.34', source: 'pin' },
    });
  });

  it('accepts a lower-case method', async () => {
    expect((await explain('get', 'http://docs.example.com/')).rule?.name).toBe('docs');
  });

  it('uses --agent', async () => {
    expect(await explain('--agent', 'research', 'CONNECT', 'papers.example.org:443')).toMatchObject({
      effect: 'allow',
      rule: { name: 'papers' },
      agent: 'research',
    });
    expect(await explain('CONNECT', 'papers.example.org:443')).toMatchObject({
      effect: 'deny',
      reason: 'no_rule',
      agent: 'anonymous',
    });
  });

  it('reports a host it cannot normalise as invalid_request', async () => {
    const result = await explain('CONNECT', 'exa_mple..com:443');
    expect(result).toMatchObject({ effect: 'deny', rule: null, reason: 'invalid_request', host: null, trace: [] });
  });

  it('refuses to explain against a policy with errors, printing them, exit 1', async () => {
    const broken = path.join(work, 'broken.yaml');
    await writeFile(broken, 'version: 1\nrules:\n  - { name: a, domain: "*.com", effect: allow }\n');
    const { code, out, err } = await run('explain', '--policy', broken, 'GET', 'http://a.com/');
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err).toEqual([
      `leash explain: ${broken}:3:24: rules[0].domain: "*.com" is too broad: a wildcard must keep at least two labels; name the sites, or add broad: true if that is really meant`,
    ]);
  });

  it('exits 1 with a clear message for a missing policy', async () => {
    const { code, err } = await run('explain', '--policy', path.join(work, 'missing.yaml'), 'GET', 'http://a.example/');
    expect(code).toBe(1);
    expect(err).toEqual([
      expect.stringMatching(/^leash explain: .*missing\.yaml: cannot read policy: no such file or directory$/),
    ]);
  });

  it.each<[name: string, args: string[], message: string]>([
    ['no arguments', [], 'usage: leash explain'],
    ['a method without a URL', ['GET'], 'usage: leash explain'],
    ['too many arguments', ['GET', 'http://a.example/', 'extra'], 'usage: leash explain'],
    ['a relative URL', ['GET', '/v1/models'], '"/v1/models" is not an absolute http:// or https:// URL'],
    ['a URL without a scheme', ['GET', 'api.openai.com/v1'], 'is not an absolute http:// or https:// URL'],
    ['an ftp URL', ['GET', 'ftp://files.example/'], 'only http:// and https:// URLs are requests leash decides'],
    ['CONNECT without a port', ['CONNECT', 'api.openai.com'], 'CONNECT needs host:port, got "api.openai.com"'],
    ['CONNECT to port 0', ['CONNECT', 'api.openai.com:0'], 'CONNECT needs host:port'],
    ['an unknown flag', ['--agnet', 'x', 'GET', 'http://a.example/'], "leash explain: unknown option '--agnet'"],
  ])('exits 2 on %s', async (_name, args, message) => {
    const { code, out, err } = await run('explain', '--policy', policy, ...args);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err[0]).toContain(message);
  });
});
