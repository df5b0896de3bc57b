// An allowed upstream is still not trusted: a status line Node's server would refuse to write (status 000,
// control bytes in the reason) must become a 502 for that request, never a crash of leash.

import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let hostile: net.Server;
let hostilePort: number;
let healthy: TestOrigin;
let leash: TestLeash;

beforeAll(async () => {
  hostile = net.createServer((socket) => {
    socket.once('data', (d: Buffer) => {
      const line = d.toString('latin1').split(' ')[1] ?? '';
      const status = line.includes('zero') ? 'HTTP/1.1 000 OK' : 'HTTP/1.1 200 O\x01K';
      socket.end(`${status}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    });
  });
  await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', () => r()));
  hostilePort = (hostile.address() as net.AddressInfo).port;
  healthy = await startHttpOrigin();
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { hostile.test: 127.0.0.1, inspected.test: 127.0.0.1, healthy.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: hostile, domain: hostile.test, ports: "*", effect: allow }
  - { name: inspected, domain: inspected.test, ports: "*", inspect: [json], effect: allow }
  - { name: healthy, domain: healthy.test, ports: "*", effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  hostile?.close();
  await healthy?.close();
});

it.each([
  ['status 000', 'hostile.test', '/zero'],
  ['a control byte in the reason phrase', 'hostile.test', '/ctrl'],
  ['status 000 on an inspected rule', 'inspected.test', '/zero'],
  ['a control byte in the reason, inspected', 'inspected.test', '/ctrl'],
])('%s: the agent gets an answer and leash keeps serving', async (_name, host, path) => {
  const r = await curl({ url: `http://${host}:${hostilePort}${path}`, proxy: leash.url });
  expect(r.status === 502 || r.status === 200).toBe(true);
  expect((await curl({ url: `http://healthy.test:${healthy.port}/after`, proxy: leash.url })).status).toBe(200);
});
