// Writes audit records as JSON lines to a file (appended, rotated by size, reopened on request) or to stdout.
// Every record passes through redaction here, at the edge, so no code path can log a secret by forgetting to, then
// through the size cap (bound.ts: after redaction, so a cut never splits a secret), and through the hash chain
// (chain.ts), so every line carries `seq` and the hash of the line before it. Operational messages never go to this
// stream: they go to stderr, so the audit log stays one record per line.
// The chain is extended synchronously in write(), in call order, and lines reach the file in that same order
// (file-sink.ts), so the chain on disk is the order records were written, whatever the load.

import { pino } from 'pino';
import { LeashError } from '../errors.js';
import { boundRecord } from './bound.js';
import { chainLine, EMPTY_CHAIN, resumeChain, type ChainHead } from './chain.js';
import { FileSink } from './file-sink.js';
import type { AuditRecord } from './record.js';
import { redactFlatRecord } from './redact.js';

/** Bumped when a field changes meaning; reviewers' tools can check it. 2: `seq` and `prev` (the hash chain). */
export { AUDIT_FORMAT_VERSION, GENESIS } from './chain.js';

export interface AuditLog {
  write(record: AuditRecord): void;
  /** Flushes buffered records to the file and waits until they are written. */
  flush(): Promise<void>;
  /** Writes what is buffered, fsyncs and closes; rejects if records could not be written. */
  close(): Promise<void>;
  /** Reopens the file at its path (after logrotate moved it: SIGUSR2); a no-op for stdout. */
  reopen(): Promise<void>;
  /** Records written since start. */
  readonly count: number;
  /** The end of the chain: the last record's seq and the SHA-256 of its line. */
  readonly head: ChainHead;
  /** How long the oldest record not yet in the file has waited, in ms (files; 0 otherwise). */
  lagMs?(): number;
}

export interface AuditLogOptions {
  /** Rotate the file before it would exceed this many bytes (files only). */
  readonly maxBytes?: number;
  /** Rotated files to keep: PATH.1 … PATH.keep (default 5). */
  readonly keep?: number;
  /** fsync at most this long after a write (default 1000 ms). */
  readonly syncIntervalMs?: number;
  /** Operational messages (stderr in the CLI): where the chain resumed, write and rotation failures. */
  readonly log?: (line: string) => void;
  /** The clock for `time` (tests inject one). */
  readonly now?: () => Date;
}

export const DEFAULT_AUDIT_KEEP = 5;

interface LineSink {
  write(line: string): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  reopen(): Promise<void>;
  lagMs?(): number;
}

export function openAuditLog(target: string, options: AuditLogOptions = {}): AuditLog {
  const log = options.log ?? (() => {});
  const now = options.now ?? (() => new Date());
  let sink: LineSink;
  let head: ChainHead = EMPTY_CHAIN;
  if (target === '-') {
    if (options.maxBytes !== undefined)
      throw new LeashError('LEASH_USAGE', '--audit-max-size needs --audit FILE (stdout cannot be rotated)');
    sink = stdoutSink();
  } else {
    let file: FileSink;
    try {
      file = new FileSink(target, {
        maxBytes: options.maxBytes,
        keep: options.keep,
        syncIntervalMs: options.syncIntervalMs,
        onError: (err) => log(`leash: ${err.message}`),
      });
    } catch (err) {
      throw new LeashError('LEASH_AUDIT', `cannot open the audit log ${target}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    sink = file;
    const resumed = file.tail === undefined ? undefined : resumeChain(file.tail);
    if (file.repairedTail)
      log(
        `leash: ${target} ended in an incomplete line (a crash while writing?); it was ended with a newline and a new chain starts (leash audit verify will point at it)`,
      );
    if (resumed && !file.repairedTail) {
      head = resumed;
      log(`leash: audit log ${target}: continuing the chain at seq ${head.seq + 1}`);
    } else if (file.tail !== undefined && !file.repairedTail) {
      log(`leash: audit log ${target}: its last line is not a chained record; a new chain starts at seq 1`);
    }
  }

  let count = 0;
  let closed = false;
  return {
    get count() {
      return count;
    },
    get head() {
      return head;
    },
    write(record) {
      if (closed) return;
      const { time: _time, ...rest } = boundRecord(redactFlatRecord(record), record);
      const time = now().toISOString();
      let next: ReturnType<typeof chainLine>;
      try {
        next = chainLine(head, rest, time);
      } catch (err) {
        // Records are plain data and always serialise; if one ever does not, the chain still gets a line for it.
        const { id, event, agent, effect, reason } = record;
        next = chainLine(
          head,
          {
            id,
            event,
            agent,
            effect,
            reason,
            message: `audit record could not be serialised: ${(err as Error).message}`,
          },
          time,
        );
      }
      head = next.head;
      sink.write(next.line);
      count++;
    },
    flush: () => (closed ? Promise.resolve() : sink.flush()),
    lagMs: () => sink.lagMs?.() ?? 0,
    reopen: () => (closed ? Promise.resolve() : sink.reopen()),
    async close() {
      if (closed) return;
      closed = true;
      await sink.close();
    },
  };
}

/**
 * Parses `--audit-max-size` (bytes, or with K/M/G for KiB/MiB/GiB: `100M`, `1G`, `512K`; a trailing `B`/`iB` is
 * allowed) and `--audit-keep` (1 to 1000).
 */
export function parseRotation(
  maxSize: string | undefined,
  keep: string | undefined,
): { maxBytes?: number; keep?: number } {
  const out: { maxBytes?: number; keep?: number } = {};
  if (maxSize !== undefined) {
    const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(maxSize.trim());
    const bytes = m ? Math.floor(Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase())) : NaN;
    if (!m || !(bytes >= 1))
      throw new LeashError('LEASH_USAGE', `--audit-max-size needs a size such as 100M, 1G or 500K, got "${maxSize}"`);
    out.maxBytes = bytes;
  }
  if (keep !== undefined) {
    if (maxSize === undefined)
      throw new LeashError('LEASH_USAGE', '--audit-keep applies to --audit-max-size rotation; give both');
    const n = /^\d+$/.test(keep) ? Number(keep) : NaN;
    if (!(n >= 1 && n <= 1000))
      throw new LeashError('LEASH_USAGE', `--audit-keep needs a whole number from 1 to 1000, got "${keep}"`);
    out.keep = n;
  }
  return out;
}

function stdoutSink(): LineSink {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 0 });
  return {
    write: (line) => destination.write(`${line}\n`),
    flush: () => new Promise<void>((resolve, reject) => destination.flush((err) => (err ? reject(err) : resolve()))),
    reopen: () => Promise.resolve(),
    close: async () => destination.flushSync(),
  };
}
