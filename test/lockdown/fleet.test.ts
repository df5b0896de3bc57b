// With --store redis://..., a lockdown set through one replica is obeyed by every replica within a second: the
// other refuses the agent's new requests and cuts the tunnel the agent had open through it. And SIGUSR1 to a real
// `leash serve` process locks every agent down, audited.

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/main.js';
import { readAuditLines, tempDir, waitFor } from '../helpers/audit-sink.js';
import { leashProcess, proxiedGet } from '../helpers/leash-process.js';
import { startHttpOrigin, startTcpSink, type TcpSink, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';
import { describeWithRedis, useRedis } from '../helpers/redis-server.js';

const POLICY = policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1, raw.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: api, domain: api.test, ports: "*", effect: allow }
  - { name: raw, domain: raw.test, ports: "*", methods: [CONNECT], effect: allow }
`);

let origin: TestOrigin;
let sink: TcpSink;
beforeAll(async () => {
  origin = await startHttpOrigin();
  sink = await startTcpSink();
});
afterAll(async () => {
  await origin?.close();
  await sink?.close();
});

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
  return { code, out, err };
}

function status(port: number, host = 'api.test'): Promise<{ status: number; decision: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: `http://${host}:${origin.port}/`, agent: false },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, decision: res.headers['x-leash-decision'] as string | undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describeWithRedis('lockdown across a fleet (--store redis://)', () => {
  const { server } = useRedis();
  let a: TestLeash;
  let b: TestLeash;
  beforeAll(async () => {
    a = await startLeash(POLICY, { store: server().url });
    b = await startLeash(POLICY, { store: server().url });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('a lockdown through replica A is obeyed by replica B within a second, cutting its open tunnel; lifting it through B frees both', async () => {
    const tunnel = net.connect(b.port, '127.0.0.1');
    tunnel.on('error', () => {});
    tunnel.write(`CONNECT raw.test:${sink.port} HTTP/1.1\r\n\r\n`);
    expect(await new Promise<string>((r) => tunnel.once('data', (c: Buffer) => r(c.toString())))).toBe(
      'HTTP/1.1 200 Connection Established\r\n\r\n',
    );
    const cut = new Promise<number>((r) => tunnel.once('close', () => r(performance.now())));

    const t0 = performance.now();
    expect((await cli('lockdown', 'on', '--reason', 'fleet drill', '--control', a.running.control.path)).code).toBe(0);
    expect((await cut) - t0).toBeLessThan(1000);
    const refused = await waitFor(async () => ((await status(b.port)).status === 403 ? status(b.port) : undefined), {
      timeoutMs: 1000,
    });
    expect(refused).toEqual({ status: 403, decision: 'deny; reason=lockdown' });
    expect((await status(a.port)).status).toBe(403);

    const seen = await cli('lockdown', 'status', '--control', b.running.control.path);
    expect(seen.out[1]).toMatch(/^ {2}every agent: since \S+, by .*\(control socket\): fleet drill$/);
    expect(seen.out[0]).toMatch(/^lockdown in force \(state in redis:\/\/127\.0\.0\.1:\d+\/0\):$/);

    expect((await cli('lockdown', 'off', '--control', b.running.control.path)).code).toBe(0);
    await waitFor(async () => (await status(a.port)).status === 200, { timeoutMs: 1000 });
    expect((await status(b.port)).status).toBe(200);

    const onA = await a.records();
    const onB = await b.records();
    expect(onA.filter((r) => r.event === 'lockdown').map((r) => r.reason)).toEqual(['lockdown_on']);
    expect(onB.filter((r) => r.event === 'lockdown').map((r) => r.reason)).toEqual(['lockdown_off']);
    expect(onB).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'tunnel', host: 'raw.test', reason: 'lockdown', status: 200 }),
      ]),
    );
  });

  it('a replica started while a lockdown is in force obeys it from its first request', async () => {
    expect((await cli('lockdown', 'on', '--agent', 'anonymous', '--control', a.running.control.path)).code).toBe(0);
    const c = await startLeash(POLICY, { store: server().url });
    try {
      expect(await status(c.port)).toEqual({ status: 403, decision: 'deny; reason=lockdown' });
    } finally {
      await c.stop();
      await cli('lockdown', 'off', '--control', a.running.control.path);
    }
  });
});

describe('SIGUSR1 to leash serve', () => {
  it('locks every agent down at once, audited with who asked; leash lockdown off lifts it', async () => {
    const dir = await tempDir('leash-usr1-');
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(path.join(dir, 'policies'));
    await writeFile(path.join(dir, 'policies', 'p.yaml'), POLICY);
    const audit = path.join(dir, 'audit.log');
    const p = leashProcess([
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--policy',
      path.join(dir, 'policies'),
      '--audit',
      audit,
      '--control',
      path.join(dir, 'leash-admin.sock'),
    ]);
    try {
      const port = await p.listening;
      expect(await proxiedGet(port, `http://api.test:${origin.port}/`)).toBe(200);
      p.child.kill('SIGUSR1');
      await waitFor(() => p.stderr().includes('leash: SIGUSR1: every agent is locked down'), { timeoutMs: 5_000 });
      expect(await proxiedGet(port, `http://api.test:${origin.port}/`)).toBe(403);
      expect(p.stderr()).not.toMatch(/Debugger listening/);
      const off = await cli('lockdown', 'off', '--control', path.join(dir, 'leash-admin.sock'));
      expect(off.code).toBe(0);
      expect(await proxiedGet(port, `http://api.test:${origin.port}/`)).toBe(200);
      const records = (await waitFor(async () => {
        const all = await readAuditLines(audit).catch(() => []);
        return all.filter((r) => r.event === 'lockdown').length >= 2 ? all : undefined;
      })) as Record<string, unknown>[];
      expect(records.filter((r) => r.event === 'lockdown')).toEqual([
        expect.objectContaining({
          agent: '*',
          reason: 'lockdown_on',
          lockdown: expect.objectContaining({ by: `SIGUSR1 (signal to pid ${p.child.pid})`, reason: 'SIGUSR1' }),
        }),
        expect.objectContaining({ agent: '*', reason: 'lockdown_off' }),
      ]);
      expect(JSON.parse(await readFile(path.join(dir, 'leash-lockdown.json'), 'utf8'))).toEqual({
        all: null,
        agents: {},
      });
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  });
});
