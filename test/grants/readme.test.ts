// The grant codes are an interface like the reason codes: each audit-only reason and each `grant.skipped` value
// must be documented in the README.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SKIP_REASONS } from '../../src/grants/select.js';
import { AUDIT_REASONS } from '../../src/proxy/reasons.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('grant codes in the README', () => {
  it.each(Object.keys(AUDIT_REASONS))('audit-only reason %s is in the reason table', (code) => {
    expect(readme).toMatch(new RegExp(`\\| \`${code}\` \\| — \\|`));
  });

  it.each(Object.keys(SKIP_REASONS))('grant.skipped %s is in the skip table', (code) => {
    expect(readme).toMatch(new RegExp(`^\\| \`${code}\` \\| `, 'm'));
  });
});
