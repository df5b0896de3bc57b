// Review regression: as root, every `leash run` used to open its control socket at /run/leash/admin.sock, so a
// second `leash run` while one ran refused to start. Each run now has a control socket of its own, in a private
// directory (run/session.ts).

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/main.js';
import { tempDir } from '../helpers/audit-sink.js';

vi.setConfig({ testTimeout: 60_000 });
let dir: string;

beforeAll(async () => {
  dir = await tempDir('leash-review3-concurrent-');
  await mkdir(path.join(dir, 'policies'));
  await writeFile(path.join(dir, 'policies', 'policy.yaml'), 'version: 1\nrules: []\n');
});

function leashRun(name: string, command: string[]) {
  const err: string[] = [];
  const done = main(
    [
      'run',
      '--policy',
      path.join(dir, 'policies'),
      '--audit',
      path.join(dir, `${name}.log`),
      '--certs',
      path.join(dir, 'certs'),
      '--isolate',
      'none',
      '--',
      ...command,
    ],
    { out: (l) => err.push(l), err: (l) => err.push(l), env: { PATH: process.env.PATH } },
  );
  return done.then((code) => ({ code, err }));
}

describe.skipIf(process.getuid?.() !== 0)('two leash runs at once, as root', () => {
  it('the second runs its command too', async () => {
    const first = leashRun('first', ['sleep', '3']);
    await new Promise((r) => setTimeout(r, 1500));
    const second = await leashRun('second', ['true']);
    const one = await first;
    // Run alone (other leash runs as root on this machine take the same socket).
    expect([one.err, second.err].flat().join('\n')).not.toMatch(/another leash is running/);
    expect([one.code, second.code]).toEqual([0, 0]);
  });
});
