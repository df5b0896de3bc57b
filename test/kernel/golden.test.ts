// Golden files: the exact text `leash rules` prints for each format and each named ruleset. A change to a
// generator shows up here as a diff an operator would review; when it is intended, regenerate with
//   UPDATE_GOLDEN=1 npx vitest run test/kernel/golden.test.ts
// and review the diff of test/kernel/golden/ like any other change. The nft and iptables files are also loaded
// into a real kernel (in a network namespace) by e2e.test.ts; the pf files are reviewed against pf.conf(5) only.

import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderIptables } from '../../src/kernel/iptables.js';
import type { Ruleset } from '../../src/kernel/model.js';
import { renderNft } from '../../src/kernel/nft.js';
import { renderPf } from '../../src/kernel/pf.js';
import { GOLDEN_CASES, goldenRuleset } from './cases.js';

const GOLDEN_DIR = fileURLToPath(new URL('./golden/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const FORMATS: ReadonlyArray<[format: string, extension: string, render: (r: Ruleset) => string]> = [
  ['nft', 'nft', renderNft],
  ['iptables', 'rules', renderIptables],
  ['pf', 'pf.conf', renderPf],
];

const rows = Object.keys(GOLDEN_CASES).flatMap((name) =>
  FORMATS.map(([format, ext, render]) => [name, format, `${name}.${ext}`, render] as const),
);

describe('golden files', () => {
  it.each(rows)('%s as %s matches golden/%s', async (name, _format, file, render) => {
    const actual = render(goldenRuleset(name));
    const path = `${GOLDEN_DIR}${file}`;
    if (UPDATE) await writeFile(path, actual);
    expect(existsSync(path), `${file} is missing; create it with UPDATE_GOLDEN=1`).toBe(true);
    expect(actual).toBe(await readFile(path, 'utf8'));
  });

  it('rendering is deterministic: the same ruleset renders byte for byte the same', () => {
    for (const name of Object.keys(GOLDEN_CASES)) {
      for (const [, , render] of FORMATS) expect(render(goldenRuleset(name))).toBe(render(goldenRuleset(name)));
    }
  });
});
