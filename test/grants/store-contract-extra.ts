// Contract cases for what the grants branch adds to the GrantStore contract (per-URL expiry for scope url, revoke),
// written against this branch's Grant shape (`urls: string[] | null`) so the Redis store is held to them now.
// The grants branch states the same cases in its own test/grants/store-contract.ts (with `url: string | null`);
// once both are merged, that contract runs against the Redis store and this file can go.
//
// A grant means what it says: a URL grant lasts until its own expiry, and a reference to one URL never extends,
// shortens or resurrects another URL's grant (the attack: a trickle of references to /a keeping /secret alive).

import { describe, expect, it } from 'vitest';
import type { Grant, GrantStore } from '../../src/grants/store.js';
import { MAX_URLS_PER_GRANT } from '../../src/grants/memory-store.js';

export interface GrantStoreWithRevoke extends GrantStore {
  find(agent: string, scheme: 'http' | 'https', host: string, port: number, nowMs: number, url?: string): Promise<Grant | undefined>;
  revoke(key: { agent: string; scheme: 'http' | 'https'; host: string; port: number; url: string | null }, sourceRequestId: string): Promise<boolean>;
}

const source = (requestId: string, found = '$.x') => ({ requestId, rule: 'search', url: 'https://api.example.com/s', found });
const grant = (over: Partial<Grant> = {}): Grant => ({
  agent: 'a',
  scheme: 'https',
  host: 'cdn.example.com',
  port: 443,
  expiresAt: 30_000,
  source: source('r1'),
  urls: null,
  ...over,
});
const A = 'https://cdn.example.com/a';
const B = 'https://cdn.example.com/b';
const key = (url: string | null, agent = 'a') => ({ agent, scheme: 'https' as const, host: 'cdn.example.com', port: 443, url });

export function describeGrantStoreExtra(name: string, create: () => GrantStoreWithRevoke | Promise<GrantStoreWithRevoke>): void {
  describe(`grant store contract, per-URL expiry and revoke: ${name}`, () => {
    it('scope url: each URL has its own grant, source and expiry', async () => {
      const store = await create();
      await store.add(grant({ urls: [A], expiresAt: 30_000, source: source('r1', '$.results[0]') }));
      await store.add(grant({ urls: [B], expiresAt: 50_000, source: source('r2', '$.results[3]') }));
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, A)).toMatchObject({ urls: [A], expiresAt: 30_000, source: { found: '$.results[0]' } });
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, B)).toMatchObject({ urls: [B], expiresAt: 50_000, source: { found: '$.results[3]' } });
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, 'https://cdn.example.com/c')).toBeUndefined();
    });

    it('scope url: a later reference to another URL never keeps an older URL alive, nor resurrects it', async () => {
      const store = await create();
      await store.add(grant({ urls: [A], expiresAt: 30_000 }));
      await store.add(grant({ urls: [B], expiresAt: 60_000, source: source('r2') }));
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 45_000, A)).toBeUndefined();
      expect((await store.find('a', 'https', 'cdn.example.com', 443, 45_000))?.urls).toEqual([B]);
    });

    it('scope url: the same URL referenced again is the same grant, extended, naming the newer source', async () => {
      const store = await create();
      await store.add(grant({ urls: [A], expiresAt: 30_000 }));
      await store.add(grant({ urls: [A], expiresAt: 60_000, source: source('r2') }));
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 45_000, A)).toMatchObject({ expiresAt: 60_000, source: { requestId: 'r2' } });
    });

    it('without a URL, find answers with the URL grants in force and the expiry of the longest (what a tunnel may use)', async () => {
      const store = await create();
      await store.add(grant({ urls: [A], expiresAt: 30_000 }));
      await store.add(grant({ urls: [B], expiresAt: 50_000 }));
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0)).toMatchObject({ urls: [A, B], expiresAt: 50_000 });
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 50_000)).toBeUndefined();
    });

    it('a host grant answers for any URL on the host', async () => {
      const store = await create();
      await store.add(grant());
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, A)).toMatchObject({ urls: null });
    });

    it(`at most ${MAX_URLS_PER_GRANT} URL grants per host; past it the one expiring first goes`, async () => {
      const store = await create();
      for (let i = 0; i <= MAX_URLS_PER_GRANT; i++) await store.add(grant({ urls: [`${A}/${i}`], expiresAt: i === 7 ? 20_000 : 30_000 + i }));
      const found = await store.find('a', 'https', 'cdn.example.com', 443, 0);
      expect(found?.urls).toHaveLength(MAX_URLS_PER_GRANT);
      expect(found?.urls).not.toContain(`${A}/7`);
      expect(found?.urls).toContain(`${A}/${MAX_URLS_PER_GRANT}`);
    });

    it('revoke removes the grant its source made, and only it', async () => {
      const store = await create();
      await store.add(grant({ urls: [A] }));
      await store.add(grant({ urls: [B] }));
      expect(await store.revoke(key(A), 'r1')).toBe(true);
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, A)).toBeUndefined();
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, B)).toBeDefined();
      expect(await store.revoke(key(A), 'r1')).toBe(false);
    });

    it('revoke of a host grant that a later response extended leaves it in place', async () => {
      const store = await create();
      await store.add(grant());
      await store.add(grant({ expiresAt: 60_000, source: source('r2') }));
      expect(await store.revoke(key(null), 'r1')).toBe(false);
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0)).toBeDefined();
      expect(await store.revoke(key(null), 'r2')).toBe(true);
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0)).toBeUndefined();
    });

    it("revoke of another agent's key removes nothing", async () => {
      const store = await create();
      await store.add(grant());
      expect(await store.revoke(key(null, 'b'), 'r1')).toBe(false);
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0)).toBeDefined();
    });
  });
}
