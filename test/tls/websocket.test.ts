// WebSocket inside an intercepted tunnel: refused unless the GET is allowed by a rule with `websocket: true`; then
// the upgraded stream is spliced to the origin and audited as one record.

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
let leash: TestLeash;
let leashCa: string;

beforeAll(async () => {
  const ca = createTestCa('ws origin CA');
  const cert = ca.issue(['chat.test', 'feed.test']);
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
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
  const dir = await tempDir();
  const extraCa = path.join(dir, 'ca.pem');
  await writeFile(extraCa, ca.certPem);
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { chat.test: 127.0.0.1, feed.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${port}]
rules:
  - { name: chat, domain: chat.test, ports: [${port}], methods: [GET], websocket: true, effect: allow }
  - { name: feed, domain: feed.test, ports: [${port}], methods: [GET], effect: allow }
`),
  );
  leashCa = await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8');
});

afterAll(async () => {
  await leash?.stop();
  server?.closeAllConnections();
  server?.close();
});

async function upgrade(
  host: string,
  target = '/socket',
  extra = '',
): Promise<{ client: tls.TLSSocket; head: string; read: () => string }> {
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.write(`CONNECT ${host}:${port} HTTP/1.1\r\n\r\n`);
  await new Promise<void>((r) => socket.once('data', () => r()));
  const client = tls.connect({ socket, servername: host, ca: leashCa });
  let text = '';
  client.on('data', (d: Buffer) => (text += d.toString('latin1')));
  client.on('error', () => {});
  await new Promise<void>((r) => client.once('secureConnect', () => r()));
  client.write(
    `GET ${target} HTTP/1.1\r\nHost: ${host}:${port}\r\n${extra}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await waitFor(() => text.includes('\r\n\r\n'));
  return { client, head: text, read: () => text };
}

it('a rule with websocket: true lets the upgrade through, spliced both ways, audited as one record', async () => {
  const { client, head, read } = await upgrade('chat.test');
  expect(head.startsWith('HTTP/1.1 101')).toBe(true);
  client.write('hello');
  await waitFor(() => read().includes('echo:hello'));
  client.destroy();
  const record = await waitFor(async () =>
    (await leash.records()).find((r) => r.upgrade === 'websocket' && r.host === 'chat.test'),
  );
  expect(record).toMatchObject({ event: 'request', effect: 'allow', rule: 'chat', status: 101, tls: 'intercepted' });
});

it('without websocket: true the upgrade is refused with 403 upgrade_denied', async () => {
  const { head, client } = await upgrade('feed.test');
  expect(head).toMatch(/^HTTP\/1\.1 403 /);
  expect(head).toContain('X-Leash-Decision: deny; rule=feed; reason=upgrade_denied');
  client.destroy();
});

it.each([
  ['an override header', '/socket', 'X-HTTP-Method-Override: DELETE\r\n'],
  ['a _method query parameter', '/socket?_method=DELETE', ''],
])(
  'an upgrade that asks for another method through %s is refused with 403 method_override',
  async (_name, target, extra) => {
    const { head, client } = await upgrade('chat.test', target, extra);
    expect(head).toMatch(/^HTTP\/1\.1 403 /);
    expect(head).toContain('X-Leash-Decision: deny; reason=method_override');
    client.destroy();
  },
);
