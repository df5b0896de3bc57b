// The contract every lockdown store honours, written once so the file and Redis stores run the very same
// specification as the in-memory one.

import { describe, expect, it } from 'vitest';
import type { LockdownStore } from '../../src/lockdown/store.js';
import { EMPTY_LOCKDOWN, type LockdownEntry } from '../../src/lockdown/state.js';

const entry = (reason: string, since = 1_700_000_000_000): LockdownEntry => ({
  reason,
  by: 'alice (uid 1000) (control socket)',
  since,
});

export function describeLockdownStore(name: string, create: () => LockdownStore | Promise<LockdownStore>): void {
  describe(`lockdown store contract: ${name}`, () => {
    it('starts with nothing locked down', async () => {
      const store = await create();
      expect(await store.read()).toEqual(EMPTY_LOCKDOWN);
    });

    it('locks agents down by name, and returns the state after', async () => {
      const store = await create();
      const after = await store.lock({ agents: ['research', 'mail'] }, entry('incident 1'));
      expect(after).toEqual({ all: null, agents: { research: entry('incident 1'), mail: entry('incident 1') } });
      expect(await store.read()).toEqual(after);
    });

    it('locks every agent down, keeping the per-agent entries', async () => {
      const store = await create();
      await store.lock({ agents: ['research'] }, entry('one'));
      expect(await store.lock({ all: true }, entry('all', 1_700_000_000_500))).toEqual({
        all: entry('all', 1_700_000_000_500),
        agents: { research: entry('one') },
      });
    });

    it('a second lock of the same agent replaces its entry', async () => {
      const store = await create();
      await store.lock({ agents: ['research'] }, entry('first'));
      expect((await store.lock({ agents: ['research'] }, entry('second', 5))).agents).toEqual({
        research: entry('second', 5),
      });
    });

    it('lifts one agent, leaving the others and the all-agents lock', async () => {
      const store = await create();
      await store.lock({ agents: ['research', 'mail'] }, entry('x'));
      await store.lock({ all: true }, entry('all'));
      expect(await store.unlock({ agents: ['research'] })).toEqual({ all: entry('all'), agents: { mail: entry('x') } });
    });

    it('lifting without agents lifts every lockdown', async () => {
      const store = await create();
      await store.lock({ agents: ['research'] }, entry('x'));
      await store.lock({ all: true }, entry('all'));
      expect(await store.unlock({ all: true })).toEqual(EMPTY_LOCKDOWN);
      expect(await store.read()).toEqual(EMPTY_LOCKDOWN);
    });

    it('lifting an agent that is not locked changes nothing', async () => {
      const store = await create();
      await store.lock({ agents: ['mail'] }, entry('x'));
      expect(await store.unlock({ agents: ['research'] })).toEqual({ all: null, agents: { mail: entry('x') } });
    });

    it('keeps the reason text as given, Unicode included', async () => {
      const store = await create();
      const text = 'naïve agent → pastebin; "quoted" \\ backslash';
      expect((await store.lock({ agents: ['research'] }, entry(text))).agents.research?.reason).toBe(text);
    });
  });
}
