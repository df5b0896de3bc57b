// Sandbox scopes on real sockets: a real leash in-process, a real origin on loopback, requests through the proxy,
// and `leash scopes list|revoke` over the real control socket. A scope opens access to an unlisted host for its
// agent only, never to a denied or private host; the access expires at its ttl, is listed and revocable; every step
// is in the audit log and in `leash audit --summary`; X-Leash-Scope never reaches the origin.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLeash, type TestLeash } from '../helpers/leash.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { leashCli, viaProxy } from '../helpers/through-leash.js';
import { rawRequest } from '../helpers/clients.js';

const TOKENS = { LEASH_T_SCOPE_DEV: 'dev-token-8c1f', LEASH_T_SCOPE_OPS: 'ops-token-2b7e' };
const auth = (agent: 'dev' | 'ops') =>
  `Basic ${Buffer.from(`${agent}:${agent === 'dev' ? TOKENS.LEASH_T_SCOPE_DEV : TOKENS.LEASH_T_SCOPE_OPS}`).toString('base64')}`;

describe('sandbox scopes through a real leash', () => {
  let origin: TestOrigin;
  let leash: TestLeash;
  let now = Date.UTC(2026, 11, 3, 16, 0, 0);
  const url = (host: string, path = '/') => `http://${host}:${origin.port}${path}`;
  const control = () => ['--control', leash.running.control.path];

  beforeAll(async () => {
    Object.assign(process.env, TOKENS);
    origin = await startHttpOrigin();
    leash = await startLeash(
      `version: 1
settings:
  dns:
    hosts: { tunnel.example.test: 127.0.0.1, new.example.test: 127.0.0.1, second.example.test: 127.0.0.1, third.example.test: 127.0.0.1, denied.example.test: 127.0.0.1, private.example.test: 10.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
agents:
  dev: { token: env:LEASH_T_SCOPE_DEV }
  ops: { token: env:LEASH_T_SCOPE_OPS }
scopes:
  sandbox: { agents: [dev], ttl: 1h, maxHosts: 2, ports: [${origin.port}] }
rules:
  - { name: denied, domain: denied.example.test, effect: deny }
`,
      { now: () => now },
    );
  });

  afterAll(async () => {
    await leash?.stop();
    await origin?.close();
    for (const key of Object.keys(TOKENS)) delete process.env[key];
  });

  it('opens an unlisted host for the agent whose request names the scope, audited as its own record; the header never reaches the origin', async () => {
    const reply = await viaProxy(leash.port, url('new.example.test', '/a'), {
      'Proxy-Authorization': auth('dev'),
      'X-Leash-Scope': 'sandbox',
    });
    expect(reply.status).toBe(200);
    expect(origin.seen.at(-1)?.headers['x-leash-scope']).toBeUndefined();
    const again = await viaProxy(leash.port, url('new.example.test', '/b'), {
      'Proxy-Authorization': auth('dev'),
      'X-Leash-Scope': 'sandbox',
    });
    expect(again.status).toBe(200);
    const records = await leash.records();
    const opened = records.filter((r) => r.event === 'scope' && r.reason === 'scope_opened');
    expect(opened).toHaveLength(1);
    const requests = records.filter((r) => r.event === 'request' && r.reason === 'scope');
    expect(requests).toHaveLength(2);
    // The scope record names the scope and the request that opened it, which is the first request's own record.
    expect(opened[0]).toMatchObject({
      agent: 'dev',
      host: 'new.example.test',
      port: origin.port,
      effect: 'allow',
      scope: { name: 'sandbox', openedBy: requests[0]?.id },
    });
    expect(requests[1]).toMatchObject({
      effect: 'allow',
      rule: null,
      scope: { name: 'sandbox', via: 'header', openedBy: requests[0]?.id },
    });
  });

  it.each([
    ['another agent naming the scope', 'ops', 'sandbox', 'new.example.test', 403, 'scope_denied'],
    ['another agent without it', 'ops', undefined, 'new.example.test', 403, 'no_rule'],
    ['the agent without the scope', 'dev', undefined, 'second.example.test', 403, 'no_rule'],
    ['a scope that does not exist', 'dev', 'sandbx', 'second.example.test', 403, 'scope_denied'],
    ['a host a deny rule matches', 'dev', 'sandbox', 'denied.example.test', 403, 'denied_by_rule'],
  ] as const)('%s (agent %s, scope %s, host %s) → %i %s', async (_name, agent, scope, host, status, reason) => {
    const reply = await viaProxy(leash.port, url(host), {
      'Proxy-Authorization': auth(agent),
      ...(scope ? { 'X-Leash-Scope': scope } : {}),
    });
    expect(reply.status).toBe(status);
    expect(reply.headers['x-leash-decision']).toBe(
      `deny; ${reason === 'denied_by_rule' ? 'rule=denied; ' : ''}reason=${reason}`,
    );
  });

  it('never a private address: the address guard still refuses what a scope opens', async () => {
    const reply = await viaProxy(leash.port, url('private.example.test'), {
      'Proxy-Authorization': auth('dev'),
      'X-Leash-Scope': 'sandbox',
    });
    expect(reply.status).toBe(403);
    expect(reply.headers['x-leash-decision']).toBe('deny; reason=address_denied');
    expect(
      JSON.parse((await leashCli(['scopes', 'list', '--format', 'json', ...control()])).out.join('')).map(
        (a: { host: string }) => a.host,
      ),
    ).toEqual(['new.example.test']);
    expect(
      (await leash.records()).filter((r) => r.reason === 'scope_opened' && r.host === 'private.example.test'),
    ).toEqual([]);
  });

  it('is listed with its expiry, refused past maxHosts (scope_full), and revocable; the next request opens anew', async () => {
    const second = await viaProxy(leash.port, url('second.example.test'), {
      'Proxy-Authorization': auth('dev'),
      'X-Leash-Scope': 'sandbox',
    });
    expect(second.status).toBe(200);
    const full = await viaProxy(leash.port, url('third.example.test'), {
      'Proxy-Authorization': auth('dev'),
      'X-Leash-Scope': 'sandbox',
    });
    expect(full.status).toBe(403);
    expect(full.headers['x-leash-decision']).toBe('deny; reason=scope_full');

    const listed = await leashCli(['scopes', 'list', '--agent', 'dev', '--format', 'json', ...control()]);
    expect(listed.code).toBe(0);
    const accesses = JSON.parse(listed.out.join('')) as { host: string; expiresAt: string }[];
    expect(accesses.map((a) => a.host)).toEqual(['new.example.test', 'second.example.test']);
    expect(accesses[0]?.expiresAt).toBe(new Date(Date.UTC(2026, 11, 3, 17, 0, 0)).toISOString());
    const table = await leashCli(['scopes', 'list', ...control()]);
    expect(table.out[0]).toMatch(/^SCOPE\s+AGENT\s+HOST\s+OPENED\s+EXPIRES\s+OPENED BY$/);

    const revoked = await leashCli([
      'scopes',
      'revoke',
      '--agent',
      'dev',
      '--host',
      `second.example.test:${origin.port}`,
      ...control(),
    ]);
    expect(revoked.code).toBe(0);
    expect(revoked.err).toContain('revoked 1 access');
    const records = await leash.records();
    expect(records.at(-1)).toMatchObject({
      event: 'scope',
      reason: 'scope_revoked',
      host: 'second.example.test',
      scope: { name: 'sandbox' },
    });
    expect(String((records.at(-1)?.scope as { by: string }).by)).toMatch(/\(uid \d+\)/);
    // Its place is free again.
    const third = await viaProxy(leash.port, url('third.example.test'), {
      'Proxy-Authorization': auth('dev'),
      'X-Leash-Scope': 'sandbox',
    });
    expect(third.status).toBe(200);
  });

  it('expires at its ttl: an hour later the host is opened anew, with a record of its own', async () => {
    const before = (await leash.records()).filter((r) => r.reason === 'scope_opened').length;
    now += 3_600_000;
    expect((await leashCli(['scopes', 'list', '--format', 'json', ...control()])).out.join('')).toBe('[]');
    const reply = await viaProxy(leash.port, url('new.example.test'), {
      'Proxy-Authorization': auth('dev'),
      'X-Leash-Scope': 'sandbox',
    });
    expect(reply.status).toBe(200);
    expect((await leash.records()).filter((r) => r.reason === 'scope_opened')).toHaveLength(before + 1);
  });

  it('leash audit --summary lists per scope the hosts opened, by whom, and the bytes sent', async () => {
    await leash.running.audit.flush();
    const summary = await leashCli(['audit', leash.auditFile, '--summary']);
    const text = summary.out.join('\n');
    expect(text).toContain('scope sandbox: 3 hosts opened');
    // The private host was refused by the address guard: never on record as opened.
    const section = text.slice(text.indexOf('scope sandbox:')).split('\n\n')[0];
    expect(section).not.toContain('private.example.test');
    expect(text).toMatch(
      new RegExp(
        `new\\.example\\.test:${origin.port}  agent dev  first opened \\S+ by request [0-9a-f-]{36}; 3 requests`,
      ),
    );
    expect(text).toMatch(/third\.example\.test:\d+ {2}agent dev .*refused scope_full 1/);
  });

  it('X-Leash-Scope on a CONNECT opens the tunnel; the header goes no further than leash', async () => {
    const authority = `tunnel.example.test:${origin.port}`;
    const bytes =
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${auth('dev')}\r\nX-Leash-Scope: sandbox\r\n\r\n` +
      `GET /through-the-tunnel HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`;
    const reply = await rawRequest(leash.port, bytes, { timeoutMs: 3_000 });
    expect(reply.text).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n/);
    expect(reply.text).toMatch(/\r\n\r\nHTTP\/1\.1 200 /);
    expect(origin.seen.find((r) => r.url === '/through-the-tunnel')?.headers['x-leash-scope']).toBeUndefined();
    const records = await leash.waitForRecords(1);
    expect(records.filter((r) => r.reason === 'scope_opened' && r.host === 'tunnel.example.test')).toHaveLength(1);
  });
});
