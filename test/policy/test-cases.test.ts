// Running policy test cases: a case passes when the policy decides as it expects (effect, and the rule and reason
// when given), deciding an https:// request as serve does; a failure says what was expected and what was decided;
// a case naming an agent or rule the policy lacks fails whatever the decision.

import { describe, expect, it } from 'vitest';
import { runPolicyTests } from '../../src/policy/test-cases.js';
import { parseTestFile } from '../../src/policy/test-file.js';
import { compile } from './compile.js';

const POLICY = compile(`version: 1
agents: { research: { uid: 1001 } }
rules:
  - { name: openai, domain: api.openai.com, ports: [443], effect: allow }
  - { name: docs-admin, domain: docs.example.com, ports: [443], paths: ["/admin/**"], effect: deny }
  - { name: docs, domain: docs.example.com, ports: [443], methods: [GET], effect: allow }
  - { name: papers, domain: papers.example.org, agents: [research], effect: allow }
  - { name: exfil, domain: "*.attacker.test", effect: deny }
`);

function run(caseYaml: string) {
  const parsed = parseTestFile('t.yaml', `- ${caseYaml}\n`);
  if (parsed.issues.length > 0) throw new Error(JSON.stringify(parsed.issues));
  const [result] = runPolicyTests(POLICY, parsed.cases).results;
  if (!result) throw new Error('no result');
  return result;
}

describe('cases that pass', () => {
  it.each<[name: string, caseYaml: string]>([
    [
      'an allow by its rule',
      '{ request: GET https://api.openai.com/v1/models, expect: allow, rule: openai, reason: allowed_by_rule }',
    ],
    [
      'an https:// request is decided on its CONNECT when the tunnel is spliced',
      '{ request: DELETE https://api.openai.com/v1/files/x, expect: allow, rule: openai }',
    ],
    [
      'the CONNECT of an intercepted host',
      '{ request: CONNECT docs.example.com:443, expect: allow, rule: docs, reason: intercepted }',
    ],
    [
      'inside an intercepted tunnel, each request on its own',
      '{ request: GET https://docs.example.com/guide, expect: allow, rule: docs, reason: allowed_by_rule }',
    ],
    [
      '... a method the rule does not allow',
      '{ request: POST https://docs.example.com/guide, expect: deny, reason: no_rule }',
    ],
    [
      '... a path a deny rule names',
      '{ request: GET https://docs.example.com/admin/users, expect: deny, rule: docs-admin, reason: denied_by_rule }',
    ],
    [
      'an agent a rule names',
      '{ request: GET https://papers.example.org/, agent: research, expect: allow, rule: papers }',
    ],
    [
      'anonymous, which every policy knows',
      '{ request: GET https://papers.example.org/, agent: anonymous, expect: deny, reason: no_rule }',
    ],
    ['a deny rule on every port', '{ request: CONNECT a.attacker.test:8080, expect: deny, rule: exfil }'],
    ['an opaque tunnel', '{ request: CONNECT api.openai.com:22, expect: deny, reason: no_rule }'],
    ['a host that does not parse', '{ request: "GET http://a..b/", expect: deny }'],
    [
      'a time changes nothing today',
      '{ request: GET https://api.openai.com/, time: 2026-11-22T03:00:00+01:00, expect: allow }',
    ],
  ])('%s', (_name, caseYaml) => {
    const result = run(caseYaml);
    expect(result.failure).toBeUndefined();
    expect(result.passed).toBe(true);
  });
});

describe('cases that fail, and what the failure says', () => {
  it.each<[name: string, caseYaml: string, failure: string]>([
    ['the wrong effect', '{ request: GET http://example.com/, expect: allow }', 'expected allow, got deny (no_rule)'],
    [
      'the wrong rule',
      '{ request: CONNECT a.attacker.test:443, expect: deny, rule: openai }',
      'expected deny (rule openai), got deny (rule exfil at t.yaml:8, denied_by_rule)',
    ],
    [
      'the wrong reason',
      '{ request: CONNECT docs.example.com:443, expect: allow, reason: allowed_by_rule }',
      'expected allow (allowed_by_rule), got allow (rule docs at t.yaml:6, intercepted)',
    ],
    [
      'an inner request expected where serve decides the tunnel whole',
      '{ request: DELETE https://api.openai.com/x, expect: deny }',
      'expected deny, got allow (rule openai at t.yaml:4, allowed_by_rule)',
    ],
    [
      'an agent the policy does not define (a typo)',
      '{ request: GET https://papers.example.org/, agent: reserch, expect: deny }',
      'agent "reserch" is not defined in the policy (defined: research, anonymous)',
    ],
    [
      'a rule the policy does not have',
      '{ request: GET https://api.openai.com/, expect: allow, rule: open-ai }',
      'the policy has no rule named "open-ai"',
    ],
  ])('%s', (_name, caseYaml, failure) => {
    const result = run(caseYaml);
    expect(result.passed).toBe(false);
    expect(result.failure).toBe(failure);
  });

  it('a failure carries the trace of the rules whose host matches, and the tunnel decision', () => {
    const result = run('{ request: DELETE https://docs.example.com/x, expect: allow }');
    expect(result.intercepted).toBe(true);
    expect(result.tunnel).toMatchObject({ effect: 'allow', reason: 'intercepted', rule: 'docs' });
    expect(result.trace.map((t) => [t.rule, t.how])).toEqual([
      ['docs-admin', 'skipped'],
      ['docs', 'skipped'],
    ]);
    expect(result.decided.message).toContain(
      'rule docs decides for this host and does not allow it (method DELETE is not in [GET])',
    );
  });
});

it('counts passes and failures over a file', () => {
  const parsed = parseTestFile(
    't.yaml',
    '- { request: GET https://api.openai.com/, expect: allow }\n- { request: GET https://api.openai.com/, expect: deny }\n- { request: GET http://x.test/, expect: deny }\n',
  );
  expect(runPolicyTests(POLICY, parsed.cases)).toMatchObject({ passed: 2, failed: 1 });
});
