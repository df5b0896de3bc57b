// The audit writer on real files: every record chained, size rotation that keeps N files and never splits, loses
// or duplicates a record, reopen after logrotate moved the file, and a restart that continues the chain.

import { spawnSync } from 'node:child_process';
import { appendFile, chmod, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENESIS, hashLine } from '../../src/audit/chain.js';
import { openAuditLog, parseRotation, type AuditLog } from '../../src/audit/logger.js';
import { startServe } from '../../src/cli/serve.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { ChainVerifier } from '../../src/audit/verify.js';
import { LeashError } from '../../src/errors.js';
import { readAuditLines, tempDir } from '../helpers/audit-sink.js';

function record(i: number, extra: Partial<AuditRecord> = {}): AuditRecord {
  return {
    id: `id-${i}`,
    event: 'request',
    agent: 'research',
    identity: 'none',
    client: null,
    method: 'GET',
    scheme: 'http',
    host: 'example.test',
    port: 80,
    path: `/item/${i}`,
    effect: 'allow',
    rule: 'r',
    reason: 'allowed_by_rule',
    status: 200,
    bytesIn: 0,
    bytesOut: i,
    durationMs: 1,
    resolved: null,
    policyRevision: 'rev',
    ...extra,
  };
}

/** The audit files in DIR, oldest first (PATH.N … PATH.1, PATH), as lists of lines. */
async function rotatedFiles(file: string): Promise<{ name: string; lines: string[] }[]> {
  const base = path.basename(file);
  const names = (await readdir(path.dirname(file))).filter((n) => n === base || /^\S+\.\d+$/.test(n));
  const order = (n: string) => (n === base ? 0 : Number(n.slice(base.length + 1)));
  names.sort((a, b) => order(b) - order(a));
  return Promise.all(
    names.map(async (name) => ({
      name,
      lines: (await readFile(path.join(path.dirname(file), name), 'utf8')).split('\n').slice(0, -1),
    })),
  );
}

function verifyLines(files: { name: string; lines: string[] }[]) {
  const verifier = new ChainVerifier();
  for (const f of files) f.lines.forEach((line, i) => verifier.add(Buffer.from(line), { file: f.name, line: i + 1 }));
  return verifier.finish();
}

async function writeMany(log: AuditLog, from: number, count: number, chunk = 50): Promise<void> {
  for (let i = from; i < from + count; i++) {
    log.write(record(i));
    // Like a loaded proxy: bursts of records between turns of the event loop.
    if (i % chunk === 0) await new Promise((r) => setImmediate(r));
  }
}

describe('openAuditLog: the chain', () => {
  it('writes v 2, seq from 1 and prev from GENESIS, redacted, and reports its head', async () => {
    const file = path.join(await tempDir(), 'audit.log');
    const log = openAuditLog(file, { now: () => new Date('2026-11-22T00:00:00.000Z') });
    log.write(record(1, { path: '/x?token=sekrit' }));
    log.write(record(2));
    await log.close();
    const [a, b] = await readAuditLines(file);
    expect(a).toMatchObject({
      v: 2,
      time: '2026-11-22T00:00:00.000Z',
      seq: 1,
      prev: GENESIS,
      path: '/x?token=[REDACTED]',
    });
    const lines = (await readFile(file, 'utf8')).split('\n');
    expect(b).toMatchObject({ seq: 2, prev: hashLine(lines[0] as string) });
    expect(log.head).toEqual({ seq: 2, hash: hashLine(lines[1] as string) });
    expect(log.count).toBe(2);
  });

  it('a restart appending to the same file continues the chain, and says so', async () => {
    const file = path.join(await tempDir(), 'audit.log');
    const first = openAuditLog(file);
    await writeMany(first, 1, 5);
    await first.close();
    const notes: string[] = [];
    const second = openAuditLog(file, { log: (line) => notes.push(line) });
    await writeMany(second, 6, 5);
    await second.close();
    const records = await readAuditLines(file);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(verifyLines(await rotatedFiles(file)).finding).toBeUndefined();
    expect(notes.join('\n')).toContain('continuing the chain at seq 6');
  });

  it('a file cut short mid-line (power loss) is ended with a newline and a new chain starts; verify points at the torn line', async () => {
    const file = path.join(await tempDir(), 'audit.log');
    const first = openAuditLog(file);
    await writeMany(first, 1, 3);
    await first.close();
    await appendFile(file, '{"v":2,"time":"2026-11-22T00:00:00.000Z","seq":4,"id":"torn');
    const notes: string[] = [];
    const second = openAuditLog(file, { log: (line) => notes.push(line) });
    second.write(record(5));
    await second.close();
    const lines = (await readFile(file, 'utf8')).split('\n').slice(0, -1);
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[4] as string)).toMatchObject({ seq: 1, prev: GENESIS });
    expect(notes.join('\n')).toMatch(/incomplete line/);
    expect(verifyLines([{ name: 'audit.log', lines }]).finding).toMatchObject({
      problem: 'unreadable',
      at: { line: 4 },
    });
  });

  it('a v1 file gets a new chain after its last record', async () => {
    const file = path.join(await tempDir(), 'audit.log');
    await writeFile(file, '{"v":1,"time":"2026-11-22T00:00:00.000Z","id":"old"}\n');
    const log = openAuditLog(file);
    log.write(record(1));
    await log.close();
    expect((await readAuditLines(file))[1]).toMatchObject({ v: 2, seq: 1, prev: GENESIS });
  });
});

describe('openAuditLog: rotation by size', () => {
  it('rotates between records, keeps N files, and the chain runs across them', async () => {
    const file = path.join(await tempDir(), 'audit.log');
    const log = openAuditLog(file, { maxBytes: 4096, keep: 3 });
    await writeMany(log, 1, 200);
    await log.close();
    const files = await rotatedFiles(file);
    expect(files.map((f) => f.name)).toEqual(['audit.log.3', 'audit.log.2', 'audit.log.1', 'audit.log']);
    for (const f of files) {
      expect(Buffer.byteLength(f.lines.join('\n')) + f.lines.length).toBeLessThanOrEqual(4096);
      for (const line of f.lines) expect(() => JSON.parse(line)).not.toThrow();
    }
    const result = verifyLines(files);
    expect(result.finding).toBeUndefined();
    expect(result.head?.seq).toBe(200);
    // The first record of each rotated-to file names the hash of the last record of the file before it.
    for (let i = 1; i < files.length; i++) {
      expect(JSON.parse(files[i]?.lines[0] as string).prev).toBe(hashLine(files[i - 1]?.lines.at(-1) as string));
    }
  });

  it('keeping enough files, every record is there exactly once', async () => {
    const file = path.join(await tempDir(), 'audit.log');
    const log = openAuditLog(file, { maxBytes: 2000, keep: 1000 });
    await writeMany(log, 1, 500, 7);
    await log.close();
    const files = await rotatedFiles(file);
    expect(files.length).toBeGreaterThan(50);
    const seqs = files.flatMap((f) => f.lines.map((l) => JSON.parse(l).seq as number));
    expect(seqs).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(verifyLines(files).finding).toBeUndefined();
  });

  it('a record larger than the limit gets a file of its own rather than being split', async () => {
    const file = path.join(await tempDir(), 'audit.log');
    const log = openAuditLog(file, { maxBytes: 1000, keep: 10 });
    log.write(record(1));
    log.write(record(2, { path: `/${'x'.repeat(3000)}` }));
    log.write(record(3));
    await log.close();
    const files = await rotatedFiles(file);
    expect(files.map((f) => f.lines.length)).toEqual([1, 1, 1]);
    expect(verifyLines(files).finding).toBeUndefined();
  });
});

describe('openAuditLog: reopen (logrotate, SIGUSR2)', () => {
  it('records before the reopen stay in the moved file, records after go to a new file at the path; the chain spans both', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'audit.log');
    const log = openAuditLog(file);
    await writeMany(log, 1, 100);
    await rename(file, path.join(dir, 'audit.log.1')); // logrotate moves the file; leash still writes to it
    await writeMany(log, 101, 50);
    const reopened = log.reopen();
    await writeMany(log, 151, 100); // records keep arriving while it reopens
    await reopened;
    await writeMany(log, 251, 50);
    await log.close();
    const files = await rotatedFiles(file);
    expect(files.map((f) => f.name)).toEqual(['audit.log.1', 'audit.log']);
    expect(files[0]?.lines.length).toBeGreaterThanOrEqual(150);
    expect(files.flatMap((f) => f.lines.map((l) => JSON.parse(l).seq))).toEqual(
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    expect(verifyLines(files).finding).toBeUndefined();
  });
});

describe('openAuditLog: one line per record for every reader (issue 12)', () => {
  it('control characters, NEL and U+2028 in any field are escaped: Python splitlines() sees one line per record', async () => {
    const file = path.join(await tempDir(), 'audit.log');
    const log = openAuditLog(file);
    const forged = '{"v":2,"seq":99,"effect":"allow"}';
    const hostile = [
      '\n',
      '\r',
      '\u000b',
      '\u000c',
      '\u001c',
      '\u001d',
      '\u001e',
      '\u0085',
      '\u2028',
      '\u2029',
      '\u0000',
      '\u009b',
    ];
    hostile.forEach((c, i) =>
      log.write(record(i + 1, { userAgent: `ua${c}${forged}`, message: `m${c}${forged}`, path: `/p${c}x` })),
    );
    await log.close();
    const python = spawnSync(
      'python3',
      ['-c', 'import sys; t = open(sys.argv[1], encoding="utf-8").read(); print(len(t.splitlines()))', file],
      { encoding: 'utf8' },
    );
    expect(python.stdout.trim()).toBe(String(hostile.length));
    const records = await readAuditLines(file);
    expect(records.map((r) => r.userAgent)).toEqual(hostile.map((c) => `ua${c}${forged}`));
    expect(await readFile(file, 'utf8')).toContain('ua\\u0085{');
    expect(verifyLines(await rotatedFiles(file)).finding).toBeUndefined();
  });
});

describe('openAuditLog: records have a size cap (issue 19)', () => {
  it('a megabyte of path, User-Agent and message writes a record of a few KiB, marked with the original lengths', async () => {
    const file = path.join(await tempDir(), 'audit.log');
    const log = openAuditLog(file);
    const long = 'a'.repeat(1 << 20);
    log.write(record(1, { path: `/${long}`, userAgent: long, message: `GET /${long}` }));
    await log.close();
    const text = await readFile(file, 'utf8');
    expect(text.length).toBeLessThan(10_000);
    const [r] = await readAuditLines(file);
    expect(r?.path).toMatch(new RegExp(`…\\[truncated from ${(1 << 20) + 1} chars\\]$`));
    expect(r?.userAgent).toMatch(new RegExp(`…\\[truncated from ${1 << 20} chars\\]$`));
  });
});

describe('openAuditLog: permissions (issue 19)', () => {
  const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

  it('creates the file 0600, and a file made by rotation keeps the mode of the one it replaces', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'audit.log');
    const log = openAuditLog(file, { maxBytes: 2000, keep: 3 });
    await writeMany(log, 1, 30);
    await log.flush();
    expect(await modeOf(file)).toBe(0o600);
    await log.close();
    expect(await modeOf(`${file}.1`)).toBe(0o600);

    await chmod(file, 0o640); // the operator gives a reader group access
    const again = openAuditLog(file, { maxBytes: 2000, keep: 3 });
    await writeMany(again, 31, 30);
    await again.close();
    expect(await modeOf(file)).toBe(0o640);
    expect(await modeOf(`${file}.1`)).toBe(0o640);
  });

  it.each<[found: number, left: number]>([
    [0o644, 0o640],
    [0o666, 0o660],
    [0o604, 0o600],
  ])('a file found with mode %o is left %o, and leash says so on its log line', async (found, left) => {
    const dir = await tempDir();
    const file = path.join(dir, 'audit.log');
    await writeFile(file, '');
    await chmod(file, found);
    await writeFile(`${file}.1`, '');
    await chmod(`${file}.1`, found);
    const notes: string[] = [];
    const log = openAuditLog(file, { log: (line) => notes.push(line) });
    await log.close();
    expect(await modeOf(file)).toBe(left);
    expect(await modeOf(`${file}.1`)).toBe(left);
    expect(notes.join('\n')).toContain(`${file} was open to other users (mode 0${found.toString(8)})`);
    expect(notes.join('\n')).toContain(`${file}.1 was open to other users`);
  });

  it('leash serve says on stderr, at start, that the audit file was readable by other users', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'policy.yaml'), 'version: 1\nrules: []\n');
    const file = path.join(dir, 'audit.log');
    await writeFile(file, '');
    await chmod(file, 0o644);
    const stderr: string[] = [];
    const running = await startServe(
      {
        policy: [path.join(dir, 'policy.yaml')],
        listen: '127.0.0.1:0',
        audit: file,
        certs: path.join(dir, 'certs'),
        control: path.join(dir, 'leash-admin.sock'),
      },
      { out: () => {}, err: (line) => stderr.push(line), env: {} },
    );
    running.watcher.stop();
    await running.stop();
    expect(stderr.join('\n')).toContain(
      `leash: the audit log ${file} was open to other users (mode 0644); leash removed their access (now 0640)`,
    );
    expect(await modeOf(file)).toBe(0o640);
  });

  it('a file logrotate re-created open to others is closed at the reopen, and said', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'audit.log');
    const notes: string[] = [];
    const log = openAuditLog(file, { log: (line) => notes.push(line) });
    log.write(record(1));
    await rename(file, `${file}.1`);
    await writeFile(file, '');
    await chmod(file, 0o644);
    await log.reopen();
    log.write(record(2));
    await log.close();
    expect(await modeOf(file)).toBe(0o640);
    expect(notes.join('\n')).toMatch(/was open to other users \(mode 0644\)/);
  });
});

describe('parseRotation', () => {
  it.each<[maxSize: string | undefined, keep: string | undefined, expected: { maxBytes?: number; keep?: number }]>([
    [undefined, undefined, {}],
    ['100M', undefined, { maxBytes: 100 * 1024 * 1024 }],
    ['1G', '10', { maxBytes: 1024 ** 3, keep: 10 }],
    ['512k', '1', { maxBytes: 512 * 1024 }],
    ['20MB', undefined, { maxBytes: 20 * 1024 * 1024 }],
    ['1.5MiB', undefined, { maxBytes: 1.5 * 1024 * 1024 }],
    ['4096', undefined, { maxBytes: 4096 }],
  ])('--audit-max-size %s --audit-keep %s', (maxSize, keep, expected) => {
    const out = parseRotation(maxSize, keep);
    expect(out.maxBytes).toBe(expected.maxBytes);
    if (keep !== undefined) expect(out.keep).toBe(Number(keep));
  });

  it.each<[maxSize: string | undefined, keep: string | undefined, message: RegExp]>([
    ['lots', undefined, /--audit-max-size needs a size/],
    ['0', undefined, /--audit-max-size needs a size/],
    ['10T', undefined, /--audit-max-size needs a size/],
    ['100M', '0', /--audit-keep needs a whole number from 1 to 1000/],
    ['100M', 'five', /--audit-keep needs a whole number/],
    [undefined, '3', /--audit-keep applies to --audit-max-size/],
  ])('rejects --audit-max-size %s --audit-keep %s', (maxSize, keep, message) => {
    expect(() => parseRotation(maxSize, keep)).toThrow(LeashError);
    expect(() => parseRotation(maxSize, keep)).toThrow(message);
  });

  it('stdout cannot be rotated', () => {
    expect(() => openAuditLog('-', { maxBytes: 1000 })).toThrow(/needs --audit FILE/);
  });
});
