// Review regression: `leash run --isolate netns` without --user, as root. The command used to keep every
// capability and could enter leash's own network namespace (setns through /proc/PID/ns/net) and open any socket;
// it now runs without capabilities (netns-relay.ts, setpriv), so setns fails and nothing gets out.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/main.js';
import { netnsUnavailable } from '../../src/run/netns.js';
import { tempDir } from '../helpers/audit-sink.js';
import { startTcpSink, type TcpSink } from '../helpers/origin.js';

vi.setConfig({ testTimeout: 60_000 });
const noNetns = netnsUnavailable();

let dir: string;
let sink: TcpSink;

async function leashRun(
  flags: string[],
  command: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  const code = await main(
    [
      'run',
      '--policy',
      path.join(dir, 'policies'),
      '--audit',
      path.join(dir, 'audit.log'),
      '--certs',
      path.join(dir, 'certs'),
      ...flags,
      '--',
      ...command,
    ],
    {
      out: (l) => err.push(l),
      err: (l) => err.push(l),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...extraEnv },
    },
  );
  return { code, err };
}

beforeAll(async () => {
  dir = await tempDir('leash-review3-netns-');
  await mkdir(path.join(dir, 'policies'));
  await writeFile(
    path.join(dir, 'policies', 'policy.yaml'),
    `version: 1
rules:
  - { name: api, domain: api.test, effect: allow }
`,
  );
  sink = await startTcpSink();
});

afterAll(async () => {
  await sink?.close();
});

describe.skipIf(noNetns !== undefined)('leash run --isolate netns (no --user): root without capabilities', () => {
  it("entering leash's network namespace through /proc/PID/ns/net fails: nothing reaches the origin", async () => {
    const before = sink.connections;
    const script = `import socket; socket.create_connection(("127.0.0.1", ${sink.port}), timeout=3).close()`;
    const r = await leashRun(
      ['--isolate', 'netns'],
      ['nsenter', `--net=/proc/${process.pid}/ns/net`, 'python3', '-c', script],
    );
    expect({ code: r.code, arrived: sink.connections - before }).toMatchObject({ arrived: 0 });
    expect(r.code).not.toBe(0);
  });
});
