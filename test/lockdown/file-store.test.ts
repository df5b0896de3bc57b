// The file store runs the contract, plus what only it promises: the state outlives the process, the file is
// private and replaced whole, and a file leash cannot read stops it from starting instead of unlocking everyone.

import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileLockdownStore, defaultLockdownFile } from '../../src/lockdown/file-store.js';
import { tempDir } from '../helpers/audit-sink.js';
import { describeLockdownStore } from './store-contract.js';

describeLockdownStore('file', async () =>
  FileLockdownStore.open(path.join(await tempDir('leash-lockdown-'), 'leash-lockdown.json')),
);

describe('the lockdown state file', () => {
  it('is read back by the next process (a restart), mode 0600', async () => {
    const file = path.join(await tempDir('leash-lockdown-'), 'leash-lockdown.json');
    const first = await FileLockdownStore.open(file);
    await first.lock({ agents: ['research'] }, { reason: 'incident', by: 'SIGUSR1', since: 1 });
    await first.close();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const second = await FileLockdownStore.open(file);
    expect(await second.read()).toEqual({
      all: null,
      agents: { research: { reason: 'incident', by: 'SIGUSR1', since: 1 } },
    });
  });

  it('concurrent changes are applied one after another, none lost', async () => {
    const file = path.join(await tempDir('leash-lockdown-'), 'leash-lockdown.json');
    const store = await FileLockdownStore.open(file);
    const names = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
    await Promise.all(names.map((a) => store.lock({ agents: [a] }, { reason: a, by: 'x', since: 0 })));
    expect(Object.keys(JSON.parse(await readFile(file, 'utf8')).agents).sort()).toEqual([...names].sort());
  });

  it.each([
    { name: 'not JSON', text: '{"all": nul', error: /is not JSON; leash will not guess that nothing is locked down/ },
    {
      name: 'JSON of another shape',
      text: '{"all": {"reason": 1}}',
      error: /is not a lockdown state \("all" is not an entry/,
    },
    {
      name: 'an invalid agent name',
      text: '{"all": null, "agents": {"Bad Name": {"reason": "r", "by": "b", "since": 0}}}',
      error: /agents\.Bad Name is not an agent name/,
    },
  ])('a file that is $name stops leash from starting (LEASH_LOCKDOWN)', async ({ text, error }) => {
    const file = path.join(await tempDir('leash-lockdown-'), 'leash-lockdown.json');
    await writeFile(file, text);
    await expect(FileLockdownStore.open(file)).rejects.toMatchObject({
      code: 'LEASH_LOCKDOWN',
      message: expect.stringMatching(error),
    });
  });

  it.each([
    { audit: '/var/log/leash/audit.log', expected: '/var/log/leash/leash-lockdown.json' },
    { audit: 'leash-audit.log', expected: 'leash-lockdown.json' },
    { audit: '-', expected: 'leash-lockdown.json' },
  ])('lives beside the audit log $audit', ({ audit, expected }) => {
    expect(defaultLockdownFile(audit)).toBe(expected);
  });
});
