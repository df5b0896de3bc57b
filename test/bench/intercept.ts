// The interception and identity benchmark: what TLS interception (issue 4) and agent identity and rate limits
// (issue 6) cost, each against a baseline measured in the same run (the machine is shared and noisy, so absolute
// figures from different runs do not compare).
//
// Processes, as in the proxy suite and with its helpers: this one (the conductor and the origins, HTTP and HTTPS
// with a certificate from a throwaway CA); six leash processes (test/bench/leash-process.mjs: the compiled dist/
// when it is up to date, audit log on, to a file; one policy each; idle but for the phase that measures it); and
// the load generator (test/bench/loadgen.ts), which never shares an event loop with leash or an origin.
// The figures, in order:
//   1. minting a leaf certificate: `new LeafMinter(ca).leafFor(host)` in this process, on leash's own CA, for
//      MINT.hosts names never minted before (after MINT.warmup others): CPU ms per leaf (and the median wall
//      time); baseline: one bare RSA-2048 SHA-256 signature with the same key, which every leaf needs;
//   2. the first request to an intercepted host leash has never seen (a leaf to mint, an origin connection to
//      open) vs a request to one it has: each a new connection, CONNECT, TLS handshake with leash and one request,
//      one at a time, alternating, medians; the same request over a new TLS connection straight to the origin for
//      reference; and the very first intercepted tunnel after start, which also builds the interceptor;
//   3. keep-alive HTTPS requests (1 KiB responses, KEEPALIVE.connections connections) inside intercepted tunnels
//      vs the same client talking TLS to the origin directly; spliced (not intercepted) tunnels for reference;
//   4. plain-HTTP requests through leash with (i) no agents and no rateLimit, (ii) an agent identified by its
//      Proxy-Authorization Basic token, (iii) (ii) plus a rateLimit that never triggers, all keep-alive; and
//      with a new connection per request, (i) against (iv) an agent identified by uid (leash reads
//      /proc/net/tcp once per connection): req/s and the leash process's CPU time per request (/proc/PID/stat),
//      ratios to (i). (i') repeats (i) on a second, identical leash process: how far two runs of the same thing
//      differ is the resolution of the others. The added cost of (ii) and (iii) is a few microseconds, below
//      that resolution on a noisy machine, so the calls leash makes for them are also timed in this process:
//      what identify() with a token adds over identify() without credentials, and the rate-limit check, each
//      also as a share of leash's CPU time per request in (i).
// Rounds interleave the sides of each comparison, in a rotating order; rates keep each side's best round and CPU
// per request its lowest (noise only ever slows a run down or adds to its cost). Every loop is bounded in count
// and in time; the suite takes about a minute.
//
// LEASH_BENCH_INTERCEPT_PHASES=mint,first,keepalive,identity runs a subset; LEASH_BENCH_CPU_PROF=DIR writes a V8
// CPU profile of every leash process there (as in the proxy suite).
// Never: send traffic anywhere but 127.0.0.1; leave a process, a server or a temporary directory behind.

import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTestCa } from '../helpers/certs.js';
import type { HandshakeResult, HttpJob, HttpResult, Route } from './loadgen.js';
import {
  cpuMeter,
  expectStatus,
  leashCode,
  rate,
  repoRoot,
  startLeashProcess,
  startLoadgen,
  startOrigins,
  type LeashProcess,
} from './proxy.js';
import { benchMode } from './mode.js';
import type { BenchLine } from './report.js';

const SUITE = 'intercept';
/** The intercepted host every keep-alive and "already seen" request goes to. */
const SEEN_HOST = 'seen.intercept.test';
/** Hosts leash meets once each, for "first request to a new host". */
const NEW_HOSTS = Array.from({ length: 30 }, (_, i) => `new${i}.intercept.test`);
/** A host on the same TLS port whose rule does not look inside: its tunnels are spliced. */
const SPLICED_HOST = 'spliced.test';
/** The plain-HTTP host of the identity and rate-limit phases. */
const PLAIN_HOST = 'bench.test';
const TOKEN_ENV = 'LEASH_BENCH_AGENT_TOKEN';
const AGENT = 'bench';

const MINT = { warmup: 10, hosts: 50, maxMs: 10_000 };
const FIRST = { warmupSeen: 10, warmupNew: 3, maxMs: 30_000 };
const mode = benchMode();
const KEEPALIVE = { connections: 32, warmupMs: 500, durationMs: mode.window(2000), maxRequests: 500_000 };
const KEEPALIVE_ROUNDS = 2;
const IDENTITY = { connections: 64, warmupMs: 300, durationMs: mode.window(1500), maxRequests: 500_000 };
const FRESH = { connections: 16, warmupMs: 300, durationMs: mode.window(1000), maxRequests: 100_000 };
const IDENTITY_ROUNDS = mode.quick ? 2 : 4;
/** In-process identity and rate-limit calls: at most `max` per figure, for at most `maxMs`. */
const CALLS = { warmup: 20_000, max: 200_000, maxMs: 1000 };

/** interceptedRatio: issue 13, keep-alive HTTPS inside intercepted tunnels >= 0.45x direct TLS. */
const TARGETS = { mintMs: 10, interceptedRatio: 0.45 };

type Phase = 'mint' | 'first' | 'keepalive' | 'identity';
const ALL_PHASES: readonly Phase[] = ['mint', 'first', 'keepalive', 'identity'];

function selectedPhases(): Set<Phase> {
  const wanted = process.env.LEASH_BENCH_INTERCEPT_PHASES;
  if (!wanted) return new Set(ALL_PHASES);
  return new Set(
    wanted
      .split(',')
      .map((p) => p.trim())
      .filter((p): p is Phase => (ALL_PHASES as readonly string[]).includes(p)),
  );
}

const progress = (text: string) => process.stderr.write(`bench intercept: ${text}\n`);

type LeashName = 'intercept' | IdentityKind;
type IdentityKind = 'none' | 'none-control' | 'token' | 'token+rateLimit' | 'uid';

export async function interceptBench(): Promise<BenchLine[]> {
  const phases = selectedPhases();
  const lines: BenchLine[] = [];
  const push = (line: Omit<BenchLine, 'suite'>) => lines.push({ suite: SUITE, ...line });
  const cleanups: (() => Promise<unknown> | void)[] = [];
  const startedAt = performance.now();
  try {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'leash-bench-intercept-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));

    const originCa = createTestCa('leash intercept bench CA');
    const origins = await startOrigins(originCa.issue([SEEN_HOST, SPLICED_HOST, ...NEW_HOSTS]));
    cleanups.push(() => origins.close());
    const originCaFile = path.join(dir, 'origin-ca.pem');
    await writeFile(originCaFile, originCa.certPem);

    // Leash processes, started together (each idles until its phase): one intercepting, five for identity. All
    // settle before going on, so that none is left out of the cleanups when another fails to start.
    const certsDir = path.join(dir, 'certs');
    const token = crypto.randomBytes(24).toString('base64url');
    const policies: Record<LeashName, string> = {
      intercept: interceptPolicy(origins.httpsPort, originCaFile),
      none: identityPolicy('none', origins.httpPort),
      'none-control': identityPolicy('none', origins.httpPort),
      token: identityPolicy('token', origins.httpPort),
      'token+rateLimit': identityPolicy('token+rateLimit', origins.httpPort),
      uid: identityPolicy('uid', origins.httpPort),
    };
    const leashes = new Map<LeashName, LeashProcess>();
    const policyDirs = new Map<LeashName, string>();
    const started = await Promise.allSettled(
      (Object.entries(policies) as [LeashName, string][]).map(async ([name, yaml], i) => {
        const policyDir = path.join(dir, `policies-${i}`);
        await mkdir(policyDir);
        // The shipped default policy too, so that every request walks its real rule list, as in the proxy suite.
        await writeFile(
          path.join(policyDir, 'default.yaml'),
          await readFile(path.join(repoRoot(), 'policies', 'default.yaml')),
        );
        await writeFile(path.join(policyDir, 'zz-bench.yaml'), yaml);
        policyDirs.set(name, policyDir);
        const options = name === 'intercept' ? { certs: certsDir } : { env: { ...process.env, [TOKEN_ENV]: token } };
        const running = await startLeashProcess(policyDir, path.join(dir, `audit-${i}.log`), options);
        cleanups.push(() => running.stop());
        leashes.set(name, running);
      }),
    );
    for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
    /** The leash processes traffic went through: each must have written audit records. */
    const used = new Set<LeashName>();
    const leash = (name: LeashName) => {
      used.add(name);
      return leashes.get(name) as LeashProcess;
    };
    const gen = await startLoadgen();
    cleanups.push(() => gen.stop());
    // Leash created its CA on start, since the policy intercepts; clients trust it, as agents would.
    const leashCaPem = await readFile(path.join(certsDir, 'leash-ca.pem'), 'utf8');
    progress(
      `leash pids ${[...leashes].map(([n, l]) => `${n} ${l.pid}`).join(', ')}; generator ${gen.pid}; origins :${origins.httpPort} (http), :${origins.httpsPort} (https)`,
    );

    const pids: Record<string, number> = {
      generator: gen.pid,
      origin: process.pid,
      ...Object.fromEntries([...leashes].map(([n, l]) => [`leash ${n}`, l.pid])),
    };
    /** Runs one measurement and reports the cores each named process used meanwhile. */
    const metered = async <T>(
      label: string,
      names: string[],
      work: () => Promise<T>,
    ): Promise<{ result: T; cpu: Record<string, number> }> => {
      const meter = cpuMeter(Object.fromEntries(names.map((n) => [n, pids[n] as number])));
      const result = await work();
      const { seconds, cpu, sys } = meter();
      const cores = (used: number) => Math.max(0, used / seconds).toFixed(2);
      progress(
        `${label}: cores busy: ${Object.entries(cpu)
          .map(([n, used]) => `${n} ${cores(used)} (kernel ${cores(sys[n] ?? 0)})`)
          .join(', ')}`,
      );
      return { result, cpu };
    };

    // 1. Leaf minting, in this process (no socket involved), on leash's own CA.
    if (phases.has('mint')) {
      const { loadCa } = await leashModule<typeof import('../../src/tls/ca.js')>('tls/ca');
      const { LeafMinter } = await leashModule<typeof import('../../src/tls/leaf.js')>('tls/leaf');
      const ca = await loadCa(certsDir);
      if (!ca) throw new Error(`no leash CA in ${certsDir}`);
      const minter = new LeafMinter(ca);
      const deadline = performance.now() + MINT.maxMs;
      for (let i = 0; i < MINT.warmup && performance.now() < deadline; i++) minter.leafFor(`warm${i}.mint.test`);
      // Minting is synchronous work on this thread: its CPU time is what it costs, whereas its wall time also
      // holds whatever else the shared machine ran meanwhile (shown on stderr: median and worst).
      const timed = (count: number, work: (i: number) => void) => {
        const wallMs: number[] = [];
        const cpu0 = process.cpuUsage();
        for (let i = 0; i < count && performance.now() < deadline; i++) {
          const t0 = performance.now();
          work(i);
          wallMs.push(performance.now() - t0);
        }
        const cpu = process.cpuUsage(cpu0);
        return { cpuMs: (cpu.user + cpu.system) / 1000 / wallMs.length, wallMs };
      };
      const mint = timed(MINT.hosts, (i) => minter.leafFor(`host${i}.mint.test`));
      const tbs = crypto.randomBytes(600); // about the size of a leaf's to-be-signed part
      timed(MINT.warmup, () => crypto.sign('sha256', tbs, ca.key));
      const sign = timed(MINT.hosts, () => crypto.sign('sha256', tbs, ca.key));
      progress(
        `mint: ${mint.wallMs.length} leaves, CPU ${mint.cpuMs.toFixed(2)} ms each, wall median ${median(mint.wallMs).toFixed(2)} ms, worst ${Math.max(...mint.wallMs).toFixed(2)} ms; one RSA-2048 signature: CPU ${sign.cpuMs.toFixed(2)} ms`,
      );
      push({ name: 'RSA-2048 SHA-256 signature, CPU (baseline)', value: sign.cpuMs, unit: 'ms' });
      push({
        name: 'leaf certificate mint, new host, CPU',
        value: mint.cpuMs,
        unit: 'ms',
        ratio: mint.cpuMs / sign.cpuMs,
        ratioOf: 'RSA-2048 SHA-256 signature, CPU (baseline)',
        target: `< ${TARGETS.mintMs} ms`,
        pass: mint.cpuMs < TARGETS.mintMs,
      });
      push({ name: 'leaf certificate mint, new host, wall (median)', value: median(mint.wallMs), unit: 'ms' });
    }

    const tunnelTo = (host: string): Route => ({
      mode: 'tunnel',
      port: leash('intercept').port,
      authority: `${host}:${origins.httpsPort}`,
      tls: { servername: host, ca: leashCaPem },
    });
    const directTls = (host: string): Route => ({
      mode: 'direct',
      port: origins.httpsPort,
      tls: { servername: host, ca: originCa.certPem },
    });
    const head = (host: string, extra = '') =>
      `GET /small HTTP/1.1\r\nHost: ${host}:${origins.httpsPort}\r\nUser-Agent: leash-bench\r\n${extra}\r\n`;

    // 2. First request to a host leash has never seen vs one it has: one new connection at a time.
    if (phases.has('first')) {
      const deadline = performance.now() + FIRST.maxMs;
      const once = async (route: Route, host: string): Promise<number> => {
        if (performance.now() > deadline) throw new Error(`first requests: over ${FIRST.maxMs} ms`);
        const result = await gen.run<HandshakeResult>(
          {
            kind: 'handshake',
            route,
            request: head(host, 'Connection: close\r\n'),
            concurrency: 1,
            warmupMs: 0,
            durationMs: 5000,
            maxConnections: 1,
          },
          10_000,
        );
        if (result.connections !== 1)
          throw new Error(`one request to ${host}: ${result.errors} failed (${result.firstError ?? 'no error'})`);
        return result.p99Ms; // of one sample: its latency
      };
      // The very first intercepted tunnel also builds the interceptor (loads the CA, makes the leaf key pair).
      const cold = await once(tunnelTo(SEEN_HOST), SEEN_HOST);
      for (let i = 0; i < FIRST.warmupSeen; i++) await once(tunnelTo(SEEN_HOST), SEEN_HOST);
      for (const host of NEW_HOSTS.slice(0, FIRST.warmupNew)) await once(tunnelTo(host), host);
      const fresh: number[] = [];
      const seen: number[] = [];
      const direct: number[] = [];
      for (const host of NEW_HOSTS.slice(FIRST.warmupNew)) {
        seen.push(await once(tunnelTo(SEEN_HOST), SEEN_HOST));
        fresh.push(await once(tunnelTo(host), host));
        direct.push(await once(directTls(SEEN_HOST), SEEN_HOST));
      }
      const [f, s, d] = [median(fresh), median(seen), median(direct)];
      progress(
        `first requests: cold start ${cold.toFixed(1)} ms; never-seen host median ${f.toFixed(2)} ms (max ${Math.max(...fresh).toFixed(1)}), seen host ${s.toFixed(2)} ms, direct ${d.toFixed(2)} ms (${fresh.length} each)`,
      );
      push({ name: 'new TLS connection + 1 request, direct', value: d, unit: 'ms' });
      push({
        name: 'new tunnel + 1 request, seen intercepted host',
        value: s,
        unit: 'ms',
        ratio: s / d,
        ratioOf: 'new TLS connection + 1 request, direct',
      });
      push({
        name: 'new tunnel + 1 request, never-seen intercepted host',
        value: f,
        unit: 'ms',
        ratio: f / s,
        ratioOf: 'new tunnel + 1 request, seen intercepted host',
      });
      push({
        name: 'first intercepted tunnel after leash starts',
        value: cold,
        unit: 'ms',
        ratio: cold / s,
        ratioOf: 'new tunnel + 1 request, seen intercepted host',
      });
    }

    // 3. Keep-alive HTTPS: direct, inside intercepted tunnels, inside spliced tunnels; interleaved rounds.
    if (phases.has('keepalive')) {
      const kinds = [
        { label: 'direct', route: directTls(SEEN_HOST), host: SEEN_HOST, server: 'origin' },
        { label: 'intercepted', route: tunnelTo(SEEN_HOST), host: SEEN_HOST, server: 'leash intercept' },
        {
          label: 'spliced',
          route: { ...tunnelTo(SPLICED_HOST), tls: { servername: SPLICED_HOST, ca: originCa.certPem } },
          host: SPLICED_HOST,
          server: 'leash intercept',
        },
      ];
      const samples = new Map<string, Sample[]>();
      for (let round = 0; round < KEEPALIVE_ROUNDS; round++) {
        for (const kind of rotate(kinds, round)) {
          const job: HttpJob = { kind: 'http', port: 0, route: kind.route, request: head(kind.host), ...KEEPALIVE };
          const { result, cpu } = await metered(
            `keep-alive HTTPS round ${round + 1}, ${kind.label}`,
            ['generator', 'origin', 'leash intercept'],
            () => gen.run<HttpResult>(job, 20_000),
          );
          expectStatus(result, 200, `keep-alive HTTPS, ${kind.label}`);
          samples.set(kind.label, [...(samples.get(kind.label) ?? []), sample(result, cpu[kind.server] ?? NaN)]);
        }
      }
      const direct = summarize(samples.get('direct'));
      push({ name: 'keep-alive HTTPS, direct TLS', value: direct.perSecond, unit: 'req/s' });
      push({ name: 'CPU per keep-alive HTTPS request, origin', value: direct.cpuUs, unit: 'us' });
      for (const label of ['intercepted', 'spliced']) {
        const s = summarize(samples.get(label));
        const ratio = s.perSecond / direct.perSecond;
        push({
          name: `keep-alive HTTPS, ${label} tunnels`,
          value: s.perSecond,
          unit: 'req/s',
          ratio,
          ratioOf: 'keep-alive HTTPS, direct TLS',
          ...(label === 'intercepted'
            ? {
                target: `>= ${TARGETS.interceptedRatio}x direct`,
                want: { atLeast: TARGETS.interceptedRatio },
                pass: ratio >= TARGETS.interceptedRatio,
              }
            : {}),
        });
        push({
          name: `CPU per keep-alive HTTPS request, leash ${label}`,
          value: s.cpuUs,
          unit: 'us',
          ratio: s.cpuUs / direct.cpuUs,
          ratioOf: 'CPU per keep-alive HTTPS request, origin',
        });
      }
    }

    // 4. Identity and rate limits on plain HTTP.
    if (phases.has('identity')) {
      const auth = `Basic ${Buffer.from(`${AGENT}:${token}`).toString('base64')}`;
      const target = `http://${PLAIN_HOST}:${origins.httpPort}/small`;
      const plainHead = (extra: string) =>
        `GET ${target} HTTP/1.1\r\nHost: ${PLAIN_HOST}:${origins.httpPort}\r\nUser-Agent: leash-bench\r\n${extra}\r\n`;
      const keepAlive = (name: IdentityKind, extra: string): HttpJob => ({
        kind: 'http',
        port: leash(name).port,
        request: plainHead(extra),
        ...IDENTITY,
      });
      const fresh = (name: IdentityKind): HttpJob => ({
        kind: 'http',
        port: leash(name).port,
        request: plainHead('Connection: close\r\n'),
        ...FRESH,
      });
      const groups: { label: string; leash: IdentityKind; job: HttpJob }[][] = [
        [
          { label: '(i) no agents', leash: 'none', job: keepAlive('none', '') },
          {
            label: "(i') no agents, second leash (A/A control)",
            leash: 'none-control',
            job: keepAlive('none-control', ''),
          },
          { label: '(ii) token', leash: 'token', job: keepAlive('token', `Proxy-Authorization: ${auth}\r\n`) },
          {
            label: '(iii) token + rateLimit',
            leash: 'token+rateLimit',
            job: keepAlive('token+rateLimit', `Proxy-Authorization: ${auth}\r\n`),
          },
        ],
        [
          { label: '(i) no agents, new connections', leash: 'none', job: fresh('none') },
          { label: '(iv) uid, new connections', leash: 'uid', job: fresh('uid') },
        ],
      ];
      const samples = new Map<string, Sample[]>();
      const socketTable: number[] = [];
      for (let round = 0; round < IDENTITY_ROUNDS; round++) {
        for (const group of groups) {
          for (const kind of rotate(group, round)) {
            const server = `leash ${kind.leash}`;
            if (kind.leash === 'uid') socketTable.push(tcpTableLines());
            const { result, cpu } = await metered(
              `identity round ${round + 1}, ${kind.label}`,
              ['generator', 'origin', server],
              () => gen.run<HttpResult>(kind.job, 20_000),
            );
            expectStatus(result, 200, kind.label);
            if (kind.label.endsWith('new connections') && result.connectionsOpened < result.totalRequests) {
              throw new Error(
                `${kind.label}: ${result.connectionsOpened} connections for ${result.totalRequests} requests; expected one per request`,
              );
            }
            samples.set(kind.label, [...(samples.get(kind.label) ?? []), sample(result, cpu[server] ?? NaN)]);
          }
        }
      }
      const report = (label: string, baseline: string) => {
        const s = summarize(samples.get(label));
        if (label === baseline) {
          push({ name: `plain HTTP ${label}`, value: s.perSecond, unit: 'req/s' });
          push({ name: `leash CPU per request ${label}`, value: s.cpuUs, unit: 'us' });
          return;
        }
        const b = summarize(samples.get(baseline));
        push({
          name: `plain HTTP ${label}`,
          value: s.perSecond,
          unit: 'req/s',
          ratio: s.perSecond / b.perSecond,
          ratioOf: `plain HTTP ${baseline}`,
        });
        push({
          name: `leash CPU per request ${label}`,
          value: s.cpuUs,
          unit: 'us',
          ratio: s.cpuUs / b.cpuUs,
          ratioOf: `leash CPU per request ${baseline}`,
        });
      };
      for (const label of [
        '(i) no agents',
        "(i') no agents, second leash (A/A control)",
        '(ii) token',
        '(iii) token + rateLimit',
      ])
        report(label, '(i) no agents');
      for (const label of ['(i) no agents, new connections', '(iv) uid, new connections'])
        report(label, '(i) no agents, new connections');
      push({ name: 'sockets in /proc/net/tcp{,6} as (iv) starts', value: mean(socketTable), unit: 'lines' });

      // The same calls leash makes per request, in this process, where a microsecond shows.
      const costs = await identityCallCosts(policyDirs.get('token+rateLimit') as string, origins.httpPort, token, auth);
      const perRequest = summarize(samples.get('(i) no agents')).cpuUs;
      const share = (us: number) => `${((100 * us) / perRequest).toFixed(1)}%`;
      progress(
        `in process: token identification adds ${(costs.token - costs.none).toFixed(2)} us (${share(costs.token - costs.none)} of a request's CPU in (i)), the rate-limit check ${costs.rateLimit.toFixed(2)} us (${share(costs.rateLimit)})`,
      );
      const ratioOf = 'leash CPU per request (i) no agents';
      push({ name: 'in-process identify, no credentials', value: costs.none, unit: 'us' });
      push({
        name: 'in-process identify, Basic token: added',
        value: costs.token - costs.none,
        unit: 'us',
        ratio: (costs.token - costs.none) / perRequest,
        ratioOf,
      });
      push({
        name: 'in-process rate-limit check (memory store)',
        value: costs.rateLimit,
        unit: 'us',
        ratio: costs.rateLimit / perRequest,
        ratioOf,
      });
    }

    // Every leash that carried traffic wrote its audit log (on, to a file, as in production).
    for (const [name, running] of leashes) {
      const records = await running.stop();
      if (records === 0 && used.has(name))
        throw new Error(`leash ${name} wrote no audit records: the audit log was not on`);
    }
    progress(`suite took ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
    return lines;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        progress(`cleanup: ${(err as Error).message}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Policies. Names are pinned to loopback and 127.0.0.0/8 is let past the address guard, so nothing leaves here.

function interceptPolicy(httpsPort: number, originCaFile: string): string {
  const hosts = [SEEN_HOST, SPLICED_HOST, ...NEW_HOSTS].map((h) => `${h}: 127.0.0.1`).join(', ');
  return `version: 1
settings:
  dns:
    hosts: { ${hosts} }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tlsPorts: [${httpsPort}]
  tls: { extraCa: ${JSON.stringify(originCaFile)} }
rules:
  - { name: bench-intercepted, domain: "*.intercept.test", ports: [${httpsPort}], methods: [GET], effect: allow, reason: intercepted benchmark origin }
  - { name: bench-spliced, domain: ${SPLICED_HOST}, ports: [${httpsPort}], effect: allow, reason: spliced benchmark origin }
`;
}

function identityPolicy(kind: IdentityKind, httpPort: number): string {
  const agents =
    kind === 'none'
      ? ''
      : kind === 'uid'
        ? `agents:\n  ${AGENT}: { uid: ${process.getuid?.() ?? 0} }\n`
        : `agents:\n  ${AGENT}: { token: "env:${TOKEN_ENV}" }\n`;
  const rateLimit = kind === 'token+rateLimit' ? ', rateLimit: 100000000/1s' : '';
  return `version: 1
settings:
  dns:
    hosts: { ${PLAIN_HOST}: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
${agents}rules:
  - { name: bench-origin, domain: ${PLAIN_HOST}, ports: [${httpPort}]${rateLimit}, effect: allow, reason: benchmark origin }
`;
}

// ---------------------------------------------------------------------------------------------------------------

/** A leash module from the code the leash processes run: dist/ when it is up to date, else src/ (through tsx). */
async function leashModule<T>(name: string): Promise<T> {
  const compiled = leashCode().describe.startsWith('compiled');
  return (await import(
    pathToFileURL(path.join(repoRoot(), compiled ? 'dist' : 'src', `${name}.${compiled ? 'js' : 'ts'}`)).href
  )) as T;
}

/** Microseconds per call of what leash does per request to identify an agent and hold it to a rate limit. */
async function identityCallCosts(
  policyDir: string,
  port: number,
  token: string,
  authorization: string,
): Promise<{ none: number; token: number; rateLimit: number }> {
  const { loadPolicy } = await leashModule<typeof import('../../src/policy/watch.js')>('policy/watch');
  const { identify, parseProxyAuthorization } =
    await leashModule<typeof import('../../src/policy/identity.js')>('policy/identity');
  const { readAgentTokens } = await leashModule<typeof import('../../src/proxy/agent-tokens.js')>('proxy/agent-tokens');
  const { overRateLimit } = await leashModule<typeof import('../../src/proxy/rate-limit.js')>('proxy/rate-limit');
  const { judge } = await leashModule<typeof import('../../src/proxy/verdict.js')>('proxy/verdict');
  const { MemoryRateLimitStore } =
    await leashModule<typeof import('../../src/limits/memory-store.js')>('limits/memory-store');
  const policy = await loadPolicy([policyDir]);
  const tokens = readAgentTokens(policy, { [TOKEN_ENV]: token }).tokens;
  const identifyAs = (header: string | undefined, expect: string) => () => {
    const identity = identify(
      policy,
      { credentials: parseProxyAuthorization(header), uid: undefined, address: '127.0.0.1' },
      tokens,
    );
    if (!identity.ok || identity.agent !== expect)
      throw new Error(`identify: expected agent ${expect}, got ${JSON.stringify(identity)}`);
  };
  const verdict = judge(policy, { method: 'GET', host: PLAIN_HOST, port, path: '/small', agent: AGENT });
  if (!verdict.rule?.rateLimit) throw new Error('in-process rate limit: the rule has no rateLimit');
  const state = { rateLimits: new MemoryRateLimitStore(), now: Date.now } as unknown as Parameters<
    typeof overRateLimit
  >[0];
  const none = await timeCalls(identifyAs(undefined, 'anonymous'));
  const byToken = await timeCalls(identifyAs(authorization, AGENT));
  const rateLimit = await timeCalls(async () => {
    if (await overRateLimit(state, verdict)) throw new Error('in-process rate limit: the limit triggered');
  });
  return { none, token: byToken, rateLimit };
}

/** Microseconds per call, after a warm-up; bounded in calls and in time. Promises are awaited one by one. */
async function timeCalls(call: () => unknown): Promise<number> {
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const result = call();
      if (result instanceof Promise) await result;
    }
  };
  await run(CALLS.warmup);
  const t0 = performance.now();
  const deadline = t0 + CALLS.maxMs;
  let calls = 0;
  while (calls < CALLS.max && performance.now() < deadline) {
    await run(1000);
    calls += 1000;
  }
  return ((performance.now() - t0) / calls) * 1000;
}

interface Sample {
  perSecond: number;
  cpuUs: number;
}

function sample(result: HttpResult, serverCpuSeconds: number): Sample {
  return { perSecond: rate(result.requests, result.seconds), cpuUs: (serverCpuSeconds / result.totalRequests) * 1e6 };
}

/** Best rate and lowest CPU per request over the rounds: noise only ever slows a run down or adds to its cost. */
function summarize(samples: Sample[] | undefined): Sample {
  if (!samples || samples.length === 0) throw new Error('no samples');
  return { perSecond: Math.max(...samples.map((s) => s.perSecond)), cpuUs: Math.min(...samples.map((s) => s.cpuUs)) };
}

/** The items in a different order each round, so that no side always runs first or last. */
function rotate<T>(items: readonly T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Sockets (TIME_WAIT included) in the tables leash reads to find a connection's owner. */
function tcpTableLines(): number {
  let lines = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      lines += readFileSync(table, 'utf8').split('\n').filter(Boolean).length - 1;
    } catch {
      // No such table (IPv6 off, or not Linux): nothing to count.
    }
  }
  return lines;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}
