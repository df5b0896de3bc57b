// Plants secrets in many places of requests and checks that none of them reaches the audit file or stderr.

import { readFile } from 'node:fs/promises';
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
  - { name: api, domain: api.test, ports: [${api.port}], methods: [GET], effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await api?.close();
});

const PASSWORD = 'hunter2Zq';
const SHORT = 'tiGer77x';

async function send(line: string, headers = ''): Promise<string> {
  const r = await rawRequest(leash.port, `${line}\r\nHost: x\r\n${headers}\r\n`, { timeoutMs: 1500 });
  return r.text;
}

it('a ?password= value never reaches the audit file from the path or message', async () => {
  // Allowed, denied by method, denied by host, and as a User-Agent.
  await send(`GET http://api.test:${api.port}/x?password=${PASSWORD} HTTP/1.1`);
  await send(`DELETE http://api.test:${api.port}/x?password=${PASSWORD} HTTP/1.1`);
  await send(`GET http://denied.test/x?password=${PASSWORD} HTTP/1.1`);
  await send(`GET http://denied.test/x?pass=${SHORT} HTTP/1.1`);
  await leash.waitForRecords(4);
  const log = await readFile(leash.auditFile, 'utf8');
  const lines = log.split('\n').filter((l) => l.includes(PASSWORD) || l.includes(SHORT));
  expect(
    lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .map((r) => ({ path: r.path, message: r.message, userAgent: r.userAgent })),
  ).toEqual([]);
  expect(leash.stderr.filter((l) => l.includes(PASSWORD))).toEqual([]);
});

async function leaked(marker: string): Promise<unknown[]> {
  await leash.running.audit.flush();
  const log = await readFile(leash.auditFile, 'utf8');
  return [
    ...log
      .split('\n')
      .filter((l) => l.toLowerCase().includes(marker.toLowerCase()))
      .map((l) => {
        const r = JSON.parse(l) as Record<string, unknown>;
        return { method: r.method, host: r.host, path: r.path, message: r.message, userAgent: r.userAgent, sni: r.sni };
      }),
    ...leash.stderr.filter((l) => l.toLowerCase().includes(marker.toLowerCase())),
  ];
}

it('a URL with ?password= in the User-Agent is redacted (README: step 1 applies to every string, user agent included)', async () => {
  const secret = 'uaPw4711xy';
  await send(
    `GET http://denied.test/ua HTTP/1.1`,
    `User-Agent: fetcher/1 (+https://bot.example/cb?password=${secret})\r\n`,
  );
  await send(`GET http://denied.test/ua2 HTTP/1.1`, `User-Agent: x?api_key=${secret}b&token=${secret}c\r\n`);
  expect(await leaked(secret)).toEqual([]);
});

it('secrets planted in a CONNECT authority or an unparsable host are redacted', async () => {
  const secret = 'cnPw4711xy';
  await send(`CONNECT denied.test?password=${secret}:443 HTTP/1.1`);
  await send(`GET http://a?password=${secret}b/ HTTP/1.1`);
  await send(`CONNECT x.test:443/?token=${secret}c HTTP/1.1`);
  expect(await leaked(secret)).toEqual([]);
});

const KEYS = {
  openai: 'sk-proj-' + 'T3BlbkFJaK8x2Q9mN4vR7sW1yZ5cE0gH3jL6nP9tB2dF5hK8mQ1',
  github: 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8',
  xai: 'xai-' + 'Zk3m9Qp2Lr7Wt4Yx8Nb6Vc1Hs5Jd0Gf3Ka9Me2Pu7Rq4Tw1Xy6Zb8Nc5Vd0',
  groq: 'gsk_' + 'Q2w9E4r7T1y6U3i8O5p0A2s9D4f7G1h6J3k8L5z0X2c9V4b7N1m6',
  telegram: '123456789:' + 'AAH4kZp9Qw2Lx7Vb3Nc8Mr5Ts1Yd6Fg0Jh',
} as const;

for (const [name, key] of Object.entries(KEYS)) {
  it(`the ${name} key reaches the log in no encoding`, async () => {
    const tail = key.slice(-16);
    const pct = [...key].map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
    const dbl = pct.replace(/%/g, '%25');
    const lines = [
      `GET http://denied.test/v1/${key}/x HTTP/1.1`,
      `GET http://denied.test/v1/${pct}/x HTTP/1.1`,
      `GET http://denied.test/v1/${dbl}/x HTTP/1.1`,
      `GET http://denied.test/v1?q=Bearer+${key} HTTP/1.1`,
      `GET http://denied.test/v1/${key.toUpperCase()}/x HTTP/1.1`,
      `GET http://denied.test/bot${KEYS.telegram}/sendMessage HTTP/1.1`,
      `GET http://denied.test/v1/&#${key.charCodeAt(0)};${key.slice(1)} HTTP/1.1`,
      `GET http://denied.test/v1/\\u00${key.charCodeAt(0).toString(16)}${key.slice(1)} HTTP/1.1`,
      `GET http://denied.test/v1/${key.slice(0, 4)}%E2%80%8B${key.slice(4)} HTTP/1.1`,
      `GET http://denied.test/v1/${key.slice(0, 4)}%C2%AD${key.slice(4)} HTTP/1.1`,
    ];
    for (const line of lines) await send(line, `User-Agent: agent ${key}\r\nAuthorization: Bearer ${key}\r\n`);
    await send(`CONNECT ${key.replace(/[^a-z0-9-]/gi, '-').toLowerCase()}.denied.test:443 HTTP/1.1`);
    expect(await leaked(tail)).toEqual([]);
  });
}
