// `leash serve` as an operator runs it: a separate process that prints `listening on HOST:PORT` on stderr, keeps
// stdout for audit records, and on SIGTERM drains in-flight requests, flushes the audit log and exits 0.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leashProcess, proxiedGet } from '../helpers/leash-process.js';
import { readAuditLines, tempDir, waitFor } from '../helpers/audit-sink.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';

let origin: TestOrigin;

beforeAll(async () => {
  origin = await startHttpOrigin((req, res) =>
    setTimeout(() => res.end(`done ${req.url}`), req.url?.startsWith('/slow') ? 600 : 0),
  );
});

afterAll(async () => {
  await origin?.close();
});

describe('leash serve', () => {
  it('by default writes the audit log to ./leash-audit.log, where leash audit looks for it, and nothing to stdout', async () => {
    const dir = await tempDir();
    const env = { LEASH_AUDIT: '' };
    const p = leashProcess(['serve', '--listen', '127.0.0.1:0'], env, dir);
    try {
      const port = await p.listening;
      expect(await proxiedGet(port, 'http://example.invalid/')).toBe(403);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      expect(p.stdout()).toBe('');
      const records = await readAuditLines(path.join(dir, 'leash-audit.log'));
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ event: 'request', host: 'example.invalid', reason: 'no_rule' });
      // The shipped policy: this directory has no policies/ of its own.
      expect(p.stderr()).toMatch(/policy revision [0-9a-f]{12}: \d+ rules from 1 file/);
      const reader = leashProcess(['audit', '--format', 'json'], env, dir);
      reader.listening.catch(() => {}); // a reader never listens
      expect(await reader.exited).toBe(0);
      expect(JSON.parse(reader.stdout().trim())).toMatchObject({ host: 'example.invalid' });
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('--audit - writes audit records to stdout, messages to stderr', async () => {
    const p = leashProcess(['serve', '--listen', '127.0.0.1:0', '--audit', '-']);
    try {
      const port = await p.listening;
      expect(await proxiedGet(port, 'http://example.invalid/')).toBe(403);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      const lines = p.stdout().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({
        event: 'request',
        host: 'example.invalid',
        reason: 'no_rule',
      });
      expect(p.stderr()).toMatch(/policy revision [0-9a-f]{12}: \d+ rules from 1 file/);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('SIGTERM under load: in-flight requests complete, every record is on disk, exit 0', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'policies'));
    await writeFile(
      path.join(dir, 'policies', 'p.yaml'),
      `version: 1
settings:
  dns: { hosts: { origin.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: origin, domain: origin.test, ports: "*", effect: allow }
`,
    );
    const audit = path.join(dir, 'audit.log');
    const p = leashProcess([
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--policy',
      path.join(dir, 'policies'),
      '--audit',
      audit,
    ]);
    try {
      const port = await p.listening;
      const N = 40;
      const pending = Array.from({ length: N }, (_, i) =>
        proxiedGet(port, `http://origin.test:${origin.port}/slow/${i}`),
      );
      // SIGTERM only once every request is in flight at the origin, so "in-flight" is a fact, not a timing guess.
      await waitFor(() => origin.seen.filter((r) => r.url.startsWith('/slow/')).length >= N, { timeoutMs: 10_000 });
      p.child.kill('SIGTERM');
      const statuses = await Promise.all(pending);
      expect(statuses).toEqual(Array(N).fill(200));
      expect(await p.exited).toBe(0);
      const records = await readAuditLines(audit);
      expect(records.filter((r) => r.event === 'request' && r.status === 200)).toHaveLength(N);
      // After SIGTERM the listener is gone: new connections are refused at once.
      await expect(proxiedGet(port, `http://origin.test:${origin.port}/late`)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('refuses to start on an invalid policy, naming file:line', async () => {
    const dir = await tempDir();
    await writeFile(
      path.join(dir, 'bad.yaml'),
      'version: 1\nrules:\n  - { name: x, domain: "*.com", effect: allow }\n',
    );
    const p = leashProcess(['serve', '--listen', '127.0.0.1:0', '--policy', path.join(dir, 'bad.yaml')]);
    p.listening.catch(() => {});
    expect(await p.exited).toBe(1);
    expect(p.stderr()).toContain('bad.yaml:3:24: rules[0].domain: "*.com" is too broad');
  });
});
