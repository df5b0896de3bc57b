// Agent identity at the proxy: proxy credentials and the socket owner's uid name the agent, rules apply per agent,
// tokens never reach the audit log or the origin, and credentials that disagree with the uid are refused.

import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

const NOBODY = 65534;
const TOKENS = { LEASH_TEST_TOKEN_RESEARCH: 'research-token-4f9a1c', LEASH_TEST_TOKEN_MAIL: 'mail-token-8b2e7d' };
const canSwitchUid = process.getuid?.() === 0 && hasSetpriv();

function hasSetpriv(): boolean {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let origin: TestOrigin;
let leash: TestLeash;

beforeAll(async () => {
  Object.assign(process.env, TOKENS);
  origin = await startHttpOrigin();
  leash = await startLeash(
    policy(`
settings:
  requireAgent: true
  dns: { hosts: { reports.test: 127.0.0.1, mail.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
agents:
  research: { token: env:LEASH_TEST_TOKEN_RESEARCH }
  mail: { token: env:LEASH_TEST_TOKEN_MAIL }
  sandboxed: { uid: ${NOBODY} }
rules:
  - { name: research-reports, domain: reports.test, ports: "*", agents: [research, sandboxed], effect: allow }
  - { name: mail-only, domain: mail.test, ports: "*", agents: [mail], effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
  for (const key of Object.keys(TOKENS)) delete process.env[key];
});

const as = (agent: string, token: string) => leash.url.replace('http://', `http://${agent}:${token}@`);

describe('proxy credentials', () => {
  it.each([
    { agent: 'research', token: TOKENS.LEASH_TEST_TOKEN_RESEARCH, host: 'reports.test', status: 200 },
    { agent: 'mail', token: TOKENS.LEASH_TEST_TOKEN_MAIL, host: 'reports.test', status: 403 },
    { agent: 'mail', token: TOKENS.LEASH_TEST_TOKEN_MAIL, host: 'mail.test', status: 200 },
    { agent: 'research', token: TOKENS.LEASH_TEST_TOKEN_RESEARCH, host: 'mail.test', status: 403 },
  ])('$agent → $host: $status', async ({ agent, token, host, status }) => {
    const r = await curl({ url: `http://${host}:${origin.port}/as-${agent}`, proxy: as(agent, token) });
    expect(r.status).toBe(status);
    const record = (await leash.records()).filter((x) => x.path === `/as-${agent}` && x.host === host).at(-1);
    expect(record).toMatchObject({ agent, identity: 'token' });
  });

  it.each([
    { name: 'a wrong token', proxy: () => as('research', TOKENS.LEASH_TEST_TOKEN_MAIL), reason: 'auth_failed' },
    { name: 'no token under requireAgent', proxy: () => leash.url, reason: 'auth_required' },
  ])('$name gets 407 with a challenge', async ({ proxy, reason }) => {
    const r = await curl({ url: `http://reports.test:${origin.port}/refused-${reason}`, proxy: proxy() });
    expect(r.status).toBe(407);
    expect(r.headers['proxy-authenticate']).toBe('Basic realm="leash"');
    expect(r.headers['x-leash-decision']).toBe(`deny; reason=${reason}`);
    const record = (await leash.records()).find((x) => x.path === `/refused-${reason}`);
    expect(record).toMatchObject({ effect: 'deny', reason, status: 407 });
  });

  it('a CONNECT with a wrong token gets 407 too', async () => {
    const r = await curl({ url: `https://reports.test:${origin.port}/`, proxy: as('research', 'nope') });
    expect(r.status).toBe(407);
  });

  it('tokens never reach the audit log or the origin', async () => {
    await leash.records();
    const log = await readFile(leash.auditFile, 'utf8');
    const seen = JSON.stringify(origin.seen.map((s) => s.headers));
    for (const token of Object.values(TOKENS)) {
      expect(log).not.toContain(token);
      expect(log).not.toContain(Buffer.from(`research:${token}`).toString('base64'));
      expect(seen).not.toContain(token);
    }
    expect(seen).not.toContain('proxy-authorization');
  });
});

describe.skipIf(!canSwitchUid && process.env.CI !== 'true')('socket owner uid (needs root and setpriv)', () => {
  it('a process running as another uid is identified by that uid', async () => {
    const r = await curl({ url: `http://reports.test:${origin.port}/by-uid`, proxy: leash.url, asUid: NOBODY });
    expect(r.status).toBe(200);
    const record = (await leash.records()).find((x) => x.path === '/by-uid');
    expect(record).toMatchObject({ agent: 'sandboxed', identity: 'uid' });
  });

  it('credentials that disagree with the uid are refused with 407', async () => {
    const r = await curl({
      url: `http://reports.test:${origin.port}/mismatch`,
      proxy: as('mail', TOKENS.LEASH_TEST_TOKEN_MAIL),
      asUid: NOBODY,
    });
    expect(r.status).toBe(407);
    expect(r.headers['x-leash-decision']).toBe('deny; reason=identity_mismatch');
  });
});
