// rateLimit on an HTTPS host counts requests, as the README promises: a rule with rateLimit on a TLS port is
// intercepted so each request inside can be counted, and the CONNECT that carries them takes no token. A client
// that opens one tunnel per call (curl, most SDKs after an error) gets exactly N successes, not N tunnels.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { curl } from '../helpers/clients.js';
import { startHttpsOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let origin: TestOrigin;
let leash: TestLeash;
let bundle: string;
let now = 5_000_000;

beforeAll(async () => {
  const dir = await tempDir();
  const originCa = createTestCa('origin test CA');
  const extraCa = path.join(dir, 'origin-ca.pem');
  await writeFile(extraCa, originCa.certPem);
  origin = await startHttpsOrigin(originCa.issue(['search.test']));
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { search.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${origin.port}]
rules:
  - { name: search, domain: search.test, ports: [${origin.port}], rateLimit: 3/1m, effect: allow }
`),
    { now: () => now },
  );
  bundle = path.join(dir, 'bundle.pem');
  await writeFile(bundle, await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8'));
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

it('one tunnel per call: exactly 3 of 5 calls succeed, the rest get 429 with Retry-After inside the tunnel', async () => {
  const statuses: (number | null)[] = [];
  const retry: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await curl({ url: `https://search.test:${origin.port}/q${i}`, proxy: leash.url, caFile: bundle });
    statuses.push(r.status);
    if (r.status === 429) retry.push(r.headers['retry-after'] ?? '');
  }
  expect(statuses).toEqual([200, 200, 200, 429, 429]);
  expect(retry).toEqual(['20', '20']);
  const records = await leash.records();
  // The tunnels were all opened (intercepted): only requests were counted.
  expect(records.filter((r) => r.event === 'tunnel').map((r) => r.reason)).toEqual([
    'intercepted',
    'intercepted',
    'intercepted',
    'intercepted',
    'intercepted',
  ]);
  expect(records.filter((r) => r.event === 'request' && r.reason === 'rate_limited')).toHaveLength(2);
});

it('a client that honours Retry-After gets through when the window allows', async () => {
  now += 20_000;
  const r = await curl({ url: `https://search.test:${origin.port}/after`, proxy: leash.url, caFile: bundle });
  expect(r.status).toBe(200);
});
