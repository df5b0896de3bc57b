// Credentials the agent never holds, end to end: real clients (curl, Python requests, Node fetch through undici's
// EnvHttpProxyAgent) run with only a placeholder in their environment and leash's CA trusted through their
// ecosystem's variables; they reach an HTTPS origin on loopback through an intercepted tunnel, and the origin
// receives the real key. The same placeholder on its way to another allowed host, in a header, the query or the
// body, or over plain HTTP, or another agent's placeholder, is refused with secret_misuse and never reaches the
// origin. Nothing leash writes (audit log, stderr, metrics) holds a real value or the placeholder-to-value mapping.

import { spawn } from 'node:child_process';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCa } from '../../src/tls/ca.js';
import { placeholderEnvironment } from '../../src/secrets/environment.js';
import { tempDir } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, startHttpsOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';
import { run } from '../cli/run.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Values shaped so that the generic audit redaction would not recognise them: only the exact-value scrub can.
const REAL_KEY = 'plainword-REALKEY-forapi';
const REAL_QUERY_KEY = 'plainword-REALQUERY-key';
const TOKENS = { research: 'research-token-1', writer: 'writer-token-2' };

let origin: TestOrigin;
let plain: TestOrigin;
/** An HTTPS origin (sink.test) that keeps every body byte as it arrives, complete request or not. */
let sink: https.Server;
let sinkPort: number;
const sinkBytes: Buffer[] = [];
let leash: TestLeash;
let bundle: string;
let leashCa: string;
let dir: string;
/** Placeholders by agent, by variable name. */
let placeholders: Record<string, Record<string, string>>;

beforeAll(async () => {
  dir = await tempDir('leash-secrets-');
  const originCa = createTestCa('origin test CA');
  const extraCa = path.join(dir, 'origin-ca.pem');
  await writeFile(extraCa, originCa.certPem);
  await writeFile(path.join(dir, 'api-key'), `${REAL_KEY}\n`, { mode: 0o600 });
  await writeFile(path.join(dir, 'query-key'), REAL_QUERY_KEY, { mode: 0o600 });
  for (const [name, token] of Object.entries(TOKENS))
    await writeFile(path.join(dir, `${name}.token`), token, { mode: 0o600 });
  origin = await startHttpsOrigin(originCa.issue(['api.test', 'other.test']));
  plain = await startHttpOrigin();
  const sinkCert = originCa.issue(['sink.test']);
  sink = https.createServer({ cert: sinkCert.certPem, key: sinkCert.keyPem }, (req, res) => {
    req.on('data', (chunk: Buffer) => sinkBytes.push(chunk));
    req.on('end', () => res.end('stored'));
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  sinkPort = (sink.address() as AddressInfo).port;
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1, other.test: 127.0.0.1, plain.test: 127.0.0.1, sink.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${origin.port}, ${sinkPort}]
agents:
  research: { token: ${JSON.stringify(`file:${path.join(dir, 'research.token')}`)} }
  writer: { token: ${JSON.stringify(`file:${path.join(dir, 'writer.token')}`)} }
secrets:
  openai:
    value: ${JSON.stringify(`file:${path.join(dir, 'api-key')}`)}
    hosts: [api.test]
    header: Authorization
    format: "Bearer {}"
  maps:
    value: ${JSON.stringify(`file:${path.join(dir, 'query-key')}`)}
    hosts: [api.test]
    query: key
  gone:
    value: env:LEASH_TEST_SECRET_NEVER_SET
    hosts: [api.test]
rules:
  - { name: api, domain: api.test, ports: [${origin.port}], methods: [GET, POST], effect: allow }
  - { name: other, domain: other.test, ports: [${origin.port}], methods: [GET, POST], effect: allow }
  - { name: plain, domain: plain.test, ports: [${plain.port}], effect: allow }
  - { name: sink, domain: sink.test, ports: [${sinkPort}], methods: [POST], effect: allow }
`),
    { admin: '127.0.0.1:0' },
  );
  leashCa = path.join(leash.dir, 'certs', 'leash-ca.pem');
  bundle = path.join(dir, 'bundle.pem');
  await writeFile(bundle, `${await readFile(leashCa, 'utf8')}\n${originCa.certPem}`);
  const ca = await loadCa(path.join(leash.dir, 'certs'));
  const compiled = leash.running.proxy.policy;
  placeholders = Object.fromEntries(
    Object.keys(TOKENS).map((agent) => [agent, placeholderEnvironment(compiled, agent, ca!.key)]),
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
  await plain?.close();
  sink?.closeAllConnections();
  await new Promise((r) => sink?.close(r));
});

const proxyFor = (agent: keyof typeof TOKENS) => `http://${agent}:${TOKENS[agent]}@127.0.0.1:${leash.port}`;
const url = (host: string, p: string) => `https://${host}:${origin.port}${p}`;
/** The placeholder of secret openai (variable name LEASH_SECRET_OPENAI: its value is a file:). */
const openaiPh = (agent: keyof typeof TOKENS) => placeholders[agent]!.LEASH_SECRET_OPENAI as string;
const mapsPh = (agent: keyof typeof TOKENS) => placeholders[agent]!.LEASH_SECRET_MAPS as string;
const seenFor = (host: string) => origin.seen.filter((s) => String(s.headers.host).startsWith(host));

interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A client process with only what an agent under `leash run` would have: proxy variables, CA trust, placeholders. */
function agentProcess(command: string, args: string[], env: Record<string, string>): Promise<Spawned> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...base, ...env }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

const agentEnv = (agent: keyof typeof TOKENS) => ({
  HTTPS_PROXY: proxyFor(agent),
  https_proxy: proxyFor(agent),
  HTTP_PROXY: proxyFor(agent),
  http_proxy: proxyFor(agent),
  NODE_EXTRA_CA_CERTS: leashCa,
  REQUESTS_CA_BUNDLE: bundle,
  SSL_CERT_FILE: bundle,
  CURL_CA_BUNDLE: bundle,
  OPENAI_API_KEY: openaiPh(agent),
});

const PYTHON = `
import os, sys, requests
r = requests.get(sys.argv[1], headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]}, timeout=10)
print(r.status_code)
print(r.headers.get("x-leash-decision", ""))
`;
const NODE = `
import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';
setGlobalDispatcher(new EnvHttpProxyAgent());
const r = await fetch(process.argv[1], { headers: { authorization: 'Bearer ' + process.env.OPENAI_API_KEY }, signal: AbortSignal.timeout(10000) });
console.log(r.status);
console.log(r.headers.get('x-leash-decision') ?? '');
`;
// curl reads CURL_CA_BUNDLE and the proxy variables; the shell expands the placeholder like an agent's script would.
const CURL =
  'curl -q -sS -o /dev/null -w "%{http_code}\\n%header{x-leash-decision}\\n" -H "Authorization: Bearer $OPENAI_API_KEY" "$1"';

const clients: { name: string; start: (target: string) => Promise<Spawned> }[] = [
  { name: 'curl', start: (target) => agentProcess('sh', ['-c', CURL, 'sh', target], agentEnv('research')) },
  { name: 'python requests', start: (target) => agentProcess('python3', ['-c', PYTHON, target], agentEnv('research')) },
  {
    name: 'node fetch (undici EnvHttpProxyAgent)',
    start: (target) => agentProcess('node', ['--input-type=module', '-e', NODE, target], agentEnv('research')),
  },
];

describe('an agent holding only a placeholder reaches its API, and the origin receives the real key', () => {
  it.each(clients)('$name', async ({ name, start }) => {
    const before = seenFor('api.test').length;
    const result = await start(url('api.test', `/v1/models?client=${encodeURIComponent(name)}`));
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')[0]).toBe('200');
    const seen = seenFor('api.test').slice(before);
    expect(seen.map((s) => s.headers.authorization)).toContain(`Bearer ${REAL_KEY}`);
    expect(JSON.stringify(seen)).not.toContain('leash-ph-');
  });

  it('a query-parameter secret goes into the query', async () => {
    const before = seenFor('api.test').length;
    const r = await curl({
      url: url('api.test', `/v1/geo?q=x&key=${mapsPh('research')}`),
      proxy: proxyFor('research'),
      caFile: bundle,
    });
    expect(r.status).toBe(200);
    expect(
      seenFor('api.test')
        .slice(before)
        .map((s) => s.url),
    ).toEqual([`/v1/geo?q=x&key=${REAL_QUERY_KEY}`]);
  });
});

describe('a placeholder anywhere else is refused with secret_misuse, and the origin never sees it', () => {
  const misuse = [
    {
      name: 'to another allowed host, in the header',
      agent: 'research' as const,
      target: () => url('other.test', '/collect'),
      headers: () => ({ Authorization: `Bearer ${openaiPh('research')}` }),
      secret: 'openai',
    },
    {
      name: 'to another allowed host, in the query',
      agent: 'research' as const,
      target: () => url('other.test', `/collect?k=${encodeURIComponent(openaiPh('research'))}`),
      headers: () => ({}),
      secret: 'openai',
    },
    {
      name: 'to another allowed host, base64 in a header',
      agent: 'research' as const,
      target: () => url('other.test', '/collect'),
      headers: () => ({ 'X-Data': Buffer.from(`k=${openaiPh('research')}`).toString('base64') }),
      secret: 'openai',
    },
    {
      name: 'another agent’s placeholder to the right host',
      agent: 'research' as const,
      target: () => url('api.test', '/v1/models'),
      headers: () => ({ Authorization: `Bearer ${openaiPh('writer')}` }),
      secret: 'openai',
    },
    {
      name: 'a forged placeholder naming no secret',
      agent: 'research' as const,
      target: () => url('other.test', '/collect'),
      headers: () => ({ 'X-Key': `leash-ph-stripe-${'ab'.repeat(16)}` }),
      secret: undefined,
    },
    {
      name: 'in the host name of a CONNECT (before any lookup)',
      agent: 'research' as const,
      target: () => url(`${openaiPh('research')}.other.test`, '/'),
      headers: () => ({}),
      secret: 'openai',
    },
    {
      name: 'over plain HTTP',
      agent: 'research' as const,
      target: () => `http://plain.test:${plain.port}/x`,
      headers: () => ({ Authorization: `Bearer ${openaiPh('research')}` }),
      secret: 'openai',
    },
  ];

  it.each(misuse)('$name', async ({ agent, target, headers, secret }) => {
    const seenBefore = origin.seen.length + plain.seen.length;
    const r = await curl({ url: target(), proxy: proxyFor(agent), caFile: bundle, headers: headers() });
    expect(r.status).toBe(403);
    expect(r.headers['x-leash-decision']).toBe('deny; reason=secret_misuse');
    expect(origin.seen.length + plain.seen.length).toBe(seenBefore);
    const records = await leash.records();
    const last = records.filter((rec) => rec.reason === 'secret_misuse').at(-1);
    expect(last).toMatchObject({ effect: 'deny', reason: 'secret_misuse', status: 403, agent, rule: null });
    expect(last?.secret).toBe(secret);
    expect(String(last?.message)).not.toMatch(/REAL/);
  });

  it('python requests and node fetch are refused the same way on another host', async () => {
    const before = seenFor('other.test').length;
    const py = await agentProcess('python3', ['-c', PYTHON, url('other.test', '/collect')], agentEnv('research'));
    expect(py.stdout.split('\n').slice(0, 2)).toEqual(['403', 'deny; reason=secret_misuse']);
    const node = await agentProcess(
      'node',
      ['--input-type=module', '-e', NODE, url('other.test', '/collect')],
      agentEnv('research'),
    );
    expect(node.stdout.split('\n').slice(0, 2)).toEqual(['403', 'deny; reason=secret_misuse']);
    expect(seenFor('other.test').length).toBe(before);
  });
});

describe('a secret whose value could not be read', () => {
  it('is said on stderr at start, and its placeholder is refused with 503 secret_unavailable, not forwarded', async () => {
    expect(leash.stderr).toContain(
      'leash: secret gone: environment variable LEASH_TEST_SECRET_NEVER_SET is not set; requests carrying its placeholder are refused',
    );
    const before = seenFor('api.test').length;
    const r = await curl({
      url: url('api.test', '/v1/x'),
      proxy: proxyFor('research'),
      caFile: bundle,
      headers: { 'X-Key': placeholders.research!.LEASH_TEST_SECRET_NEVER_SET as string },
    });
    expect(r.status).toBe(503);
    expect(r.headers['x-leash-decision']).toBe('deny; reason=secret_unavailable');
    expect(seenFor('api.test').length).toBe(before);
  });
});

describe('placeholders in request bodies', () => {
  const bodyFile = async (name: string, body: string) => {
    const file = path.join(dir, name);
    await writeFile(file, body);
    return file;
  };

  it.each([
    { name: 'in JSON', body: () => JSON.stringify({ note: 'hi', key: openaiPh('research') }) },
    {
      name: 'JSON-escaped, after 200 KB (across chunks)',
      body: () => `${'a'.repeat(200_000)}${openaiPh('research').replace(/-/g, '\\u002d')}${'b'.repeat(1000)}`,
    },
    {
      name: 'percent-encoded in a form',
      body: () => `x=1&k=${encodeURIComponent(openaiPh('research')).replace(/-/g, '%2D')}`,
    },
  ])('$name: refused on the way to another host, and the origin never receives it', async ({ name, body }) => {
    sinkBytes.length = 0;
    const file = await bodyFile(`body-${name.length}`, body());
    const r = await curl({
      url: `https://sink.test:${sinkPort}/store`,
      proxy: proxyFor('research'),
      caFile: bundle,
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      extra: ['--data-binary', `@${file}`],
    });
    expect(r.status).toBe(403);
    expect(r.headers['x-leash-decision']).toBe('deny; reason=secret_misuse');
    expect(Buffer.concat(sinkBytes).toString('latin1')).not.toMatch(/leash.ph|leash%2Dph|leash\\u002dph/i);
    const last = (await leash.records()).filter((rec) => rec.reason === 'secret_misuse').at(-1);
    expect(last).toMatchObject({ host: 'sink.test', secret: 'openai', status: 403 });
    expect(String(last?.message)).toContain('in the request body');
  });

  it('a body without a placeholder streams through whole', async () => {
    sinkBytes.length = 0;
    const body = 'c'.repeat(300_000);
    const file = await bodyFile('clean', body);
    const r = await curl({
      url: `https://sink.test:${sinkPort}/store`,
      proxy: proxyFor('research'),
      caFile: bundle,
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      extra: ['--data-binary', `@${file}`],
    });
    expect(r.status).toBe(200);
    expect(Buffer.concat(sinkBytes).toString('latin1')).toBe(body);
  });

  it('its own placeholder in a body to its own host is left as it is (only its header is replaced)', async () => {
    const before = seenFor('api.test').length;
    const r = await curl({
      url: url('api.test', '/v1/echo'),
      proxy: proxyFor('research'),
      caFile: bundle,
      method: 'POST',
      data: `note=${openaiPh('research')}`,
    });
    expect(r.status).toBe(200);
    expect(
      seenFor('api.test')
        .slice(before)
        .map((s) => s.body.toString()),
    ).toEqual([`note=${openaiPh('research')}`]);
  });

  it('over plain HTTP, a placeholder in the body is refused', async () => {
    const before = plain.seen.length;
    const r = await curl({
      url: `http://plain.test:${plain.port}/x`,
      proxy: proxyFor('research'),
      method: 'POST',
      data: `k=${openaiPh('research')}`,
    });
    expect(r.status).toBe(403);
    expect(r.headers['x-leash-decision']).toBe('deny; reason=secret_misuse');
    expect(plain.seen.length).toBe(before);
  });
});

describe('nothing leash writes holds a real value or the placeholder-to-value mapping', () => {
  it('audit log, stderr and metrics', async () => {
    // A request whose value leash would have to write if anything echoed it: the origin error quoting the header.
    await curl({
      url: url('api.test', `/v1/models`),
      proxy: proxyFor('research'),
      caFile: bundle,
      headers: { Authorization: `Bearer ${openaiPh('research')}` },
    });
    const records = await leash.records();
    expect(records.some((r) => Array.isArray(r.injected) && (r.injected as string[]).includes('openai'))).toBe(true);
    const files = await readdir(leash.dir, { recursive: true });
    for (const file of files) {
      const full = path.join(leash.dir, String(file));
      const text = await readFile(full, 'utf8').catch(() => '');
      expect(text, file as string).not.toContain(REAL_KEY);
      expect(text, file as string).not.toContain(REAL_QUERY_KEY);
    }
    const stderr = leash.stderr.join('\n');
    expect(stderr).not.toContain(REAL_KEY);
    expect(stderr).not.toContain(REAL_QUERY_KEY);
    const metrics = await (await fetch(`http://127.0.0.1:${leash.running.admin?.port}/metrics`)).text();
    expect(metrics).not.toContain(REAL_KEY);
    expect(metrics).not.toContain('leash-ph-');
    expect(Number(/^leash_secret_misuse_total\{secret="openai"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/^leash_secrets_injected_total\{secret="openai"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/^leash_secrets_injected_total\{secret="maps"\} (\d+)$/m.exec(metrics)?.[1])).toBe(1);
  });
});

describe('leash secrets placeholder prints what the agent is given', () => {
  it('the same placeholder leash serve accepts, and the variable to put it in', async () => {
    const policyDir = path.join(leash.dir, 'policies');
    const { code, out, err } = await run(
      'secrets',
      'placeholder',
      'openai',
      '--agent',
      'research',
      '--policy',
      policyDir,
      '--certs',
      path.join(leash.dir, 'certs'),
    );
    expect(code).toBe(0);
    expect(out).toEqual([openaiPh('research')]);
    expect(err).toEqual([
      'leash: the placeholder of secret openai for agent research; give it to the agent as LEASH_SECRET_OPENAI',
    ]);
  });

  it.each([
    {
      name: 'an unknown secret',
      args: ['stripe'],
      error: 'leash secrets placeholder: no secret "stripe" in the policy; defined: openai, maps, gone',
    },
    {
      name: 'an unknown agent',
      args: ['openai', '--agent', 'nobody'],
      error: 'leash secrets placeholder: no agent "nobody" in the policy; defined: research, writer, anonymous',
    },
  ])('$name: exit 2', async ({ args, error }) => {
    const { code, err } = await run(
      'secrets',
      'placeholder',
      ...args,
      '--policy',
      path.join(leash.dir, 'policies'),
      '--certs',
      path.join(leash.dir, 'certs'),
    );
    expect(code).toBe(2);
    expect(err[0]).toBe(error);
  });

  it('no CA: says how to get one, exit 1', async () => {
    const { code, err } = await run(
      'secrets',
      'placeholder',
      'openai',
      '--policy',
      path.join(leash.dir, 'policies'),
      '--certs',
      path.join(dir, 'no-certs'),
    );
    expect(code).toBe(1);
    expect(err[0]).toMatch(
      /no CA in .*no-certs\/: placeholders are derived from leash's CA key; create it with leash ca init/,
    );
  });
});
