// Method overrides in the decision: a method a request asks for through X-HTTP-Method-Override, X-HTTP-Method,
// X-Method-Override or `_method` is a method like the one on its request line. An allow rule limited to methods
// must allow every one of them; a deny rule limited to methods catches any one; `*` (an override the proxy could
// not read) could be any method. Rules without `methods` do not care.

import { describe, expect, it } from 'vitest';
import { decide, type RequestFacts } from '../../src/policy/evaluate.js';
import { explain } from '../../src/policy/explain.js';
import { compile } from './compile.js';

const policy = compile(`
version: 1
rules:
  - { name: no-delete, domain: api.example.com, ports: [80], methods: [DELETE], effect: deny, reason: no deletions }
  - { name: api-rw, domain: api.example.com, ports: [80], methods: [GET, POST], paths: ["/v1/**"], effect: allow }
  - { name: api-rest, domain: api.example.com, ports: [80], paths: ["/open/**"], effect: allow }
  - { name: wiki, domain: wiki.example.com, ports: [80], methods: [GET, POST], effect: allow }
  - { name: anything, domain: any.example.com, ports: [80], effect: allow }
`);

type Row = [name: string, facts: RequestFacts, effect: 'allow' | 'deny', rule: string | null, reason: string];

const req = (method: string, host: string, path: string, methodOverrides?: string[]): RequestFacts => ({
  method,
  host,
  port: 80,
  path,
  ...(methodOverrides ? { methodOverrides } : {}),
});

const table: Row[] = [
  ['no override: POST within GET/POST', req('POST', 'wiki.example.com', '/x'), 'allow', 'wiki', 'allowed_by_rule'],
  [
    'an override to a listed method',
    req('POST', 'wiki.example.com', '/x', ['GET']),
    'allow',
    'wiki',
    'allowed_by_rule',
  ],
  [
    'an override to an unlisted method: no allow rule vouches for it',
    req('POST', 'wiki.example.com', '/x', ['PUT']),
    'deny',
    null,
    'no_rule',
  ],
  [
    'overrides are upper-cased, as frameworks do',
    req('POST', 'wiki.example.com', '/x', ['put']),
    'deny',
    null,
    'no_rule',
  ],
  [
    'one unlisted override among listed ones',
    req('POST', 'wiki.example.com', '/x', ['GET', 'PATCH']),
    'deny',
    null,
    'no_rule',
  ],
  [
    'an unreadable override (*) under a methods-limited allow',
    req('POST', 'wiki.example.com', '/x', ['*']),
    'deny',
    null,
    'no_rule',
  ],
  [
    'a deny rule on DELETE catches an override to DELETE',
    req('POST', 'api.example.com', '/v1/items/1', ['DELETE']),
    'deny',
    'no-delete',
    'denied_by_rule',
  ],
  [
    'a deny rule on DELETE catches an unreadable override',
    req('POST', 'api.example.com', '/open/x', ['*']),
    'deny',
    'no-delete',
    'denied_by_rule',
  ],
  [
    'a deny rule on DELETE lets a harmless override through to the next rule',
    req('POST', 'api.example.com', '/v1/items/1', ['GET']),
    'allow',
    'api-rw',
    'allowed_by_rule',
  ],
  [
    'a rule without methods does not care about overrides',
    req('POST', 'any.example.com', '/x', ['DELETE', '*']),
    'allow',
    'anything',
    'allowed_by_rule',
  ],
];

describe('decide with method overrides', () => {
  it.each(table)('%s', (_name, facts, effect, rule, reason) => {
    const decision = decide(policy, facts);
    expect({ effect: decision.effect, rule: decision.rule?.name ?? null, reason: decision.reason }).toEqual({
      effect,
      rule,
      reason,
    });
  });

  it('records the overrides in the normalised request, and nothing when there are none', () => {
    expect(decide(policy, req('POST', 'wiki.example.com', '/x', ['delete'])).request?.methodOverrides).toEqual([
      'DELETE',
    ]);
    expect(decide(policy, req('POST', 'wiki.example.com', '/x', [])).request).not.toHaveProperty('methodOverrides');
  });

  it('explain says which override a rule did not allow', () => {
    const trace = explain(policy, req('POST', 'wiki.example.com', '/x', ['PUT'])).trace;
    expect(trace.find((t) => t.rule === 'wiki')?.why).toBe('method override PUT is not in [GET, POST]');
    const unread = explain(policy, req('POST', 'wiki.example.com', '/x', ['*'])).trace;
    expect(unread.find((t) => t.rule === 'wiki')?.why).toMatch(/could not read could name any method/);
  });
});
