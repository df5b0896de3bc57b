// rateLimit on a rule: a burst over the limit gets exactly the expected 429s with a correct Retry-After, the
// upstream sees none of them, the window recovers, and a CONNECT tunnel counts once.

import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let origin: TestOrigin;
let leash: TestLeash;
let now = 1_000_000;

beforeAll(async () => {
  origin = await startHttpOrigin();
  leash = await startLeash(policy(`
settings:
  dns: { hosts: { limited.test: 127.0.0.1, tunnel.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: limited, domain: limited.test, ports: "*", rateLimit: 3/1m, effect: allow }
  - { name: tunnel, domain: tunnel.test, ports: "*", rateLimit: 1/1m, effect: allow }
`), { now: () => now });
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

it('a burst of 5 over a 3/1m limit: 3 pass, 2 get 429 with Retry-After 20, the upstream sees 3', async () => {
  const before = origin.seen.length;
  const results = [];
  for (let i = 0; i < 5; i++) results.push(await curl({ url: `http://limited.test:${origin.port}/${i}`, proxy: leash.url }));
  expect(results.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
  expect(results[3]?.headers['retry-after']).toBe('20');
  expect(results[3]?.headers['x-leash-decision']).toBe('deny; rule=limited; reason=rate_limited');
  expect(origin.seen.length - before).toBe(3);
  const limited = (await leash.records()).filter((r) => r.reason === 'rate_limited');
  expect(limited).toHaveLength(2);
  expect(limited[0]).toMatchObject({ effect: 'deny', status: 429, rule: 'limited' });
});

it('the window recovers: one token per 20 s', async () => {
  now += 19_999;
  expect((await curl({ url: `http://limited.test:${origin.port}/x`, proxy: leash.url })).status).toBe(429);
  now += 1;
  expect((await curl({ url: `http://limited.test:${origin.port}/y`, proxy: leash.url })).status).toBe(200);
});

it('a CONNECT tunnel counts once, however much it carries', async () => {
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.write(`CONNECT tunnel.test:${origin.port} HTTP/1.1\r\n\r\n`);
  let text = '';
  await new Promise<void>((resolve) => {
    socket.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\r\n\r\n') && !text.endsWith('HTTP/1.1 200 Connection Established\r\n\r\n')) resolve();
      if (text === 'HTTP/1.1 200 Connection Established\r\n\r\n') {
        for (let i = 0; i < 3; i++) socket.write(`GET /in-tunnel-${i} HTTP/1.1\r\nHost: tunnel.test\r\n\r\n`);
      }
    });
  });
  await new Promise((r) => setTimeout(r, 100));
  expect(text.match(/HTTP\/1\.1 200 OK/g)?.length).toBe(3);
  socket.destroy();
  const second = await curl({ url: `http://tunnel.test:${origin.port}/after`, proxy: leash.url });
  expect(second.status).toBe(429);
});
