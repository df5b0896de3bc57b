// The hash chain that makes the audit log tamper-evident. Each record is serialised exactly once, as one JSON line
// `{"v":2,"time":…,"seq":N,…record…,"prev":H}`, where `seq` counts records in the log (1, 2, 3, … continuing across
// rotation and restarts) and `prev` is the lowercase hex SHA-256 of the previous line's exact UTF-8 bytes (without
// its newline), or GENESIS for the first record of a log. Editing, deleting or reordering any record but the last
// breaks a link that `leash audit verify` recomputes from the bytes on disk (verify.ts).
// Every line is one line to every reader: C0 and C1 controls, DEL and U+2028/U+2029 inside strings are written as
// `\uXXXX` (JSON.stringify leaves C1 and U+2028/9 raw, which Python's str.splitlines() and other Unicode-aware
// splitters break on, so a User-Agent holding U+0085 could otherwise forge a second record). The hash covers the
// line as written, so logs written before this escaping verify unchanged.
// What it cannot stop: someone with write access who rewrites every line after the one they change, or who cuts
// records off the end. The chain has no key; the head (last seq and hash), which leash prints at shutdown and
// verify prints, is the anchor to keep elsewhere.
// PURE: no I/O, no clock (the time is a parameter), no module state.

import { createHash } from 'node:crypto';

/** The record format version written in `v`: 2 added `seq` and `prev` (version 1 had no chain). */
export const AUDIT_FORMAT_VERSION = 2;

/** `prev` of the first record of a log: 64 zeros, the width of a SHA-256 hex digest. */
export const GENESIS = '0'.repeat(64);

/** The end of the chain so far: the last record's `seq` (0 before any) and the hash of its line. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export const EMPTY_CHAIN: ChainHead = { seq: 0, hash: GENESIS };

/** SHA-256 of a line's bytes (no trailing newline), lowercase hex. */
export function hashLine(line: string | Uint8Array): string {
  return createHash('sha256').update(line).digest('hex');
}

/**
 * Serialises `fields` as the next link after `head`: `v`, `time` and `seq` first (so a line reads well in `tail`),
 * then the record's own fields in their order, then `prev`. Returns the line (no newline) and the new head.
 * Fields named v, time, seq or prev in `fields` are ignored: only the chain sets them.
 */
export function chainLine(
  head: ChainHead,
  fields: Readonly<Record<string, unknown>>,
  time: string,
): { line: string; head: ChainHead } {
  const seq = head.seq + 1;
  const out: Record<string, unknown> = { v: AUDIT_FORMAT_VERSION, time, seq };
  for (const [key, value] of Object.entries(fields)) {
    if (key !== 'v' && key !== 'time' && key !== 'seq' && key !== 'prev') out[key] = value;
  }
  out.prev = head.hash;
  const line = escapeLineBreaks(JSON.stringify(out));
  return { line, head: { seq, hash: hashLine(line) } };
}

// In JSON text a backslash always starts an escape, so scanning pairs from the left never misreads `\\n` as `\n`.
const UNSAFE_IN_LINE = /\\(?:(\\)|([bfnrt]))|[\u007f-\u009f\u2028\u2029]/g;
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  b: '\\u0008',
  f: '\\u000c',
  n: '\\u000a',
  r: '\\u000d',
  t: '\\u0009',
};

/**
 * `json` (output of JSON.stringify) with every control character, DEL and U+2028/U+2029 as `\uXXXX`, including the
 * short escapes `\n`, `\t`, …, so that a line holds no character any reader could take for a line break and the
 * escaping of controls is one form throughout. Parses back to the same value.
 */
export function escapeLineBreaks(json: string): string {
  return json.replace(UNSAFE_IN_LINE, (match, backslash: string | undefined, short: string | undefined) => {
    if (backslash !== undefined) return match;
    if (short !== undefined) return SHORT_ESCAPES[short] ?? match;
    return `\\u${match.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** The `seq` and `prev` a parsed line claims, if it is a chained (v2) record. */
export function chainFields(record: unknown): { seq: number; prev: string } | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const { seq, prev } = record as { seq?: unknown; prev?: unknown };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof prev !== 'string' || !/^[0-9a-f]{64}$/.test(prev)) return undefined;
  return { seq, prev };
}

/**
 * The head to continue from when appending to a log whose last complete line is `line`; undefined when that line
 * is not a chained record (a v1 log, or not an audit log at all), in which case a new chain starts at GENESIS.
 */
export function resumeChain(line: string): ChainHead | undefined {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return undefined;
  }
  const fields = chainFields(record);
  return fields ? { seq: fields.seq, hash: hashLine(line) } : undefined;
}
