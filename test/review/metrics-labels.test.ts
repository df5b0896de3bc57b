// Review probes: metric labels stay bounded. Requests to many hosts and paths, refused and allowed, on plain HTTP,
// CONNECT and with garbage, must leave no host, path or agent in /metrics.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { rawRequest } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let origin: TestOrigin;
let leash: TestLeash;

beforeAll(async () => {
  origin = await startHttpOrigin();
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { ok.test: 127.0.0.1, priv.test: 10.9.8.7 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: ok, domain: "*.test", broad: true, ports: [${origin.port}], methods: [GET], rateLimit: 3/1m, effect: allow }
`),
    { admin: '127.0.0.1:0' },
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

it('no host, path or secret-looking value becomes a label', async () => {
  const hosts = ['ok.test', 'priv.test', 'zz-unique-host-1.example', 'zz-unique-host-2.example'];
  for (const host of hosts) {
    await rawRequest(
      leash.port,
      `GET http://${host}:${origin.port}/zz-unique-path?token=zz-secret HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      { timeoutMs: 1500 },
    );
    await rawRequest(leash.port, `CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`, { timeoutMs: 300 });
  }
  await rawRequest(leash.port, 'GARBAGE zz-garbage\r\n\r\n', { timeoutMs: 500 });
  await leash.waitForRecords(9);
  const port = leash.running.admin?.port;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  expect(text).not.toMatch(/zz-|ok\.test|priv\.test/);
  expect(text).toMatch(/leash_requests_total\{/);
});
