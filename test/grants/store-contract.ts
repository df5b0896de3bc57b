// The contract every grant store honours, written once so a shared store runs the same specification.

import { describe, expect, it } from 'vitest';
import type { Grant, GrantStore } from '../../src/grants/store.js';

const grant = (over: Partial<Grant> = {}): Grant => ({
  agent: 'a',
  scheme: 'https',
  host: 'cdn.example.com',
  port: 443,
  expiresAt: 30_000,
  source: { requestId: 'r1', rule: 'search', url: 'https://api.example.com/s', found: '$.x' },
  urls: null,
  ...over,
});

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

    it('a later reference extends the grant and names the newer source', async () => {
      const store = await create();
      await store.add(grant());
      await store.add(grant({ expiresAt: 60_000, source: { requestId: 'r2', rule: 'search', url: 'https://api.example.com/t', found: '$.y' } }));
      const found = await store.find('a', 'https', 'cdn.example.com', 443, 45_000);
      expect(found?.source.requestId).toBe('r2');
    });

    it('an earlier expiry never shortens a grant', async () => {
      const store = await create();
      await store.add(grant({ expiresAt: 60_000 }));
      await store.add(grant({ expiresAt: 10_000 }));
      expect(await store.find('a', 'https', 'cdn.example.com', 443, 45_000)).toBeDefined();
    });

    it('with scope url, the exact URLs seen accumulate', async () => {
      const store = await create();
      await store.add(grant({ urls: ['https://cdn.example.com/a'] }));
      await store.add(grant({ urls: ['https://cdn.example.com/b'] }));
      expect((await store.find('a', 'https', 'cdn.example.com', 443, 0))?.urls).toEqual(['https://cdn.example.com/a', 'https://cdn.example.com/b']);
    });
  });
}
