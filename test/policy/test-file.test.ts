// Policy test files: what a valid file turns into, and one invalid fixture per validation rule, each with the line
// and the message an operator sees (file:line:column, the field, what is allowed).

import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../src/errors.js';
import { parseRequestText } from '../../src/policy/request-line.js';
import { parseTestFile } from '../../src/policy/test-file.js';

describe('a valid test file', () => {
  const text = `# tests
- { request: GET https://api.openai.com/v1/models, expect: allow, rule: openai }
- request: "CONNECT  evil.test:443"
  agent: research
  time: 2026-11-22T09:00:00Z
  expect: deny
  reason: no_rule
  name: no tunnels to evil
`;
  const parsed = parseTestFile('t/tests.yaml', text);

  it('has no issues, and each case knows the line it starts on', () => {
    expect(parsed.issues).toEqual([]);
    expect(
      parsed.cases.map((c) => [c.location.line, c.request, c.agent, c.expect, c.rule, c.reason, c.name, c.time]),
    ).toEqual([
      [2, 'GET https://api.openai.com/v1/models', undefined, 'allow', 'openai', undefined, undefined, undefined],
      [
        3,
        'CONNECT evil.test:443',
        'research',
        'deny',
        undefined,
        'no_rule',
        'no tunnels to evil',
        '2026-11-22T09:00:00Z',
      ],
    ]);
  });

  it('an https:// request is its CONNECT first, with the request inside', () => {
    expect(parsed.cases[0]?.line).toEqual({
      facts: { method: 'CONNECT', host: 'api.openai.com', port: 443, agent: undefined },
      inner: { method: 'GET', host: 'api.openai.com', port: 443, path: '/v1/models', agent: undefined },
    });
  });
});

describe('request lines', () => {
  it.each<[text: string, expected: string]>([
    ['GET http://example.com/a?b=1', 'GET example.com:80 /a?b=1'],
    ['get http://example.com:8080/', 'GET example.com:8080 /'],
    ['POST https://api.example.com/v1', 'CONNECT api.example.com:443, inside POST /v1'],
    ['GET https://api.example.com:8443/', 'CONNECT api.example.com:8443, inside GET /'],
    ['CONNECT [2001:db8::1]:443', 'CONNECT 2001:db8::1:443'],
    ['CONNECT api.example.com:22', 'CONNECT api.example.com:22'],
  ])('%s', (text, expected) => {
    const parsed = parseRequestText(text);
    if (!parsed.ok) throw new Error(parsed.message);
    const { facts, inner } = parsed.line;
    const first = `${facts.method} ${facts.host.replace(/^\[|\]$/g, '')}:${facts.port}${facts.path !== undefined ? ` ${facts.path}` : ''}`;
    expect(inner ? `${first}, inside ${inner.method} ${inner.path}` : first).toBe(expected);
  });
});

describe('invalid test files: each error names file:line:column, the field and what is allowed', () => {
  it.each<[name: string, text: string, expected: string]>([
    [
      'a mapping instead of a list',
      'request: GET http://a.test/\nexpect: allow\n',
      't.yaml:1:1: (file): expected a list of cases, each with request and expect, got a mapping',
    ],
    [
      'an empty file',
      '',
      't.yaml:1:1: (file): expected a list of cases, each with request and expect, got null (an empty value)',
    ],
    [
      'an empty list',
      '[]\n',
      't.yaml:1:1: (file): must not be empty; allowed: a list of cases, each with request and expect',
    ],
    ['YAML syntax', '- { request: GET http://a.test/, expect: allow\n', 't.yaml:2:1: (file): YAML syntax:'],
    ['an alias', '- &a { request: GET http://a.test/, expect: allow }\n- *a\n', 'YAML aliases (*name) are not allowed'],
    ['a case without expect', '- { request: GET http://a.test/ }\n', 't.yaml:1:3: [0].expect: is required'],
    [
      'a case without request',
      '- ok\n- { expect: allow }\n',
      't.yaml:1:3: [0]: expected a case: request, expect, and optionally name, agent, time, rule, reason, got "ok"',
    ],
    [
      'a typo in a key',
      '- { request: GET http://a.test/, expect: allow, rul: x }\n',
      't.yaml:1:49: [0].rul: unknown key "rul"; did you mean "rule"?',
    ],
    [
      'expect neither allow nor deny',
      '- { request: GET http://a.test/, expect: block }\n',
      't.yaml:1:42: [0].expect: "block" is not allowed; allowed: allow or deny',
    ],
    [
      'an unknown reason',
      '- { request: GET http://a.test/, expect: deny, reason: denied }\n',
      '[0].reason: "denied" is not allowed; allowed: allowed_by_rule, intercepted, denied_by_rule',
    ],
    [
      'a reason that contradicts expect',
      '- { request: GET http://a.test/, expect: allow, reason: no_rule }\n',
      't.yaml:1:57: [0].reason: no_rule is the reason of a deny, and the case expects allow; the case could never pass',
    ],
    [
      'a request that is not METHOD URL',
      '- { request: GET, expect: allow }\n',
      't.yaml:1:14: [0].request: "GET" is not METHOD URL',
    ],
    [
      'a relative URL',
      '- { request: GET /v1/models, expect: allow }\n',
      '[0].request: "/v1/models" is not an absolute http:// or https:// URL',
    ],
    [
      'an ftp URL',
      '- { request: GET ftp://a.test/, expect: allow }\n',
      '[0].request: "ftp://a.test/": only http:// and https:// URLs are requests leash decides',
    ],
    [
      'CONNECT without a port',
      '- { request: CONNECT a.test, expect: allow }\n',
      '[0].request: CONNECT needs host:port, got "a.test"',
    ],
    [
      'a time without an offset',
      '- { request: GET http://a.test/, expect: allow, time: "2026-11-22T09:00" }\n',
      't.yaml:1:55: [0].time: "2026-11-22T09:00" is not an ISO 8601 time with an offset',
    ],
    [
      'a time that is no date',
      '- { request: GET http://a.test/, expect: allow, time: "2026-13-45T09:00Z" }\n',
      '[0].time: "2026-13-45T09:00Z" is not an ISO 8601 time',
    ],
    [
      'a day its month does not have (Date.parse would read 2 March)',
      '- { request: GET http://a.test/, expect: allow, time: "2026-02-30T00:00:00Z" }\n',
      '[0].time: "2026-02-30T00:00:00Z" is not an ISO 8601 time',
    ],
    [
      'a second case broken, on its own line',
      '- { request: GET http://a.test/, expect: allow }\n-\n  request: GET http://a.test/\n  expect: deny\n  agent: ""\n',
      't.yaml:5:10: [1].agent: "" is not allowed; allowed: the name of an agent the policy defines, or anonymous',
    ],
  ])('%s', (_name, text, expected) => {
    const parsed = parseTestFile('t.yaml', text);
    expect(parsed.cases).toEqual([]);
    expect(parsed.issues.map(formatIssue).join('\n')).toContain(expected);
  });
});
