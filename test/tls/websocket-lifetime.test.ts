// A WebSocket is a long-lived stream leash splices after deciding its upgrade. It is held to the policy in force
// all the same: a reload that no longer allows it closes it (policy_revoked), and however busy it is, it ends at
// settings.timeouts.maxLifetime (max_lifetime). Both are audited on the stream's one record.

import crypto from 'node:crypto';
import https from 'node:https';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let server: https.Server;
let port: number;
let extraCa: string;

beforeAll(async () => {
  const ca = createTestCa('ws origin CA');
  const cert = ca.issue(['chat.test']);
  server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (_req, res) => res.end('plain'));
  server.on('upgrade', (req, socket: net.Socket) => {
    const accept = crypto
      .createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
  extraCa = path.join(await tempDir(), 'ca.pem');
  await writeFile(extraCa, ca.certPem);
});

afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
});

const yaml = (websocket: boolean, maxLifetime = '1h') =>
  policy(`
settings:
  dns: { hosts: { chat.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${port}]
  timeouts: { maxLifetime: ${maxLifetime} }
rules:
  - { name: chat, domain: chat.test, ports: [${port}], methods: [GET], websocket: ${websocket}, effect: allow }
`);

async function openWebSocket(leash: TestLeash): Promise<{ client: tls.TLSSocket; closed: Promise<number> }> {
  const ca = await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8');
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.write(`CONNECT chat.test:${port} HTTP/1.1\r\n\r\n`);
  await new Promise<void>((r) => socket.once('data', () => r()));
  const client = tls.connect({ socket, servername: 'chat.test', ca });
  client.on('error', () => {});
  const closed = new Promise<number>((r) => client.once('close', () => r(performance.now())));
  let text = '';
  client.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await new Promise<void>((r) => client.once('secureConnect', () => r()));
  client.write(
    `GET /socket HTTP/1.1\r\nHost: chat.test:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await waitFor(() => text.startsWith('HTTP/1.1 101'));
  return { client, closed };
}

it('a reload that no longer allows the WebSocket closes it, audited policy_revoked', async () => {
  const leash = await startLeash(yaml(true));
  try {
    const { closed } = await openWebSocket(leash);
    const t0 = performance.now();
    await leash.rewritePolicy(yaml(false));
    expect((await closed) - t0).toBeLessThan(1000);
    const record = await waitFor(async () => (await leash.records()).find((r) => r.upgrade === 'websocket'));
    expect(record).toMatchObject({ effect: 'deny', reason: 'policy_revoked', status: 101 });
    expect(String(record?.message)).toContain('no longer allows WebSocket upgrades here');
  } finally {
    await leash.stop();
  }
});

it('a busy WebSocket ends at settings.timeouts.maxLifetime (with its tunnel), audited max_lifetime', async () => {
  const leash = await startLeash(yaml(true, '700ms'));
  try {
    // The tunnel carrying the WebSocket and the WebSocket itself both live at most maxLifetime; the tunnel, opened
    // first, reaches it first and takes the stream with it.
    const opened = performance.now();
    const { client, closed } = await openWebSocket(leash);
    const busy = setInterval(() => client.writable && client.write('x'), 50);
    const lived = (await closed) - opened;
    clearInterval(busy);
    expect(lived).toBeGreaterThan(600);
    expect(lived).toBeLessThan(3000);
    const records = await waitFor(async () => {
      const all = await leash.records();
      return all.some((r) => r.upgrade === 'websocket') && all.some((r) => r.event === 'tunnel') ? all : undefined;
    });
    expect(records?.find((r) => r.event === 'tunnel')).toMatchObject({
      effect: 'deny',
      reason: 'max_lifetime',
      status: 200,
    });
    expect(records?.find((r) => r.upgrade === 'websocket')).toMatchObject({ status: 101 });
  } finally {
    await leash.stop();
  }
});
