// Kernel rules, end to end, in a real kernel: the test creates a network namespace, starts an origin, a DNS
// server and `leash serve` inside it, loads the rules `leash rules --apply` generates (nftables, then iptables),
// and runs clients as the unprivileged uid 65534 (the agent) and as root and uid 65533 (everyone else) to show what
// the rules refuse and what they let through; then `--remove` restores direct access. A long-lived agent session
// holds connections open across a load of the rules (a direct one is cut, one through the proxy keeps working),
// and, with leash stopped, listens on the proxy's address and port (no other user gets a handshake).
// The namespace tracks connections from the start (a test-owned nft table with a conntrack rule), as on any host
// whose firewall already uses conntrack: that is where an open connection is "established" when the rules load.
//
// Needs root, ip (iproute2), nft, iptables-restore, ip6tables-restore, setpriv (util-linux) and python3 (for an
// unprivileged ICMP socket). Without them the suite is skipped with the reason, except under CI=true, where a
// missing prerequisite fails (the CI runner is root and .ci/run installs them, so a skip there would hide a gap).
// Never: create a link out of the namespace; all traffic stays on its loopback. The namespace is deleted in
// afterAll, whatever happened before.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderIptables, IPT6_MARKER } from '../../src/kernel/iptables.js';
import { renderNft } from '../../src/kernel/nft.js';
import { RECORD_DIR } from '../../src/kernel/system.js';
import { tempDir } from '../helpers/audit-sink.js';
import { GOLDEN_CASES, goldenRuleset } from './cases.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NS = `leash-e2e-${randomBytes(4).toString('hex')}`;
const AGENT_UID = 65534;
/** Another unprivileged user, neither the agent nor root. */
const OTHER_UID = 65533;
// A fixed PATH: the agent uid must find the same binaries as root, and nothing in root's home.
const ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
const asUid = (uid: number) => ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
const AS_AGENT = asUid(AGENT_UID);
const FAST_MS = 500;
/** How long another user's client waits for a handshake from a listener posing as the proxy: a bound, not a sleep. */
const HANDSHAKE_WAIT_MS = 1500;

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { env: ENV }).status === 0;
}

/** Why this machine cannot run the suite, or null when it can. */
function missingPrerequisite(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root: network namespaces and nft need root';
  const tools = ['ip', 'nft', 'iptables-restore', 'ip6tables-restore', 'iptables-save', 'setpriv', 'python3'].filter(
    (t) => !has(t),
  );
  if (tools.length > 0)
    return `missing ${tools.join(', ')} (Debian: apt-get install iproute2 nftables iptables util-linux python3)`;
  // Root without CAP_SYS_ADMIN/CAP_NET_ADMIN (an unprivileged container) cannot make a namespace.
  const probe = `leash-probe-${randomBytes(4).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { env: ENV, encoding: 'utf8' });
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe], { env: ENV });
  return null;
}

const missing = missingPrerequisite();
const inCi = process.env.CI === 'true';

function sh(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(args[0] as string, args.slice(1), {
    env: ENV,
    encoding: 'utf8',
    input,
    cwd: ROOT,
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function inNs(args: string[]): string[] {
  return ['ip', 'netns', 'exec', NS, ...args];
}

/**
 * The checkout may sit in a directory other users cannot enter (a 0700 home). To run leash as the agent uid, what
 * it needs (sources, dependencies, package.json, tsconfig) is linked into a directory that uid can read: hard
 * links where the file system allows (instant; the files themselves are world-readable), a copy otherwise.
 */
async function agentReadableCheckout(): Promise<string> {
  const dir = await tempDir('leash-kernel-agent-');
  spawnSync('chmod', ['755', dir]);
  for (const entry of ['src', 'node_modules', 'package.json', 'tsconfig.json']) {
    const linked = spawnSync('cp', ['-al', path.join(ROOT, entry), dir]);
    if (linked.status !== 0 && spawnSync('cp', ['-a', path.join(ROOT, entry), dir]).status !== 0)
      throw new Error(`cannot copy ${entry} for the agent uid: ${linked.stderr}`);
  }
  return dir;
}

/** `leash ...` inside the namespace, as root: run by the helper process there, through the same main() as the bin. */
function leash(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return helper({ op: 'leash', args }) as Promise<{ code: number; stdout: string; stderr: string }>;
}

interface Started {
  child: ChildProcess;
  stderr: () => string;
}

/** Spawns a long-running process and resolves with the first match of `ready` on stdout or stderr. */
function startUntil(args: string[], ready: RegExp, cwd = ROOT): Promise<Started & { match: RegExpExecArray }> {
  const child = spawn(args[0] as string, args.slice(1), { env: ENV, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = ready.exec(out) ?? ready.exec(err);
      if (m) resolve({ child, stderr: () => err, match: m });
    };
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      check();
    });
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      check();
    });
    child.once('exit', (code) =>
      reject(new Error(`${args.join(' ')} exited (${code}) before it was ready:\n${out}\n${err}`)),
    );
  });
}

// ---- clients: run inside the namespace, as the agent or as root, reduced to one word per probe ----

type Probe =
  | { kind: 'tcp'; host: string; port: number; timeoutMs?: number }
  | { kind: 'get'; host: string; port: number; proxyPort?: number }
  | { kind: 'dns'; host: string; port: number };

// Node built-ins only, so the agent uid needs nothing from the repository to run it.
const NODE_PROBES = String.raw`
const net = require('node:net'), http = require('node:http'), dgram = require('node:dgram');
const probes = JSON.parse(process.argv[1]);
const now = () => performance.now();
function tcp(p) {
  return new Promise((resolve) => {
    const t = now();
    const s = net.connect({ host: p.host, port: p.port });
    const timer = setTimeout(() => { s.destroy(); resolve({ result: 'timeout', ms: now() - t }); }, p.timeoutMs ?? 3000);
    s.on('connect', () => { clearTimeout(timer); s.destroy(); resolve({ result: 'connected', ms: now() - t }); });
    s.on('error', (e) => { clearTimeout(timer); resolve({ result: e.code, ms: now() - t }); });
  });
}
function get(p) {
  return new Promise((resolve) => {
    const t = now();
    const authority = p.host.includes(':') ? '[' + p.host + ']:' + p.port : p.host + ':' + p.port;
    const opts = p.proxyPort
      ? { host: '127.0.0.1', port: p.proxyPort, path: 'http://' + authority + '/', headers: { host: authority } }
      : { host: p.host, port: p.port, path: '/' };
    const req = http.get({ ...opts, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ result: res.statusCode + ' ' + body, ms: now() - t }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (e) => resolve({ result: e.code, ms: now() - t }));
  });
}
function dns(p) {
  // A query for example.test A (RFC 1035 §4.1): id 0x1234, RD, one question.
  const q = Buffer.from('123401000001000000000000076578616d706c65047465737400000100' + '01', 'hex');
  return new Promise((resolve) => {
    const t = now();
    const s = dgram.createSocket('udp4');
    let sendError = null;
    const done = (result) => { clearTimeout(timer); s.close(); resolve({ result, ms: now() - t, sendError }); };
    const timer = setTimeout(() => done('no answer'), 1000);
    s.on('message', () => done('answered'));
    s.on('error', (e) => { sendError = e.code; });
    s.send(q, p.port, p.host, (e) => { if (e) sendError = e.code; });
  });
}
(async () => {
  const out = [];
  for (const p of probes) out.push(await ({ tcp, get, dns })[p.kind](p));
  process.stdout.write(JSON.stringify(out));
})();
`;

// An unprivileged ICMP echo (a "ping socket", allowed by net.ipv4.ping_group_range, set in the namespace).
const PYTHON_ICMP = String.raw`
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
s.settimeout(1)
try:
    s.sendto(b'\x08\x00\x00\x00\x00\x01\x00\x01leash', ('127.0.0.1', 0))
    s.recvfrom(1024)
    print('answered')
except socket.timeout:
    print('no answer')
except OSError as e:
    print('refused' if e.errno in (1, 13, 111, 113) else 'error %d' % e.errno)
`;

interface ProbeResult {
  result: string;
  ms: number;
}

// The agent's long-lived session: connections and listeners that outlive one probe, so they can be opened before
// the rules are loaded and used after. One JSON request per stdin line, one JSON reply per stdout line:
//   {op:'open', name, port, viaProxy?}  a connection to the echo server on 127.0.0.1:port, directly or through a
//                                       CONNECT tunnel of the proxy on 127.0.0.1:viaProxy; replies with the first
//                                       round trip (result 'echoed', or the error code)
//   {op:'send', name}                   one more line on that connection: 'echoed', 'no answer' (after 1 s) or the
//                                       error code (ECONNRESET when the rules reset it), with the time it took
//   {op:'listen', name, port}           listens on 127.0.0.1:port (0: any); replies 'listening' and the port
//   {op:'unlisten', name}               closes it; replies with how many connections it accepted
// Node built-ins only, so the agent uid needs nothing from the repository to run it.
const AGENT_SESSION = String.raw`
const net = require('node:net'), readline = require('node:readline');
const conns = new Map(), listeners = new Map();
const now = () => performance.now();
function track(sock) {
  const c = { sock, buf: '', error: null, waiter: null };
  const settle = (r) => { const w = c.waiter; c.waiter = null; if (w) w(r); };
  sock.on('data', (d) => {
    c.buf += d;
    const i = c.buf.indexOf('\n');
    if (i >= 0) { c.buf = c.buf.slice(i + 1); settle('echoed'); }
  });
  sock.on('error', (e) => { c.error = e.code; settle(e.code); });
  sock.on('close', () => settle(c.error || 'closed'));
  return c;
}
function roundTrip(c, line, ms) {
  if (c.error || c.sock.destroyed) return Promise.resolve({ result: c.error || 'closed', ms: 0 });
  return new Promise((resolve) => {
    const t = now();
    const timer = setTimeout(() => { c.waiter = null; resolve({ result: 'no answer', ms: now() - t }); }, ms);
    c.waiter = (result) => { clearTimeout(timer); resolve({ result, ms: now() - t }); };
    c.sock.write(line + '\n');
  });
}
function connect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => { sock.removeAllListeners('error'); resolve({ sock }); });
    sock.once('error', (e) => resolve({ error: e.code }));
  });
}
function tunnel(sock, port) {
  return new Promise((resolve) => {
    let head = '';
    const onData = (d) => {
      head += d;
      if (!head.includes('\r\n\r\n')) return;
      sock.off('data', onData);
      resolve(head.split('\r\n')[0]);
    };
    sock.on('data', onData);
    sock.once('error', (e) => resolve(e.code));
    sock.write('CONNECT origin.test:' + port + ' HTTP/1.1\r\nHost: origin.test:' + port + '\r\n\r\n');
  });
}
const ops = {
  async open(p) {
    const { sock, error } = await connect(p.viaProxy || p.port);
    if (error) return { result: error };
    if (p.viaProxy) {
      const status = await tunnel(sock, p.port);
      if (!/^HTTP\/1\.1 200 /.test(status)) return { result: status };
    }
    const c = track(sock);
    conns.set(p.name, c);
    return roundTrip(c, p.name, 3000);
  },
  send(p) { return roundTrip(conns.get(p.name), p.name, 1000); },
  listen(p) {
    const l = { accepted: 0, server: net.createServer((s) => { l.accepted++; s.on('error', () => {}); s.pipe(s); }) };
    return new Promise((resolve) => {
      l.server.once('error', (e) => resolve({ result: e.code }));
      l.server.listen(p.port, '127.0.0.1', () => { listeners.set(p.name, l); resolve({ result: 'listening', port: l.server.address().port }); });
    });
  },
  unlisten(p) {
    const l = listeners.get(p.name);
    listeners.delete(p.name);
    return new Promise((resolve) => l.server.close(() => resolve({ result: 'closed', accepted: l.accepted })));
  },
};
let queue = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  queue = queue.then(async () => {
    const p = JSON.parse(line);
    let reply;
    try { reply = await ops[p.op](p); } catch (e) { reply = { result: 'error ' + e.message }; }
    process.stdout.write(JSON.stringify(reply) + '\n');
  });
});
process.stdin.on('end', () => process.exit(0));
process.stdout.write('ready\n');
`;

/** Who runs a client: `true` the agent uid, `false` root, a number that uid. */
type Who = boolean | number;

function asWho(who: Who): string[] {
  if (typeof who === 'number') return asUid(who);
  return who ? AS_AGENT : [];
}

function runProbes(who: Who, probes: Probe[]): ProbeResult[] {
  const r = sh(inNs([...asWho(who), process.execPath, '-e', NODE_PROBES, JSON.stringify(probes)]));
  if (r.code !== 0) throw new Error(`probe client failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ProbeResult[];
}

function icmp(asAgent: boolean): string {
  const r = sh(inNs([...(asAgent ? AS_AGENT : []), 'python3', '-c', PYTHON_ICMP]));
  if (r.code !== 0) throw new Error(`icmp client failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

/** What a client sees, one word per probe: `refused`, `no answer`, `answered`, `connected`, or `200 <body>`. */
function outcome(r: ProbeResult): string {
  return r.result === 'ECONNREFUSED' || r.result === 'ECONNRESET' || r.result === 'EPERM' ? 'refused' : r.result;
}

let ports: { origin: number; allowed: number; other: number; v6: number; echo: number; leash: number; served: number };
let servers: Started | undefined;
let proxy: Started | undefined;
let agentSession: Started | undefined;
let netnsInode = '';
let policyDir = '';

/** One request to the helper in the namespace (test/kernel/ns-servers.ts), answered by one JSON line. */
function helper(request: { op: string; args?: string[] }): Promise<unknown> {
  return ask(servers, request);
}

interface SessionReply {
  result: string;
  ms?: number;
  port?: number;
  accepted?: number;
}

/** One request to the agent's session (AGENT_SESSION above). */
function agent(request: {
  op: 'open' | 'send' | 'listen' | 'unlisten';
  name: string;
  port?: number;
  viaProxy?: number;
}): Promise<SessionReply> {
  return ask(agentSession, request) as Promise<SessionReply>;
}

function ask(target: Started | undefined, request: object): Promise<unknown> {
  return new Promise((resolve) => {
    const child = target?.child;
    let text = '';
    const onData = (c: Buffer) => {
      text += c.toString();
      if (!text.includes('\n')) return;
      child?.stdout?.off('data', onData);
      resolve(JSON.parse(text.slice(0, text.indexOf('\n'))));
    };
    child?.stdout?.on('data', onData);
    child?.stdin?.write(`${JSON.stringify(request)}\n`);
  });
}

/** How many requests and DNS queries each server in the namespace has received so far. */
function counts(): Promise<Record<string, number>> {
  return helper({ op: 'counts' }) as Promise<Record<string, number>>;
}

/** Starts leash serve in the namespace on `port` (0: any), as root. */
async function startLeash(port: number): Promise<void> {
  proxy = await startUntil(
    inNs([
      process.execPath,
      '--import',
      'tsx',
      'src/main.ts',
      'serve',
      '--listen',
      `127.0.0.1:${port}`,
      '--policy',
      policyDir,
      '--audit',
      '-',
      '--control',
      path.join(os.tmpdir(), `leash-e2e-${process.pid}-root.sock`),
    ]),
    /^listening on 127\.0\.0\.1:(\d+)$/m,
  );
  ports.leash = Number((proxy as Started & { match: RegExpExecArray }).match[1]);
}

/** Stops leash and waits until it is gone, so its port is free. */
async function stopLeash(): Promise<void> {
  const child = proxy?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/**
 * With leash stopped, the agent listens on the proxy's address and port, and root and uid 65533 try to connect
 * (waiting at most HANDSHAKE_WAIT_MS); returns what each saw and how many connections the listener accepted.
 * leash is started again on its port afterwards, whatever happened.
 */
async function posingAsProxy(): Promise<{ listen: string; root: string; other: string; accepted: number | undefined }> {
  await stopLeash();
  try {
    const listen = await agent({ op: 'listen', name: 'fake-proxy', port: ports.leash });
    const probe = {
      'the proxy address and port': { kind: 'tcp', host: '127.0.0.1', port: ports.leash, timeoutMs: HANDSHAKE_WAIT_MS },
    } satisfies Record<string, Probe>;
    const root = probeAll(false, probe).outcomes['the proxy address and port'] as string;
    const other = probeAll(OTHER_UID, probe).outcomes['the proxy address and port'] as string;
    const closed = listen.result === 'listening' ? await agent({ op: 'unlisten', name: 'fake-proxy' }) : undefined;
    return { listen: listen.result, root, other, accepted: closed?.accepted };
  } finally {
    await startLeash(ports.leash);
  }
}

const AGENT_REFUSED = () =>
  ({
    'direct TCP to the origin': { kind: 'tcp', host: '127.0.0.1', port: ports.origin },
    'direct HTTP GET to the origin': { kind: 'get', host: '127.0.0.1', port: ports.origin },
    'another loopback port': { kind: 'tcp', host: '127.0.0.1', port: ports.other },
    'IPv6 ::1': { kind: 'tcp', host: '::1', port: ports.v6 },
    'DNS to the stub resolver 127.0.0.53:53': { kind: 'dns', host: '127.0.0.53', port: 53 },
    'DNS to 127.0.0.1:53': { kind: 'dns', host: '127.0.0.1', port: 53 },
  }) satisfies Record<string, Probe>;

const AGENT_ALLOWED = () =>
  ({
    'the same request through the proxy': {
      kind: 'get',
      host: 'origin.test',
      port: ports.origin,
      proxyPort: ports.leash,
    },
    'the --allow endpoint': { kind: 'get', host: '127.0.0.1', port: ports.allowed },
  }) satisfies Record<string, Probe>;

function probeAll(
  who: Who,
  table: Record<string, Probe>,
): { outcomes: Record<string, string>; ms: Record<string, number> } {
  const names = Object.keys(table);
  const results = runProbes(who, Object.values(table));
  const outcomes: Record<string, string> = {};
  const ms: Record<string, number> = {};
  names.forEach((name, i) => {
    outcomes[name] = outcome(results[i] as ProbeResult);
    ms[name] = Math.round((results[i] as ProbeResult).ms);
  });
  return { outcomes, ms };
}

if (missing !== null && inCi) {
  describe('kernel rules end to end', () => {
    it('has its prerequisites (CI=true: a missing prerequisite fails, it is never skipped)', () => {
      throw new Error(`cannot run the kernel rules end-to-end test: ${missing}`);
    });
  });
} else {
  describe.skipIf(missing !== null)(`kernel rules end to end${missing ? ` (skipped: ${missing})` : ''}`, () => {
    beforeAll(async () => {
      for (const args of [
        ['ip', 'netns', 'add', NS],
        ['ip', '-n', NS, 'link', 'set', 'lo', 'up'],
      ]) {
        const r = sh(args);
        if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
      }
      // Let uid 65534 open ICMP "ping sockets" in this namespace, so that ICMP refusal is the rules' doing.
      // (/proc/sys/net is per namespace; written with node because procps' sysctl is not on a minimal Debian.)
      const ping = sh(
        inNs([
          process.execPath,
          '-e',
          "require('node:fs').writeFileSync('/proc/sys/net/ipv4/ping_group_range', '0 2147483647')",
        ]),
      );
      if (ping.code !== 0) throw new Error(`cannot allow ping sockets in ${NS}: ${ping.stderr}`);
      netnsInode = /\d+/.exec(sh(inNs(['readlink', '/proc/self/ns/net'])).stdout)?.[0] ?? '';
      servers = await startUntil(
        inNs([process.execPath, '--import', 'tsx', 'test/kernel/ns-servers.ts']),
        /^\{.*\}$/m,
      ).then((s) => {
        ports = { ...(JSON.parse(s.match[0]) as Omit<typeof ports, 'leash' | 'served'>), leash: 0, served: 0 };
        return s;
      });
      const dir = await tempDir('leash-kernel-e2e-');
      await mkdir(path.join(dir, 'policies'));
      await writeFile(
        path.join(dir, 'policies', 'origin.yaml'),
        'version: 1\nsettings:\n  dns: { hosts: { origin.test: 127.0.0.1 } }\n  network: { allowCidrs: ["127.0.0.0/8"] }\nrules:\n  - { name: origin, domain: origin.test, ports: "*", effect: allow }\n  - { name: origin-tunnels, domain: origin.test, ports: "*", methods: [CONNECT], effect: allow }\n',
      );
      policyDir = path.join(dir, 'policies');
      // The agent uid reads this policy too (leash serve started as the agent, below).
      await chmod(dir, 0o755);
      await startLeash(0);
      // Conntrack tracks every connection in the namespace from now on (see the header); the table is the test's.
      const track = sh(
        inNs(['nft', '-f', '/dev/stdin']),
        'table inet leash_e2e_conntrack {\n\tchain output {\n\t\ttype filter hook output priority -200; policy accept;\n\t\tct state new counter\n\t}\n}\n',
      );
      if (track.code !== 0) throw new Error(`cannot make conntrack track connections in ${NS}: ${track.stderr}`);
      agentSession = await startUntil(inNs([...AS_AGENT, process.execPath, '-e', AGENT_SESSION]), /^ready$/m);
      // A server of the agent's own, which the rules let answer because it is an --allow endpoint.
      const served = await agent({ op: 'listen', name: 'served', port: 0 });
      if (served.result !== 'listening' || !served.port)
        throw new Error(`the agent uid cannot listen: ${served.result}`);
      ports.served = served.port;
    }, 60_000);

    afterAll(async () => {
      for (const p of [proxy, servers, agentSession]) p?.child.kill('SIGKILL');
      sh(['ip', 'netns', 'del', NS]);
      if (netnsInode) {
        for (const format of ['nft', 'iptables'])
          await rm(path.join(RECORD_DIR, `rules-${format}-net${netnsInode}.json`), { force: true });
      }
    }, 30_000);

    it('loads every golden nft and iptables file into the kernel without error (syntax check, nothing committed)', () => {
      for (const name of Object.keys(GOLDEN_CASES)) {
        const nft = sh(inNs(['nft', '-c', '-f', '/dev/stdin']), renderNft(goldenRuleset(name)));
        expect(nft.stderr, `${name}.nft`).toBe('');
        expect(nft.code, `${name}.nft`).toBe(0);
        const [v4, v6] = renderIptables(goldenRuleset(name)).split(IPT6_MARKER);
        for (const [tool, text] of [
          ['iptables-restore', v4],
          ['ip6tables-restore', v6],
        ] as const) {
          const r = sh(inNs([tool, '--noflush', '--test']), text);
          expect(r.stderr, `${name}.rules ${tool}`).toBe('');
          expect(r.code, `${name}.rules ${tool}`).toBe(0);
        }
      }
    });

    it("before any rules, the agent uid reaches the origin directly (so what follows is the rules' doing)", () => {
      expect(probeAll(true, { origin: { kind: 'get', host: '127.0.0.1', port: ports.origin } }).outcomes).toEqual({
        origin: '200 hello from origin',
      });
    });

    it('before any rules, with leash stopped, a listener the agent uid opens on the proxy address and port answers other users', async () => {
      expect(await posingAsProxy()).toEqual({
        listen: 'listening',
        root: 'connected',
        other: 'connected',
        accepted: 2,
      });
    }, 60_000);

    describe.each(['nft', 'iptables'] as const)('%s rules from leash rules --apply', (format) => {
      it('--apply loads them, and --status shows them loaded for the agent uid', async () => {
        // Connections the agent holds open across the load, used by the next test.
        expect(await agent({ op: 'open', name: `direct-${format}`, port: ports.echo })).toMatchObject({
          result: 'echoed',
        });
        expect(
          await agent({ op: 'open', name: `proxied-${format}`, port: ports.echo, viaProxy: ports.leash }),
        ).toMatchObject({ result: 'echoed' });
        // The one command run as its own process, exactly as an operator types it; the others go through the helper.
        const allow = [ports.allowed, ports.served].flatMap((port) => ['--allow', `127.0.0.1:${port}`]);
        const apply = sh(
          inNs([
            process.execPath,
            '--import',
            'tsx',
            'src/main.ts',
            'rules',
            '--user',
            String(AGENT_UID),
            '--proxy',
            `127.0.0.1:${ports.leash}`,
            ...allow,
            '--format',
            format,
            '--apply',
          ]),
        );
        expect(apply.stderr).toBe('');
        expect(apply.code).toBe(0);
        expect(apply.stdout).toMatch(new RegExp(`^applied: .* now restricts uid ${AGENT_UID}`));
        const status = await leash('rules', '--status', '--format', format);
        expect(status.code).toBe(0);
        expect(status.stdout).toMatch(new RegExp(`: loaded; restricts uid ${AGENT_UID}$`, 'm'));
      }, 30_000);

      it('a direct connection the agent uid opened before --apply is reset at its next send; one through the proxy keeps working', async () => {
        const before = await counts();
        const direct = await agent({ op: 'send', name: `direct-${format}` });
        expect(['ECONNRESET', 'EPIPE'], `the direct connection: ${direct.result}`).toContain(direct.result);
        expect(direct.ms, `the reset took ${direct.ms} ms`).toBeLessThan(1000);
        expect((await counts()).echo, 'the line sent on the cut connection never arrived').toBe(before.echo);
        expect(await agent({ op: 'send', name: `proxied-${format}` })).toMatchObject({ result: 'echoed' });
        expect((await counts()).echo).toBe((before.echo ?? 0) + 1);
      }, 30_000);

      it('the agent uid: direct TCP, other loopback ports and IPv6 are refused fast; DNS to any resolver gets no answer', async () => {
        const before = await counts();
        const { outcomes, ms } = probeAll(true, AGENT_REFUSED());
        expect(outcomes).toEqual({
          'direct TCP to the origin': 'refused',
          'direct HTTP GET to the origin': 'refused',
          'another loopback port': 'refused',
          'IPv6 ::1': 'refused',
          'DNS to the stub resolver 127.0.0.53:53': 'no answer',
          'DNS to 127.0.0.1:53': 'no answer',
        });
        for (const name of ['direct TCP to the origin', 'another loopback port', 'IPv6 ::1'])
          expect(ms[name], `${name} took ${ms[name]} ms`).toBeLessThan(FAST_MS);
        // Nothing the agent sent arrived: not one DNS query, not one request.
        expect(await counts()).toEqual(before);
      }, 30_000);

      it('the agent uid: ICMP is refused', () => {
        expect(icmp(true)).toBe('refused');
      });

      it('the agent uid: the same request through the proxy succeeds, and the --allow endpoint is reachable', () => {
        expect(probeAll(true, AGENT_ALLOWED()).outcomes).toEqual({
          'the same request through the proxy': '200 hello from origin',
          'the --allow endpoint': '200 hello from allowed',
        });
      }, 30_000);

      it('a server the agent uid runs answers other users at an --allow endpoint only', async () => {
        const elsewhere = await agent({ op: 'listen', name: `elsewhere-${format}`, port: 0 });
        expect(elsewhere.result).toBe('listening');
        const { outcomes } = probeAll(false, {
          'at the --allow endpoint': { kind: 'tcp', host: '127.0.0.1', port: ports.served },
          'on a port not listed': {
            kind: 'tcp',
            host: '127.0.0.1',
            port: elsewhere.port as number,
            timeoutMs: HANDSHAKE_WAIT_MS,
          },
        });
        expect(outcomes).toEqual({ 'at the --allow endpoint': 'connected', 'on a port not listed': 'timeout' });
        expect(await agent({ op: 'unlisten', name: `elsewhere-${format}` })).toEqual({ result: 'closed', accepted: 0 });
      }, 30_000);

      it('with leash stopped, a listener the agent uid opens on the proxy address and port gives no other user a handshake', async () => {
        expect(await posingAsProxy()).toEqual({ listen: 'listening', root: 'timeout', other: 'timeout', accepted: 0 });
        // leash is back on its port, and the agent reaches it again.
        expect(probeAll(true, AGENT_ALLOWED()).outcomes).toMatchObject({
          'the same request through the proxy': '200 hello from origin',
        });
      }, 60_000);

      it('root in the same namespace is unaffected', () => {
        expect(probeAll(false, AGENT_REFUSED()).outcomes).toEqual({
          'direct TCP to the origin': 'connected',
          'direct HTTP GET to the origin': '200 hello from origin',
          'another loopback port': 'connected',
          'IPv6 ::1': 'connected',
          'DNS to the stub resolver 127.0.0.53:53': 'answered',
          'DNS to 127.0.0.1:53': 'answered',
        });
        expect(icmp(false)).toBe('answered');
      }, 30_000);

      it('--status counts the refusals', async () => {
        const status = await leash('rules', '--status', '--format', format);
        const refusals = status.stdout
          .split('\n')
          .filter((l) => /reset, so the agent fails at once|ICMP admin-prohibited/.test(l));
        expect(refusals.length).toBeGreaterThan(0);
        const packets = refusals.map((l) => Number(/^\s+\S+\s+(\d+)\s/.exec(l)?.[1] ?? 0));
        expect(packets.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      }, 30_000);

      it('leash serve started as the agent uid warns that the rules restrict it', async () => {
        // From a copy the agent uid can read (the checkout may be in a 0700 home), with no privilege at all: the
        // check reads the record --apply left, as a real unprivileged start would.
        const checkout = await agentReadableCheckout();
        const p = await startUntil(
          inNs([
            ...AS_AGENT,
            process.execPath,
            '--import',
            'tsx',
            'src/main.ts',
            'serve',
            '--listen',
            '127.0.0.1:0',
            '--policy',
            policyDir,
            '--audit',
            '-',
            '--certs',
            path.join(checkout, 'certs'),
            '--control',
            path.join(os.tmpdir(), `leash-e2e-${process.pid}-agent.sock`),
          ]),
          /^listening on /m,
          checkout,
        );
        p.child.kill('SIGKILL');
        expect(p.stderr()).toMatch(
          new RegExp(
            `^leash: warning: this process runs as uid ${AGENT_UID}, which the loaded leash ${format} rules restrict .*\\(as recorded by leash rules --apply\\)`,
            'm',
          ),
        );
      }, 30_000);

      it('--remove restores direct access; --status then says not loaded (exit 1)', async () => {
        const remove = await leash('rules', '--remove', '--format', format);
        expect(remove.code).toBe(0);
        expect(remove.stdout).toMatch(/^removed: /);
        const status = await leash('rules', '--status', '--format', format);
        expect(status.code).toBe(1);
        expect(status.stdout).toMatch(/not loaded/);
        expect(probeAll(true, { origin: { kind: 'get', host: '127.0.0.1', port: ports.origin } }).outcomes).toEqual({
          origin: '200 hello from origin',
        });
        expect(icmp(true)).toBe('answered');
      }, 30_000);
    });
  });
}
