// The error catalogue is closed and documented: every LEASH_* code has a row in the README's table, and the table
// names no code the catalogue lacks.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const documented = new Set([...readme.matchAll(/^\| `(LEASH_[A-Z_]+)` \|/gm)].map((m) => m[1]));

describe('error codes', () => {
  it.each(Object.keys(ERROR_CODES))('%s has a row in the README', (code) => {
    expect(documented.has(code)).toBe(true);
  });

  it('the README documents no code the catalogue lacks', () => {
    expect([...documented].filter((code) => code !== undefined && !(code in ERROR_CODES))).toEqual([]);
  });
});
