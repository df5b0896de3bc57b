// `bandwidth` is an exfiltration budget of the bytes an agent sends upstream: the request target and headers count
// as well as bodies, so a body-less GET loop carrying data in its query and headers is held to it too.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { rawRequest } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let api: TestOrigin;
let leash: TestLeash;

beforeAll(async () => {
  api = await startHttpOrigin();
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: api, domain: api.test, ports: [${api.port}], bandwidth: 2KB/1h, effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await api?.close();
});

it('10 GETs with 6 KB of data in the query and a header each do not all pass a 2 KB upload budget', async () => {
  const data = 'A'.repeat(3000);
  for (let i = 0; i < 10; i++) {
    await rawRequest(
      leash.port,
      `GET http://api.test:${api.port}/x?d=${data} HTTP/1.1\r\nHost: api.test:${api.port}\r\nX-Data: ${data}\r\nConnection: close\r\n\r\n`,
      { timeoutMs: 1000 },
    );
  }
  const delivered = api.seen.reduce((n, s) => n + s.url.length + String(s.headers['x-data'] ?? '').length, 0);
  expect(delivered).toBeLessThanOrEqual(4 * 1024);
});
