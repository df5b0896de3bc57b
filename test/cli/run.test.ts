// `leash run`, end to end: real curl, Python and Node processes run under `leash run` reach an allowed HTTPS API
// on loopback through the leash it starts in-process, which intercepts their TLS; they trust leash's CA only
// through the variables `leash run` set (the test hands them the machine's own CA variables and a NO_PROXY that
// would send them around leash, and leash run must replace both). Under --isolate netns a command that ignores
// the proxy variables reaches nothing: a direct connection fails at once, and DNS gets no answer.
//
// Needs curl, python3 (with `requests` if importable, else urllib) and, for the namespace cases, root with
// unshare and ip. Without them the cases are skipped with the reason, except under CI=true, where a missing
// prerequisite fails (.ci/run installs them). Never: a network link out of a namespace; everything is loopback.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/main.js';
import { netnsUnavailable } from '../../src/run/netns.js';
import { readAuditLines, tempDir } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startLeash } from '../helpers/leash.js';
import { startHttpsOrigin, startTcpSink, type TcpSink, type TestOrigin } from '../helpers/origin.js';

const inCi = process.env.CI === 'true';
// Each case starts a leash and real processes (a namespace, tsx for the relay); on two busy cores that can take
// longer than the suite's default.
vi.setConfig({ testTimeout: 60_000 });
const TOKEN = 'run-token/with:odd@chars';
const TOKEN_VAR = 'LEASH_TEST_RUN_TOKEN';
const hasRequests = spawnSync('python3', ['-c', 'import requests'], { stdio: 'ignore' }).status === 0;
const noNetns = netnsUnavailable();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let dir: string;
let policyDir: string;
let origin: TestOrigin;
let sink: TcpSink;
let dns: TestDnsServer;
let auditFile: string;

/** The machine's CA variables and a NO_PROXY that would bypass leash: leash run must override both. */
function baseEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C',
    SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
    REQUESTS_CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt',
    CURL_CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt',
    NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
    NO_PROXY: '*',
    no_proxy: '*',
  };
}

interface RunResult {
  code: number;
  err: string[];
}

async function leashRun(flags: string[], command: string[]): Promise<RunResult> {
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
      ...flags,
      '--',
      ...command,
    ],
    {
      out: (line) => err.push(line),
      err: (line) => err.push(line),
      env: baseEnv(),
    },
  );
  return { code, err };
}

const api = (p: string) => `https://api.test:${origin.port}${p}`;

const PYTHON_REQUESTS = `
import sys, requests
r = requests.get(sys.argv[1], timeout=10)
sys.exit(0 if r.status_code == 200 and r.text.startswith("hello from origin") else 3)
`;
const PYTHON_URLLIB = `
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    sys.exit(0 if r.status == 200 and r.read().decode().startswith("hello from origin") else 3)
`;
const NODE_FETCH = `
fetch(process.argv[1]).then(
  (r) => r.text().then((t) => process.exit(r.status === 200 && t.startsWith('hello from origin') ? 0 : 3)),
  (e) => { console.error(e.cause ?? e); process.exit(4); },
);
`;

beforeAll(async () => {
  if (inCi && !hasRequests) throw new Error('python3 requests is not importable; .ci/run installs python3-requests');
  process.env[TOKEN_VAR] = TOKEN;
  dir = await tempDir('leash-run-test-');
  policyDir = path.join(dir, 'policies');
  await mkdir(policyDir);
  auditFile = path.join(dir, 'audit.log');
  const originCa = createTestCa('origin test CA');
  await writeFile(path.join(dir, 'origin-ca.pem'), originCa.certPem);
  origin = await startHttpsOrigin(originCa.issue(['api.test']));
  sink = await startTcpSink();
  dns = await startDnsServer({ 'api.test': { A: ['127.0.0.1'] } });
  await writeFile(
    path.join(policyDir, 'policy.yaml'),
    `version: 1
settings:
  dns: { hosts: { api.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(path.join(dir, 'origin-ca.pem'))} }
  tlsPorts: [${origin.port}]
agents:
  runner: { token: env:${TOKEN_VAR} }
  by-uid: { uid: 65534 }
rules:
  - { name: api-read, domain: api.test, ports: [${origin.port}], methods: [GET], agents: [runner], effect: allow }
`,
  );
});

afterAll(async () => {
  delete process.env[TOKEN_VAR];
  await origin?.close();
  await sink?.close();
  await dns?.close();
});

describe('leash run: clients reach an allowed HTTPS API through the leash it starts, trusting its CA through the variables', () => {
  it.each([
    {
      name: 'curl',
      command: () => ['curl', '-q', '-sS', '--fail', '--max-time', '10', '-o', '/dev/null', api('/curl')],
      path: '/curl',
    },
    {
      name: hasRequests ? 'python requests' : 'python urllib (requests is not installed)',
      command: () => ['python3', '-c', hasRequests ? PYTHON_REQUESTS : PYTHON_URLLIB, api('/python')],
      path: '/python',
    },
    { name: "Node's built-in fetch", command: () => [process.execPath, '-e', NODE_FETCH, api('/node')], path: '/node' },
  ])('$name', async ({ command, path: p }) => {
    const before = origin.seen.length;
    const r = await leashRun(['--agent', 'runner', '--isolate', 'none'], command());
    expect(r.err.join('\n')).toMatch(/exited with 0; 1 requests allowed, 0 denied, 0 granted; audit log: .*audit\.log/);
    expect(r.code).toBe(0);
    expect(origin.seen.slice(before).map((s) => s.url)).toEqual([p]);
    const records = await readAuditLines(auditFile);
    expect(records.at(-2)).toMatchObject({
      event: 'request',
      agent: 'runner',
      identity: 'token',
      tls: 'intercepted',
      path: p,
      effect: 'allow',
    });
  });

  it("the exit code is the command's, and a refusal inside is counted as denied", async () => {
    const r = await leashRun(
      ['--agent', 'runner', '--isolate', 'none'],
      ['curl', '-q', '-sS', '--fail', '--max-time', '10', '-o', '/dev/null', '-X', 'POST', api('/write')],
    );
    expect(r.code).toBe(22); // curl --fail on the 403
    expect(r.err.join('\n')).toMatch(/curl exited with 22; 0 requests allowed, 1 denied, 0 granted/);
  });

  it('without --agent the command is anonymous, which the rule does not cover', async () => {
    const r = await leashRun(
      ['--isolate', 'none'],
      ['curl', '-q', '-sS', '--fail', '--max-time', '10', '-o', '/dev/null', api('/anon')],
    );
    expect(r.code).toBe(22);
  });

  it.each([
    { name: 'a plain exit code', command: ['sh', '-c', 'exit 7'], code: 7, says: /sh exited with 7/ },
    {
      name: 'killed by a signal: 128 + its number',
      command: ['sh', '-c', 'kill -TERM $$'],
      code: 143,
      says: /sh was killed by SIGTERM \(exit 143\)/,
    },
    {
      name: 'a command that does not exist: 127',
      command: ['leash-no-such-command'],
      code: 127,
      says: /cannot run leash-no-such-command: not found/,
    },
  ])('$name', async ({ command, code, says }) => {
    const r = await leashRun(['--isolate', 'none'], command);
    expect(r.code).toBe(code);
    expect(r.err.join('\n')).toMatch(says);
  });

  it('the variables it sets, and its private directory is gone afterwards; the token is never printed', async () => {
    const out = path.join(dir, 'env.json');
    const r = await leashRun(
      ['--agent', 'runner', '--isolate', 'none'],
      [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.env))`],
    );
    expect(r.code).toBe(0);
    const env = JSON.parse(await readFile(out, 'utf8')) as Record<string, string>;
    const proxy = `http://runner:${encodeURIComponent(TOKEN)}@127.0.0.1:`;
    for (const key of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) expect(env[key]).toContain(proxy);
    expect(env.NO_PROXY).toBeUndefined();
    expect(env.no_proxy).toBeUndefined();
    for (const key of [
      'NODE_EXTRA_CA_CERTS',
      'SSL_CERT_FILE',
      'REQUESTS_CA_BUNDLE',
      'CURL_CA_BUNDLE',
      'GIT_SSL_CAINFO',
      'PIP_CERT',
      'AWS_CA_BUNDLE',
      'DENO_CERT',
    ]) {
      expect(env[key]).toBe(env.SSL_CERT_FILE);
    }
    expect(env.NODE_OPTIONS).toMatch(/^--import file:\/\/.*node-preload\.mjs$/);
    expect(env.NODE_USE_ENV_PROXY).toBe('1');
    expect(existsSync(path.dirname(env.SSL_CERT_FILE as string))).toBe(false);
    expect(r.err.join('\n')).not.toContain(TOKEN);
    expect(r.err.join('\n')).not.toContain(encodeURIComponent(TOKEN));
  });
});

// Refusing is tested as a user that cannot make a namespace: this process when it is not root, else uid 65534
// through setpriv (when that uid can read the checkout; a checkout in a 0700 home cannot be run as it).
const nobodyCanRun =
  process.getuid?.() === 0 &&
  spawnSync('setpriv', [
    '--reuid=65534',
    '--regid=65534',
    '--clear-groups',
    'test',
    '-r',
    path.join(ROOT, 'src/main.ts'),
  ]).status === 0;

describe.skipIf(process.getuid?.() === 0 && !nobodyCanRun)(
  `leash run refuses when the isolation cannot be set up${process.getuid?.() === 0 && !nobodyCanRun ? ' (skipped: uid 65534 cannot read this checkout)' : ''}`,
  () => {
    it('--isolate netns without root: exit 1 with the reason, and the command never runs', async () => {
      const marker = path.join(dir, 'ran-unprivileged');
      const args = [
        'run',
        '--policy',
        policyDir,
        '--audit',
        path.join(dir, 'nobody-audit.log'),
        '--isolate',
        'netns',
        '--',
        'touch',
        marker,
      ];
      let code: number | null;
      let stderr: string;
      if (process.getuid?.() === 0) {
        await writeFile(path.join(dir, 'nobody-audit.log'), '');
        spawnSync('chown', ['-R', '65534:65534', path.join(dir, 'nobody-audit.log')]);
        spawnSync('chmod', ['755', dir, policyDir]);
        spawnSync('chmod', ['644', path.join(policyDir, 'policy.yaml')]);
        const r = spawnSync(
          'setpriv',
          [
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            process.execPath,
            '--import',
            'tsx',
            'src/main.ts',
            ...args,
          ],
          {
            cwd: ROOT,
            env: { PATH: process.env.PATH, HOME: dir, [TOKEN_VAR]: TOKEN },
            encoding: 'utf8',
            timeout: 60_000,
          },
        );
        code = r.status;
        stderr = r.stderr;
      } else {
        const r = await leashRun(['--isolate', 'netns'], ['touch', marker]);
        code = r.code;
        stderr = r.err.join('\n');
      }
      expect(stderr).toMatch(
        /--isolate netns: making a network namespace needs root \(run leash run as root, or use --isolate uid or none\)/,
      );
      expect(code).toBe(1);
      expect(existsSync(marker)).toBe(false);
    }, 60_000);
  },
);

describe('leash run --proxy: a leash running elsewhere', () => {
  it("the command goes through it with the agent's token, trusting its CA from --certs", async () => {
    const other = await startLeash(await readFile(path.join(policyDir, 'policy.yaml'), 'utf8'));
    try {
      const r = await leashRun(
        ['--proxy', other.url, '--certs', path.join(other.dir, 'certs'), '--agent', 'runner', '--isolate', 'none'],
        ['curl', '-q', '-sS', '--fail', '--max-time', '10', '-o', '/dev/null', api('/elsewhere')],
      );
      expect(r.code).toBe(0);
      expect(r.err.join('\n')).toContain(`curl exited with 0; its requests went through the leash at ${other.url}`);
      expect((await other.records()).find((rec) => rec.path === '/elsewhere')).toMatchObject({
        agent: 'runner',
        identity: 'token',
        effect: 'allow',
        tls: 'intercepted',
      });
    } finally {
      await other.stop();
    }
  });
});

describe('leash run: the command line', () => {
  it.each([
    { name: '--isolate uid needs --user', flags: ['--isolate', 'uid'], says: /--isolate uid needs --user/ },
    {
      name: 'an unknown isolation',
      flags: ['--isolate', 'chroot'],
      says: /--isolate must be one of netns, uid, none, got "chroot"/,
    },
    {
      name: 'an agent the policy does not define',
      flags: ['--isolate', 'none', '--agent', 'nobody'],
      says: /--agent nobody: no such agent in the policy \(agents: runner, by-uid\)/,
    },
    {
      name: 'an agent leash could not recognise as the command (no token, no --user)',
      flags: ['--isolate', 'none', '--agent', 'by-uid'],
      says: /--agent by-uid: leash could not tell this command is by-uid/,
    },
    {
      name: '--proxy with credentials in it',
      flags: ['--isolate', 'none', '--proxy', 'http://a:b@127.0.0.1:3128'],
      says: /--proxy needs http:\/\/HOST:PORT with no credentials/,
    },
  ])('$name: exit 2, and the command never runs', async ({ flags, says }) => {
    const marker = path.join(dir, `ran-${Math.random().toString(36).slice(2)}`);
    const r = await leashRun(flags, ['touch', marker]);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toMatch(says);
    expect(existsSync(marker)).toBe(false);
  });
});

describe.skipIf(noNetns !== undefined && !inCi)(
  `leash run --isolate netns${noNetns ? ` (skipped: ${noNetns})` : ''}`,
  () => {
    beforeAll(() => {
      if (noNetns) throw new Error(`--isolate netns cannot run here: ${noNetns}`);
    });

    it('curl reaches the allowed API through leash from inside the namespace', async () => {
      const r = await leashRun(
        ['--agent', 'runner', '--isolate', 'netns'],
        ['curl', '-q', '-sS', '--fail', '--max-time', '10', '-o', '/dev/null', api('/netns')],
      );
      expect(r.err.join('\n')).toMatch(/exited with 0; 1 requests allowed/);
      expect(r.code).toBe(0);
      expect(origin.seen.at(-1)?.url).toBe('/netns');
    });

    it('a socket opened straight to an origin (ignoring the proxy variables) fails fast and never arrives', async () => {
      const before = sink.connections;
      const script = `
import socket, sys, time
t = time.monotonic()
try:
    socket.create_connection(("127.0.0.1", ${sink.port}), timeout=5)
except OSError as e:
    print(type(e).__name__, round(time.monotonic() - t, 3), file=sys.stderr)
    sys.exit(0 if time.monotonic() - t < 1 else 5)
sys.exit(6)
`;
      const r = await leashRun(['--isolate', 'netns'], ['python3', '-c', script]);
      expect(r.code).toBe(0);
      expect(sink.connections).toBe(before);
    });

    it("DNS gets no answer: the host's resolver is unreachable from inside, and lookups fail fast", async () => {
      const script = `
import socket, sys, time
q = bytes.fromhex("12340100000100000000000003617069047465737400000100 01".replace(" ", ""))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
try:
    s.sendto(q, ("127.0.0.1", ${dns.port}))
    s.recvfrom(512)
    sys.exit(5)
except OSError:
    pass
t = time.monotonic()
try:
    socket.getaddrinfo("api.test", 443)
    sys.exit(6)
except OSError:
    sys.exit(0 if time.monotonic() - t < 3 else 7)
`;
      const before = dns.queries.length;
      const r = await leashRun(['--isolate', 'netns'], ['python3', '-c', script]);
      expect(r.code).toBe(0);
      expect(dns.queries.length).toBe(before);
    });

    it('the exit code of a command in the namespace is its own', async () => {
      const r = await leashRun(['--isolate', 'netns'], ['sh', '-c', 'exit 9']);
      expect(r.code).toBe(9);
    });
  },
);

describe('leash run forwards SIGTERM to the command and exits with its code', () => {
  it.each([
    { isolate: 'none', available: true },
    { isolate: 'netns', available: noNetns === undefined },
  ])(
    '--isolate $isolate',
    async ({ isolate, available }) => {
      if (!available && !inCi) return; // the namespace suite above says why it is skipped
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/main.ts',
          'run',
          '--policy',
          policyDir,
          '--audit',
          auditFile,
          '--certs',
          path.join(dir, 'certs'),
          '--isolate',
          isolate,
          '--',
          'sh',
          '-c',
          'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done',
        ],
        { cwd: ROOT, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the command never said ready:\n${stderr}`)), 30_000);
        child.stdout.on('data', (c: Buffer) => {
          if (c.toString().includes('ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(42);
      expect(stderr).toMatch(/sh exited with 42; 0 requests allowed, 0 denied, 0 granted/);
    },
    60_000,
  );
});
