// SafeClaw policy → leash: the imported policy decides the fixture's requests as SafeClaw would under the
// semantics the importer assumes and states (first matching rule decides, default deny; SafeClaw sees each
// request, so an https:// request here is one request inside an intercepted tunnel).

import { describe, expect, it } from 'vitest';
import { importSafeClaw } from '../../../src/policy/import/safeclaw.js';
import { importFixture, leashVerdict, type SourceVerdict } from './round-trip.js';

interface Row {
  readonly name: string;
  readonly request: string;
  readonly safeclaw: SourceVerdict;
}

describe('leash policy import --from safeclaw', () => {
  const { policy, yaml, warnings } = importFixture('safeclaw', 'safeclaw.yaml');

  it.each<Row>([
    { name: 'the first rule: GET allowed', request: 'GET https://api.github.com/repos/a/b', safeclaw: 'allow' },
    {
      name: 'a write caught by the second rule (a wildcard after an exact host)',
      request: 'POST https://api.github.com/repos/a/b/issues',
      safeclaw: 'deny',
    },
    { name: 'PUT denied under the wildcard', request: 'PUT https://uploads.github.com/x', safeclaw: 'deny' },
    {
      name: 'other methods fall through to the third rule',
      request: 'DELETE https://api.github.com/repos/a/b/x',
      safeclaw: 'allow',
    },
    { name: 'a subdomain, read', request: 'GET https://raw.github.com/a/b/main/README.md', safeclaw: 'allow' },
    { name: 'the apex is not under *.github.com', request: 'GET https://github.com/', safeclaw: 'deny' },
    { name: 'a denied host', request: 'GET https://pastebin.com/raw/x', safeclaw: 'deny' },
    { name: 'a method list', request: 'POST https://api.openai.com/v1/chat/completions', safeclaw: 'allow' },
    { name: 'outside a method list', request: 'DELETE https://api.openai.com/v1/files/x', safeclaw: 'deny' },
    { name: 'unmatched: default deny', request: 'GET https://example.com/', safeclaw: 'deny' },
  ])('$name: $request → $safeclaw', ({ request, safeclaw }) => {
    expect(leashVerdict(policy, request)).toBe(safeclaw);
  });

  it('carries the rate limit and reason, says what it assumed and skipped, and loads without warnings', () => {
    expect(policy.rules.find((r) => r.name === 'api.github.com')).toMatchObject({
      rateLimit: { limit: 60, windowMs: 60_000 },
      reason: 'Read repositories',
    });
    expect(yaml).toMatch(/not published where leash could read it/);
    expect(yaml).toMatch(/skipped: the rule at line 27 \(action "filesystem.write"\)/);
    expect(warnings).toEqual([]);
  });

  it('reads "1 minute", "30 seconds", "2 hours" and "1 day" windows', () => {
    const windows = ['1 minute', '30 seconds', '2 hours', '1 day'].map((window) => {
      const result = importSafeClaw(
        'p.yaml',
        `rules:\n  - action: network.request\n    domain: a.example\n    effect: allow\n    rateLimit: { maxRequests: 5, window: "${window}" }\n`,
      );
      return result.ok ? result.policy.rules[0]?.rateLimit : undefined;
    });
    expect(windows).toEqual(['5/1m', '5/30s', '5/2h', '5/24h']);
  });

  it.each([
    [
      'a domain leash cannot read',
      'rules:\n  - action: network.request\n    domain: "a.*.example"\n    effect: allow\n',
      3,
      /whole leading label/,
    ],
    [
      'an unknown effect',
      'rules:\n  - action: network.request\n    domain: a.example\n    effect: maybe\n',
      4,
      /effect must be/,
    ],
    [
      'an unknown method',
      'rules:\n  - action: network.request\n    domain: a.example\n    method: FETCH\n    effect: allow\n',
      4,
      /method must be/,
    ],
    [
      'a window it cannot read',
      'rules:\n  - action: network.request\n    domain: a.example\n    effect: allow\n    rateLimit: { maxRequests: 5, window: "fortnight" }\n',
      5,
      /rateLimit.window/,
    ],
    ['no rules', 'name: x\n', 1, /list of rules/],
  ])('refuses %s, naming the line', (_name, text, line, message) => {
    const result = importSafeClaw('p.yaml', text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]).toMatchObject({
      location: { file: 'p.yaml', line },
      message: expect.stringMatching(message),
    });
  });
});
