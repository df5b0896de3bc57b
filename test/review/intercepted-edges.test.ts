// Review probes: the decrypted side of intercepted tunnels after the admission pipeline and the shared HTTP server
// setup. Parse errors, oversized heads and unsupported methods inside a tunnel must each end in one audited
// refusal; allowed requests and upgrades carry decisionMs and upstreamMs.

import crypto from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';
import { intercepted, wsHead } from './tunnel-client.js';

let server: https.Server;
let port: number;
let leash: TestLeash;
let leashCa: string;
const seen: string[] = [];

beforeAll(async () => {
  const ca = createTestCa('review origin CA');
  const cert = ca.issue(['api.test', 'ws.test']);
  server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => res.end(`origin ${req.method} ${req.url}`));
  });
  server.on('upgrade', (req, socket: net.Socket) => {
    seen.push(`UPGRADE ${req.url}`);
    const accept = crypto
      .createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
  const dir = await tempDir();
  const extraCa = path.join(dir, 'ca.pem');
  await writeFile(extraCa, ca.certPem);
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1, ws.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${port}]
  limits: { maxHeaderBytes: 4096 }
rules:
  - { name: api, domain: api.test, ports: [${port}], methods: [GET], effect: allow }
  - { name: ws, domain: ws.test, ports: [${port}], methods: [GET], websocket: true, effect: allow }
`),
  );
  leashCa = await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8');
});

afterAll(async () => {
  await leash?.stop();
  server?.closeAllConnections();
  server?.close();
});

async function recordsFor(pred: (r: Record<string, unknown>) => boolean, n = 1): Promise<Record<string, unknown>[]> {
  return (await waitFor(async () => {
    const found = (await leash.records()).filter(pred);
    return found.length >= n ? found : undefined;
  })) as Record<string, unknown>[];
}

it.each([
  [
    'a malformed header line',
    (h: string) => `GET /x HTTP/1.1\r\nHost: ${h}\r\nno colon here\r\n\r\n`,
    400,
    'bad_request',
  ],
  [
    'a head over limits.maxHeaderBytes',
    (h: string) => `GET /x HTTP/1.1\r\nHost: ${h}\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`,
    431,
    'header_too_large',
  ],
])('inside a tunnel, %s is refused and audited once', async (name, head, status, reason) => {
  const t = await intercepted(leash.port, 'api.test', port, leashCa);
  const before = (await leash.records()).length;
  await t.send(head(`api.test:${port}`), 1);
  expect(t.statuses()[0]).toBe(`HTTP/1.1 ${status}`);
  await t.closed;
  const records = await recordsFor((r) => r.event === 'request' && r.reason === reason && r.host === 'api.test');
  expect(records.length, name).toBe(1);
  expect(records[0]).toMatchObject({ effect: 'deny', tls: 'intercepted', port });
  // Nothing else was written for it besides the tunnel's own record.
  const after = await waitFor(async () => {
    const all = await leash.records();
    return all.some((r, i) => i >= before && r.event === 'tunnel') ? all : undefined;
  });
  expect(
    (after ?? [])
      .slice(before)
      .map((r) => `${r.event} ${r.reason}`)
      .sort(),
  ).toEqual([`request ${reason}`, 'tunnel intercepted']);
});

it('a CONNECT request inside an intercepted tunnel is refused with an audit record, not a silent close', async () => {
  const t = await intercepted(leash.port, 'api.test', port, leashCa);
  t.client.write(`CONNECT api.test:${port} HTTP/1.1\r\nHost: api.test:${port}\r\n\r\n`);
  await t.closed;
  const records = await leash.records();
  const inside = records.filter((r) => r.event === 'request' && r.method === 'CONNECT' && r.tls === 'intercepted');
  expect({ answer: t.text().split('\r\n')[0], records: inside.length }).toEqual({
    answer: expect.stringMatching(/^HTTP\/1\.1 [45]\d\d/),
    records: 1,
  });
});

it('an allowed request inside a tunnel records decisionMs and upstreamMs', async () => {
  const t = await intercepted(leash.port, 'api.test', port, leashCa);
  await t.send(`GET /timed HTTP/1.1\r\nHost: api.test:${port}\r\n\r\n`, 1);
  t.close();
  const [record] = await recordsFor((r) => r.event === 'request' && r.path === '/timed');
  expect(record).toMatchObject({ effect: 'allow', status: 200 });
  expect(typeof record?.decisionMs).toBe('number');
  expect(typeof record?.upstreamMs).toBe('number');
});

it('an allowed WebSocket records decisionMs and upstreamMs like any allowed request', async () => {
  const t = await intercepted(leash.port, 'ws.test', port, leashCa);
  await t.send(wsHead('ws.test', port, '/live'), 1);
  expect(t.statuses()[0]).toBe('HTTP/1.1 101');
  t.client.write('ping');
  await waitFor(() => t.text().includes('echo:ping'));
  t.close();
  const [record] = await recordsFor((r) => r.event === 'request' && r.path === '/live');
  expect(record).toMatchObject({ effect: 'allow', status: 101, upgrade: 'websocket' });
  expect(typeof record?.decisionMs).toBe('number');
  expect(typeof record?.upstreamMs).toBe('number');
});
