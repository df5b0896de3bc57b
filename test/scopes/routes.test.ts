// The control routes of scopes and approvals as a table: what a caller sends → the status and error code, before
// anything is changed. Bodies come from outside: every field is checked.

import { describe, expect, it } from 'vitest';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { approvalRoutes } from '../../src/approvals/routes.js';
import type { AuditRecord } from '../../src/audit/record.js';
import type { ControlRoute } from '../../src/control/api.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { MemoryScopeStore } from '../../src/scopes/memory-store.js';
import { scopeRoutes } from '../../src/scopes/routes.js';
import type { ScopeStore } from '../../src/scopes/store.js';
import { compile } from '../policy/compile.js';

const policy = compile(
  'version: 1\nagents:\n  dev: { token: env:T_DEV }\nscopes:\n  sandbox: { agents: [dev], ttl: 1h }\n',
);

function routes(scopes: ScopeStore = new MemoryScopeStore()) {
  const records: AuditRecord[] = [];
  const deps = { policy: () => policy, now: () => 0, record: (r: AuditRecord) => records.push(r) };
  const all = [
    ...scopeRoutes({ ...deps, scopes }),
    ...approvalRoutes({ ...deps, approvals: new MemoryApprovalStore(), policyPaths: [], reload: async () => {} }),
  ];
  const call = (method: string, path: string, body?: unknown, query = '') => {
    const route = all.find(
      (r) => r.method === method && new RegExp(`^${r.path.replace(/:[a-z]+/g, '([^/]+)')}$`).test(path),
    ) as ControlRoute;
    const id = /\/v1\/approvals\/([^/]+)\//.exec(path)?.[1];
    return route.handle({
      body,
      caller: 'alice (uid 1000)',
      params: id ? { id } : {},
      query: new URLSearchParams(query),
    });
  };
  return { call, records };
}

describe('control routes: bad calls change nothing', () => {
  it.each([
    ['revoke with no selector', 'POST', '/v1/scopes/revoke', {}, 400],
    ['revoke with all and a selector', 'POST', '/v1/scopes/revoke', { all: true, agent: 'dev' }, 400],
    ['revoke with an unknown field', 'POST', '/v1/scopes/revoke', { agnet: 'dev' }, 400],
    ['revoke with a port out of range', 'POST', '/v1/scopes/revoke', { port: 70000 }, 400],
    ['revoke with a host that is not one', 'POST', '/v1/scopes/revoke', { host: 'a b' }, 400],
    ['revoke with an agent name that is not a name', 'POST', '/v1/scopes/revoke', { agent: '../x' }, 400],
    ['allow with an unknown grant', 'POST', '/v1/approvals/abc/allow', { grant: 'forever' }, 400],
    ['allow for with no duration', 'POST', '/v1/approvals/abc/allow', { grant: 'for' }, 400],
    ['allow for 1000h', 'POST', '/v1/approvals/abc/allow', { grant: 'for', for: '1000h' }, 400],
    ['allow once with a duration', 'POST', '/v1/approvals/abc/allow', { grant: 'once', for: '1h' }, 400],
    ['allow an approval that does not exist', 'POST', '/v1/approvals/abc/allow', { grant: 'once' }, 404],
    ['deny an approval that does not exist', 'POST', '/v1/approvals/abc/deny', {}, 404],
    ['always for an approval that does not exist', 'POST', '/v1/approvals/abc/allow', { grant: 'always' }, 404],
  ] as const)('%s → %i', async (_name, method, path, body, status) => {
    const { call, records } = routes();
    expect((await call(method, path, body)).status).toBe(status);
    expect(records).toEqual([]);
  });

  it('a store that cannot answer is 503 unavailable', async () => {
    const down: ScopeStore = {
      admit: () => Promise.reject(new StoreUnavailableError('down')),
      list: () => Promise.reject(new StoreUnavailableError('store redis://r:6379/0 did not answer within 250 ms')),
      revoke: () => Promise.reject(new StoreUnavailableError('down')),
    };
    const reply = await routes(down).call('GET', '/v1/scopes', undefined);
    expect(reply).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
  });

  it('list filters by agent and scope; a bad filter is 400', async () => {
    const { call } = routes();
    expect((await call('GET', '/v1/scopes', undefined, 'agent=dev')).status).toBe(200);
    expect((await call('GET', '/v1/scopes', undefined, 'agent=Dev%20X')).status).toBe(400);
  });
});
