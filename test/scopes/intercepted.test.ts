// A scope never passes a deny rule: a tunnel a scope opens to a host that a deny rule on paths covers is
// intercepted (real TLS, leash's CA, an origin with a certificate minted for this run), and each request inside is
// decided on its own: allowed by the scope the CONNECT carried, or refused by the deny rule.

import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { startLeash, type TestLeash } from '../helpers/leash.js';
import { startHttpsOrigin, type TestOrigin } from '../helpers/origin.js';

const TOKENS = { LEASH_T_INTERCEPT_DEV: 'dev-token-77c1' };
const auth = `Basic ${Buffer.from(`dev:${TOKENS.LEASH_T_INTERCEPT_DEV}`).toString('base64')}`;

describe('a scope-opened tunnel that a deny rule on paths covers', () => {
  let origin: TestOrigin;
  let leash: TestLeash;
  let leashCaPem: string;

  beforeAll(async () => {
    Object.assign(process.env, TOKENS);
    const dir = await tempDir();
    const originCa = createTestCa('scope origin CA');
    const extraCa = path.join(dir, 'origin-ca.pem');
    await writeFile(extraCa, originCa.certPem);
    origin = await startHttpsOrigin(originCa.issue(['wiki.test']));
    leash = await startLeash(`version: 1
settings:
  dns: { hosts: { wiki.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${origin.port}]
agents:
  dev: { token: env:LEASH_T_INTERCEPT_DEV }
scopes:
  sandbox: { agents: [dev], ttl: 1h, ports: [${origin.port}] }
rules:
  - { name: no-admin, domain: wiki.test, paths: ["/admin/**"], effect: deny }
`);
    leashCaPem = await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8');
  });

  afterAll(async () => {
    await leash?.stop();
    await origin?.close();
    for (const key of Object.keys(TOKENS)) delete process.env[key];
  });

  it('is intercepted; inside, the scope of the CONNECT allows /ok and the deny rule refuses /admin/x', async () => {
    const socket = net.connect({ port: leash.port, host: '127.0.0.1' });
    socket.write(
      `CONNECT wiki.test:${origin.port} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\nX-Leash-Scope: sandbox\r\n\r\n`,
    );
    const established = await new Promise<string>((r) => socket.once('data', (d: Buffer) => r(d.toString('latin1'))));
    expect(established).toMatch(/^HTTP\/1\.1 200 /);
    const client = tls.connect({ socket, servername: 'wiki.test', ca: leashCaPem });
    client.on('error', () => {});
    await new Promise<void>((r) => client.once('secureConnect', () => r()));
    let text = '';
    client.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const answered = async (n: number) => {
      for (let i = 0; i < 200 && (text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length < n; i++)
        await new Promise((r) => setTimeout(r, 20));
    };
    client.write(`GET /ok HTTP/1.1\r\nHost: wiki.test:${origin.port}\r\n\r\n`);
    await answered(1);
    client.write(`GET /admin/x HTTP/1.1\r\nHost: wiki.test:${origin.port}\r\n\r\n`);
    await answered(2);
    client.destroy();
    expect((text.match(/HTTP\/1\.1 \d{3} /g) ?? []).map((l) => l.slice(9, 12))).toEqual(['200', '403']);
    expect(origin.seen.map((r) => r.url)).toEqual(['/ok']);
    const records = await leash.records();
    const inside = records.filter((r) => r.event === 'request' && r.tls === 'intercepted');
    expect(inside.map((r) => `${r.path} ${r.reason}`)).toEqual(['/ok scope', '/admin/x denied_by_rule']);
    // The tunnel's own record is written when it closes.
    const tunnel = await waitFor(async () => (await leash.records()).find((r) => r.event === 'tunnel'));
    expect(tunnel).toMatchObject({ reason: 'scope', scope: { name: 'sandbox', via: 'header' } });
  });
});
