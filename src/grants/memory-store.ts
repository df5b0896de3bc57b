// Grants in process memory, bounded by an LRU (and each entry by its own expiry), so a response full of links
// cannot grow memory without limit. A grant to one agent is keyed by that agent and invisible to every other.

import { LRUCache } from 'lru-cache';
import { grantKey, type Grant, type GrantStore } from './store.js';

/** At most this many exact URLs are remembered per granted host (scope url). */
export const MAX_URLS_PER_GRANT = 256;

export class MemoryGrantStore implements GrantStore {
  private readonly grants: LRUCache<string, Grant>;

  constructor(maxGrants = 100_000) {
    this.grants = new LRUCache({ max: maxGrants });
  }

  async add(grant: Grant): Promise<void> {
    const key = grantKey(grant.agent, grant.scheme, grant.host, grant.port);
    const existing = this.grants.get(key);
    if (!existing || existing.expiresAt < grant.expiresAt || grant.urls) {
      const urls = grant.urls && existing?.urls ? [...new Set([...existing.urls, ...grant.urls])].slice(-MAX_URLS_PER_GRANT) : grant.urls;
      const newest = !existing || existing.expiresAt <= grant.expiresAt ? grant : existing;
      this.grants.set(key, { ...newest, urls });
    }
  }

  async find(agent: string, scheme: 'http' | 'https', host: string, port: number, nowMs: number): Promise<Grant | undefined> {
    const grant = this.grants.get(grantKey(agent, scheme, host, port));
    return grant && grant.expiresAt > nowMs ? grant : undefined;
  }
}
