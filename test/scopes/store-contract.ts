// The contract every scope store honours, written once so the shared store (Redis) runs the same specification:
// an access is (scope, agent, host, port) until the expiry fixed when it opened; using it never extends it; an
// agent holds at most maxHosts accesses in a scope; list and revoke see only what is in force.

import { describe, expect, it } from 'vitest';
import type { ScopeRequest, ScopeStore } from '../../src/scopes/store.js';

const request = (over: Partial<ScopeRequest> = {}): ScopeRequest => ({
  scope: 'sandbox',
  agent: 'dev',
  host: 'api.new.test',
  port: 443,
  openedBy: { requestId: 'r1', method: 'CONNECT', path: null },
  ...over,
});
const limits = { ttlMs: 60_000, maxHosts: 2 };

export function describeScopeStore(name: string, create: () => ScopeStore | Promise<ScopeStore>): void {
  describe(`scope store contract: ${name}`, () => {
    it('opens an access once, then finds it in force until its expiry, never extended by use', async () => {
      const store = await create();
      expect(await store.admit(request(), limits, 1_000)).toMatchObject({
        kind: 'opened',
        access: { openedAt: 1_000, expiresAt: 61_000, openedBy: { requestId: 'r1' } },
      });
      expect(
        await store.admit(request({ openedBy: { requestId: 'r2', method: 'GET', path: '/' } }), limits, 30_000),
      ).toMatchObject({ kind: 'open', access: { expiresAt: 61_000, openedBy: { requestId: 'r1' } } });
      expect(
        await store.admit(request({ openedBy: { requestId: 'r3', method: 'GET', path: '/' } }), limits, 61_000),
      ).toMatchObject({ kind: 'opened', access: { expiresAt: 121_000, openedBy: { requestId: 'r3' } } });
    });

    it.each([
      ['another agent', { agent: 'ops' }],
      ['another scope', { scope: 'other' }],
      ['another host', { host: 'api.other.test' }],
      ['another port', { port: 8443 }],
    ])('an access is not open for %s', async (_what, over) => {
      const store = await create();
      await store.admit(request(), { ...limits, maxHosts: 5 }, 0);
      expect((await store.admit(request(over), { ...limits, maxHosts: 5 }, 1))?.kind).toBe('opened');
    });

    it('past maxHosts open accesses, a new host is refused as full; an expired one frees its place', async () => {
      const store = await create();
      await store.admit(request({ host: 'a.test' }), limits, 0);
      await store.admit(request({ host: 'b.test' }), { ...limits, ttlMs: 120_000 }, 0);
      expect(await store.admit(request({ host: 'c.test' }), limits, 10)).toEqual({ kind: 'full', open: 2 });
      // Open ones still answer while full.
      expect((await store.admit(request({ host: 'a.test' }), limits, 10)).kind).toBe('open');
      // Another agent has its own sandbox.
      expect((await store.admit(request({ host: 'c.test', agent: 'ops' }), limits, 10)).kind).toBe('opened');
      expect((await store.admit(request({ host: 'c.test' }), limits, 60_000)).kind).toBe('opened');
    });

    it('lists what is in force, oldest first, by agent or scope', async () => {
      const store = await create();
      await store.admit(request({ host: 'a.test' }), limits, 0);
      await store.admit(request({ host: 'b.test', agent: 'ops' }), limits, 5);
      await store.admit(request({ host: 'c.test', scope: 'other' }), { ...limits, ttlMs: 10 }, 6);
      expect((await store.list({}, 20)).map((a) => `${a.agent} ${a.scope} ${a.host}:${a.port}`)).toEqual([
        'dev sandbox a.test:443',
        'ops sandbox b.test:443',
      ]);
      expect((await store.list({ agent: 'ops' }, 20)).map((a) => a.host)).toEqual(['b.test']);
      expect((await store.list({ scope: 'sandbox', agent: 'dev' }, 20))[0]).toMatchObject({
        host: 'a.test',
        openedAt: 0,
        expiresAt: 60_000,
      });
      expect(await store.list({}, 60_005)).toEqual([]);
    });

    it('revoke ends the accesses that match and returns them; the next request opens anew', async () => {
      const store = await create();
      await store.admit(request({ host: 'a.test' }), limits, 0);
      await store.admit(request({ host: 'b.test' }), limits, 0);
      await store.admit(request({ host: 'a.test', agent: 'ops' }), limits, 0);
      expect((await store.revoke({ agent: 'dev', host: 'a.test' }, 1)).map((a) => `${a.agent} ${a.host}`)).toEqual([
        'dev a.test',
      ]);
      expect((await store.list({}, 1)).map((a) => `${a.agent} ${a.host}`).sort()).toEqual(['dev b.test', 'ops a.test']);
      expect(
        await store.admit(
          request({ host: 'a.test', openedBy: { requestId: 'r9', method: 'GET', path: '/' } }),
          limits,
          2,
        ),
      ).toMatchObject({ kind: 'opened', access: { openedBy: { requestId: 'r9' } } });
      expect(await store.revoke({ port: 80 }, 3)).toEqual([]);
      expect(await store.revoke({}, 3)).toHaveLength(3);
      expect(await store.list({}, 3)).toEqual([]);
    });
  });
}
