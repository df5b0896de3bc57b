// `leash audit` and `leash audit verify` as a reviewer runs them, on real files: filters and formats on the known
// log, --summary figures, the default input, --follow, and verify naming the edited, deleted or reordered record.

import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { openAuditLog } from '../../src/audit/logger.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { auditCommand } from '../../src/cli/audit.js';
import type { CommandIo } from '../../src/cli/io.js';
import { main } from '../../src/main.js';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { ids, KNOWN, writeKnownLog } from '../helpers/known-audit-log.js';

interface Result {
  code: number;
  out: string[];
  err: string[];
}

async function leash(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  // Commands may print several lines in one call; split so tests see one entry per line.
  const code = await main(argv, {
    out: (t) => out.push(...t.split('\n')),
    err: (t) => err.push(...t.split('\n')),
    env,
  });
  return { code, out, err };
}

const jsonIds = (r: Result) => ids(r.out.map((line) => JSON.parse(line) as { id: string }));

let file: string;
let lines: string[];

beforeAll(async () => {
  file = await writeKnownLog(await tempDir());
  lines = (await readFile(file, 'utf8')).split('\n').slice(0, -1);
});

describe('leash audit: filters on the known log', () => {
  it.each<[name: string, flags: string[], expected: string[]]>([
    ['no filter', [], KNOWN.map((r) => r.id)],
    ['--effect deny', ['--effect', 'deny'], ['r02', 'r03', 'r04', 'r05', 'r08', 'r10', 'r11']],
    ['--host glob', ['--host', '*attacker.test'], ['r02', 'r03', 'r10', 'r11']],
    ['--host twice', ['--host', 'api.openai.com', '--host', 'docs.example.com'], ['r01', 'r05', 'r07', 'r09', 'r12']],
    ['--agent', ['--agent', 'builder'], ['r07', 'r08', 'r12']],
    ['--rule', ['--rule', 'block-exfil'], ['r02', 'r03', 'r10', 'r11']],
    ['--reason', ['--reason', 'rate_limited'], ['r05']],
    ['--since ISO date-time (UTC)', ['--since', '2026-11-22T03:00'], ['r11', 'r12', 'r13', 'r14']],
    ['--until ISO with offset, exclusive', ['--until', '2026-11-22T01:15:00+01:00'], ['r01', 'r02', 'r03']],
    ['--since relative to now', ['--since', '1h'], []],
    [
      'everything at once',
      ['--agent', 'research', '--effect', 'deny', '--since', '2026-11-22T00:06Z', '--until', '2026-11-22T03:00Z'],
      ['r03', 'r05'],
    ],
  ])('%s', async (_name, flags, expected) => {
    const r = await leash(['audit', file, ...flags, '--format', 'json']);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(jsonIds(r)).toEqual(expected);
  });
});

describe('leash audit: formats', () => {
  it('json: the matching lines exactly as they are in the file (chain fields and all)', async () => {
    const r = await leash(['audit', file, '--effect', 'deny', '--format', 'json']);
    expect(r.out).toEqual(lines.filter((l) => JSON.parse(l).effect === 'deny'));
  });

  it("table (the default): a header and one aligned row per record, with the issue's columns", async () => {
    const r = await leash(['audit', file, '--agent', 'builder']);
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(4);
    expect(r.out[0]).toMatch(/^TIME\s+AGENT\s+EFFECT\s+METHOD\s+HOST\s+PATH\s+RULE\s+REASON\s+STATUS\s+OUT\/IN$/);
    expect(r.out[1]).toMatch(
      /^2026-11-22T01:00:00\.000Z\s+builder\s+allow\s+GET\s+docs\.example\.com\s+\/v1\/a\s+docs\s+allowed_by_rule\s+200\s+300\/900$/,
    );
    expect(r.out[3]).toMatch(/\ballow\*\s/); // report mode: would have been denied
    const col = (r.out[0] as string).indexOf('HOST');
    for (const row of r.out.slice(1)) expect(row.slice(col)).toMatch(/^(docs\.example\.com|169\.254\.169\.254)/);
  });

  it('csv: a header and one row per record, quoted where needed', async () => {
    const r = await leash(['audit', file, '--format', 'csv', '--reason', 'rate_limited']);
    expect(r.out).toHaveLength(2);
    const header = (r.out[0] as string).split(',');
    const row = (r.out[1] as string).split(',');
    expect(row[header.indexOf('id')]).toBe('r05');
    expect(row[header.indexOf('host')]).toBe('api.openai.com');
    expect(row[header.indexOf('status')]).toBe('429');
    expect(row[header.indexOf('seq')]).toBe('5');
  });

  it('csv with no match still prints the header', async () => {
    const r = await leash(['audit', file, '--format', 'csv', '--agent', 'nobody']);
    expect(r.out).toHaveLength(1);
  });
});

describe('leash audit --summary', () => {
  it('json: the figures of the known log', async () => {
    const r = await leash(['audit', file, '--summary', '--format', 'json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out.join('\n'));
    expect(s).toMatchObject({
      records: 14,
      policyReloads: 1,
      revisions: [
        { revision: 'rev-a', records: 5 },
        { revision: 'rev-b', records: 9 },
      ],
    });
    expect(s.agents.find((a: { agent: string }) => a.agent === 'research')).toMatchObject({
      requests: 7,
      allowed: 3,
      denied: 4,
      rateLimited: 1,
      grantsIssued: 1,
      grantsUsed: 1,
      bytesOut: 2010,
      topDeniedHosts: [
        { host: 'attacker.test', count: 3 },
        { host: 'api.openai.com', count: 1 },
      ],
      bytesOutByHost: [
        { host: 'api.openai.com', bytesOut: 2000, requests: 2 },
        { host: 'cdn.example.net', bytesOut: 10, requests: 1 },
      ],
    });
  });

  it('text: per agent, then the revisions', async () => {
    const r = await leash(['audit', file, '--summary']);
    const text = r.out.join('\n');
    expect(text).toContain('14 records, 2026-11-22T00:00:00.000Z to 2026-11-22T04:01:00.000Z');
    expect(text).toMatch(
      /agent research\n {2}requests 7: allowed 3, denied 4\n {2}rate-limited 1; grants issued 1, used 1\n {2}bytes out 2010 \(2\.0K\), in 25100 \(25K\)\n {2}top denied hosts:\n {4}3 {2}attacker\.test\n {4}1 {2}api\.openai\.com\n {2}bytes out by host:\n {4}2000 {2}api\.openai\.com {2}\(2 requests\)/,
    );
    expect(text).toContain('agent builder\n  requests 3: allowed 2, denied 1, would deny 1 (report mode)');
    expect(text).toContain('policy revisions seen (2); reloads 1, rejected 0');
  });

  it('filters apply before the summary', async () => {
    const r = await leash(['audit', file, '--summary', '--format', 'json', '--agent', 'anonymous']);
    const s = JSON.parse(r.out.join('\n'));
    expect(s.records).toBe(2);
    expect(s.agents.map((a: { agent: string }) => a.agent)).toEqual(['anonymous']);
  });
});

describe('leash audit: inputs', () => {
  it('default input: $LEASH_AUDIT and its rotated siblings, compressed ones too, in time order', async () => {
    const dir = await tempDir();
    const live = path.join(dir, 'audit.log');
    await writeFile(`${live}.2.gz`, gzipSync(`${lines.slice(0, 5).join('\n')}\n`));
    await writeFile(`${live}.1`, `${lines.slice(5, 10).join('\n')}\n`);
    await writeFile(live, `${lines.slice(10).join('\n')}\n`);
    const r = await leash(['audit', '--format', 'json'], { LEASH_AUDIT: live });
    expect(jsonIds(r)).toEqual(KNOWN.map((k) => k.id));
    const v = await leash(['audit', 'verify'], { LEASH_AUDIT: live });
    expect(v.out[0]).toBe('ok: 14 records in 3 files, seq 1..14, chain intact');
    expect(v.code).toBe(0);
  });

  it('no LEASH_AUDIT: ./leash-audit.log, and a clear error when it is missing', async () => {
    const r = await leash(['audit'], {});
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/no audit log at leash-audit\.log: pass FILE or DIR, or set LEASH_AUDIT/);
  });

  it('a line that is not a record is named on stderr, the rest is still printed, exit 1', async () => {
    const dir = await tempDir();
    const broken = path.join(dir, 'audit.log');
    await writeFile(broken, `${lines[0]}\nnot json at all\n${lines[1]}\n`);
    const r = await leash(['audit', broken, '--format', 'json']);
    expect(r.code).toBe(1);
    expect(jsonIds(r)).toEqual(['r01', 'r02']);
    expect(r.err.join('\n')).toContain(`${broken}:2: not a JSON record, skipped`);
  });

  it.each<[name: string, flags: string[], message: RegExp]>([
    ['a bad --effect', ['--effect', 'maybe'], /--effect needs allow or deny, got "maybe"/],
    ['a bad --format', ['--format', 'xml'], /--format needs table, json or csv/],
    ['a bad --since', ['--since', 'last tuesday'], /--since needs a duration back from now/],
    ['--since after --until', ['--since', '2026-11-23', '--until', '2026-11-22'], /is not before --until/],
    ['--summary with --follow', ['--summary', '--follow'], /cannot be combined/],
    ['--summary as csv', ['--summary', '--format', 'csv'], /--summary prints as table \(text\) or json/],
    [
      'an unknown flag, with a suggestion',
      ['--hots', 'x'],
      /leash audit: unknown option '--hots'\n\(Did you mean --host\?\)\nusage: leash audit /,
    ],
  ])('usage error (exit 2): %s', async (_name, flags, message) => {
    const r = await leash(['audit', file, ...flags]);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toMatch(message);
  });

  it('usage error (exit 2): verify with a filter', async () => {
    const r = await leash(['audit', 'verify', file, '--effect', 'deny']);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toMatch(
      /leash audit verify: audit verify takes only files, got --effect\nusage: leash audit verify /,
    );
  });

  it('an unknown reason code is noted (a typo finds nothing), not refused', async () => {
    const r = await leash(['audit', file, '--reason', 'no_rules', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.err.join('\n')).toContain('"no_rules" is not a reason code leash writes');
  });
});

describe('leash audit --follow', () => {
  it('starts at the end of the log: a restarted alerting pipe does not re-alert old records', async () => {
    const dir = await tempDir();
    const live = path.join(dir, 'audit.log');
    const log = openAuditLog(live);
    const write = (id: string) => log.write({ ...(KNOWN[1] as unknown as AuditRecord), id, effect: 'deny' });
    write('old-1');
    write('old-2');
    await log.flush();
    const out: string[] = [];
    const io: CommandIo = { out: (t) => out.push(...t.split('\n')), err: () => {}, env: { LEASH_AUDIT: live } };
    const controller = new AbortController();
    let following!: () => void;
    const opened = new Promise<void>((resolve) => (following = resolve));
    const done = auditCommand({ follow: true, format: 'json' }, [], io, {
      signal: controller.signal,
      followPollMs: 20,
      onFollowing: following,
    });
    await opened;
    write('new-1');
    await log.close();
    await waitFor(() => out.length === 1);
    controller.abort();
    expect(await done).toBe(0);
    expect(jsonIds({ code: 0, out, err: [] })).toEqual(['new-1']);
  });

  it('--from-start prints matching records already there, then as they are written, across a rotation, until stopped', async () => {
    const dir = await tempDir();
    const live = path.join(dir, 'audit.log');
    const log = openAuditLog(live);
    const write = (id: string, effect: 'allow' | 'deny') =>
      log.write({ ...(KNOWN[1] as unknown as AuditRecord), id, effect });
    write('before-1', 'deny');
    write('before-2', 'allow');
    await log.flush();
    const out: string[] = [];
    const io: CommandIo = { out: (t) => out.push(...t.split('\n')), err: () => {}, env: { LEASH_AUDIT: live } };
    const controller = new AbortController();
    const done = auditCommand({ follow: true, fromStart: true, effect: 'deny', format: 'json' }, [], io, {
      signal: controller.signal,
      followPollMs: 20,
    });
    await waitFor(() => out.length === 1);
    write('live-1', 'deny');
    write('live-2', 'allow');
    await log.flush();
    await waitFor(() => out.length === 2);
    await rename(live, `${live}.1`);
    write('old-file', 'deny');
    await log.reopen();
    write('new-file', 'deny');
    await log.close();
    await waitFor(() => out.length === 4);
    controller.abort();
    expect(await done).toBe(0);
    expect(jsonIds({ code: 0, out, err: [] })).toEqual(['before-1', 'live-1', 'old-file', 'new-file']);
  });
});

describe('leash audit verify', () => {
  async function variant(edit: (lines: string[]) => string[]): Promise<string> {
    const f = path.join(await tempDir(), 'audit.log');
    await writeFile(f, `${edit([...lines]).join('\n')}\n`);
    return f;
  }

  it('an intact log: exit 0, the record count, and the head to compare with the one leash printed', async () => {
    const r = await leash(['audit', 'verify', file]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe('ok: 14 records in 1 file, seq 1..14, chain intact');
    expect(r.out[1]).toMatch(new RegExp(`^head: seq 14 sha256 [0-9a-f]{64} \\(${file}:14\\)$`));
  });

  it.each<[name: string, edit: (l: string[]) => string[], message: (f: string) => string]>([
    [
      'an edited record (a denial turned into an allow)',
      (l) => l.map((line, i) => (i === 6 ? line.replace('"effect":"allow"', '"effect":"deny"') : line)),
      (f) =>
        `${f}:8: broken link: prev is not the hash of the record before it (${f}:7, seq 7): that record was altered, or records were inserted or removed between them`,
    ],
    [
      'a deleted record',
      (l) => l.filter((_, i) => i !== 9),
      (f) => `${f}:10: gap: seq jumps from 9 (${f}:9) to 11: 1 record missing`,
    ],
    [
      'two records swapped',
      (l) => [...l.slice(0, 3), l[4] as string, l[3] as string, ...l.slice(5)],
      (f) => `${f}:5: record seq 4 comes after seq 5 (${f}:4): records are out of order`,
    ],
    [
      'a record duplicated',
      (l) => [...l.slice(0, 5), l[2] as string, ...l.slice(5)],
      (f) => `${f}:6: record seq 3 comes after seq 5 (${f}:5): records are out of order or duplicated`,
    ],
    [
      'a torn last line',
      (l) => [...l.slice(0, 13), (l[13] as string).slice(0, 50)],
      (f) => `${f}:14: not a JSON record`,
    ],
  ])('%s: exit 1, naming file:line', async (_name, edit, message) => {
    const f = await variant(edit);
    const r = await leash(['audit', 'verify', f]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toBe(message(f));
    expect(r.out[1]).toMatch(/^verify: FAILED after \d+ records in 1 file$/);
  });

  it('a torn last line without its newline is an incomplete record', async () => {
    const f = path.join(await tempDir(), 'audit.log');
    await writeFile(f, `${lines.slice(0, 3).join('\n')}\n${(lines[3] as string).slice(0, 30)}`);
    const r = await leash(['audit', 'verify', f]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toBe(
      `${f}:4: incomplete last line (no newline): a write was cut short, or the file was truncated`,
    );
  });

  it('across rotated files: the first record of the newer file deleted is a gap at that file', async () => {
    const dir = await tempDir();
    const live = path.join(dir, 'audit.log');
    await writeFile(`${live}.1`, `${lines.slice(0, 7).join('\n')}\n`);
    await writeFile(live, `${lines.slice(8).join('\n')}\n`);
    const r = await leash(['audit', 'verify', dir]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toBe(`${live}:1: gap: seq jumps from 7 (${live}.1:7) to 9: 1 record missing`);
  });

  it('records appended by hand after the head break nothing before them, but cannot pass as chained', async () => {
    const f = await variant((l) => l);
    await appendFile(f, '{"v":2,"time":"2026-11-22T05:00:00.000Z","id":"forged","effect":"allow"}\n');
    const r = await leash(['audit', 'verify', f]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toBe(`${f}:15: record has no seq/prev: cannot be verified`);
  });
});
