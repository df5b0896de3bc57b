// Grants in process memory, bounded by an LRU of hosts (and each entry by its own expiry, and each host by a cap
// on its URL grants), so a response full of links cannot grow memory without limit. A grant to one agent is keyed
// by that agent and invisible to every other.

import { LRUCache } from 'lru-cache';
import { grantKey, type Grant, type GrantKey, type GrantStore } from './store.js';

/** At most this many exact-URL grants are kept per host (scope url); past it the one expiring first goes. */
export const MAX_URLS_PER_GRANT = 256;

/** Everything granted to one agent on one (scheme, host, port): the host grant and the URL grants, apart. */
interface HostEntry {
  host: Grant | undefined;
  readonly urls: Map<string, Grant>;
}

export class MemoryGrantStore implements GrantStore {
  private readonly entries: LRUCache<string, HostEntry>;

  constructor(maxHosts = 100_000) {
    this.entries = new LRUCache({ max: maxHosts });
  }

  active(nowMs: number): number {
    let count = 0;
    for (const entry of this.entries.values()) {
      if (entry.host && entry.host.expiresAt > nowMs) count++;
      for (const grant of entry.urls.values()) if (grant.expiresAt > nowMs) count++;
    }
    return count;
  }

  async add(grant: Grant): Promise<void> {
    const key = grantKey(grant.agent, grant.scheme, grant.host, grant.port);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { host: undefined, urls: new Map() };
      this.entries.set(key, entry);
    }
    if (grant.url === null) {
      if (!entry.host || entry.host.expiresAt < grant.expiresAt) entry.host = grant;
      return;
    }
    const existing = entry.urls.get(grant.url);
    if (existing && existing.expiresAt >= grant.expiresAt) return;
    entry.urls.delete(grant.url);
    if (entry.urls.size >= MAX_URLS_PER_GRANT) evictSoonest(entry.urls);
    entry.urls.set(grant.url, grant);
  }

  async find(
    agent: string,
    scheme: 'http' | 'https',
    host: string,
    port: number,
    nowMs: number,
    url?: string,
  ): Promise<Grant | undefined> {
    const entry = this.entries.get(grantKey(agent, scheme, host, port));
    if (!entry) return undefined;
    if (entry.host && entry.host.expiresAt > nowMs) return entry.host;
    if (url !== undefined) {
      const grant = entry.urls.get(url);
      return grant && grant.expiresAt > nowMs ? grant : undefined;
    }
    let longest: Grant | undefined;
    for (const grant of entry.urls.values())
      if (grant.expiresAt > nowMs && (!longest || grant.expiresAt > longest.expiresAt)) longest = grant;
    return longest;
  }

  async revoke(key: GrantKey, sourceRequestId: string): Promise<boolean> {
    const entry = this.entries.get(grantKey(key.agent, key.scheme, key.host, key.port));
    if (!entry) return false;
    if (key.url === null) {
      if (entry.host?.source.requestId !== sourceRequestId) return false;
      entry.host = undefined;
      return true;
    }
    if (entry.urls.get(key.url)?.source.requestId !== sourceRequestId) return false;
    entry.urls.delete(key.url);
    return true;
  }
}

function evictSoonest(urls: Map<string, Grant>): void {
  let soonest: Grant | undefined;
  for (const grant of urls.values()) if (!soonest || grant.expiresAt < soonest.expiresAt) soonest = grant;
  if (soonest?.url) urls.delete(soonest.url);
}
