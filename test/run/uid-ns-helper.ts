// Runs inside the network namespace test/run/uid-isolation.test.ts creates, as root: an HTTP origin and a TCP
// sink on the namespace's loopback, then `leash run --user 65534 --isolate uid` (through main(), as the bin
// does) with the probe command given, and prints one line `RESULT {json}`: the exit code, what leash printed,
// what the origin and sink saw, and whether leash's nft table is still loaded afterwards.
// Never: bind anything but loopback.

import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/main.js';
import { startHttpOrigin, startTcpSink } from '../helpers/origin.js';

const probe = process.argv[2] as 'proxy' | 'direct';
const origin = await startHttpOrigin();
const sink = await startTcpSink();
const dir = await mkdtemp(path.join(tmpdir(), 'leash-run-uid-'));
await writeFile(
  path.join(dir, 'policy.yaml'),
  `version: 1
settings:
  dns: { hosts: { api.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
agents:
  nobody: { uid: 65534 }
rules:
  - { name: api, domain: api.test, ports: [${origin.port}], agents: [nobody], effect: allow }
`,
);
const curl = ['curl', '-q', '-sS', '--fail', '--max-time', '5', '-o', '/dev/null'];
const command =
  probe === 'proxy'
    ? [...curl, `http://api.test:${origin.port}/uid`]
    : [...curl, '--noproxy', '*', `http://127.0.0.1:${sink.port}/`];
const lines: string[] = [];
const started = performance.now();
const code = await main(
  [
    'run',
    '--policy',
    dir,
    '--audit',
    path.join(dir, 'audit.log'),
    '--agent',
    'nobody',
    '--user',
    '65534',
    '--isolate',
    'uid',
    '--',
    ...command,
  ],
  {
    out: (l) => lines.push(l),
    err: (l) => lines.push(l),
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
  },
);
const ms = performance.now() - started;
const table = spawnSync('nft', ['list', 'table', 'inet', 'leash'], { encoding: 'utf8' });
process.stdout.write(
  `RESULT ${JSON.stringify({ code, ms, lines, origin: origin.seen.map((s) => s.url), sink: sink.connections, rulesLeft: table.status === 0 })}\n`,
);
await origin.close();
await sink.close();
process.exit(0);
