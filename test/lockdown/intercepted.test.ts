// A lockdown reaches inside intercepted tunnels too: the WebSocket an agent opened through leash's TLS interception
// is cut with its tunnel, and an idle intercepted tunnel too, each audited with reason lockdown. (A new request
// inside a tunnel is refused by the admission step: test/proxy/admission.test.ts.)

import crypto from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from '../../src/main.js';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let server: https.Server;
let port: number;
let extraCa: string;
let leash: TestLeash;

beforeAll(async () => {
  const ca = createTestCa('lockdown origin CA');
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
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
  extraCa = path.join(await tempDir(), 'ca.pem');
  await writeFile(extraCa, ca.certPem);
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { chat.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${port}]
rules:
  - { name: chat, domain: chat.test, ports: [${port}], methods: [GET], websocket: true, effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  server?.closeAllConnections();
  server?.close();
});

/** An intercepted tunnel to chat.test; `text()` is everything the client has read from it. */
async function intercepted(): Promise<{ client: tls.TLSSocket; text: () => string; closed: Promise<number> }> {
  const ca = await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8');
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`CONNECT chat.test:${port} HTTP/1.1\r\n\r\n`);
  await new Promise<void>((r) => socket.once('data', () => r()));
  const client = tls.connect({ socket, servername: 'chat.test', ca });
  client.on('error', () => {});
  const closed = new Promise<number>((r) => client.once('close', () => r(performance.now())));
  let text = '';
  client.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await new Promise<void>((r) => client.once('secureConnect', () => r()));
  return { client, text: () => text, closed };
}

it('cuts an open WebSocket and its intercepted tunnel within a second, each audited lockdown', async () => {
  const ws = await intercepted();
  ws.client.write(
    `GET /socket HTTP/1.1\r\nHost: chat.test:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await waitFor(() => ws.text().startsWith('HTTP/1.1 101'));
  const idle = await intercepted();

  const t0 = performance.now();
  const code = await main(['lockdown', 'on', '--reason', 'drill', '--control', leash.running.control.path], {
    out: () => {},
    err: () => {},
    env: {},
  });
  expect(code).toBe(0);
  expect((await ws.closed) - t0).toBeLessThan(1000);
  expect((await idle.closed) - t0).toBeLessThan(1000);

  const records = (await waitFor(async () => {
    const all = (await leash.records()).filter((r) => r.reason === 'lockdown');
    return all.length >= 3 ? all : undefined;
  })) as Record<string, unknown>[];
  expect(records).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ event: 'request', upgrade: 'websocket', status: 101, effect: 'deny' }),
      expect.objectContaining({ event: 'tunnel', host: 'chat.test', status: 200, effect: 'deny' }),
    ]),
  );
  expect(records.filter((r) => r.event === 'tunnel')).toHaveLength(2);
  await main(['lockdown', 'off', '--control', leash.running.control.path], { out: () => {}, err: () => {}, env: {} });
});
