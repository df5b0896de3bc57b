// Checks the audit log's hash chain (chain.ts) line by line, from the exact bytes, and names the first place it
// breaks: a line that is not a record, a record whose `prev` is not the hash of the line before it (that line was
// altered, or a record was inserted or removed), a gap in `seq` (records deleted), or a `seq` that goes backwards
// (records reordered or duplicated). Fed lines in log order across files, so a chain continues across rotation.
// A record with seq 1 and prev GENESIS starts a new chain (a new log, or leash restarted without its old file).
// It cannot see records cut off the end; `head` is what to compare with an anchor kept elsewhere.
// PURE: no I/O, no clock; one verifier per run, no module state.

import { chainFields, GENESIS, hashLine } from './chain.js';

/** Where a line is: the file as given and its 1-based line number. */
export interface LineAt {
  readonly file: string;
  readonly line: number;
}

export type VerifyProblem = 'unreadable' | 'unchained' | 'incomplete' | 'broken_link' | 'gap' | 'reordered';

export interface VerifyFinding {
  readonly problem: VerifyProblem;
  readonly at: LineAt;
  readonly message: string;
}

export interface VerifyResult {
  readonly records: number;
  /** Chains seen: 1 for one log; more when leash started a new chain (a new log, or restarted without its file). */
  readonly chains: number;
  /** Where each chain after the first starts (the first 100). */
  readonly chainStarts: readonly LineAt[];
  /** The first seq seen, when it was not 1: earlier records are not in the input (rotated out, or deleted). */
  readonly startsAt: number | undefined;
  readonly head: { seq: number; hash: string; at: LineAt } | undefined;
  readonly finding: VerifyFinding | undefined;
}

export const formatAt = (at: LineAt): string => `${at.file}:${at.line}`;

interface Link {
  seq: number;
  hash: string;
  at: LineAt;
}

export class ChainVerifier {
  private last: Link | undefined;
  private records = 0;
  private chains = 0;
  private readonly chainStarts: LineAt[] = [];
  private startsAt: number | undefined;
  private found: VerifyFinding | undefined;
  /** A gap waits one record: if the next record fills it, the records were swapped, not deleted. */
  private pendingGap: { link: Link; before: Link } | undefined;

  /** True once a problem is found; further lines are ignored. */
  get failed(): boolean {
    return this.found !== undefined;
  }

  /** One line's exact bytes (without the newline); `terminated` is false for a last line with no newline. */
  add(bytes: Uint8Array, at: LineAt, terminated = true): void {
    if (this.found) return;
    if (!terminated) {
      this.fail(
        'incomplete',
        at,
        `${formatAt(at)}: incomplete last line (no newline): a write was cut short, or the file was truncated`,
      );
      return;
    }
    let record: unknown;
    try {
      record = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    } catch {
      this.fail('unreadable', at, `${formatAt(at)}: not a JSON record`);
      return;
    }
    const fields = chainFields(record);
    if (!fields) {
      const v = (record as { v?: unknown } | null)?.v;
      this.fail(
        'unchained',
        at,
        `${formatAt(at)}: record has no seq/prev${v === 1 ? ' (format v1, written before the chain existed)' : ''}: cannot be verified`,
      );
      return;
    }
    const link: Link = { seq: fields.seq, hash: hashLine(bytes), at };
    this.records++;

    if (this.pendingGap) {
      const { before, link: after } = this.pendingGap;
      if (link.seq > before.seq && link.seq < after.seq) {
        this.fail(
          'reordered',
          link.at,
          `${formatAt(link.at)}: record seq ${link.seq} comes after seq ${after.seq} (${formatAt(after.at)}): records are out of order`,
        );
        return;
      }
      this.reportGap(before, after);
      return;
    }

    const last = this.last;
    if (fields.seq === 1 && fields.prev === GENESIS) {
      this.chains++;
      if (last !== undefined && this.chainStarts.length < 100) this.chainStarts.push(at);
    } else if (fields.seq === 1) {
      this.fail(
        'broken_link',
        at,
        `${formatAt(at)}: record seq 1 must start a chain with prev ${GENESIS.slice(0, 8)}…, but prev is ${fields.prev.slice(0, 12)}…`,
      );
      return;
    } else if (last === undefined) {
      this.chains++;
      this.startsAt = fields.seq;
    } else if (fields.seq === last.seq + 1) {
      if (fields.prev !== last.hash) {
        this.fail(
          'broken_link',
          at,
          `${formatAt(at)}: broken link: prev is not the hash of the record before it (${formatAt(last.at)}, seq ${last.seq}): that record was altered, or records were inserted or removed between them`,
        );
        return;
      }
    } else if (fields.seq > last.seq + 1) {
      this.pendingGap = { before: last, link };
      this.last = link;
      return;
    } else {
      this.fail(
        'reordered',
        at,
        `${formatAt(at)}: record seq ${fields.seq} comes after seq ${last.seq} (${formatAt(last.at)}): records are out of order or duplicated`,
      );
      return;
    }
    this.last = link;
  }

  /** Ends the input; returns what was found. */
  finish(): VerifyResult {
    if (this.pendingGap && !this.found) this.reportGap(this.pendingGap.before, this.pendingGap.link);
    const head = this.last && !this.found ? { seq: this.last.seq, hash: this.last.hash, at: this.last.at } : undefined;
    return {
      records: this.records,
      chains: this.chains,
      chainStarts: this.chainStarts,
      startsAt: this.startsAt,
      head,
      finding: this.found,
    };
  }

  private reportGap(before: Link, after: Link): void {
    const missing = after.seq - before.seq - 1;
    this.fail(
      'gap',
      after.at,
      `${formatAt(after.at)}: gap: seq jumps from ${before.seq} (${formatAt(before.at)}) to ${after.seq}: ${missing} record${missing === 1 ? '' : 's'} missing`,
    );
  }

  private fail(problem: VerifyProblem, at: LineAt, message: string): void {
    this.found = { problem, at, message };
  }
}
