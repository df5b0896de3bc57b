// `leash serve` as an operator runs it: a separate process that prints `listening on HOST:PORT` on stderr, keeps
// stdout for audit records, and on SIGTERM drains in-flight requests, flushes the audit log and exits 0.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLines, tempDir, waitFor } from '../helpers/audit-sink.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';

let origin: TestOrigin;

beforeAll(async () => {
  origin = await startHttpOrigin((req, res) => setTimeout(() => res.end(`done ${req.url}`), req.url?.startsWith('/slow') ? 600 : 0));
});

afterAll(async () => {
  await origin?.close();
});

function leashProcess(args: string[]): { child: ChildProcess; listening: Promise<number>; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  const listening = new Promise<number>((resolve, reject) => {
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /^listening on 127\.0\.0\.1:(\d+)$/m.exec(err);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`leash exited before listening:\n${err}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, listening, stdout: () => out, stderr: () => err, exited };
}

function get(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, headers: { host: 'x' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('leash serve', () => {
  it('runs the embedded default policy with audit records on stdout and messages on stderr', async () => {
    const p = leashProcess(['serve', '--listen', '127.0.0.1:0']);
    try {
      const port = await p.listening;
      expect(await get(port, 'http://example.invalid/')).toBe(403);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      const lines = p.stdout().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({ event: 'request', host: 'example.invalid', reason: 'no_rule' });
      expect(p.stderr()).toMatch(/policy revision [0-9a-f]{12}: \d+ rules from 1 file/);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('SIGTERM under load: in-flight requests complete, every record is on disk, exit 0', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'policies'));
    await writeFile(path.join(dir, 'policies', 'p.yaml'), `version: 1
settings:
  dns: { hosts: { origin.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: origin, domain: origin.test, ports: "*", effect: allow }
`);
    const audit = path.join(dir, 'audit.log');
    const p = leashProcess(['serve', '--listen', '127.0.0.1:0', '--policy', path.join(dir, 'policies'), '--audit', audit]);
    try {
      const port = await p.listening;
      const N = 40;
      const pending = Array.from({ length: N }, (_, i) => get(port, `http://origin.test:${origin.port}/slow/${i}`));
      // SIGTERM only once every request is in flight at the origin, so "in-flight" is a fact, not a timing guess.
      await waitFor(() => origin.seen.filter((r) => r.url.startsWith('/slow/')).length >= N, { timeoutMs: 10_000 });
      p.child.kill('SIGTERM');
      const statuses = await Promise.all(pending);
      expect(statuses).toEqual(Array(N).fill(200));
      expect(await p.exited).toBe(0);
      const records = await readAuditLines(audit);
      expect(records.filter((r) => r.event === 'request' && r.status === 200)).toHaveLength(N);
      // After SIGTERM the listener is gone: new connections are refused at once.
      await expect(get(port, `http://origin.test:${origin.port}/late`)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('refuses to start on an invalid policy, naming file:line', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'bad.yaml'), 'version: 1\nrules:\n  - { name: x, domain: "*.com", effect: allow }\n');
    const p = leashProcess(['serve', '--listen', '127.0.0.1:0', '--policy', path.join(dir, 'bad.yaml')]);
    p.listening.catch(() => {});
    expect(await p.exited).toBe(1);
    expect(p.stderr()).toContain('bad.yaml:3:24: rules[0].domain: "*.com" is too broad');
  });
});
