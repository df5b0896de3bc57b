// The audit log's last line of defence: were a secret's value ever to reach a record (an upstream error quoting a
// header, a future field), it is removed, as written, percent-encoded or in base64, before anything is written.
// Placeholders are not secrets: they stay, so an investigation can see what was sent.

import { describe, expect, it } from 'vitest';
import type { AuditLog } from '../../src/audit/logger.js';
import { newRecord, type AuditRecord } from '../../src/audit/record.js';
import { redactValues } from '../../src/audit/redact.js';
import { withoutSecretValues } from '../../src/secrets/audit-guard.js';

const VALUE = 'plainword-REALKEY-forapi';
const PH = 'leash-ph-openai-0123456789abcdef0123456789abcdef';

describe('redactValues', () => {
  it.each([
    { name: 'as written', text: `upstream said: bad key ${VALUE}` },
    { name: 'percent-encoded', text: `/x?k=${encodeURIComponent(`${VALUE}/`)}` },
    { name: 'in base64', text: `Basic ${Buffer.from(VALUE).toString('base64')}` },
    { name: 'in base64url', text: `t=${Buffer.from(VALUE).toString('base64url')}` },
  ])('$name', ({ text }) => {
    const out = redactValues({ message: text, nested: { list: [text] } }, [VALUE]);
    expect(JSON.stringify(out)).not.toContain(VALUE);
    expect(JSON.stringify(out)).not.toContain(Buffer.from(VALUE).toString('base64').replace(/=+$/, ''));
    expect(out.message).toContain('[REDACTED]');
  });

  it('leaves placeholders and everything else alone, and returns the record itself when there is nothing to hold', () => {
    const record = { message: `sent ${PH} to evil.test` };
    expect(redactValues(record, [VALUE])).toEqual(record);
    expect(redactValues(record, [])).toBe(record);
  });
});

describe('withoutSecretValues', () => {
  it('scrubs every record with the values held at the time of writing', () => {
    const written: AuditRecord[] = [];
    const inner: AuditLog = {
      write: (r) => written.push(r),
      flush: async () => {},
      close: async () => {},
      reopen: async () => {},
      count: 0,
      head: { seq: 0, hash: '' },
    };
    let held: string[] = [];
    const audit = withoutSecretValues(inner, () => held);
    audit.write(newRecord('1', 'request', 'rev', { message: `a ${VALUE}` }));
    held = [VALUE];
    audit.write(newRecord('2', 'request', 'rev', { message: `a ${VALUE}`, path: `/x?q=${VALUE}` }));
    expect(written[0]?.message).toBe(`a ${VALUE}`);
    expect(JSON.stringify(written[1])).not.toContain(VALUE);
  });
});
