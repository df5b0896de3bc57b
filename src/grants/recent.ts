// What an agent sent an inspected API recently, so a response cannot hand back what an earlier request stored.
// Notes, issues, search history and chat history all echo input later: the agent POSTs an attacker's URL, then
// GETs it back in a clean-looking response. Each (agent, rule) keeps the material of its last requests for a
// while, and a reference found in a response is checked against all of it, not only the request that produced the
// response. A mitigation with bounds, not a proof: input stored longer ago than RECENT_MS, or more than
// RECENT_PER_KEY requests back, is not remembered; `inspect.grant.hosts` is the defence that holds for ever.
// Per process, owned by the proxy; nothing in module scope. The clock is a parameter.

import type { RequestMaterial } from './reflection.js';

/** How long a request's material is remembered. */
export const RECENT_MS = 10 * 60_000;
/** Requests remembered per (agent, rule). */
export const RECENT_PER_KEY = 16;
/** Requests remembered in all: material is bounded (each holds at most 64 KiB of body and its index). */
export const RECENT_TOTAL = 256;

interface Remembered {
  readonly at: number;
  readonly material: RequestMaterial;
}

export class RecentRequests {
  private readonly byKey = new Map<string, Remembered[]>();
  private total = 0;

  /** Remembers a request's material under `key` (agent and rule) at `nowMs`. */
  remember(key: string, material: RequestMaterial, nowMs: number): void {
    let list = this.byKey.get(key);
    if (!list) {
      list = [];
      this.byKey.set(key, list);
    } else {
      // Most recently used keys last, so the oldest key is the first dropped.
      this.byKey.delete(key);
      this.byKey.set(key, list);
    }
    list.push({ at: nowMs, material });
    this.total++;
    if (list.length > RECENT_PER_KEY) {
      list.shift();
      this.total--;
    }
    while (this.total > RECENT_TOTAL) {
      const [oldestKey, oldest] = this.byKey.entries().next().value as [string, Remembered[]];
      oldest.shift();
      this.total--;
      if (oldest.length === 0) this.byKey.delete(oldestKey);
    }
  }

  /** The material a response to `current` is checked against: `current`'s own, and what `key` sent recently. */
  with(key: string, current: RequestMaterial, nowMs: number): RequestMaterial {
    const earlier = (this.byKey.get(key) ?? [])
      .filter((r) => nowMs - r.at <= RECENT_MS && r.material !== current)
      .map((r) => r.material);
    if (earlier.length === 0) return current;
    const all = [current, ...earlier];
    return {
      get complete() {
        return current.complete;
      },
      hostReflected: (host) => all.some((m) => m.hostReflected(host)),
      carriesRun: (text) => all.some((m) => m.carriesRun(text)),
    };
  }
}
