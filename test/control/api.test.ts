// The route table's matching, as a table: which route a method and path reach, with what params, or which error.

import { describe, expect, it } from 'vitest';
import { matchRoute, ok, type ControlRoute } from '../../src/control/api.js';

const route = (method: ControlRoute['method'], path: string): ControlRoute => ({
  method,
  path,
  mutating: method !== 'GET',
  summary: path,
  handle: async () => ok(null),
});
const routes = [
  route('GET', '/v1'),
  route('GET', '/v1/lockdown'),
  route('POST', '/v1/lockdown/on'),
  route('POST', '/v1/approvals/:id/approve'),
  route('GET', '/v1/approvals/:id'),
];

interface Row {
  name: string;
  method: string;
  path: string;
  expected: { path: string; params: Record<string, string> } | { error: string };
}

const rows: Row[] = [
  { name: 'the index', method: 'GET', path: '/v1', expected: { path: '/v1', params: {} } },
  { name: 'an exact path', method: 'GET', path: '/v1/lockdown', expected: { path: '/v1/lockdown', params: {} } },
  {
    name: 'a param',
    method: 'GET',
    path: '/v1/approvals/42',
    expected: { path: '/v1/approvals/:id', params: { id: '42' } },
  },
  {
    name: 'a param, percent-decoded',
    method: 'GET',
    path: '/v1/approvals/a%20b',
    expected: { path: '/v1/approvals/:id', params: { id: 'a b' } },
  },
  {
    name: 'a param inside the path',
    method: 'POST',
    path: '/v1/approvals/7/approve',
    expected: { path: '/v1/approvals/:id/approve', params: { id: '7' } },
  },
  { name: 'an empty param matches nothing', method: 'GET', path: '/v1/approvals/', expected: { error: 'not_found' } },
  {
    name: 'a malformed escape matches nothing',
    method: 'GET',
    path: '/v1/approvals/%E0%A4%A',
    expected: { error: 'not_found' },
  },
  {
    name: 'the right path, another method',
    method: 'POST',
    path: '/v1/lockdown',
    expected: { error: 'method_not_allowed' },
  },
  { name: 'a trailing slash is another path', method: 'GET', path: '/v1/lockdown/', expected: { error: 'not_found' } },
  { name: 'an unknown path', method: 'GET', path: '/v1/nothing', expected: { error: 'not_found' } },
  {
    name: 'method names are case-sensitive (RFC 9110 §9.1)',
    method: 'get',
    path: '/v1',
    expected: { error: 'method_not_allowed' },
  },
];

describe('matchRoute', () => {
  it.each(rows)('$name: $method $path', ({ method, path, expected }) => {
    const matched = matchRoute(routes, method, path);
    if ('error' in expected) expect(matched).toEqual(expected);
    else expect('route' in matched && { path: matched.route.path, params: matched.params }).toEqual(expected);
  });
});
