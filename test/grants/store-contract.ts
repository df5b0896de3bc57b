// The contract every grant store honours, written once so a shared store (Redis) runs the same specification.
// A grant means what it says: a host grant until its expiry, a URL grant for that URL until its own expiry; no
// grant ever extends, shortens or resurrects another.

import { describe, expect, it } from 'vitest';
import type { Grant, GrantStore } from '../../src/grants/store.js';

const grant = (over: Partial<Grant> = {}): Grant => ({
  agent: 'a',
  scheme: 'https',
  host: 'cdn.example.com',
  port: 443,
  expiresAt: 30_000,
  source: { requestId: 'r1', rule: 'search', url: 'https://api.example.com/s', found: '$.x' },
  url: null,
  ...over,
});
const source = (requestId: string, found = '$.y') => ({
  requestId,
  rule: 'search',
  url: 'https://api.example.com/t',
  found,
});
const A = 'https://cdn.example.com/a';
const B = 'https://cdn.example.com/b';

export function describeGrantStore(name: string, create: () => GrantStore | Promise<GrantStore>): void {
  describe(`grant store contract: ${name}`, () => {
    it('finds a grant for exactly its agent, scheme, host and port while it lasts', async () => {
      const store = await create();
      await store.add(grant());
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 29_999)).toBeDefined();
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 30_000)).toBeUndefined();
      expect(await store.find('b', 'https', 'cdn.example.com', 443, 0)).toBeUndefined();
      expect(await store.find('a', 'http', 'cdn.example.com', 443, 0)).toBeUndefined();
      expect(await store.find('a', 'https', 'cdn.example.com', 8443, 0)).toBeUndefined();
      expect(await store.find('a', 'https', 'img.example.com', 443, 0)).toBeUndefined();
    });

    it('scope host: a later reference to the same host extends its grant and names the newer source', async () => {
      const store = await create();
      await store.add(grant());
      await store.add(grant({ expiresAt: 60_000, source: source('r2') }));
      const found = await store.find('a', 'https', 'cdn.example.com', 443, 45_000);
      expect(found).toMatchObject({ expiresAt: 60_000, source: { requestId: 'r2' } });
    });

    it('an earlier expiry never shortens a grant, nor replaces its source', async () => {
      const store = await create();
      await store.add(grant({ expiresAt: 60_000 }));
      await store.add(grant({ expiresAt: 10_000, source: source('r2') }));
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 45_000)).toMatchObject({
        source: { requestId: 'r1' },
      });
    });

    it('a host grant answers for any URL on the host', async () => {
      const store = await create();
      await store.add(grant());
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, A)).toBeDefined();
    });

    it('scope url: each URL has its own grant, source and expiry', async () => {
      const store = await create();
      await store.add(grant({ url: A, expiresAt: 30_000, source: source('r1', '$.results[0]') }));
      await store.add(grant({ url: B, expiresAt: 50_000, source: source('r2', '$.results[3]') }));
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, A)).toMatchObject({
        url: A,
        expiresAt: 30_000,
        source: { found: '$.results[0]' },
      });
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, B)).toMatchObject({
        url: B,
        expiresAt: 50_000,
        source: { found: '$.results[3]' },
      });
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, 'https://cdn.example.com/c')).toBeUndefined();
    });

    it('scope url: a later reference to another URL on the host never keeps an older URL alive', async () => {
      const store = await create();
      await store.add(grant({ url: A, expiresAt: 30_000 }));
      await store.add(grant({ url: B, expiresAt: 60_000, source: source('r2') }));
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 45_000, A)).toBeUndefined();
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 45_000, B)).toBeDefined();
    });

    it('scope url: an expired URL is not resurrected by a reference to another URL', async () => {
      const store = await create();
      await store.add(grant({ url: A, expiresAt: 30_000 }));
      await store.add(grant({ url: B, expiresAt: 70_000, source: source('r2') }));
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 40_000, A)).toBeUndefined();
    });

    it('scope url: the same URL referenced again is the same grant, extended', async () => {
      const store = await create();
      await store.add(grant({ url: A, expiresAt: 30_000 }));
      await store.add(grant({ url: A, expiresAt: 60_000, source: source('r2') }));
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 45_000, A)).toMatchObject({
        source: { requestId: 'r2' },
      });
    });

    it('without a URL, find answers for the host with the URL grant that lasts longest (what a tunnel may use)', async () => {
      const store = await create();
      await store.add(grant({ url: A, expiresAt: 30_000 }));
      await store.add(grant({ url: B, expiresAt: 50_000 }));
      expect((await store.find('a', 'https', 'cdn.example.com', 443, 0))?.expiresAt).toBe(50_000);
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 50_000)).toBeUndefined();
    });

    it('revoke removes the grant its source made, and only it', async () => {
      const store = await create();
      await store.add(grant({ url: A }));
      await store.add(grant({ url: B }));
      expect(
        await store.revoke({ agent: 'a', scheme: 'https', host: 'cdn.example.com', port: 443, url: A }, 'r1'),
      ).toBe(true);
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, A)).toBeUndefined();
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0, B)).toBeDefined();
      expect(
        await store.revoke({ agent: 'a', scheme: 'https', host: 'cdn.example.com', port: 443, url: A }, 'r1'),
      ).toBe(false);
    });

    it('revoke of a host grant that a later response extended leaves it in place', async () => {
      const store = await create();
      await store.add(grant());
      await store.add(grant({ expiresAt: 60_000, source: source('r2') }));
      expect(
        await store.revoke({ agent: 'a', scheme: 'https', host: 'cdn.example.com', port: 443, url: null }, 'r1'),
      ).toBe(false);
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0)).toBeDefined();
      expect(
        await store.revoke({ agent: 'a', scheme: 'https', host: 'cdn.example.com', port: 443, url: null }, 'r2'),
      ).toBe(true);
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0)).toBeUndefined();
    });

    it("revoke of another agent's key removes nothing", async () => {
      const store = await create();
      await store.add(grant());
      expect(
        await store.revoke({ agent: 'b', scheme: 'https', host: 'cdn.example.com', port: 443, url: null }, 'r1'),
      ).toBe(false);
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 0)).toBeDefined();
    });
  });
}
