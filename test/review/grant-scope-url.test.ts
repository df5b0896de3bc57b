// Review probes: grants with scope url inside intercepted tunnels. findGrant (proxy/grants.ts) compares the WHATWG
// URL of the request target, which resolves dot segments (`/x/../`, `/x/%2e%2e/`) and backslashes, with the URL the
// response named; but inside an intercepted tunnel leash forwards the raw path (intercepted-request.ts), so
// `GET /<anything>/../img/cat.png` matches the grant for /img/cat.png and carries <anything> to the granted host.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, startHttpsOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';
import { intercepted, wsHead } from './tunnel-client.js';

let api: TestOrigin;
let cdn: TestOrigin;
let leash: TestLeash;
let leashCa: string;

beforeAll(async () => {
  const dir = await tempDir();
  const originCa = createTestCa('cdn review CA');
  const extraCa = path.join(dir, 'cdn-ca.pem');
  await writeFile(extraCa, originCa.certPem);
  cdn = await startHttpsOrigin(originCa.issue(['img.cdn.test']));
  api = await startHttpOrigin((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ results: [{ image: `https://img.cdn.test:${cdn.port}/img/cat.png` }] }));
  });
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { search.test: 127.0.0.1, img.cdn.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${cdn.port}]
  grants: { ttl: 30s, scope: url }
rules:
  - { name: search, domain: search.test, ports: [${api.port}], inspect: [json], effect: allow }
`),
  );
  leashCa = await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8');
  expect((await curl({ url: `http://search.test:${api.port}/search`, proxy: leash.url })).status).toBe(200);
  await waitFor(async () => (await leash.records()).some((r) => r.reason === 'granted'));
});

afterAll(async () => {
  await leash?.stop();
  await api?.close();
  await cdn?.close();
});

it('the granted URL itself passes (control)', async () => {
  const t = await intercepted(leash.port, 'img.cdn.test', cdn.port, leashCa);
  expect(await t.send(`GET /img/cat.png HTTP/1.1\r\nHost: img.cdn.test:${cdn.port}\r\n\r\n`, 1)).toEqual([
    'HTTP/1.1 200',
  ]);
  t.close();
});

it.each([
  ['a dot segment', '/SECRET-TOKEN-1234/../img/cat.png'],
  ['an encoded dot segment', '/SECRET-TOKEN-5678/%2e%2e/img/cat.png'],
  ['backslashes', '/SECRET-TOKEN-9012\\..\\img/cat.png'],
])(
  'with scope url, %s that resolves to the granted URL is not granted: its path never reaches the host',
  async (_name, target) => {
    const t = await intercepted(leash.port, 'img.cdn.test', cdn.port, leashCa);
    const before = cdn.seen.length;
    const statuses = await t.send(`GET ${target} HTTP/1.1\r\nHost: img.cdn.test:${cdn.port}\r\n\r\n`, 1);
    t.close();
    const leaked = cdn.seen.slice(before).map((s) => s.url);
    expect({ status: statuses[0], leaked }).toEqual({ status: 'HTTP/1.1 403', leaked: [] });
  },
);

it('a WebSocket upgrade inside a granted tunnel is refused (a grant is for reads, never an upgrade)', async () => {
  const t = await intercepted(leash.port, 'img.cdn.test', cdn.port, leashCa);
  const before = cdn.seen.length;
  const statuses = await t.send(wsHead('img.cdn.test', cdn.port, '/img/cat.png'), 1);
  t.close();
  expect(statuses[0]).toBe('HTTP/1.1 403');
  expect(cdn.seen.length).toBe(before);
});
