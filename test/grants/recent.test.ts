// The memory of recent requests that stops a stored echo: bounded per key and in all, forgotten after RECENT_MS,
// and asked alongside the request a response answers. The clock is a parameter.

import { describe, expect, it } from 'vitest';
import { RECENT_MS, RECENT_PER_KEY, RECENT_TOTAL, RecentRequests } from '../../src/grants/recent.js';
import type { RequestMaterial } from '../../src/grants/reflection.js';

const carrying = (host: string): RequestMaterial => ({
  complete: true,
  hostReflected: (h) => h === host,
  carriesRun: () => false,
});

describe('RecentRequests', () => {
  it('a response is checked against what the same agent and rule sent before, not only its own request', () => {
    const recent = new RecentRequests();
    recent.remember('a\u0000notes', carrying('attacker.test'), 0);
    const clean = carrying('nothing.test');
    recent.remember('a\u0000notes', clean, 1000);
    expect(recent.with('a\u0000notes', clean, 1000).hostReflected('attacker.test')).toBe(true);
    // Another agent's requests are not this agent's.
    expect(recent.with('b\u0000notes', clean, 1000).hostReflected('attacker.test')).toBe(false);
  });

  it(`forgets after ${RECENT_MS / 60_000} minutes`, () => {
    const recent = new RecentRequests();
    recent.remember('k', carrying('old.test'), 0);
    const now = carrying('new.test');
    expect(recent.with('k', now, RECENT_MS).hostReflected('old.test')).toBe(true);
    expect(recent.with('k', now, RECENT_MS + 1).hostReflected('old.test')).toBe(false);
  });

  it(`keeps at most ${RECENT_PER_KEY} requests per key and ${RECENT_TOTAL} in all`, () => {
    const recent = new RecentRequests();
    for (let i = 0; i <= RECENT_PER_KEY; i++) recent.remember('k', carrying(`h${i}.test`), i);
    const probe = carrying('probe.test');
    expect(recent.with('k', probe, 100).hostReflected('h0.test')).toBe(false);
    expect(recent.with('k', probe, 100).hostReflected(`h${RECENT_PER_KEY}.test`)).toBe(true);
    for (let i = 0; i < RECENT_TOTAL; i++) recent.remember(`other${i}`, carrying('x.test'), 200);
    expect(recent.with('k', probe, 300).hostReflected(`h${RECENT_PER_KEY}.test`)).toBe(false);
  });
});
