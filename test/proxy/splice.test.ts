// The bytes of a spliced tunnel, end to end through a real leash on loopback: what the upstream says before the
// client says anything arrives; a large download reaches a client that reads slowly byte for byte (leash reads
// into a buffer it reuses, so a reuse while a write still holds it would corrupt the stream); an upload arrives
// whole; and the upstream finishing its side ends the client's.

import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

const DOWNLOAD = randomBytes(16 * 1024 * 1024 + 123);
let upstream: net.Server;
let port: number;
let leash: TestLeash;
const uploads: Promise<Buffer>[] = [];

beforeAll(async () => {
  // The first line the client sends picks what the server does: BANNER is answered before anything is read.
  upstream = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.write('220 ready\r\n');
    let got = Buffer.alloc(0);
    const upload = new Promise<Buffer>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.toString('latin1').startsWith('GET\r\n')) {
          got = Buffer.alloc(0);
          socket.end(DOWNLOAD);
        }
      });
      socket.on('end', () => {
        resolve(got);
        socket.end();
      });
    });
    uploads.push(upload);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  port = (upstream.address() as net.AddressInfo).port;
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { raw.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: raw, domain: raw.test, ports: [${port}], methods: [CONNECT], effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

/** A tunnel through leash, with everything after the CONNECT answer collected. */
async function tunnel(): Promise<{ socket: net.Socket; received: () => Buffer; ended: Promise<void> }> {
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`CONNECT raw.test:${port} HTTP/1.1\r\nHost: raw.test:${port}\r\n\r\n`);
  const chunks: Buffer[] = [];
  let head: Buffer | null = Buffer.alloc(0);
  const opened = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      if (head === null) return void chunks.push(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!head.subarray(0, end).toString('latin1').startsWith('HTTP/1.1 200 '))
        return reject(new Error(head.toString('latin1')));
      chunks.push(head.subarray(end + 4));
      head = null;
      resolve();
    });
  });
  const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
  await opened;
  return { socket, received: () => Buffer.concat(chunks), ended };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

it('what the upstream sends before the client says anything reaches the client', async () => {
  const t = await tunnel();
  await expect.poll(() => t.received().toString('latin1'), { timeout: 5000 }).toBe('220 ready\r\n');
  t.socket.destroy();
});

it('a large download reaches a slow reader byte for byte, and the upstream finishing ends the client', async () => {
  const t = await tunnel();
  // Not reading at first, then in spurts: the kernel buffers fill, and leash's writes to the client queue up
  // while it goes on reading from the upstream.
  t.socket.pause();
  t.socket.write('GET\r\n');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const pauser = setInterval(() => (t.socket.isPaused() ? t.socket.resume() : t.socket.pause()), 10);
  await t.ended;
  clearInterval(pauser);
  const body = t.received().subarray('220 ready\r\n'.length);
  expect(body.length).toBe(DOWNLOAD.length);
  expect(sha(body)).toBe(sha(DOWNLOAD));
  t.socket.destroy();
}, 30_000);

it('an upload arrives whole, and the client ending its side ends the upstream', async () => {
  const t = await tunnel();
  const data = randomBytes(4 * 1024 * 1024);
  // Leash dials before it answers the CONNECT, so this tunnel's upstream connection is the latest.
  const upload = uploads[uploads.length - 1] as Promise<Buffer>;
  t.socket.end(data);
  const got = await upload;
  expect(sha(got)).toBe(sha(data));
}, 30_000);
