// The hash chain as a reviewer relies on it: every line names the hash of the exact bytes of the line before, the
// first names GENESIS, and the verifier points at the first edited, deleted, reordered, duplicated or torn record.

import { describe, expect, it } from 'vitest';
import {
  AUDIT_FORMAT_VERSION,
  chainLine,
  EMPTY_CHAIN,
  escapeLineBreaks,
  GENESIS,
  hashLine,
  resumeChain,
  type ChainHead,
} from '../../src/audit/chain.js';
import { ChainVerifier, type VerifyProblem } from '../../src/audit/verify.js';

function chainOf(count: number, start: ChainHead = EMPTY_CHAIN): { lines: string[]; head: ChainHead } {
  const lines: string[] = [];
  let head = start;
  for (let i = 0; i < count; i++) {
    const next = chainLine(
      head,
      { id: `r${i + 1}`, event: 'request', effect: i % 2 ? 'deny' : 'allow', bytesOut: i },
      `2026-11-22T00:00:${String(i).padStart(2, '0')}.000Z`,
    );
    lines.push(next.line);
    head = next.head;
  }
  return { lines, head };
}

function verify(files: Record<string, string[]>, terminatedLast = true) {
  const verifier = new ChainVerifier();
  const names = Object.keys(files);
  for (const [f, lines] of Object.entries(files)) {
    lines.forEach((line, i) =>
      verifier.add(
        Buffer.from(line),
        { file: f, line: i + 1 },
        terminatedLast || f !== names.at(-1) || i < lines.length - 1,
      ),
    );
  }
  return verifier.finish();
}

describe('escapeLineBreaks: one record is one line to every reader', () => {
  it.each<[name: string, value: string, written: string]>([
    ['NEL (U+0085), a C1 control Python splits on', 'a\u0085b', 'a\\u0085b'],
    ['every C1 control', '\u0080\u009f', '\\u0080\\u009f'],
    ['LINE SEPARATOR and PARAGRAPH SEPARATOR', '\u2028\u2029', '\\u2028\\u2029'],
    ['DEL', '\u007f', '\\u007f'],
    ['newline, return, tab, backspace, form feed as \\uXXXX', '\n\r\t\b\f', '\\u000a\\u000d\\u0009\\u0008\\u000c'],
    ['other C0 controls (JSON.stringify escapes them already)', '\u0000\u001c\u001e', '\\u0000\\u001c\\u001e'],
    ['a backslash followed by n stays a backslash and n', '\\n', '\\\\n'],
    ['a backslash before a NEL', '\\\u0085', '\\\\\\u0085'],
    ['printable non-ASCII stays as it is', 'bücher 😀 ü', 'bücher 😀 ü'],
  ])('%s', (_name, value, written) => {
    const line = escapeLineBreaks(JSON.stringify({ v: value }));
    expect(line).toBe(`{"v":"${written}"}`);
    expect(JSON.parse(line)).toEqual({ v: value });
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
  });

  it('chainLine writes the escaped line and hashes exactly those bytes', () => {
    const { line, head } = chainLine(EMPTY_CHAIN, { userAgent: 'x\u0085{"forged":true}' }, 't');
    expect(line).toContain('x\\u0085{');
    expect(head.hash).toBe(hashLine(line));
  });

  it('a log written before the escaping (raw U+2028 inside a string) still verifies', () => {
    const old = JSON.stringify({ v: 2, time: 't', seq: 1, id: 'a', userAgent: 'x\u2028y', prev: GENESIS });
    const next = JSON.stringify({ v: 2, time: 't', seq: 2, id: 'b', prev: hashLine(old) });
    expect(verify({ 'audit.log': [old, next] }).finding).toBeUndefined();
  });
});

describe('chainLine', () => {
  it('writes v, time and seq first, the record, then prev; the first record names GENESIS', () => {
    const { line, head } = chainLine(EMPTY_CHAIN, { id: 'a', event: 'request' }, '2026-11-22T00:00:00.000Z');
    expect(line).toBe(
      `{"v":${AUDIT_FORMAT_VERSION},"time":"2026-11-22T00:00:00.000Z","seq":1,"id":"a","event":"request","prev":"${GENESIS}"}`,
    );
    expect(head).toEqual({ seq: 1, hash: hashLine(line) });
    expect(GENESIS).toMatch(/^0{64}$/);
  });

  it('links each line to the SHA-256 of the exact bytes of the one before', () => {
    const { lines } = chainOf(3);
    expect(JSON.parse(lines[1] as string).prev).toBe(hashLine(Buffer.from(lines[0] as string, 'utf8')));
    expect(JSON.parse(lines[2] as string)).toMatchObject({ seq: 3, prev: hashLine(lines[1] as string) });
  });

  it('ignores chain fields smuggled in the record', () => {
    const { line } = chainLine(EMPTY_CHAIN, { seq: 99, prev: 'x', v: 7, time: 'then', id: 'a' }, 'now');
    expect(JSON.parse(line)).toEqual({ v: AUDIT_FORMAT_VERSION, time: 'now', seq: 1, id: 'a', prev: GENESIS });
  });

  it('hashes UTF-8 bytes, so non-ASCII records chain the same when read back from disk', () => {
    const { line, head } = chainLine(EMPTY_CHAIN, { path: '/bücher/😀' }, 't');
    expect(hashLine(Buffer.from(line, 'utf8'))).toBe(head.hash);
  });

  it.each<[name: string, line: string, expected: ChainHead | undefined]>([
    [
      'a chained record resumes after it',
      chainOf(1).lines[0] as string,
      { seq: 1, hash: hashLine(chainOf(1).lines[0] as string) },
    ],
    ['a v1 record starts a new chain', '{"v":1,"time":"t","id":"a"}', undefined],
    ['not JSON', '{"v":2,"seq":', undefined],
    ['a malformed prev', '{"v":2,"seq":4,"prev":"abc"}', undefined],
  ])('resumeChain: %s', (_name, line, expected) => {
    expect(resumeChain(line)).toEqual(expected);
  });
});

describe('ChainVerifier', () => {
  const { lines } = chainOf(10);
  const L = (i: number) => lines[i - 1] as string; // 1-based, like line numbers
  const edited = L(4).replace('"bytesOut":3', '"bytesOut":9999');

  it.each<
    [
      name: string,
      files: Record<string, string[]>,
      problem: VerifyProblem | undefined,
      at: string | undefined,
      message: RegExp | undefined,
    ]
  >([
    ['an intact log', { 'a.log': lines }, undefined, undefined, undefined],
    [
      'an intact log split across rotated files',
      { 'a.log.1': lines.slice(0, 4), 'a.log': lines.slice(4) },
      undefined,
      undefined,
      undefined,
    ],
    [
      'an edited record: the next link breaks, naming it',
      { 'a.log': [L(1), L(2), L(3), edited, L(5), L(6)] },
      'broken_link',
      'a.log:5',
      /prev is not the hash of the record before it \(a\.log:4, seq 4\)/,
    ],
    [
      'a deleted record: a gap',
      { 'a.log': [L(1), L(2), L(3), L(5), L(6)] },
      'gap',
      'a.log:4',
      /seq jumps from 3 \(a\.log:3\) to 5: 1 record missing/,
    ],
    ['three deleted records', { 'a.log': [L(1), L(2), L(6), L(7)] }, 'gap', 'a.log:3', /3 records missing/],
    [
      'the last record deleted before more follow in the next file',
      { 'a.log.1': [L(1), L(2), L(3)], 'a.log': [L(5), L(6)] },
      'gap',
      'a.log:1',
      /seq jumps from 3 \(a\.log\.1:3\) to 5/,
    ],
    [
      'two records swapped',
      { 'a.log': [L(1), L(2), L(4), L(3), L(5)] },
      'reordered',
      'a.log:4',
      /seq 3 comes after seq 4 \(a\.log:3\): records are out of order/,
    ],
    [
      'a record moved back',
      { 'a.log': [L(1), L(2), L(3), L(4), L(2), L(5)] },
      'reordered',
      'a.log:5',
      /seq 2 comes after seq 4/,
    ],
    [
      'a duplicated record',
      { 'a.log': [L(1), L(2), L(2), L(3)] },
      'reordered',
      'a.log:3',
      /out of order or duplicated/,
    ],
    ['a line that is not JSON', { 'a.log': [L(1), 'garbage', L(2)] }, 'unreadable', 'a.log:2', /not a JSON record/],
    ['a v1 record', { 'a.log': ['{"v":1,"time":"t","id":"x"}'] }, 'unchained', 'a.log:1', /format v1/],
    [
      'seq 1 with a prev that is not GENESIS',
      { 'a.log': [L(2).replace('"seq":2', '"seq":1')] },
      'broken_link',
      'a.log:1',
      /must start a chain/,
    ],
  ])('%s', (_name, files, problem, at, message) => {
    const result = verify(files);
    expect(result.finding?.problem).toBe(problem);
    if (at) expect(`${result.finding?.at.file}:${result.finding?.at.line}`).toBe(at);
    if (message) expect(result.finding?.message).toMatch(message);
    if (!problem) expect(result.head).toMatchObject({ seq: 10, hash: hashLine(L(10)) });
  });

  it('a torn last line (no newline) is incomplete', () => {
    const result = verify({ 'a.log': [L(1), L(2), L(3).slice(0, 40)] }, false);
    expect(result.finding).toMatchObject({ problem: 'incomplete', at: { file: 'a.log', line: 3 } });
  });

  it('a log that starts mid-chain (older files rotated out) is intact, and says where it starts', () => {
    const result = verify({ 'a.log': lines.slice(3) });
    expect(result.finding).toBeUndefined();
    expect(result.startsAt).toBe(4);
  });

  it('a new chain (seq 1, GENESIS) after a complete one is accepted and reported', () => {
    const second = chainOf(2).lines;
    const result = verify({ 'a.log': [...lines, ...second] });
    expect(result.finding).toBeUndefined();
    expect(result.chains).toBe(2);
    expect(result.chainStarts).toEqual([{ file: 'a.log', line: 11 }]);
  });

  it('continues a chain resumed from an existing head (a restart appending to the same file)', () => {
    const first = chainOf(3);
    const second = chainOf(2, first.head);
    expect(verify({ 'a.log': [...first.lines, ...second.lines] }).finding).toBeUndefined();
  });
});
