// rateLimit on a rule: a burst over the limit gets exactly the expected 429s with a correct Retry-After, the
// upstream sees none of them, the window recovers; rateLimit counts requests whatever the keep-alive pattern, and
// `connections` counts tunnels, not what they carry.

import http from 'node:http';
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
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { limited.test: 127.0.0.1, tunnel.test: 127.0.0.1, counted.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: limited, domain: limited.test, ports: "*", rateLimit: 3/1m, effect: allow }
  - { name: tunnel, domain: tunnel.test, ports: "*", methods: [CONNECT], connections: 1/1m, effect: allow }
  - { name: counted, domain: counted.test, ports: "*", rateLimit: 10/1m, effect: allow }
`),
    { now: () => now },
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

it('a burst of 5 over a 3/1m limit: 3 pass, 2 get 429 with Retry-After 20, the upstream sees 3', async () => {
  const before = origin.seen.length;
  const results = [];
  for (let i = 0; i < 5; i++)
    results.push(await curl({ url: `http://limited.test:${origin.port}/${i}`, proxy: leash.url }));
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

it('connections: N/WINDOW counts tunnels, however many requests each carries', async () => {
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.write(`CONNECT tunnel.test:${origin.port} HTTP/1.1\r\n\r\n`);
  let text = '';
  await new Promise<void>((resolve) => {
    socket.on('data', (c: Buffer) => {
      text += c.toString();
      if (text === 'HTTP/1.1 200 Connection Established\r\n\r\n') {
        for (let i = 0; i < 3; i++) socket.write(`GET /in-tunnel-${i} HTTP/1.1\r\nHost: tunnel.test\r\n\r\n`);
      }
      if ((text.match(/HTTP\/1\.1 200 OK/g)?.length ?? 0) === 3) resolve();
    });
  });
  socket.destroy();
  const second = net.connect(leash.port, '127.0.0.1');
  second.write(`CONNECT tunnel.test:${origin.port} HTTP/1.1\r\n\r\n`);
  const answer = await new Promise<string>((resolve) => second.once('data', (c: Buffer) => resolve(c.toString())));
  second.destroy();
  expect(answer).toMatch(/^HTTP\/1\.1 429 /);
  expect(answer).toMatch(/Retry-After: 60\r\n/);
  expect(answer).toContain("exceeded rule tunnel's connection limit of 1/1m tunnels");
});

/** Sends `n` GETs through leash, one after another, on the given agent (keep-alive or not); returns the statuses. */
async function sequentialGets(n: number, agent: http.Agent | false): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    statuses.push(
      await new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: leash.port,
            path: `http://counted.test:${origin.port}/n${i}`,
            agent,
            headers: agent ? {} : { Connection: 'close' },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end();
      }),
    );
  }
  return statuses;
}

it('rateLimit counts requests: 30 over one keep-alive connection and 30 over 30 connections get the same 429s', async () => {
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<unknown>();
  keepAlive.on('free', (socket) => sockets.add(socket));
  now += 10 * 60_000;
  const overOne = await sequentialGets(30, keepAlive);
  keepAlive.destroy();
  expect(sockets.size).toBe(1);
  now += 10 * 60_000;
  const overThirty = await sequentialGets(30, false);
  expect(overOne.filter((s) => s === 429)).toHaveLength(20);
  expect(overThirty.filter((s) => s === 429)).toHaveLength(20);
  expect(overOne).toEqual(overThirty);
});
