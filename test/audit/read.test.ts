// Reading audit logs back: lines split right however the chunks fall, rotated and compressed files in time order
// whatever they are called, directories and the default path's siblings, and --follow across a rotation.

import { mkdir, readFile, rename, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openAuditLog } from '../../src/audit/logger.js';
import type { AuditRecord } from '../../src/audit/record.js';
import {
  auditInputs,
  followFile,
  LineSplitter,
  MAX_LINE,
  readAuditInputs,
  type LineState,
} from '../../src/audit/read.js';
import { tempDir, waitFor } from '../helpers/audit-sink.js';

type Seen = [text: string, file: string, line: number, state: LineState];

function splitAll(chunks: (string | Buffer)[]): Seen[] {
  const seen: Seen[] = [];
  const splitter = new LineSplitter('f', (bytes, file, line, state) =>
    seen.push([bytes.toString(), file, line, state]),
  );
  for (const chunk of chunks) splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  splitter.end();
  return seen;
}

describe('LineSplitter', () => {
  it.each<[name: string, chunks: (string | Buffer)[], expected: [string, number, LineState][]]>([
    [
      'one chunk',
      ['a\nb\n'],
      [
        ['a', 1, 'complete'],
        ['b', 2, 'complete'],
      ],
    ],
    [
      'a line across chunks',
      ['{"a":', '1}\n{"b"', ':2}\n'],
      [
        ['{"a":1}', 1, 'complete'],
        ['{"b":2}', 2, 'complete'],
      ],
    ],
    ['a line across three chunks', ['ab', 'cd', 'ef\n'], [['abcdef', 1, 'complete']]],
    [
      'a newline alone in a chunk',
      ['abc', '\n', 'd\n'],
      [
        ['abc', 1, 'complete'],
        ['d', 2, 'complete'],
      ],
    ],
    [
      'an empty line',
      ['a\n\nb\n'],
      [
        ['a', 1, 'complete'],
        ['', 2, 'complete'],
        ['b', 3, 'complete'],
      ],
    ],
    [
      'a last line without newline',
      ['a\nbc'],
      [
        ['a', 1, 'complete'],
        ['bc', 2, 'unterminated'],
      ],
    ],
    [
      'a multi-byte character split between chunks',
      [Buffer.from([0x7b, 0x22, 0xc3]), Buffer.from([0xbc, 0x22, 0x7d, 0x0a])],
      [['{"ü"}', 1, 'complete']],
    ],
  ])('%s', (_name, chunks, expected) => {
    expect(splitAll(chunks).map(([text, , line, state]) => [text, line, state])).toEqual(expected);
  });

  it('a line over MAX_LINE is reported as too long and skipped to its newline, in bounded memory', () => {
    const seen = splitAll(['ok\n', 'x'.repeat(MAX_LINE), 'x'.repeat(1000), 'still the long line\n', 'next\n']);
    expect(seen.map(([text, , line, state]) => [text.length > 200 ? 'long' : text.slice(0, 5), line, state])).toEqual([
      ['ok', 1, 'complete'],
      ['xxxxx', 2, 'too_long'],
      ['next', 3, 'complete'],
    ]);
  });
});

function rec(i: number): AuditRecord {
  return {
    id: `id-${i}`,
    event: 'request',
    agent: 'a',
    identity: 'none',
    client: null,
    method: 'GET',
    scheme: 'http',
    host: 'h.test',
    port: 80,
    path: '/',
    effect: 'allow',
    rule: null,
    reason: 'allowed_by_rule',
    status: 200,
    bytesIn: 0,
    bytesOut: 0,
    durationMs: 0,
    resolved: null,
    policyRevision: 'r',
  };
}

/** Writes `count` records per file into DIR/audit.log, rotating by hand, oldest first; returns the files. */
async function rotatedLog(dir: string, files: number, count: number): Promise<string[]> {
  const file = path.join(dir, 'audit.log');
  let t = Date.parse('2026-11-22T00:00:00Z');
  const log = openAuditLog(file, { now: () => new Date((t += 1000)) });
  const names: string[] = [];
  for (let f = 0; f < files; f++) {
    for (let i = 0; i < count; i++) log.write(rec(f * count + i));
    await log.flush();
    if (f < files - 1) {
      const moved = `${file}.${files - 1 - f}`;
      await rename(file, moved);
      await log.reopen();
      names.push(moved);
    }
  }
  await log.close();
  names.push(file);
  return names;
}

async function readIds(inputs: Awaited<ReturnType<typeof auditInputs>>['files']): Promise<string[]> {
  const out: string[] = [];
  await readAuditInputs(inputs, (bytes) => out.push(JSON.parse(bytes.toString()).id));
  return out;
}

describe('auditInputs and readAuditInputs', () => {
  it('reads rotated and gzip-compressed files in time order, whatever their names and mtimes', async () => {
    const dir = await tempDir();
    const [oldest, middle] = (await rotatedLog(dir, 3, 4)) as [string, string, string];
    await writeFile(`${oldest}.gz`, gzipSync(await readFile(oldest)));
    await unlink(oldest);
    await writeFile(path.join(dir, 'other.log'), 'not a sibling of audit.log\n');
    await utimes(middle, new Date(0), new Date(0)); // mtime lies; the first record's time decides
    const { files, live } = await auditInputs([], path.join(dir, 'audit.log'));
    expect(files.map((f) => path.basename(f.path))).toEqual(['audit.log.2.gz', 'audit.log.1', 'audit.log']);
    expect(files[0]?.gzip).toBe(true);
    expect(live).toBe(path.join(dir, 'audit.log'));
    expect(await readIds(files)).toEqual(Array.from({ length: 12 }, (_, i) => `id-${i}`));
  });

  it('FILE arguments given newest first are still read oldest first', async () => {
    const dir = await tempDir();
    const names = await rotatedLog(dir, 3, 2);
    const { files } = await auditInputs([...names].reverse(), 'unused');
    expect(await readIds(files)).toEqual(['id-0', 'id-1', 'id-2', 'id-3', 'id-4', 'id-5']);
  });

  it('a DIR reads its regular files, skipping hidden files and subdirectories', async () => {
    const dir = await tempDir();
    await rotatedLog(dir, 2, 2);
    await writeFile(path.join(dir, '.hidden'), 'not a record\n');
    await mkdir(path.join(dir, 'sub'));
    const { files, live } = await auditInputs([dir], 'unused');
    expect(files.map((f) => path.basename(f.path))).toEqual(['audit.log.1', 'audit.log']);
    expect(live).toBe(path.join(dir, 'audit.log'));
  });

  it.each<[name: string, args: string[], message: RegExp]>([
    ['a missing FILE', ['/nonexistent/leash/audit.log'], /cannot read \/nonexistent\/leash\/audit\.log: ENOENT/],
    ['stdin with a file', ['-', 'x'], /"-" \(stdin\) cannot be combined/],
  ])('%s is an error', async (_name, args, message) => {
    await expect(auditInputs(args, 'unused')).rejects.toThrow(message);
  });

  it('no argument and no file at the default path says what to do', async () => {
    const dir = await tempDir();
    await expect(auditInputs([], path.join(dir, 'leash-audit.log'))).rejects.toThrow(
      /no audit log at .*leash-audit\.log: pass FILE or DIR, or set LEASH_AUDIT/,
    );
  });

  it('reports progress as bytes of the total', async () => {
    const dir = await tempDir();
    await rotatedLog(dir, 2, 50);
    const { files } = await auditInputs([dir], 'unused');
    const total = files.reduce((s, f) => s + f.size, 0);
    const seen: number[] = [];
    await readAuditInputs(files, () => {}, { onChunk: (p) => void seen.push(p.bytesRead) });
    expect(seen.at(-1)).toBe(total);
  });
});

describe('followFile', () => {
  it('reads what is there, then what is appended, then the new file after a rotation, without losing a line', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'audit.log');
    const log = openAuditLog(file);
    for (let i = 0; i < 3; i++) log.write(rec(i));
    await log.flush();
    const seen: string[] = [];
    const controller = new AbortController();
    const following = followFile(file, (bytes) => seen.push(JSON.parse(bytes.toString()).id), {
      signal: controller.signal,
      pollMs: 20,
    });
    await waitFor(() => seen.length === 3);
    for (let i = 3; i < 6; i++) log.write(rec(i));
    await log.flush();
    await waitFor(() => seen.length === 6);
    // logrotate: move the file; leash goes on writing to it until told to reopen.
    await rename(file, `${file}.1`);
    for (let i = 6; i < 9; i++) log.write(rec(i));
    await log.flush();
    await writeFile(file, ''); // logrotate's `create`: an empty file appears before leash reopens
    await new Promise((r) => setTimeout(r, 60));
    for (let i = 9; i < 11; i++) log.write(rec(i));
    await log.reopen();
    for (let i = 11; i < 14; i++) log.write(rec(i));
    await log.close();
    await waitFor(() => seen.length === 14);
    controller.abort();
    await following;
    expect(seen).toEqual(Array.from({ length: 14 }, (_, i) => `id-${i}`));
  });
});
