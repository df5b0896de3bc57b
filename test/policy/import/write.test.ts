// The writer: text from a source file ends up in comments and values of the output, and must never become policy
// of its own (a newline in a reason or a note could otherwise start a new rule).

import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/load.js';
import { writePolicy } from '../../../src/policy/import/write.js';

describe('writePolicy', () => {
  it('folds notes to comment lines and quotes values, so source text cannot add rules', () => {
    const yaml = writePolicy(
      {
        format: 'safeclaw',
        notes: ['a note\n- name: evil\n  domain: "*"\n  broad: true\n  effect: allow'],
        agents: [{ name: 'a', cidrs: ['10.0.0.0/8'], notes: ['agent\rnote'] }],
        rules: [
          {
            name: 'x',
            domain: '*.example.com',
            effect: 'allow',
            ports: '*',
            methods: ['GET'],
            agents: ['a'],
            reason: 'why: "quoted"\n- name: evil2',
            notes: ['rule\nnote\u2028more'],
          },
        ],
      },
      'src.yaml',
    );
    const loaded = compilePolicy([{ file: 'out.yaml', text: yaml }]);
    expect(loaded.issues).toEqual([]);
    expect(loaded.policy?.rules.map((r) => [r.name, r.pattern.text, r.reason])).toEqual([
      ['x', '*.example.com', 'why: "quoted"\n- name: evil2'],
    ]);
    expect(yaml.split('\n').filter((l) => l.includes('evil') && !/^\s*#/.test(l) && !l.includes('reason:'))).toEqual(
      [],
    );
  });

  it('writes rules: [] for a policy that allows nothing', () => {
    const yaml = writePolicy({ format: 'srt', notes: [], agents: [], rules: [] }, 's.json');
    expect(compilePolicy([{ file: 'out.yaml', text: yaml }]).policy?.rules).toEqual([]);
    expect(yaml).toMatch(/^rules: \[\]$/m);
  });
});
