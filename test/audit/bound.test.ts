// The size cap on audit records (issue 19): long strings and lists are cut with a marker that gives the original
// size, after redaction, so a cut never leaves part of a secret behind.

import { describe, expect, it } from 'vitest';
import { boundRecord, MAX_FIELD_CHARS, MAX_LIST_ITEMS } from '../../src/audit/bound.js';
import { REDACTED, redactFlatRecord } from '../../src/audit/redact.js';
import { findLeak, RULE_SAMPLES } from './secret-samples.js';

const capped = (record: Record<string, unknown>) => boundRecord(redactFlatRecord(record), record);

describe('boundRecord', () => {
  it.each<[name: string, value: string, expected: string]>([
    ['a short value stays', '/v1/models', '/v1/models'],
    ['exactly the limit stays', 'x'.repeat(MAX_FIELD_CHARS), 'x'.repeat(MAX_FIELD_CHARS)],
    [
      'one over is cut with the original length',
      'x'.repeat(MAX_FIELD_CHARS + 1),
      `${'x'.repeat(MAX_FIELD_CHARS)}…[truncated from ${MAX_FIELD_CHARS + 1} chars]`,
    ],
    [
      'a megabyte path',
      `/${'a'.repeat(1 << 20)}`,
      `/${'a'.repeat(MAX_FIELD_CHARS - 1)}…[truncated from ${(1 << 20) + 1} chars]`,
    ],
    [
      'never inside a surrogate pair',
      `${'x'.repeat(MAX_FIELD_CHARS - 1)}😀😀`,
      `${'x'.repeat(MAX_FIELD_CHARS - 1)}…[truncated from ${MAX_FIELD_CHARS + 3} chars]`,
    ],
  ])('%s', (_name, value, expected) => {
    expect(capped({ path: value }).path).toBe(expected);
  });

  it('never cuts inside [REDACTED]', () => {
    const path = `/${'x'.repeat(MAX_FIELD_CHARS - 5)}/${RULE_SAMPLES['groq-api-key']![0]}/${'y'.repeat(50)}`;
    const out = capped({ path }).path as string;
    expect(out).toBe(`/${'x'.repeat(MAX_FIELD_CHARS - 5)}/…[truncated from ${path.length} chars]`);
  });

  it('cuts after redaction: a secret straddling the cut leaves no recognisable part of itself', () => {
    for (const [id, samples] of Object.entries(RULE_SAMPLES)) {
      for (const sample of samples) {
        for (const offset of [1, 8, 20, Math.floor(sample.length / 2)]) {
          const text = `${'a '.repeat((MAX_FIELD_CHARS - offset) >> 1)}${sample} tail`;
          const out = capped({ message: text, path: `/${'b'.repeat(MAX_FIELD_CHARS - offset - 2)}/${sample}` });
          expect(findLeak(JSON.stringify(out), sample), `${id} cut at ${offset}`).toBeUndefined();
        }
      }
    }
  });

  it('caps lists and the strings inside lists and nested objects', () => {
    const errors = Array.from({ length: MAX_LIST_ITEMS + 10 }, (_, i) => `error ${i}`);
    const out = capped({ errors, grant: { sourceUrl: `https://docs.test/${'p'.repeat(5000)}` } });
    expect(out.errors).toHaveLength(MAX_LIST_ITEMS + 1);
    expect((out.errors as string[]).at(-1)).toBe(`…[truncated from ${MAX_LIST_ITEMS + 10} items]`);
    expect((out.grant as { sourceUrl: string }).sourceUrl).toMatch(/…\[truncated from 5018 chars\]$/);
  });

  it('leaves a record with nothing long as it is', () => {
    const record = { id: 'a', path: `/x?token=${REDACTED}`, client: { address: '127.0.0.1', port: 1 }, bytesIn: 3 };
    expect(capped(record)).toEqual(record);
  });
});
