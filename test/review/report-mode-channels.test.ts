// Review probes: report mode on every channel, with real sockets. Policy refusals are let through and recorded
// with wouldDeny and the reason enforce mode would have given; guards (address guard, malformed input, upgrades
// without a websocket rule, domain fronting) are enforced; every exchange writes exactly one record.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { rawRequest } from '../helpers/clients.js';
import { startHttpOrigin, startHttpsOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';
import { intercepted, wsHead } from './tunnel-client.js';

let plain: TestOrigin;
let secure: TestOrigin;
let leash: TestLeash;
let leashCa: string;

beforeAll(async () => {
  const dir = await tempDir();
  const ca = createTestCa('report review CA');
  const extraCa = path.join(dir, 'ca.pem');
  await writeFile(extraCa, ca.certPem);
  plain = await startHttpOrigin();
  secure = await startHttpsOrigin(ca.issue(['api.test', 'other.test']));
  leash = await startLeash(
    policy(`
settings:
  mode: report
  dns: { hosts: { api.test: 127.0.0.1, other.test: 127.0.0.1, meta.test: 169.254.169.254 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${secure.port}]
rules:
  - { name: api, domain: api.test, ports: [${secure.port}, ${plain.port}], methods: [GET], rateLimit: 1/1m, effect: allow }
`),
  );
  leashCa = await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8');
});

afterAll(async () => {
  await leash?.stop();
  await plain?.close();
  await secure?.close();
});

async function recordOf(pathname: string): Promise<Record<string, unknown>> {
  return (await waitFor(async () => (await leash.records()).find((r) => r.path === pathname))) as Record<
    string,
    unknown
  >;
}

it('inside an intercepted tunnel: allowed, over the limit, a refused method, a refused override', async () => {
  const t = await intercepted(leash.port, 'api.test', secure.port, leashCa);
  const h = `Host: api.test:${secure.port}\r\n`;
  await t.send(`GET /r1 HTTP/1.1\r\n${h}\r\n`, 1);
  await t.send(`GET /r2 HTTP/1.1\r\n${h}\r\n`, 2);
  await t.send(`POST /r3 HTTP/1.1\r\n${h}Content-Length: 2\r\n\r\nhi`, 3);
  await t.send(`GET /r4 HTTP/1.1\r\n${h}X-HTTP-Method-Override: DELETE\r\n\r\n`, 4);
  await t.send(wsHead('api.test', secure.port, '/r5'), 5);
  t.close();
  expect(t.statuses()).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 403']);
  const rows = await Promise.all(['/r1', '/r2', '/r3', '/r4', '/r5'].map(recordOf));
  expect(rows.map((r) => [r.effect, r.reason, r.rule, r.wouldDeny ?? false])).toEqual([
    ['allow', 'allowed_by_rule', 'api', false],
    ['allow', 'rate_limited', 'api', true],
    ['allow', 'no_rule', null, true],
    ['allow', 'method_override', null, true],
    ['deny', 'upgrade_denied', 'api', false],
  ]);
  const all = await leash.records();
  const ids = all.map((r) => r.id);
  expect(new Set(ids).size).toBe(ids.length);
});

it('plain HTTP: the address guard and domain-less garbage are enforced; a denied host is reported', async () => {
  const get = async (host: string, p: string) =>
    (
      await rawRequest(
        leash.port,
        `GET http://${host}:${plain.port}${p} HTTP/1.1\r\nHost: ${host}:${plain.port}\r\nConnection: close\r\n\r\n`,
      )
    ).text.split('\r\n')[0];
  expect(await get('meta.test', '/p1')).toMatch(/ 403 /);
  expect(await get('unknown.test', '/p2')).toMatch(/ 403 |502/);
  const p1 = await recordOf('/p1');
  expect(p1).toMatchObject({ effect: 'deny', reason: 'address_denied' });
  expect(p1.wouldDeny).toBeUndefined();
});

it('CONNECT: a reported tunnel whose client leaves before any ClientHello is audited when it leaves, not at the headers timeout', async () => {
  const started = performance.now();
  const t = await rawRequest(
    leash.port,
    `CONNECT other.test:${secure.port} HTTP/1.1\r\nHost: other.test:${secure.port}\r\n\r\n`,
    { timeoutMs: 300 },
  );
  expect(t.text.split('\r\n')[0]).toBe('HTTP/1.1 200 Connection Established');
  const record = (await waitFor(
    async () => (await leash.records()).find((r) => r.event === 'tunnel' && r.host === 'other.test'),
    { timeoutMs: 15_000 },
  )) as Record<string, unknown>;
  const waited = performance.now() - started;
  expect(record).toMatchObject({ effect: 'deny', reason: 'hello_timeout' });
  // settings.timeouts.headers is 10 s by default: the record should follow the client's close, not that timer.
  expect(waited).toBeLessThan(3000);
});
