// A policy change takes effect on what is already open. After a reload, every open tunnel the new policy would not
// open (or would open differently: intercepted instead of spliced) is closed and audited as policy_revoked, while
// tunnels it still allows carry on. And `--policy FILE` keeps watching the file however the editor saves it.

import { rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe } from '../../src/cli/serve.js';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { startHttpOrigin, startTcpSink, type TcpSink, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let sink: TcpSink;

beforeAll(async () => {
  sink = await startTcpSink();
});

afterAll(async () => {
  await sink?.close();
});

const yaml = (rules: string) =>
  policy(`
settings:
  dns: { hosts: { kept.test: 127.0.0.1, revoked.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
${rules}`);

async function openTunnel(leash: TestLeash, host: string): Promise<net.Socket> {
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`CONNECT ${host}:${sink.port} HTTP/1.1\r\n\r\n`);
  const head = await new Promise<string>((resolve) => socket.once('data', (c: Buffer) => resolve(c.toString())));
  expect(head).toBe('HTTP/1.1 200 Connection Established\r\n\r\n');
  return socket;
}

describe('a reload reaches open tunnels', () => {
  let leash: TestLeash;
  beforeAll(async () => {
    leash = await startLeash(
      yaml(`  - { name: kept, domain: kept.test, ports: "*", methods: [CONNECT], effect: allow }
  - { name: revoked, domain: revoked.test, ports: "*", methods: [CONNECT], effect: allow }
`),
    );
  });
  afterAll(async () => leash?.stop());

  it('removing a rule closes its open tunnel within a second, audited policy_revoked; the others stay open', async () => {
    const kept = await openTunnel(leash, 'kept.test');
    const revoked = await openTunnel(leash, 'revoked.test');
    const closed = new Promise<number>((resolve) => revoked.once('close', () => resolve(performance.now())));
    const t0 = performance.now();
    await leash.rewritePolicy(
      yaml(`  - { name: kept, domain: kept.test, ports: "*", methods: [CONNECT], effect: allow }
`),
    );
    expect((await closed) - t0).toBeLessThan(1000);
    const record = await waitFor(async () =>
      (await leash.records()).find((r) => r.event === 'tunnel' && r.host === 'revoked.test'),
    );
    expect(record).toMatchObject({ effect: 'deny', reason: 'policy_revoked', status: 200, rule: 'revoked' });
    expect(String(record?.message)).toContain('denies this tunnel');
    expect(leash.stderr.join('\n')).toContain(
      '1 open tunnel(s) or connection(s) the new policy denies were closed (policy_revoked)',
    );
    // The tunnel the new policy still allows carries on.
    expect(kept.destroyed).toBe(false);
    const before = Buffer.concat(sink.received).length;
    kept.write('still here');
    await waitFor(() => Buffer.concat(sink.received).length >= before + 10);
    kept.destroy();
  });
});

describe('a reload reaches idle kept-alive connections', () => {
  let leash: TestLeash;
  let origin: TestOrigin;
  beforeAll(async () => {
    origin = await startHttpOrigin();
    leash = await startLeash(
      yaml(`  - { name: kept, domain: kept.test, ports: "*", effect: allow }
  - { name: revoked, domain: revoked.test, ports: "*", effect: allow }
`),
    );
  });
  afterAll(async () => {
    await leash?.stop();
    await origin?.close();
  });

  /** A GET on a keep-alive agent with one socket; resolves with the status and that socket. */
  const get = (agent: http.Agent, host: string) =>
    new Promise<{ status: number; socket: net.Socket }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: leash.port, path: `http://${host}:${origin.port}/`, agent },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket as net.Socket }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  it('an idle connection whose last request the new policy denies is closed and audited; another stays', async () => {
    const revokedAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const keptAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const revoked = await get(revokedAgent, 'revoked.test');
    const kept = await get(keptAgent, 'kept.test');
    expect([revoked.status, kept.status]).toEqual([200, 200]);
    const closed = new Promise<void>((r) => revoked.socket.once('close', () => r()));
    await leash.rewritePolicy(
      yaml(`  - { name: kept, domain: kept.test, ports: "*", effect: allow }
`),
    );
    await closed;
    const record = await waitFor(async () =>
      (await leash.records()).find((r) => r.event === 'connection' && r.reason === 'policy_revoked'),
    );
    expect(record).toMatchObject({ effect: 'deny', host: 'revoked.test', method: 'GET' });
    expect(kept.socket.destroyed).toBe(false);
    expect((await get(keptAgent, 'kept.test')).socket).toBe(kept.socket); // still the same connection
    revokedAgent.destroy();
    keptAgent.destroy();
  });
});

describe('--policy FILE is watched across saves by rename', () => {
  it('every save reloads, however many, and a save that changes nothing says so', async () => {
    const dir = await tempDir('leash-watch-');
    const file = path.join(dir, 'policy.yaml');
    const ruleFor = (host: string) =>
      yaml(`  - { name: r, domain: ${host}, ports: "*", methods: [CONNECT], effect: allow }\n`);
    await writeFile(file, ruleFor('kept.test'));
    const stderr: string[] = [];
    const running = await startServe(
      {
        policy: [file],
        listen: '127.0.0.1:0',
        audit: path.join(dir, 'audit.log'),
        certs: path.join(dir, 'certs'),
        control: path.join(dir, 'leash-admin.sock'),
      },
      { out: () => {}, err: (l) => stderr.push(l), env: {} },
    );
    try {
      // As vim, sed -i and mv save: write a new file beside it, rename it over the old one.
      const save = async (text: string, n: number) => {
        const tmp = path.join(dir, `.policy.yaml.tmp${n}`);
        await writeFile(tmp, text);
        await rename(tmp, file);
      };
      const revisions = [running.proxy.policy.revision];
      for (const [n, host] of ['revoked.test', 'kept.test', 'revoked.test'].entries()) {
        await save(ruleFor(host), n);
        await waitFor(() => running.proxy.policy.revision !== revisions.at(-1), { timeoutMs: 5000 });
        revisions.push(running.proxy.policy.revision);
      }
      expect(new Set(revisions).size).toBe(2); // a, b, a, b: two distinct texts, three reloads
      expect(stderr.filter((l) => l.includes('policy reloaded'))).toHaveLength(3);
      await save(ruleFor('revoked.test'), 9);
      await waitFor(() => stderr.some((l) => l.includes('nothing to reload')), { timeoutMs: 5000 });
    } finally {
      await running.stop();
    }
  });
});
