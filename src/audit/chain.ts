// The hash chain that makes the audit log tamper-evident. Each record is serialised exactly once, as one JSON line
// `{"v":2,"time":…,"seq":N,…record…,"prev":H}`, where `seq` counts records in the log (1, 2, 3, … continuing across
// rotation and restarts) and `prev` is the lowercase hex SHA-256 of the previous line's exact UTF-8 bytes (without
// its newline), or GENESIS for the first record of a log. Editing, deleting or reordering any record but the last
// breaks a link that `leash audit verify` recomputes from the bytes on disk (verify.ts).
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
export function chainLine(head: ChainHead, fields: Readonly<Record<string, unknown>>, time: string): { line: string; head: ChainHead } {
  const seq = head.seq + 1;
  const out: Record<string, unknown> = { v: AUDIT_FORMAT_VERSION, time, seq };
  for (const [key, value] of Object.entries(fields)) {
    if (key !== 'v' && key !== 'time' && key !== 'seq' && key !== 'prev') out[key] = value;
  }
  out.prev = head.hash;
  const line = JSON.stringify(out);
  return { line, head: { seq, hash: hashLine(line) } };
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
