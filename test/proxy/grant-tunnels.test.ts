// A grant is GET/HEAD only, for its TTL, per request. A tunnel opened through a grant is intercepted, so each
// request inside it is decided on its own (a POST gets 403 and its own record, whatever the grant), and when the
// grant expires the tunnel is closed (grant_expired) instead of living on as a spliced pipe to anywhere.

import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, startHttpsOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let api: TestOrigin;
let cdn: TestOrigin;
let leash: TestLeash;
let leashCa: string;

beforeAll(async () => {
  const dir = await tempDir();
  const originCa = createTestCa('cdn test CA');
  const extraCa = path.join(dir, 'cdn-ca.pem');
  await writeFile(extraCa, originCa.certPem);
  cdn = await startHttpsOrigin(originCa.issue(['img.cdn.test']));
  api = await startHttpOrigin((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ results: [{ image: `https://img.cdn.test:${cdn.port}/cat.png` }] }));
  });
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { search.test: 127.0.0.1, img.cdn.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${cdn.port}]
  grants: { ttl: 1500ms }
rules:
  - { name: search, domain: search.test, ports: [${api.port}], inspect: [json], effect: allow }
`),
  );
  leashCa = await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8');
});

afterAll(async () => {
  await leash?.stop();
  await api?.close();
  await cdn?.close();
});

/** Opens an intercepted tunnel to the granted CDN; `closed` settles when it closes, `text` is all it received. */
async function grantedTunnel() {
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.write(`CONNECT img.cdn.test:${cdn.port} HTTP/1.1\r\n\r\n`);
  expect(await new Promise<string>((r) => socket.once('data', (c: Buffer) => r(c.toString())))).toBe(
    'HTTP/1.1 200 Connection Established\r\n\r\n',
  );
  // Leash's certificate, not the CDN's: the tunnel is intercepted.
  const client = tls.connect({ socket, servername: 'img.cdn.test', ca: leashCa });
  client.on('error', () => {});
  const closed = new Promise<number>((r) => client.once('close', () => r(performance.now())));
  const tunnel = { client, closed, text: '' };
  client.on('data', (d: Buffer) => (tunnel.text += d.toString('latin1')));
  await new Promise<void>((r) => client.once('secureConnect', () => r()));
  return tunnel;
}

it('inside a granted tunnel GET passes, a POST gets 403 with its own record, and expiry closes the tunnel', async () => {
  expect((await curl({ url: `http://search.test:${api.port}/search`, proxy: leash.url })).status).toBe(200);
  const grantedAt = performance.now();
  const statuses = (text: string) => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];

  const first = await grantedTunnel();
  first.client.write(`GET /cat.png HTTP/1.1\r\nHost: img.cdn.test:${cdn.port}\r\n\r\n`);
  await waitFor(() => statuses(first.text).length >= 1);
  first.client.write(`POST /upload HTTP/1.1\r\nHost: img.cdn.test:${cdn.port}\r\nContent-Length: 6\r\n\r\nsecret`);
  await first.closed; // a refusal of a request with a body ends the connection
  expect(statuses(first.text)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 403']);
  // The refusal says what decided: the grant, and why it does not cover this request.
  expect(first.text).toContain(
    'HTTP/1.1 403 Blocked by leash (not granted: a grant allows only GET and HEAD, and this is POST)',
  );
  expect(cdn.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /cat.png']);

  // An idle granted tunnel dies with its grant.
  const second = await grantedTunnel();
  second.client.write(`GET /again.png HTTP/1.1\r\nHost: img.cdn.test:${cdn.port}\r\n\r\n`);
  await waitFor(() => statuses(second.text).length >= 1);
  const lived = (await second.closed) - grantedAt;
  expect(lived).toBeGreaterThan(1000);
  expect(lived).toBeLessThan(4000);
  const records = (await waitFor(async () => {
    const all = await leash.records();
    return all.filter((r) => r.event === 'tunnel' && r.host === 'img.cdn.test').length >= 2 ? all : undefined;
  })) as Record<string, unknown>[];
  expect(
    records
      .filter((r) => r.event === 'tunnel' && r.host === 'img.cdn.test')
      .map((r) => r.reason)
      .sort(),
  ).toEqual(['grant_expired', 'granted']);
  const inside = records.filter((r) => r.event === 'request' && r.host === 'img.cdn.test');
  expect(inside.map((r) => [r.method, r.path, r.effect, r.rule ?? null])).toEqual([
    ['GET', '/cat.png', 'allow', 'grant'],
    ['POST', '/upload', 'deny', null],
    ['GET', '/again.png', 'allow', 'grant'],
  ]);
});

it('after the grant expired, a new tunnel to the host is refused', async () => {
  const r = await curl({ url: `https://img.cdn.test:${cdn.port}/cat.png`, proxy: leash.url });
  expect(r.status).toBe(403);
});
