// Writes audit records as JSON lines through pino, to a file (appended) or stdout. Every record passes through
// redaction here, at the edge, so no code path can log a secret by forgetting to. Operational messages never go
// to this stream: they go to stderr, so the audit log stays one record per line.

import { once } from 'node:events';
import { pino, type Logger } from 'pino';
import type { AuditRecord } from './record.js';
import { redactRecord } from './redact.js';

/** Bumped when a field changes meaning; reviewers' tools can check it. */
export const AUDIT_FORMAT_VERSION = 1;

export interface AuditLog {
  write(record: AuditRecord): void;
  /** Flushes buffered records to the file and waits until they are written. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Records written since start. */
  readonly count: number;
}

export function openAuditLog(target: string): AuditLog {
  const destination = pino.destination({ dest: target === '-' ? 1 : target, append: true, mkdir: true, sync: false, minLength: 0 });
  const logger: Logger = pino(
    {
      base: undefined,
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      // pino puts the level first in every line; leash records have no levels, so that slot carries the record
      // format version instead (an empty object there would leave a stray comma).
      formatters: { level: () => ({ v: AUDIT_FORMAT_VERSION }) },
    },
    destination,
  );
  let count = 0;
  let closed = false;
  return {
    get count() {
      return count;
    },
    write(record) {
      if (closed) return;
      const { time: _time, ...rest } = redactRecord(record);
      logger.info(rest);
      count++;
    },
    async flush() {
      if (closed) return;
      await new Promise<void>((resolve, reject) => destination.flush((err) => (err ? reject(err) : resolve())));
    },
    async close() {
      if (closed) return;
      closed = true;
      destination.flushSync();
      if (target === '-') return;
      const done = once(destination, 'close');
      destination.end();
      await done;
    },
  };
}
