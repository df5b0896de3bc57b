// Credentials the agent never holds, under `leash run`: curl, a Python `requests` script and a Node `fetch` script
// run with the real key in the environment leash run was started from, and see only a placeholder in the same
// variable; they reach an allowed HTTPS API on loopback (intercepted, leash's CA trusted through the variables
// leash run sets) and the origin receives the real key. The same placeholder sent to another allowed host is
// refused with secret_misuse and that origin never sees it. No file leash writes holds the key.
//
// Needs curl and python3 with requests (skipped with the reason when requests is missing, unless CI=true).

import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/main.js';
import { readAuditLines, tempDir } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { startHttpsOrigin, type TestOrigin } from '../helpers/origin.js';

const inCi = process.env.CI === 'true';
const hasRequests = spawnSync('python3', ['-c', 'import requests'], { stdio: 'ignore' }).status === 0;
const TOKEN_VAR = 'LEASH_TEST_SECRETS_RUN_TOKEN';
const KEY_VAR = 'LEASH_TEST_SECRETS_RUN_OPENAI_KEY';
// Shaped so that only the exact-value scrub would recognise it, were it ever written.
const REAL_KEY = 'plainword-RUNKEY-forapi';

let dir: string;
let policyDir: string;
let auditFile: string;
let origin: TestOrigin;

const api = (host: string, p: string) => `https://${host}:${origin.port}${p}`;

// Each client exits 0 when the status is the one expected (argv), 7 when it was handed anything but a placeholder.
const CURL = `case "$${KEY_VAR}" in leash-ph-*) ;; *) exit 7;; esac
code=$(curl -q -sS -o /dev/null --max-time 10 -w '%{http_code}' -H "Authorization: Bearer $${KEY_VAR}" "$1"); [ "$code" = "$2" ]`;
const PYTHON = `
import os, sys, requests
key = os.environ["${KEY_VAR}"]
if not key.startswith("leash-ph-"): sys.exit(7)
r = requests.get(sys.argv[1], headers={"Authorization": "Bearer " + key}, timeout=10)
sys.exit(0 if r.status_code == int(sys.argv[2]) else 3)
`;
const NODE = `
const key = process.env.${KEY_VAR};
if (!key.startsWith('leash-ph-')) process.exit(7);
fetch(process.argv[1], { headers: { authorization: 'Bearer ' + key } }).then(
  (r) => process.exit(r.status === Number(process.argv[2]) ? 0 : 3),
  (e) => { console.error(e.cause ?? e); process.exit(4); },
);
`;

const clients = [
  { name: 'curl', command: (url: string, status: number) => ['sh', '-c', CURL, 'sh', url, String(status)] },
  { name: 'python requests', command: (url: string, status: number) => ['python3', '-c', PYTHON, url, String(status)] },
  {
    name: "Node's built-in fetch",
    command: (url: string, status: number) => [process.execPath, '-e', NODE, url, String(status)],
  },
];

async function leashRun(command: string[]): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  const code = await main(
    [
      'run',
      '--policy',
      policyDir,
      '--audit',
      auditFile,
      '--certs',
      path.join(dir, 'certs'),
      '--agent',
      'runner',
      '--isolate',
      'none',
      '--',
      ...command,
    ],
    {
      out: (line) => err.push(line),
      err: (line) => err.push(line),
      // The operator's shell: the real key is in it, and leash run must not hand it down.
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LANG: 'C',
        [KEY_VAR]: REAL_KEY,
        NO_PROXY: '*',
        no_proxy: '*',
      },
    },
  );
  return { code, err };
}

beforeAll(async () => {
  if (inCi && !hasRequests) throw new Error('python3 requests is not importable; .ci/run installs python3-requests');
  process.env[TOKEN_VAR] = 'secrets-run-token';
  // leash reads the secret's value from its own environment, as `leash serve` would.
  process.env[KEY_VAR] = REAL_KEY;
  dir = await tempDir('leash-secrets-run-');
  policyDir = path.join(dir, 'policies');
  await mkdir(policyDir);
  auditFile = path.join(dir, 'audit.log');
  const originCa = createTestCa('origin test CA');
  await writeFile(path.join(dir, 'origin-ca.pem'), originCa.certPem);
  origin = await startHttpsOrigin(originCa.issue(['api.test', 'other.test']));
  await writeFile(
    path.join(policyDir, 'policy.yaml'),
    `version: 1
settings:
  dns: { hosts: { api.test: 127.0.0.1, other.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(path.join(dir, 'origin-ca.pem'))} }
  tlsPorts: [${origin.port}]
agents:
  runner: { token: env:${TOKEN_VAR} }
secrets:
  openai: { value: env:${KEY_VAR}, hosts: [api.test], header: Authorization, format: "Bearer {}" }
rules:
  - { name: api, domain: api.test, ports: [${origin.port}], methods: [GET, POST], agents: [runner], effect: allow }
  - { name: other, domain: other.test, ports: [${origin.port}], methods: [GET, POST], agents: [runner], effect: allow }
`,
  );
});

afterAll(async () => {
  delete process.env[TOKEN_VAR];
  delete process.env[KEY_VAR];
  await origin?.close();
});

const seenFor = (host: string) => origin.seen.filter((s) => String(s.headers.host).startsWith(host));

describe('leash run: the command holds a placeholder; the API receives the key', () => {
  it.skipIf(!hasRequests && !inCi).each(clients)('$name', async ({ command }) => {
    const before = seenFor('api.test').length;
    const r = await leashRun(command(api('api.test', '/v1/models'), 200));
    expect(r.err.join('\n')).toMatch(/exited with 0; 1 requests allowed, 0 denied/);
    expect(r.code).toBe(0);
    expect(
      seenFor('api.test')
        .slice(before)
        .map((s) => s.headers.authorization),
    ).toEqual([`Bearer ${REAL_KEY}`]);
    const records = await readAuditLines(auditFile);
    expect(records.filter((rec) => rec.event === 'request').at(-1)).toMatchObject({
      agent: 'runner',
      tls: 'intercepted',
      injected: ['openai'],
      effect: 'allow',
    });
  });
});

describe('leash run: the placeholder on its way to another allowed host is refused', () => {
  it.skipIf(!hasRequests && !inCi).each(clients)('$name', async ({ command }) => {
    const before = seenFor('other.test').length;
    const r = await leashRun(command(api('other.test', '/collect'), 403));
    expect(r.code).toBe(0);
    expect(r.err.join('\n')).toMatch(/0 requests allowed, 1 denied/);
    expect(seenFor('other.test').length).toBe(before);
    const records = await readAuditLines(auditFile);
    expect(records.filter((rec) => rec.event === 'request').at(-1)).toMatchObject({
      agent: 'runner',
      host: 'other.test',
      reason: 'secret_misuse',
      secret: 'openai',
      status: 403,
    });
  });

  it('no file leash wrote holds the key', async () => {
    for (const file of await readdir(dir, { recursive: true })) {
      const text = await readFile(path.join(dir, String(file)), 'utf8').catch(() => '');
      expect(text, String(file)).not.toContain(REAL_KEY);
    }
  });
});
