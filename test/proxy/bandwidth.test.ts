// Upload budgets: a request body or tunnel that would push an agent past its rule's `bandwidth` is cut and
// audited with reason `bandwidth`; the upstream never receives the bytes over the budget.

import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from '../helpers/audit-sink.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, startTcpSink, type TcpSink, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let origin: TestOrigin;
let sink: TcpSink;
let leash: TestLeash;

beforeAll(async () => {
  origin = await startHttpOrigin();
  sink = await startTcpSink();
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { upload.test: 127.0.0.1, tunnel.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: upload, domain: upload.test, ports: "*", bandwidth: 10KB/1h, effect: allow }
  - { name: tunnel, domain: tunnel.test, ports: "*", methods: [CONNECT], bandwidth: 4KB/1h, effect: allow }
`),
    { now: () => 0 },
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
  await sink?.close();
});

it('request bodies within the budget pass; the one that exceeds it is cut with 429 bandwidth', async () => {
  const small = await curl({
    url: `http://upload.test:${origin.port}/a`,
    proxy: leash.url,
    method: 'POST',
    data: 'x'.repeat(6000),
  });
  expect(small.status).toBe(200);
  const big = await curl({
    url: `http://upload.test:${origin.port}/b`,
    proxy: leash.url,
    method: 'POST',
    data: 'y'.repeat(6000),
  });
  expect(big.status).toBe(429);
  expect(big.headers['x-leash-decision']).toBe('deny; rule=upload; reason=bandwidth');
  expect(origin.seen.find((s) => s.url === '/b')).toBeUndefined();
  const record = await waitFor(async () => (await leash.records()).find((r) => r.path === '/b'));
  expect(record).toMatchObject({ effect: 'deny', reason: 'bandwidth', rule: 'upload' });
});

it('a tunnel that uploads past its budget is cut, and the upstream gets no byte beyond it', async () => {
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.write(`CONNECT tunnel.test:${sink.port} HTTP/1.1\r\n\r\n`);
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.on('error', () => {});
  for (let i = 0; i < 10; i++) socket.write(Buffer.alloc(1000, 0x41));
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const received = sink.received.reduce((n, b) => n + b.length, 0);
  expect(received).toBeLessThanOrEqual(4000);
  const record = await waitFor(async () =>
    (await leash.records()).find((r) => r.event === 'tunnel' && r.host === 'tunnel.test'),
  );
  expect(record).toMatchObject({ effect: 'deny', reason: 'bandwidth', rule: 'tunnel' });
});
