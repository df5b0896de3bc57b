// Rotation without loss, through a real leash under concurrent load: size rotation in-process, and the operator's
// path end to end (a `leash serve` process, logrotate moving the file and sending SIGUSR2, then SIGTERM while
// requests are in flight). Each time: as many request records as requests made, no duplicates, and
// `leash audit verify` finds the chain intact across every file, ending at the head leash printed.

import http from 'node:http';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/main.js';
import { leashProcess, proxiedGet } from '../helpers/leash-process.js';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { policy, startLeash } from '../helpers/leash.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';

let origin: TestOrigin;

beforeAll(async () => {
  origin = await startHttpOrigin((req, res) =>
    setTimeout(() => res.end(`done ${req.url}`), req.url?.startsWith('/slow') ? 500 : 0),
  );
});

afterAll(async () => {
  await origin?.close();
});

const POLICY = policy(`
settings:
  dns: { hosts: { origin.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: origin, domain: origin.test, ports: "*", effect: allow }
`);

/** `N` requests at once, a third of them denied. */
function load(port: number, n: number, tag: string, agent: http.Agent): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      proxiedGet(
        port,
        i % 3 === 0 ? `http://denied.test/${tag}/${i}` : `http://origin.test:${origin.port}/${tag}/${i}`,
        agent,
      ),
    ),
  );
}

async function leashCli(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await main(argv, {
    out: (t) => out.push(...t.split('\n')),
    err: (t) => out.push(...t.split('\n')),
    env,
  });
  return { code, out };
}

/** Every record of the log at `file` and its rotated siblings, via `leash audit --format json`. */
async function allRecords(file: string): Promise<Record<string, unknown>[]> {
  const r = await leashCli(['audit', '--format', 'json'], { LEASH_AUDIT: file });
  expect(r.code).toBe(0);
  return r.out.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('size rotation under load (in-process leash)', () => {
  it('N concurrent requests: N records across many files, none duplicated, one intact chain', async () => {
    const leash = await startLeash(POLICY, { auditRotation: { maxSize: '16K', keep: '1000' } });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 48 });
    const N = 600;
    try {
      const statuses = await load(leash.port, N, 'rot', agent);
      expect(statuses.filter((s) => s === 200)).toHaveLength(N - N / 3);
      expect(statuses.filter((s) => s === 403)).toHaveLength(N / 3);
    } finally {
      agent.destroy();
      await leash.stop();
    }
    const files = (await readdir(leash.dir)).filter((f) => f.startsWith('audit.log'));
    expect(files.length).toBeGreaterThan(10);
    const records = await allRecords(leash.auditFile);
    expect(records).toHaveLength(N);
    expect(new Set(records.map((r) => r.id)).size).toBe(N);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const verify = await leashCli(['audit', 'verify'], { LEASH_AUDIT: leash.auditFile });
    expect(verify.out[0]).toBe(`ok: ${N} records in ${files.length} files, seq 1..${N}, chain intact`);
    expect(verify.code).toBe(0);
  });

  it('keeps only --audit-keep rotated files', async () => {
    const leash = await startLeash(POLICY, { auditRotation: { maxSize: '4K', keep: '2' } });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    try {
      await load(leash.port, 120, 'keep', agent);
    } finally {
      agent.destroy();
      await leash.stop();
    }
    expect((await readdir(leash.dir)).filter((f) => f.startsWith('audit.log')).sort()).toEqual([
      'audit.log',
      'audit.log.1',
      'audit.log.2',
    ]);
    const verify = await leashCli(['audit', 'verify'], { LEASH_AUDIT: leash.auditFile });
    expect(verify.code).toBe(0);
    expect(verify.out.join('\n')).toMatch(
      /note: the first record is seq \d+; records before it are not in these files/,
    );
  });
});

describe('reopen under load (in-process leash, as SIGUSR2 does)', () => {
  it('the file is moved and reopened while requests flow: every record once, the chain spans both files', async () => {
    const leash = await startLeash(POLICY);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const N = 400;
    let done = 0;
    try {
      const all = Array.from({ length: N }, (_, i) =>
        proxiedGet(leash.port, `http://origin.test:${origin.port}/reopen/${i}`, agent).then((s) => (done++, s)),
      );
      await waitFor(() => done >= N / 4);
      await rename(leash.auditFile, `${leash.auditFile}-20261122`); // logrotate
      await leash.running.audit.reopen(); // postrotate: kill -USR2
      expect(await Promise.all(all)).toEqual(Array(N).fill(200));
    } finally {
      agent.destroy();
      await leash.stop();
    }
    const records = await allRecords(leash.auditFile);
    expect(records).toHaveLength(N);
    expect(new Set(records.map((r) => r.id)).size).toBe(N);
    const verify = await leashCli(['audit', 'verify'], { LEASH_AUDIT: leash.auditFile });
    expect(verify.out[0]).toBe(`ok: ${N} records in 2 files, seq 1..${N}, chain intact`);
  });
});

describe('leash serve: logrotate (SIGUSR2), size rotation and SIGTERM under load', () => {
  it('loses and duplicates nothing; the head leash prints at exit is the head verify finds', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'policies'));
    await writeFile(path.join(dir, 'policies', 'p.yaml'), POLICY);
    const audit = path.join(dir, 'audit.log');
    const p = leashProcess(
      [
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--policy',
        path.join(dir, 'policies'),
        '--audit',
        audit,
        '--audit-max-size',
        '32K',
        '--audit-keep',
        '100',
      ],
      { LEASH_AUDIT: '' },
    );
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    try {
      const port = await p.listening;
      const first = load(port, 150, 'first', agent);
      await waitFor(async () => (await readdir(dir)).includes('audit.log.1'), { timeoutMs: 10_000 }); // it rotated by size
      // logrotate moves the file; retried, since leash's own rotation may have the path away for an instant.
      await waitFor(async () => (await rename(audit, `${audit}-20261122`), true));
      p.child.kill('SIGUSR2');
      await waitFor(() => p.stderr().includes('leash: SIGUSR2: audit log reopened'));
      const firstStatuses = await first;
      const slow = Array.from({ length: 30 }, (_, i) =>
        proxiedGet(port, `http://origin.test:${origin.port}/slow/term-${i}`),
      );
      const second = await load(port, 150, 'second', agent);
      // SIGTERM once every slow request is in flight (the origin has it; it answers after 500 ms). A connection
      // still in the kernel's accept queue when leash closes its listener is reset, never served: it is not a
      // request leash could lose, and not what this test is about.
      await waitFor(() => origin.seen.filter((s) => s.url.startsWith('/slow/term-')).length === 30);
      p.child.kill('SIGTERM');
      const statuses = [...firstStatuses, ...second, ...(await Promise.all(slow))];
      expect(await p.exited).toBe(0);
      expect(statuses.filter((s) => s === 200)).toHaveLength(100 + 100 + 30);
      expect(statuses.filter((s) => s === 403)).toHaveLength(50 + 50);

      const records = await allRecords(audit);
      expect(records).toHaveLength(330);
      expect(new Set(records.map((r) => r.id)).size).toBe(330);
      expect(
        records.filter((r) => typeof r.path === 'string' && r.path.startsWith('/slow/') && r.status === 200),
      ).toHaveLength(30);

      const verify = await leashCli(['audit', 'verify'], { LEASH_AUDIT: audit });
      expect(verify.out[0]).toMatch(/^ok: 330 records in \d+ files, seq 1\.\.330, chain intact$/);
      const printed = /leash: audit chain head: seq (\d+) sha256 ([0-9a-f]{64})/.exec(p.stderr());
      expect(printed?.[1]).toBe('330');
      expect(verify.out[1]).toContain(`head: seq 330 sha256 ${printed?.[2]}`);
    } finally {
      agent.destroy();
      p.child.kill('SIGKILL');
    }
  });
});
