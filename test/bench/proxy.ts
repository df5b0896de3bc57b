// The proxy benchmark: leash against the same client talking to the origin directly, in one run, every figure a
// ratio to a baseline measured seconds before (the machine is shared and noisy, so absolute numbers from
// different runs do not compare).
//
// Separate processes, so that no figure measures a neighbour on its event loop: this one (the origins, and the
// conductor, idle while a phase runs); leash (test/bench/leash-process.mjs: the real startServe() from dist/,
// audit log on, to a file); Squid (test/bench/squid.ts, access log on; installed when missing and root); the bare
// engine (test/bench/engine-process.mjs: http-proxy with leash's keep-alive agent, no policy, no audit); and the
// load generator (test/bench/loadgen.ts, raw-socket HTTP/1.1, cheaper per request than any node:http client).
// The figures, in order, with the targets of issue 13:
//   1. memory held by idle TLS tunnels (each has carried one request): the proxy's RSS (/proc/PID/status VmRSS)
//      before and after opening them, divided by their count; for leash also its heap after full collections
//      (V8 heap + external). Measured first, on fresh processes. Target: leash KiB per tunnel <= Squid's;
//   2. small plain-HTTP requests (1 KiB response, keep-alive, 64 connections): requests/s, p99, and the CPU time
//      per request of the process that answers (origin direct, proxy otherwise), which noise disturbs less.
//      Target: leash >= 0.9x the bare engine's requests/s, p99 <= 1.5x the engine's;
//   3. denied requests/s (leash closes the connection after every refusal, so each one is a new connection).
//      Target: leash >= Squid;
//   4. new CONNECT tunnels/s, 16 at a time, each a TLS handshake with the origin and one request. Target:
//      leash >= Squid;
//   5. MB/s of a 64 MiB body through one tunnel, TLS inside (and plain bytes inside, to isolate the splice), and
//      the proxy's CPU time per MB moved. Target: leash MB/s >= Squid's, CPU per MB <= 1.5x Squid's.
// Rounds interleave direct and proxied runs and each side keeps its best (noise only slows a run down). Every
// phase warms up first and is bounded both in count and in time; the suite takes about two minutes (one in quick
// mode, see mode.ts). Without Squid the Squid targets say "no squid" and neither pass nor fail. Progress on
// stderr shows the cores each process used per phase: a direct run whose generator is near 1.0 core would be
// measuring the generator.
//
// LEASH_BENCH_PHASES=memory,small,denied,tunnels,download runs a subset; LEASH_BENCH_CPU_PROF=DIR writes a
// V8 CPU profile of the leash process there (open it in Chrome DevTools or speedscope).
// Never: send traffic anywhere but 127.0.0.1; leave a process or a server behind, whatever fails.

import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createTestCa } from '../helpers/certs.js';
import type { DownloadResult, HandshakeResult, HoldResult, HttpResult, Job, ResultMessage, Route } from './loadgen.js';
import { meets, type BenchLine, type Want } from './report.js';
import { benchMode } from './mode.js';
import { ensureSquid, startSquid, type RunningSquid } from './squid.js';

const SUITE = 'proxy';
const HOST = 'bench.test';
const DENIED_HOST = 'denied.test';
const SMALL_BYTES = 1024;
const BIG_BYTES = 64 * 1024 * 1024;
const mode = benchMode();
const IDLE_TUNNELS = mode.quick ? 500 : 1000;

const SMALL = { connections: 64, warmupMs: 500, durationMs: mode.window(3000), maxRequests: 500_000 };
const SMALL_ROUNDS = 2;
const TUNNELS = { concurrency: 16, warmupMs: 300, durationMs: mode.window(2000), maxConnections: 20_000 };
const TUNNEL_ROUNDS = 2;
const DOWNLOAD = { repeats: mode.quick ? 2 : 3, timeoutMs: 30_000 };

/** Issue 13's targets: ratios to Squid and to the bare engine, measured in the same run. */
const TARGETS = { smallOfEngine: 0.9, p99OfEngine: 1.5, ofSquid: 1, cpuPerMbOfSquid: 1.5, idleKiBOfSquid: 1 };
const NO_SQUID = 'no squid';

type Phase = 'memory' | 'small' | 'denied' | 'tunnels' | 'download';
const ALL_PHASES: readonly Phase[] = ['memory', 'small', 'denied', 'tunnels', 'download'];

function selectedPhases(): Set<Phase> {
  const wanted = process.env.LEASH_BENCH_PHASES;
  if (!wanted) return new Set(ALL_PHASES);
  return new Set(
    wanted
      .split(',')
      .map((p) => p.trim())
      .filter((p): p is Phase => (ALL_PHASES as readonly string[]).includes(p)),
  );
}

const progress = (text: string) => process.stderr.write(`bench proxy: ${text}\n`);

/** A proxy under test: leash always, Squid when the machine has it; the bare engine for plain HTTP only. */
interface BenchProxy {
  name: 'leash' | 'squid' | 'engine';
  port: number;
  pid: number;
  /** Memory after `open` tunnels are set up; leash waits for its own count, Squid for a fixed moment. */
  memoryWith(open: number): Promise<MemoryReading>;
}

export async function proxyBench(): Promise<BenchLine[]> {
  const phases = selectedPhases();
  const lines: BenchLine[] = [];
  const push = (line: Omit<BenchLine, 'suite'>) => lines.push({ suite: SUITE, ...line });
  const cleanups: (() => Promise<unknown> | void)[] = [];
  const startedAt = performance.now();
  try {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'leash-bench-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));

    const ca = createTestCa('leash bench CA');
    const leaf = ca.issue([HOST]);
    const origins = await startOrigins(leaf);
    cleanups.push(() => origins.close());

    const policyDir = path.join(dir, 'policies');
    await mkdir(policyDir);
    await writePolicy(policyDir, origins.httpPort, origins.httpsPort);
    const auditFile = path.join(dir, 'audit.log');

    const leash = await startLeashProcess(policyDir, auditFile);
    cleanups.push(() => leash.stop());
    const proxies: BenchProxy[] = [
      { name: 'leash', port: leash.port, pid: leash.pid, memoryWith: (open) => settle(leash, open) },
    ];
    let squid: RunningSquid | undefined;
    const noSquid = ensureSquid(progress);
    if (noSquid) progress(`${noSquid}: no side-by-side Squid figures`);
    else {
      // Its own temporary directory: Squid drops to its own user, who cannot enter ours (mkdtemp makes it 0700).
      const squidDir = await mkdtemp(path.join(os.tmpdir(), 'leash-bench-squid-'));
      cleanups.push(() => rm(squidDir, { recursive: true, force: true }));
      squid = await startSquid({ dir: squidDir, hosts: [HOST, DENIED_HOST], allow: HOST, deny: DENIED_HOST }).catch(
        (err: unknown) => {
          progress(`squid: ${(err as Error).message.split('\n')[0]}; going on without it`);
          return undefined;
        },
      );
    }
    if (squid) {
      const running = squid;
      cleanups.push(() => running.stop());
      proxies.push({
        name: 'squid',
        port: running.port,
        pid: running.pid,
        memoryWith: () => settleByTime(running.pid),
      });
    }
    const engineProcess = await startEngineProcess();
    cleanups.push(() => engineProcess.stop());
    const engine: BenchProxy = {
      name: 'engine',
      port: engineProcess.port,
      pid: engineProcess.pid,
      memoryWith: () => Promise.reject(new Error('the engine baseline holds no tunnels')),
    };
    const gen = await startLoadgen();
    cleanups.push(() => gen.stop());
    progress(
      `leash pid ${leash.pid} on 127.0.0.1:${leash.port}${squid ? `, squid pid ${squid.pid} on 127.0.0.1:${squid.port}` : ' (no squid)'}, engine pid ${engine.pid} on 127.0.0.1:${engine.port}; origins on :${origins.httpPort} (http) and :${origins.httpsPort} (https); audit log ${auditFile}`,
    );
    /** A target against Squid's figure: met, missed, or not measured without Squid. */
    const vsSquid = (ratio: number | undefined, target: string, want: Want) =>
      ratio === undefined || !Number.isFinite(ratio)
        ? { target: `${target} (${NO_SQUID})` }
        : { target, want, pass: meets(ratio, want) };

    const pids: Record<string, number> = Object.fromEntries([
      ...proxies.map((p) => [p.name, p.pid]),
      ['engine', engine.pid],
      ['generator', gen.pid],
      ['origin', process.pid],
    ]);
    /** Runs one measurement and reports how much CPU each process used meanwhile. */
    const metered = async <T>(
      label: string,
      work: () => Promise<T>,
    ): Promise<{ result: T; cpu: Record<string, number> }> => {
      const meter = cpuMeter(pids);
      const result = await work();
      const { seconds, cpu, sys } = meter();
      const cores = (used: number) => Math.max(0, used / seconds).toFixed(2);
      const busy = Object.entries(cpu).map(
        ([name, used]) => `${name} ${cores(used)} (kernel ${cores(sys[name] ?? 0)})`,
      );
      progress(`${label}: cores busy: ${busy.join(', ')}`);
      return { result, cpu };
    };
    const tlsRoute = (via: BenchProxy | null): Route =>
      via === null
        ? { mode: 'direct', port: origins.httpsPort, tls: { servername: HOST, ca: ca.certPem } }
        : {
            mode: 'tunnel',
            port: via.port,
            authority: `${HOST}:${origins.httpsPort}`,
            tls: { servername: HOST, ca: ca.certPem },
          };
    const plainRoute = (via: BenchProxy | null): Route =>
      via === null
        ? { mode: 'direct', port: origins.httpPort }
        : { mode: 'tunnel', port: via.port, authority: `${HOST}:${origins.httpPort}` };
    const head = (target: string, hostPort: number, extra = '') =>
      `GET ${target} HTTP/1.1\r\nHost: ${HOST}:${hostPort}\r\nUser-Agent: leash-bench\r\n${extra}\r\n`;

    // 1. Memory first, while each proxy is fresh: a process that has served heavy load keeps freed pages, which
    // would hide what new tunnels cost.
    const idleKiB = new Map<string, number>();
    if (phases.has('memory')) {
      for (const proxy of proxies) {
        progress(`memory: opening ${IDLE_TUNNELS} idle TLS tunnels through ${proxy.name}`);
        const hold = (count: number) =>
          gen.run<HoldResult>(
            {
              kind: 'hold',
              route: tlsRoute(proxy),
              request: head('/small', origins.httpsPort),
              count,
              concurrency: 16,
              timeoutMs: 30_000,
            },
            40_000,
          );
        // Warm-up: the code paths, buffers and pools a tunnel uses exist before the baseline is read.
        const warm = await hold(64);
        if (warm.open !== 64)
          throw new Error(
            `${proxy.name}: warm-up tunnels: ${warm.open} of 64 opened (${warm.firstError ?? 'no error'})`,
          );
        await gen.run({ kind: 'release' }, 5000);
        const before = await proxy.memoryWith(0);
        const held = await hold(IDLE_TUNNELS);
        if (held.open !== IDLE_TUNNELS)
          throw new Error(
            `${proxy.name}: idle tunnels: ${held.open} of ${IDLE_TUNNELS} opened (${held.firstError ?? 'no error'})`,
          );
        const after = await proxy.memoryWith(IDLE_TUNNELS);
        await gen.run({ kind: 'release' }, 5000);
        const rssKiB = (after.vmRss - before.vmRss) / IDLE_TUNNELS / 1024;
        idleKiB.set(proxy.name, rssKiB);
        push({ name: `idle tunnel memory, ${proxy.name} RSS`, value: rssKiB, unit: 'KiB/tunnel' });
        if (after.heap !== undefined && before.heap !== undefined) {
          push({
            name: `idle tunnel memory, ${proxy.name} heap+external`,
            value: (after.heap - before.heap) / IDLE_TUNNELS / 1024,
            unit: 'KiB/tunnel',
          });
        }
        progress(
          `memory, ${proxy.name}: RSS ${mib(before.vmRss)} -> ${mib(after.vmRss)} MiB${after.heap !== undefined && before.heap !== undefined ? `, heap+external ${mib(before.heap)} -> ${mib(after.heap)} MiB` : ''}`,
        );
      }
      const [leashKiB, squidKiB] = [idleKiB.get('leash'), idleKiB.get('squid')];
      if (leashKiB !== undefined) {
        // A ratio of small differences: Squid's RSS barely moves, so the figure compared is KiB, floored at 1.
        const ratio = squidKiB === undefined ? undefined : Math.max(leashKiB, 1) / Math.max(squidKiB, 1);
        push({
          name: 'idle tunnel memory, leash vs squid',
          value: leashKiB,
          unit: 'KiB/tunnel',
          ...(ratio === undefined ? {} : { ratio, ratioOf: 'idle tunnel memory, squid RSS' }),
          ...vsSquid(ratio, `<= ${TARGETS.idleKiBOfSquid}x squid`, { atMost: TARGETS.idleKiBOfSquid }),
        });
      }
    }

    // 2-3. Small and denied requests. Rounds interleave direct and the proxies so that a slow spell of the
    // machine hits every side; each side reports its best round (noise only ever slows a run down).
    type HttpKind = { label: string; proxy: BenchProxy | null; denied: boolean };
    const httpKinds: HttpKind[] = [];
    if (phases.has('small') || phases.has('denied')) httpKinds.push({ label: 'direct', proxy: null, denied: false });
    if (phases.has('small')) httpKinds.push({ label: 'engine', proxy: engine, denied: false });
    for (const proxy of proxies) {
      if (phases.has('small')) httpKinds.push({ label: proxy.name, proxy, denied: false });
      if (phases.has('denied')) httpKinds.push({ label: `${proxy.name} denied`, proxy, denied: true });
    }
    const httpRuns = new Map<string, HttpSample[]>();
    for (let round = 1; round <= SMALL_ROUNDS && httpKinds.length > 0; round++) {
      for (const kind of httpKinds) {
        const job: Job =
          kind.proxy === null
            ? { kind: 'http', port: origins.httpPort, request: head('/small', origins.httpPort), ...SMALL }
            : {
                kind: 'http',
                port: kind.proxy.port,
                request: head(`http://${kind.denied ? DENIED_HOST : HOST}:${origins.httpPort}/small`, origins.httpPort),
                ...SMALL,
              };
        const { result, cpu } = await metered(`small requests round ${round}, ${kind.label}`, () =>
          gen.run<HttpResult>(job, 20_000),
        );
        expectStatus(result, kind.denied ? 403 : 200, `${kind.label} requests`);
        // CPU per request of the process that answers: the origin (this process) direct, the proxy otherwise.
        const server = cpu[kind.proxy?.name ?? 'origin'] ?? NaN;
        const sample = {
          result,
          perSecond: rate(result.requests, result.seconds),
          cpuPerRequestUs: (server / result.totalRequests) * 1e6,
        };
        httpRuns.set(kind.label, [...(httpRuns.get(kind.label) ?? []), sample]);
      }
    }
    const best = (label: string) => httpRuns.get(label)?.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    const direct = best('direct');
    if (direct) {
      push({ name: 'small requests, direct', value: direct.perSecond, unit: 'req/s' });
      push({ name: 'small requests p99, direct', value: direct.result.p99Ms, unit: 'ms' });
      push({ name: 'CPU per small request, origin', value: direct.cpuPerRequestUs, unit: 'us' });
      const bare = best('engine');
      if (bare) {
        push({
          name: 'small requests, engine',
          value: bare.perSecond,
          unit: 'req/s',
          ratio: bare.perSecond / direct.perSecond,
          ratioOf: 'small requests, direct',
        });
        push({
          name: 'small requests p99, engine',
          value: bare.result.p99Ms,
          unit: 'ms',
          ratio: bare.result.p99Ms / direct.result.p99Ms,
          ratioOf: 'small requests p99, direct',
        });
        push({
          name: 'CPU per small request, engine',
          value: bare.cpuPerRequestUs,
          unit: 'us',
          ratio: bare.cpuPerRequestUs / direct.cpuPerRequestUs,
          ratioOf: 'CPU per small request, origin',
        });
      }
      for (const proxy of proxies) {
        const allowed = best(proxy.name);
        if (allowed) {
          // Leash against the engine it forwards with (issue 13); Squid against direct, for reference.
          const base =
            proxy.name === 'leash' && bare ? { sample: bare, name: 'engine' } : { sample: direct, name: 'direct' };
          const ratio = allowed.perSecond / base.sample.perSecond;
          const p99Ratio = allowed.result.p99Ms / base.sample.result.p99Ms;
          const targeted = proxy.name === 'leash' && bare !== undefined;
          push({
            name: `small requests, ${proxy.name}`,
            value: allowed.perSecond,
            unit: 'req/s',
            ratio,
            ratioOf: `small requests, ${base.name}`,
            ...(targeted
              ? {
                  target: `>= ${TARGETS.smallOfEngine}x engine`,
                  want: { atLeast: TARGETS.smallOfEngine },
                  pass: ratio >= TARGETS.smallOfEngine,
                }
              : {}),
          });
          push({
            name: `small requests p99, ${proxy.name}`,
            value: allowed.result.p99Ms,
            unit: 'ms',
            ratio: p99Ratio,
            ratioOf: `small requests p99, ${base.name}`,
            ...(targeted
              ? {
                  target: `<= ${TARGETS.p99OfEngine}x engine`,
                  want: { atMost: TARGETS.p99OfEngine },
                  pass: p99Ratio <= TARGETS.p99OfEngine,
                }
              : {}),
          });
          push({
            name: `CPU per small request, ${proxy.name}`,
            value: allowed.cpuPerRequestUs,
            unit: 'us',
            ratio: allowed.cpuPerRequestUs / base.sample.cpuPerRequestUs,
            ratioOf: `CPU per small request, ${base.name === 'direct' ? 'origin' : base.name}`,
          });
        }
      }
      const deniedOf = (name: string) => best(`${name} denied`);
      const squidDenied = deniedOf('squid');
      for (const proxy of proxies) {
        const denied = deniedOf(proxy.name);
        if (!denied) continue;
        const reconnecting = denied.result.connectionsOpened > denied.result.totalRequests / 2;
        const name = `denied requests, ${proxy.name} (${reconnecting ? 'new connection each' : 'keep-alive'})`;
        if (proxy.name === 'leash') {
          const ratio = squidDenied ? denied.perSecond / squidDenied.perSecond : undefined;
          push({
            name,
            value: denied.perSecond,
            unit: 'req/s',
            ...(ratio === undefined ? {} : { ratio, ratioOf: 'denied requests, squid' }),
            ...vsSquid(ratio, `>= ${TARGETS.ofSquid}x squid`, { atLeast: TARGETS.ofSquid }),
          });
        } else {
          push({
            name,
            value: denied.perSecond,
            unit: 'req/s',
            ratio: denied.perSecond / direct.perSecond,
            ratioOf: 'small requests, direct',
          });
        }
        push({ name: `CPU per denied request, ${proxy.name}`, value: denied.cpuPerRequestUs, unit: 'us' });
      }
    }

    // 4. New tunnels: a TLS handshake with the origin and one request each, 16 at a time; interleaved rounds,
    // best of each side, as above.
    if (phases.has('tunnels')) {
      const request = head('/small', origins.httpsPort, 'Connection: close\r\n');
      const rates = new Map<string, number[]>();
      const cpuPerTunnel = new Map<string, number[]>();
      for (let round = 1; round <= TUNNEL_ROUNDS; round++) {
        for (const via of [null, ...proxies]) {
          const name = via?.name ?? 'direct';
          const { result, cpu } = await metered(`new TLS connections round ${round}, ${name}`, () =>
            gen.run<HandshakeResult>({ kind: 'handshake', route: tlsRoute(via), request, ...TUNNELS }, 20_000),
          );
          expectHandshakes(result, `TLS connections, ${name}`);
          rates.set(name, [...(rates.get(name) ?? []), rate(result.connections, result.seconds)]);
          // The handshakes dominate and load the origin and the generator; what the proxy spends per tunnel is
          // the steadier figure.
          if (via)
            cpuPerTunnel.set(name, [
              ...(cpuPerTunnel.get(name) ?? []),
              ((cpu[name] ?? NaN) / result.totalConnections) * 1e6,
            ]);
        }
      }
      const directRate = Math.max(...(rates.get('direct') ?? []));
      push({ name: 'new TLS connections, direct', value: directRate, unit: 'conn/s' });
      const squidRate = rates.has('squid') ? Math.max(...(rates.get('squid') ?? [])) : undefined;
      for (const proxy of proxies) {
        const tunnelRate = Math.max(...(rates.get(proxy.name) ?? []));
        const name = `new CONNECT tunnels (TLS + 1 request), ${proxy.name}`;
        if (proxy.name === 'leash') {
          const ratio = squidRate === undefined ? undefined : tunnelRate / squidRate;
          push({
            name,
            value: tunnelRate,
            unit: 'conn/s',
            ...(ratio === undefined
              ? { ratio: tunnelRate / directRate, ratioOf: 'new TLS connections, direct' }
              : { ratio, ratioOf: 'new CONNECT tunnels (TLS + 1 request), squid' }),
            ...vsSquid(ratio, `>= ${TARGETS.ofSquid}x squid`, { atLeast: TARGETS.ofSquid }),
          });
        } else {
          push({
            name,
            value: tunnelRate,
            unit: 'conn/s',
            ratio: tunnelRate / directRate,
            ratioOf: 'new TLS connections, direct',
          });
        }
        push({
          name: `CPU per new tunnel, ${proxy.name}`,
          value: Math.min(...(cpuPerTunnel.get(proxy.name) ?? [])),
          unit: 'us',
        });
      }
    }

    // 5. One 64 MiB body at a time, direct and through each proxy in turn, best of DOWNLOAD.repeats each.
    if (phases.has('download')) {
      for (const [label, route, port] of [
        ['TLS', tlsRoute, origins.httpsPort],
        ['plain', plainRoute, origins.httpPort],
      ] as const) {
        progress(`64 MiB downloads (${label}): direct and through one tunnel, alternating, ${DOWNLOAD.repeats} each`);
        const request = head('/big', port, 'Connection: close\r\n');
        const speeds = new Map<string, number[]>();
        /**
         * The proxy's CPU time (user + kernel: a splice costs mostly kernel time) and MB moved, summed over the
         * repeats: /proc counts CPU in 10 ms ticks, a few of them per download, so one download alone is too coarse.
         */
        const cpuAndMb = new Map<string, { cpuMs: number; mb: number }>();
        for (let i = 0; i < DOWNLOAD.repeats; i++) {
          for (const via of [null, ...proxies]) {
            const name = via?.name ?? 'direct';
            const download = () =>
              gen.run<DownloadResult>(
                { kind: 'download', route: route(via), request, expectBytes: BIG_BYTES, timeoutMs: DOWNLOAD.timeoutMs },
                DOWNLOAD.timeoutMs + 5000,
              );
            const { result: r, cpu } = await metered(`download ${label} ${i + 1}, ${name}`, download);
            speeds.set(name, [...(speeds.get(name) ?? []), r.bytes / 1e6 / r.seconds]);
            const sum = cpuAndMb.get(name) ?? { cpuMs: 0, mb: 0 };
            if (via) cpuAndMb.set(name, { cpuMs: sum.cpuMs + (cpu[name] ?? NaN) * 1000, mb: sum.mb + r.bytes / 1e6 });
          }
        }
        const directName = `64 MiB download, ${label}, direct`;
        const directSpeed = Math.max(...(speeds.get('direct') ?? []));
        push({ name: directName, value: directSpeed, unit: 'MB/s' });
        const squidSpeed = speeds.has('squid') ? Math.max(...(speeds.get('squid') ?? [])) : undefined;
        const perMb = (name: string) => {
          const sum = cpuAndMb.get(name);
          return sum ? sum.cpuMs / sum.mb : undefined;
        };
        const squidCpu = perMb('squid');
        for (const proxy of proxies) {
          const speed = Math.max(...(speeds.get(proxy.name) ?? []));
          const cpuMs = perMb(proxy.name) ?? NaN;
          const name = `64 MiB download, ${label}, one tunnel, ${proxy.name}`;
          const cpuName = `proxy CPU per MB, ${label} tunnel, ${proxy.name}`;
          if (label === 'TLS' && proxy.name === 'leash') {
            const ratio = squidSpeed === undefined ? undefined : speed / squidSpeed;
            const cpuRatio = squidCpu === undefined ? undefined : cpuMs / squidCpu;
            push({
              name,
              value: speed,
              unit: 'MB/s',
              ...(ratio === undefined
                ? { ratio: speed / directSpeed, ratioOf: directName }
                : { ratio, ratioOf: `64 MiB download, ${label}, one tunnel, squid` }),
              ...vsSquid(ratio, `>= ${TARGETS.ofSquid}x squid`, { atLeast: TARGETS.ofSquid }),
            });
            push({
              name: cpuName,
              value: cpuMs,
              unit: 'ms/MB',
              ...(cpuRatio === undefined
                ? {}
                : { ratio: cpuRatio, ratioOf: `proxy CPU per MB, ${label} tunnel, squid` }),
              ...vsSquid(cpuRatio, `<= ${TARGETS.cpuPerMbOfSquid}x squid`, { atMost: TARGETS.cpuPerMbOfSquid }),
            });
          } else {
            push({ name, value: speed, unit: 'MB/s', ratio: speed / directSpeed, ratioOf: directName });
            push({ name: cpuName, value: cpuMs, unit: 'ms/MB' });
          }
        }
      }
    }

    const records = await leash.stop();
    const auditBytes = await stat(auditFile).then(
      (s) => s.size,
      () => 0,
    );
    progress(
      `leash wrote ${records} audit records (${mib(auditBytes)} MiB); suite took ${((performance.now() - startedAt) / 1000).toFixed(1)} s`,
    );
    if (records === 0 && phases.size > 0) throw new Error('leash wrote no audit records: the audit log was not on');
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

interface HttpSample {
  result: HttpResult;
  perSecond: number;
  cpuPerRequestUs: number;
}

export function rate(count: number, seconds: number): number {
  return seconds > 0 ? count / seconds : 0;
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** A figure made of wrong answers measures nothing: at least 99% of responses must carry the expected status. */
export function expectStatus(result: HttpResult, status: number, what: string): HttpResult {
  const good = result.statuses[String(status)] ?? 0;
  if (result.requests === 0 || good < 0.99 * result.requests || result.errors > 0.01 * result.requests) {
    throw new Error(
      `${what}: expected status ${status}, got ${JSON.stringify(result.statuses)} and ${result.errors} connection errors`,
    );
  }
  if (result.errors > 0) progress(`${what}: ${result.errors} connection errors`);
  return result;
}

function expectHandshakes(result: HandshakeResult, what: string): HandshakeResult {
  if (result.connections === 0 || result.errors > 0.01 * result.connections) {
    throw new Error(
      `${what}: ${result.connections} completed, ${result.errors} failed (${result.firstError ?? 'no error'})`,
    );
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Origins: lean on purpose (test/helpers/origin.ts records every request, which at tens of thousands of requests a
// second would measure its own memory growth).

export interface Origins {
  httpPort: number;
  httpsPort: number;
  close(): Promise<void>;
}

export async function startOrigins(cert: { certPem: string; keyPem: string }): Promise<Origins> {
  const small = Buffer.alloc(SMALL_BYTES, 'a');
  const chunk = Buffer.alloc(1024 * 1024, 'b');
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    if (req.url === '/small') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': SMALL_BYTES });
      res.end(small);
    } else if (req.url === '/big') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': BIG_BYTES });
      let sent = 0;
      const pump = () => {
        while (sent < BIG_BYTES && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    } else {
      res.writeHead(404, { 'Content-Length': 0 }).end();
    }
  };
  // Idle tunnels must stay open while their memory is read: keep-alive far longer than that phase.
  const options = { keepAliveTimeout: 120_000 };
  const plain = http.createServer(options, handler);
  const secure = https.createServer({ ...options, cert: cert.certPem, key: cert.keyPem }, handler);
  secure.on('tlsClientError', () => {});
  const listen = (server: http.Server) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const close = (server: http.Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  const httpPort = await listen(plain);
  const httpsPort = await listen(secure);
  return { httpPort, httpsPort, close: async () => void (await Promise.all([close(plain), close(secure)])) };
}

/** The shipped default policy (so denials walk its real rule list), plus the benchmark's origin and a denied name. */
async function writePolicy(policyDir: string, httpPort: number, httpsPort: number): Promise<void> {
  const root = repoRoot();
  await copyFile(path.join(root, 'policies', 'default.yaml'), path.join(policyDir, 'default.yaml'));
  // denied.test is pinned to loopback too: were it ever allowed by mistake, its traffic would still stay here.
  await writeFile(
    path.join(policyDir, 'zz-bench.yaml'),
    `version: 1
settings:
  dns:
    hosts: { ${HOST}: 127.0.0.1, ${DENIED_HOST}: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tlsPorts: [${httpsPort}]
rules:
  - { name: bench-origin, domain: ${HOST}, ports: [${httpPort}, ${httpsPort}], effect: allow, reason: benchmark origin }
  - { name: bench-plain-tunnel, domain: ${HOST}, ports: [${httpPort}], methods: [CONNECT], effect: allow, reason: the splice measured alone }
`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes.

const here = path.dirname(fileURLToPath(import.meta.url));

export function repoRoot(): string {
  for (let dir = here; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'leash') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no leash package.json above ${here}`);
  }
}

/** A compiled sibling when this file runs compiled, otherwise the TypeScript source through tsx. */
function script(name: string): { file: string; execArgv: string[] } {
  const compiled = path.join(here, `${name}.js`);
  if (!import.meta.url.endsWith('.ts') && existsSync(compiled)) return { file: compiled, execArgv: [] };
  return { file: path.join(repoRoot(), 'test', 'bench', `${name}.ts`), execArgv: ['--import', 'tsx'] };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  );
}

/** Ends a child we started: politely, then by SIGKILL after `graceMs`. */
async function endChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = exited(child);
  const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  if (child.connected) child.disconnect();
  await gone;
  clearTimeout(killer);
}

export interface Loadgen {
  pid: number;
  run<T>(job: Job, timeoutMs: number): Promise<T>;
  stop(): Promise<void>;
}

export async function startLoadgen(): Promise<Loadgen> {
  const { file, execArgv } = script('loadgen');
  const child = fork(file, [], { cwd: repoRoot(), execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, { resolve: (m: ResultMessage) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  child.on('message', (message: ResultMessage) => waiting.get(message.id)?.resolve(message));
  child.once('exit', (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`load generator exited (${code ?? signal})`));
  });
  child.on('error', (err) => {
    for (const w of waiting.values()) w.reject(err);
  });
  const call = (id: number, job: Job | null, timeoutMs: number) =>
    new Promise<ResultMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        child.kill('SIGKILL');
        reject(new Error(`load generator: ${job?.kind ?? 'start'} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          waiting.delete(id);
          reject(e);
        },
      });
      if (job) child.send({ ...job, id });
    });
  await call(0, null, 30_000);
  return {
    pid: child.pid as number,
    async run<T>(job: Job, timeoutMs: number): Promise<T> {
      const answer = await call(nextId++, job, timeoutMs);
      if (answer.error !== undefined) throw new Error(`load generator: ${job.kind}: ${answer.error}`);
      return answer.result as T;
    },
    stop: () => endChild(child, 3000),
  };
}

interface MemoryReading {
  vmRss: number;
  /** V8 heap used + external memory, after full collections; leash only. */
  heap?: number;
  openExchanges?: number;
}

export interface LeashProcess {
  pid: number;
  port: number;
  memory(): Promise<MemoryReading>;
  /** Stops leash (drain, flush the audit log) and returns how many audit records it wrote. */
  stop(): Promise<number>;
}

/** What test/bench/leash-process.mjs sends and takes over IPC. */
type LeashMessage =
  | { kind: 'ready'; port: number }
  | {
      kind: 'memory';
      id: number;
      rss: number;
      heapUsed: number;
      external: number;
      openExchanges: number;
      auditRecords: number;
    }
  | { kind: 'stopped'; id: number; auditRecords: number };
type LeashRequest = { kind: 'memory' | 'stop'; id: number };

/**
 * The leash code to measure: the compiled dist/ that `leash serve` runs (`npm run bench` builds it first), or the
 * TypeScript source through tsx when dist/ is missing or older than src/ (slower per request: say so).
 */
export function leashCode(): { module: string; execArgv: string[]; describe: string } {
  const root = repoRoot();
  const compiled = path.join(root, 'dist', 'cli', 'serve.js');
  const newestSource = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newestSource(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs,
      ),
    );
  if (existsSync(compiled) && statSync(compiled).mtimeMs >= newestSource(path.join(root, 'src'))) {
    return { module: pathToFileURL(compiled).href, execArgv: [], describe: 'compiled dist/' };
  }
  return {
    module: pathToFileURL(path.join(root, 'src', 'cli', 'serve.ts')).href,
    execArgv: ['--import', 'tsx'],
    describe:
      'src/ through tsx, since dist/ is missing or older than src/ (run `npm run build` for figures that match `leash serve`)',
  };
}

/** `certs`: leash's CA directory (needed when the policy intercepts); `env`: leash's environment (tokens). */
export async function startLeashProcess(
  policyDir: string,
  auditFile: string,
  options: { certs?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<LeashProcess> {
  const code = leashCode();
  progress(`leash code: ${code.describe}`);
  const profileDir = process.env.LEASH_BENCH_CPU_PROF;
  const flags = [
    '--expose-gc',
    ...code.execArgv,
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : []),
  ];
  const file = path.join(repoRoot(), 'test', 'bench', 'leash-process.mjs');
  const child = fork(file, [code.module, policyDir, auditFile, ...(options.certs ? [options.certs] : [])], {
    cwd: repoRoot(),
    execArgv: flags,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    ...(options.env ? { env: options.env } : {}),
  });
  const stderr: string[] = [];
  child.on('error', (err) => stderr.push(`leash process: ${err.message}`));
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    stderr.splice(0, Math.max(0, stderr.length - 50));
  });
  let nextId = 1;
  const next = <K extends LeashMessage['kind']>(kind: K, id: number | null, timeoutMs: number) =>
    new Promise<Extract<LeashMessage, { kind: K }>>((resolve, reject) => {
      const onMessage = (m: LeashMessage) => {
        if (m.kind === kind && (id === null || ('id' in m && m.id === id))) {
          done();
          resolve(m as Extract<LeashMessage, { kind: K }>);
        }
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`leash exited (${code}) before "${kind}":\n  ${stderr.join('\n  ')}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`leash: no "${kind}" within ${timeoutMs} ms:\n  ${stderr.join('\n  ')}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  let ready;
  try {
    ready = await next('ready', null, 30_000);
  } catch (err) {
    await endChild(child, 1000);
    throw err;
  }
  let stopped: Promise<number> | undefined;
  return {
    pid: child.pid as number,
    port: ready.port,
    async memory() {
      const id = nextId++;
      const answer = next('memory', id, 10_000);
      child.send({ kind: 'memory', id } satisfies LeashRequest);
      const m = await answer;
      return {
        vmRss: vmRss(child.pid as number) ?? m.rss,
        heap: m.heapUsed + m.external,
        openExchanges: m.openExchanges,
      };
    },
    stop() {
      stopped ??= (async () => {
        if (child.exitCode !== null || !child.connected) {
          await endChild(child, 1000);
          return 0;
        }
        const id = nextId++;
        const answer = next('stopped', id, 15_000).then(
          (m) => m.auditRecords,
          () => 0,
        );
        child.send({ kind: 'stop', id } satisfies LeashRequest);
        const records = await answer;
        await endChild(child, 5000);
        return records;
      })();
      return stopped;
    },
  };
}

export interface EngineProcess {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** The bare engine baseline (engine-process.mjs), with the upstream agent of the leash code being measured. */
export async function startEngineProcess(): Promise<EngineProcess> {
  const code = leashCode();
  const upstream = code.module.replace(/cli\/serve\.(js|ts)$/, 'proxy/upstream.$1');
  const file = path.join(repoRoot(), 'test', 'bench', 'engine-process.mjs');
  const child = fork(file, [upstream], {
    cwd: repoRoot(),
    execArgv: code.execArgv,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`engine: not ready within 30 s: ${stderr.join('').slice(-1000)}`)),
        30_000,
      );
      child.once('message', (m: { kind: string; port: number }) => {
        clearTimeout(timer);
        resolve(m.port);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`engine exited (${code}): ${stderr.join('').slice(-1000)}`));
      });
    });
    return { pid: child.pid as number, port, stop: () => endChild(child, 3000) };
  } catch (err) {
    await endChild(child, 1000);
    throw err;
  }
}

/** Resident set size in bytes, from the kernel's view of the process. */
function vmRss(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Waits until leash holds `open` exchanges (tunnels fully set up), then reads its memory. */
async function settle(leash: LeashProcess, open: number): Promise<MemoryReading> {
  const deadline = performance.now() + 5000;
  let reading = await leash.memory();
  while (reading.openExchanges !== open && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    reading = await leash.memory();
  }
  if (reading.openExchanges !== open)
    throw new Error(`leash holds ${reading.openExchanges} open exchanges, expected ${open}`);
  // A moment for the allocator to settle after the collections, then the reading that counts.
  await new Promise((r) => setTimeout(r, 200));
  return leash.memory();
}

/** Squid: no count to wait for; a fixed moment for tunnels to settle, then its RSS. */
async function settleByTime(pid: number): Promise<MemoryReading> {
  await new Promise((r) => setTimeout(r, 500));
  const rss = vmRss(pid);
  if (rss === undefined) throw new Error(`cannot read the RSS of process ${pid}`);
  return { vmRss: rss };
}

/** CPU seconds a process has used in user and in kernel mode, from /proc/PID/stat. */
function cpuSeconds(pid: number): { user: number; sys: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name, utime and stime are fields 14 and 15 of proc(5), counted from 1, in 1/100 s.
    return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 };
  } catch {
    return { user: NaN, sys: NaN };
  }
}

interface CpuUse {
  seconds: number;
  /** CPU seconds (user + kernel) per process name. */
  cpu: Record<string, number>;
  /** Kernel-mode CPU seconds per process name. */
  sys: Record<string, number>;
}

/**
 * CPU each process used during a phase, and the phase's length: shows which one saturated (a generator near
 * 1.0 core in a direct phase would mean the baseline measures the generator) and what a request costs.
 */
export function cpuMeter(pids: Record<string, number>): () => CpuUse {
  const t0 = performance.now();
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  return () => {
    const use: CpuUse = { seconds: (performance.now() - t0) / 1000, cpu: {}, sys: {} };
    for (const [name, pid] of Object.entries(pids)) {
      const now = cpuSeconds(pid);
      const then = before[name] as { user: number; sys: number };
      use.cpu[name] = now.user + now.sys - then.user - then.sys;
      use.sys[name] = now.sys - then.sys;
    }
    return use;
  };
}
