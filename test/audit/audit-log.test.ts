// The audit log as a security reviewer relies on it: it parses line by line, holds exactly one record per request
// even under concurrent load, and contains none of the credentials the agent's traffic carried.

import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let origin: TestOrigin;
let leash: TestLeash;

beforeAll(async () => {
  origin = await startHttpOrigin();
  process.env.LEASH_TEST_AUDIT_TOKEN = SECRETS.proxyPassword;
  leash = await startLeash(
    policy(`
agents:
  agent: { token: env:LEASH_TEST_AUDIT_TOKEN }
settings:
  dns: { hosts: { origin.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: origin, domain: origin.test, ports: "*", effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

const SECRETS = {
  openai: 'sk-proj-Abc123def456ghi789jkl012mno345',
  bearer: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJlMTIz',
  cookie: 'session=cookie-secret-9f8e7d6c',
  queryToken: 'query-token-5a4b3c2d1e',
  proxyPassword: 'proxy-pass-77aa88bb',
  github: 'ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
};

describe('no secret reaches the audit log', () => {
  it('planted credentials in headers, query strings, paths and user agents are all absent', async () => {
    const proxyWithCreds = leash.url.replace('http://', `http://agent:${SECRETS.proxyPassword}@`);
    await curl({
      url: `http://origin.test:${origin.port}/v1/${SECRETS.openai}/x?access_token=${SECRETS.queryToken}&q=ok`,
      proxy: proxyWithCreds,
      headers: {
        Authorization: `Bearer ${SECRETS.bearer}`,
        Cookie: SECRETS.cookie,
        'User-Agent': `agent/1.0 (key ${SECRETS.github})`,
      },
    });
    await curl({
      url: `http://denied.test/?api_key=${SECRETS.queryToken}`,
      proxy: leash.url,
      headers: { Authorization: `Bearer ${SECRETS.bearer}` },
    });
    await curl({ url: `https://denied.test/`, proxy: proxyWithCreds });
    await leash.records();
    const text = await readFile(leash.auditFile, 'utf8');
    for (const [name, secret] of Object.entries(SECRETS)) expect(text, `${name} leaked`).not.toContain(secret);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
    const records = await leash.records();
    const forwarded = records.find((r) => typeof r.path === 'string' && r.path.startsWith('/v1/'));
    expect(forwarded?.path).toBe('/v1/[REDACTED]/x?access_token=[REDACTED]&q=ok');
    // The origin did receive what the agent sent (leash redacts its log, not the traffic), minus proxy credentials.
    const seen = origin.seen.find((s) => s.url.startsWith('/v1/'));
    expect(seen?.headers.authorization).toBe(`Bearer ${SECRETS.bearer}`);
    expect(JSON.stringify(seen?.headers)).not.toContain(SECRETS.proxyPassword);
  });

  it('headers are never logged except user-agent', async () => {
    const records = await leash.records();
    const keys = new Set(records.flatMap((r) => Object.keys(r)));
    for (const key of ['headers', 'authorization', 'cookie', 'proxy-authorization']) expect(keys.has(key)).toBe(false);
  });
});

describe('nothing is lost', () => {
  it('N concurrent requests give N records, each line valid JSON', async () => {
    const before = (await leash.records()).length;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const N = 300;
    const statuses = await Promise.all(
      Array.from(
        { length: N },
        (_, i) =>
          new Promise<number>((resolve, reject) => {
            const target = i % 3 === 0 ? `http://denied.test/${i}` : `http://origin.test:${origin.port}/load/${i}`;
            const req = http.request(
              { host: '127.0.0.1', port: leash.port, method: 'GET', path: target, agent, headers: { host: 'x' } },
              (res) => {
                res.resume();
                res.on('end', () => resolve(res.statusCode ?? 0));
              },
            );
            req.on('error', reject);
            req.end();
          }),
      ),
    );
    agent.destroy();
    expect(statuses.filter((s) => s === 200).length).toBe(N - Math.ceil(N / 3));
    expect(statuses.filter((s) => s === 403).length).toBe(Math.ceil(N / 3));
    const records = await leash.waitForRecords(before + N);
    expect(records.length).toBe(before + N);
    const ids = new Set(records.map((r) => r.id));
    expect(ids.size).toBe(records.length);
    for (const r of records.slice(before)) {
      expect(typeof r.time).toBe('string');
      expect(r.v).toBe(2);
    }
  });
});
