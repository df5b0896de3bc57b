// Reason codes are an interface: reviewers' tools and agents branch on them. Each one must be documented, and
// each refusal status must be one an HTTP client understands.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REASONS } from '../../src/proxy/reasons.js';
import { decisionHeader, reasonPhrase } from '../../src/proxy/respond.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('the reason catalogue', () => {
  it.each(Object.entries(REASONS))('%s is documented in the README with its status', (code, { status }) => {
    expect(readme).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
  });

  it('the decision header names rule and reason', () => {
    expect(decisionHeader('deny', 'metadata', 'denied_by_rule')).toBe('deny; rule=metadata; reason=denied_by_rule');
    expect(decisionHeader('deny', null, 'no_rule')).toBe('deny; reason=no_rule');
  });

  it.each([
    { name: 'a deny rule with a reason', rule: 'metadata', ruleReason: 'cloud metadata endpoint', reason: 'denied_by_rule' as const, phrase: 'Blocked by leash (rule metadata: cloud metadata endpoint)' },
    { name: 'no rule', rule: null, ruleReason: null, reason: 'no_rule' as const, phrase: 'Blocked by leash (no rule allows this host)' },
    { name: 'non-ASCII in the rule reason', rule: 'x', ruleReason: 'naïve\r\nInjected: header', reason: 'denied_by_rule' as const, phrase: 'Blocked by leash (rule x: na?ve??Injected: header)' },
    { name: 'a gateway failure', rule: 'api', ruleReason: null, reason: 'dns_failure' as const, phrase: 'leash: the host name could not be resolved (dns_failure)' },
  ])('reason phrase for $name is printable ASCII naming the decision', ({ rule, ruleReason, reason, phrase }) => {
    expect(reasonPhrase({ reason, rule, message: '', requestId: 'id' }, ruleReason)).toBe(phrase);
  });
});
