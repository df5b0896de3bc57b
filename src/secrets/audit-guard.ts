// The audit log's last line of defence for secrets: every record is scrubbed of the exact values leash holds for
// `secrets:` before the usual redaction (redact.ts) sees it. No code path is meant to put a value into a record;
// this makes sure that one that did (an upstream error quoting a header, a future field) still writes none.

import type { AuditLog } from '../audit/logger.js';
import { redactValues } from '../audit/redact.js';

/** An audit log that removes `values()` (the secret values of the revisions in use) from every record. */
export function withoutSecretValues(audit: AuditLog, values: () => readonly string[]): AuditLog {
  return {
    write: (record) => {
      const held = values();
      audit.write(held.length > 0 ? redactValues(record, held) : record);
    },
    flush: () => audit.flush(),
    close: () => audit.close(),
    reopen: () => audit.reopen(),
    get count() {
      return audit.count;
    },
    get head() {
      return audit.head;
    },
  };
}
