// Review probes for issue #15 (control API, lockdown, scopes, approvals) on real sockets: a real leash in-process,
// real origins on loopback, the control API over its real Unix socket and the real --admin TCP listener. Each
// `it` states the promise; a failing one is a confirmed problem (see the review report).

import http from 'node:http';
import { mkdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/audit-sink.js';
import { startLeash, type TestLeash } from '../helpers/leash.js';
import { startHttpOrigin, startTcpSink, type TcpSink } from '../helpers/origin.js';
import { viaProxy } from '../helpers/through-leash.js';
import { connectRaw } from './tunnel-client.js';

const TOKENS = { LEASH_T_RV2_DEV: 'dev-token-rv2-91ab', LEASH_T_RV2_OPS: 'ops-token-rv2-77cd' };
Object.assign(process.env, TOKENS);
const auth = (agent: 'dev' | 'ops') =>
  `Basic ${Buffer.from(`${agent}:${agent === 'dev' ? TOKENS.LEASH_T_RV2_DEV : TOKENS.LEASH_T_RV2_OPS}`).toString('base64')}`;
const ADMIN_TOKEN = 'admin-token-rv2-5f0e2d';

/** One call to the control API: on the Unix socket (socketPath) or over TCP (port). */
function call(
  at: { socketPath: string } | { port: number },
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  // The probes read whatever JSON the API answered.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; json: any; text: string }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        ...('socketPath' in at ? { socketPath: at.socketPath } : { host: '127.0.0.1', port: at.port }),
        method,
        path,
        agent: false,
        headers: {
          ...(text ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } : {}),
          ...headers,
        },
      },
      (res) => {
        let out = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (out += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(out);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, text: out });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** Bytes written into `socket` reach the sink within 1 s (the tunnel still carries data). */
async function carries(socket: net.Socket, sink: TcpSink, marker: string): Promise<boolean> {
  if (socket.destroyed) return false;
  socket.write(marker);
  try {
    await waitFor(() => (sink.received.some((b) => b.toString('latin1').includes(marker)) ? true : undefined), {
      timeoutMs: 1_000,
    });
    return true;
  } catch {
    return false;
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => {
  for (const key of Object.keys(TOKENS)) delete process.env[key];
});

async function leashWith(yaml: string, opts: Parameters<typeof startLeash>[1] = {}): Promise<TestLeash> {
  const leash = await startLeash(yaml, opts);
  cleanups.push(() => leash.stop());
  return leash;
}

describe('sandbox scope: an open tunnel ends with its access', () => {
  const scopedPolicy = (port: number, ttl = '1h') => `version: 1
settings:
  dns:
    hosts: { tunnel.example.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
agents:
  dev: { token: env:LEASH_T_RV2_DEV }
scopes:
  sandbox: { agents: [dev], ttl: ${ttl}, maxHosts: 5, ports: [${port}] }
rules: []
`;

  it('leash scopes revoke ends the access, and with it the spliced tunnel the access opened', async () => {
    const sink = await startTcpSink();
    cleanups.push(() => sink.close());
    const leash = await leashWith(scopedPolicy(sink.port));
    const { socket, answer } = await connectRaw(
      leash.port,
      'tunnel.example.test',
      sink.port,
      `Proxy-Authorization: ${auth('dev')}\r\nX-Leash-Scope: sandbox\r\n`,
    );
    cleanups.push(() => void socket.destroy());
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(await carries(socket, sink, 'before-revoke')).toBe(true);
    const revoked = await call(
      { socketPath: leash.running.control.path },
      'POST',
      '/v1/scopes/revoke',
      { agent: 'dev' },
      { 'X-Leash-Caller': 'reviewer' },
    );
    expect(revoked.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_000));
    // The access is gone (a new CONNECT would open it anew, audited), but this tunnel still carries data.
    expect(await carries(socket, sink, 'after-revoke')).toBe(false);
  });

  it('the access expiring at its ttl ends the spliced tunnel it opened', async () => {
    const sink = await startTcpSink();
    cleanups.push(() => sink.close());
    const leash = await leashWith(scopedPolicy(sink.port, '1s'));
    const { socket, answer } = await connectRaw(
      leash.port,
      'tunnel.example.test',
      sink.port,
      `Proxy-Authorization: ${auth('dev')}\r\nX-Leash-Scope: sandbox\r\n`,
    );
    cleanups.push(() => void socket.destroy());
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    await new Promise((r) => setTimeout(r, 2_000));
    const list = await call({ socketPath: leash.running.control.path }, 'GET', '/v1/scopes');
    expect(list.json.accesses).toEqual([]);
    expect(await carries(socket, sink, 'after-ttl')).toBe(false);
  });

  it('a policy reload that changes nothing about the host keeps the scoped tunnel open (the access still holds)', async () => {
    const sink = await startTcpSink();
    cleanups.push(() => sink.close());
    const leash = await leashWith(scopedPolicy(sink.port));
    const { socket, answer } = await connectRaw(
      leash.port,
      'tunnel.example.test',
      sink.port,
      `Proxy-Authorization: ${auth('dev')}\r\nX-Leash-Scope: sandbox\r\n`,
    );
    cleanups.push(() => void socket.destroy());
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    await leash.rewritePolicy(`${scopedPolicy(sink.port)}# an unrelated edit\n`);
    await new Promise((r) => setTimeout(r, 300));
    expect(await carries(socket, sink, 'after-reload')).toBe(true);
  });
});

describe('lockdown against a request held for approval (settings.approvals.wait)', () => {
  it('a request of an agent locked down while it is held is not let through by a later approval', async () => {
    const origin = await startHttpOrigin();
    cleanups.push(() => origin.close());
    const leash = await leashWith(`version: 1
settings:
  dns:
    hosts: { held.example.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
  approvals: { agents: [ops], wait: 10s, expire: 1h }
agents:
  ops: { token: env:LEASH_T_RV2_OPS }
rules: []
`);
    const sock = { socketPath: leash.running.control.path };
    const held = viaProxy(leash.port, `http://held.example.test:${origin.port}/x`, {
      'Proxy-Authorization': auth('ops'),
    });
    const pending = await waitFor(async () => {
      const list = await call(sock, 'GET', '/v1/approvals');
      return list.json?.approvals?.[0] as { id: string } | undefined;
    });
    const locked = await call(
      sock,
      'POST',
      '/v1/lockdown/on',
      { agents: ['ops'], reason: 'runaway' },
      { 'X-Leash-Caller': 'reviewer' },
    );
    expect(locked.status).toBe(200);
    // A second operator, not yet aware of the lockdown, answers the approval queue.
    const allowed = await call(
      sock,
      'POST',
      `/v1/approvals/${pending!.id}/allow`,
      { grant: 'once' },
      { 'X-Leash-Caller': 'other-op' },
    );
    expect(allowed.status).toBe(200);
    const reply = await held;
    expect(origin.seen.length).toBe(0);
    expect(reply.status).toBe(403);
    expect(reply.headers['x-leash-decision']).toContain('reason=lockdown');
  });
});

describe('the control API over --admin: reads need the token', () => {
  it('GET /v1/approvals without a token does not hand out what agents asked for, secrets in their query strings included', async () => {
    const origin = await startHttpOrigin();
    cleanups.push(() => origin.close());
    const leash = await leashWith(
      `version: 1
settings:
  dns:
    hosts: { unknown.example.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
  approvals: { agents: [ops], wait: 0s, expire: 1h }
agents:
  ops: { token: env:LEASH_T_RV2_OPS }
rules: []
`,
      { admin: '127.0.0.1:0', env: { LEASH_ADMIN_TOKEN: ADMIN_TOKEN } },
    );
    const secret = 'sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c';
    const reply = await viaProxy(leash.port, `http://unknown.example.test:${origin.port}/v1/charge?api_key=${secret}`, {
      'Proxy-Authorization': auth('ops'),
    });
    expect(reply.status).toBe(403);
    // The audit log redacts it...
    const audit = JSON.stringify(await leash.records());
    expect(audit).not.toContain(secret);
    // ...the unauthenticated admin listener (the one the fleet's scrapers reach) must not hand it out either.
    const read = await call({ port: leash.running.admin!.port }, 'GET', '/v1/approvals');
    expect(read.status).toBe(401);
    expect(read.text).not.toContain(secret);
  });

  it('GET /v1/approvals without a token does not hand out a secret in a path segment the audit log redacts', async () => {
    const origin = await startHttpOrigin();
    cleanups.push(() => origin.close());
    const leash = await leashWith(
      `version: 1
settings:
  dns:
    hosts: { hooks.example.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
  approvals: { agents: [ops], wait: 0s, expire: 1h }
agents:
  ops: { token: env:LEASH_T_RV2_OPS }
rules: []
`,
      { admin: '127.0.0.1:0', env: { LEASH_ADMIN_TOKEN: ADMIN_TOKEN } },
    );
    // A webhook URL whose last segment is the credential (Slack, Discord and Telegram put it there).
    const secret = 'Xq7Lp2Rt9Vw4Zk8Mn3Bc6Hd1Fg5Js0Ya';
    const reply = await viaProxy(
      leash.port,
      `http://hooks.example.test:${origin.port}/services/T0A1B2C3D/B4E5F6G7H/${secret}`,
      { 'Proxy-Authorization': auth('ops') },
    );
    expect(reply.status).toBe(403);
    const audit = JSON.stringify(await leash.records());
    expect(audit).not.toContain(secret);
    const read = await call({ port: leash.running.admin!.port }, 'GET', '/v1/approvals');
    expect(read.status).toBe(401);
    expect(read.text).not.toContain(secret);
  });
});

describe('approvals: an open tunnel ends with its answer', () => {
  it('a tunnel opened under allow --for ends when the approval does', async () => {
    const sink = await startTcpSink();
    cleanups.push(() => sink.close());
    const leash = await leashWith(`version: 1
settings:
  dns:
    hosts: { tunnel.example.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
  approvals: { agents: [ops], wait: 0s, expire: 1h }
agents:
  ops: { token: env:LEASH_T_RV2_OPS }
rules: []
`);
    const sock = { socketPath: leash.running.control.path };
    const head = `Proxy-Authorization: ${auth('ops')}\r\n`;
    const first = await connectRaw(leash.port, 'tunnel.example.test', sink.port, head);
    first.socket.destroy();
    expect(first.answer).toMatch(/^HTTP\/1\.1 403/);
    const pending = (await call(sock, 'GET', '/v1/approvals')).json.approvals[0] as { id: string };
    const allowed = await call(
      sock,
      'POST',
      `/v1/approvals/${pending!.id}/allow`,
      { grant: 'for', for: '2s' },
      { 'X-Leash-Caller': 'reviewer' },
    );
    expect(allowed.status).toBe(200);
    const { socket, answer } = await connectRaw(leash.port, 'tunnel.example.test', sink.port, head);
    cleanups.push(() => void socket.destroy());
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    await new Promise((r) => setTimeout(r, 3_000));
    const again = await connectRaw(leash.port, 'tunnel.example.test', sink.port, head);
    again.socket.destroy();
    expect(again.answer).toMatch(/^HTTP\/1\.1 403/);
    expect(await carries(socket, sink, 'after-expiry')).toBe(false);
  });
});

describe('the control API is not reachable through the proxy port under the default address guard', () => {
  it.each([['127.0.0.1'], ['127.1'], ['2130706433'], ['localhost'], ['[::1]'], ['[::ffff:127.0.0.1]'], ['0.0.0.0']])(
    'GET http://%s:ADMIN/v1/approvals and CONNECT are refused',
    async (host) => {
      const leash = await leashWith(
        `version: 1
agents:
  dev: { token: env:LEASH_T_RV2_DEV }
scopes:
  sandbox: { agents: [dev], ttl: 1h, maxHosts: 50, ports: [1, 2] }
rules:
  - { name: everything, domain: "*", broad: true, effect: allow }
`,
        { admin: '127.0.0.1:0', env: { LEASH_ADMIN_TOKEN: ADMIN_TOKEN } },
      );
      const adminPort = leash.running.admin!.port;
      const reply = await viaProxy(leash.port, `http://${host}:${adminPort}/v1/approvals`, {
        'Proxy-Authorization': auth('dev'),
      });
      expect(reply.status).toBe(403);
      const connectHost = host.startsWith('[') ? host : host;
      const { socket, answer } = await connectRaw(
        leash.port,
        connectHost,
        adminPort,
        `Proxy-Authorization: ${auth('dev')}\r\n`,
      );
      socket.destroy();
      expect(answer).toMatch(/^HTTP\/1\.1 (403|400)/);
    },
  );
});

describe('lockdown edges', () => {
  it('every-agent lockdown refuses an unidentified client in report mode, and survives a restart', async () => {
    const origin = await startHttpOrigin();
    cleanups.push(() => origin.close());
    const yaml = `version: 1
settings:
  mode: report
  dns:
    hosts: { open.example.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: open, domain: open.example.test, effect: allow }
`;
    const leash = await startLeash(yaml);
    const dir = leash.dir;
    const ok = await viaProxy(leash.port, `http://open.example.test:${origin.port}/`);
    expect(ok.status).toBe(200);
    const on = await call(
      { socketPath: leash.running.control.path },
      'POST',
      '/v1/lockdown/on',
      {},
      { 'X-Leash-Caller': 'reviewer' },
    );
    expect(on.status).toBe(200);
    const refused = await viaProxy(leash.port, `http://open.example.test:${origin.port}/`);
    expect(refused.status).toBe(403);
    await leash.stop();
    const again = await leashWith(yaml, { dir });
    const still = await viaProxy(again.port, `http://open.example.test:${origin.port}/`);
    expect(still.status).toBe(403);
    expect(still.headers['x-leash-decision']).toContain('reason=lockdown');
  });

  it('a request held for approval is released at once when its agent is locked down', async () => {
    const origin = await startHttpOrigin();
    cleanups.push(() => origin.close());
    const leash = await leashWith(`version: 1
settings:
  dns:
    hosts: { held.example.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
  approvals: { agents: [ops], wait: 10s, expire: 1h }
agents:
  ops: { token: env:LEASH_T_RV2_OPS }
rules: []
`);
    const sock = { socketPath: leash.running.control.path };
    const started = Date.now();
    const held = viaProxy(leash.port, `http://held.example.test:${origin.port}/x`, {
      'Proxy-Authorization': auth('ops'),
    }).catch((e: Error) => ({ status: -1, error: e.message }));
    await waitFor(async () => (await call(sock, 'GET', '/v1/approvals')).json?.approvals?.[0]);
    await call(sock, 'POST', '/v1/lockdown/on', { agents: ['ops'] }, { 'X-Leash-Caller': 'reviewer' });
    const reply = await held;
    // Within a second of the lockdown, not at the end of the 10 s wait.
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(reply.status === -1 || reply.status === 403).toBe(true);
  });
});

describe('a scope never passes a deny rule on paths', () => {
  it('on a port leash cannot intercept (not a TLS port), a scoped CONNECT does not splice past the deny rule', async () => {
    const origin = await startHttpOrigin();
    cleanups.push(() => origin.close());
    const leash = await leashWith(`version: 1
settings:
  dns:
    hosts: { app.example.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
agents:
  dev: { token: env:LEASH_T_RV2_DEV }
scopes:
  sandbox: { agents: [dev], ttl: 1h, maxHosts: 5, ports: [${origin.port}] }
rules:
  - { name: no-admin, domain: app.example.test, paths: ["/admin/**"], effect: deny }
`);
    // Plain HTTP: the deny rule holds.
    const plain = await viaProxy(leash.port, `http://app.example.test:${origin.port}/admin/users`, {
      'Proxy-Authorization': auth('dev'),
      'X-Leash-Scope': 'sandbox',
    });
    expect(plain.status).toBe(403);
    // The same request through a CONNECT tunnel the scope opens.
    const { socket, answer } = await connectRaw(
      leash.port,
      'app.example.test',
      origin.port,
      `Proxy-Authorization: ${auth('dev')}\r\nX-Leash-Scope: sandbox\r\n`,
    );
    cleanups.push(() => void socket.destroy());
    if (/^HTTP\/1\.1 200/.test(answer)) {
      socket.write(`GET /admin/users HTTP/1.1\r\nHost: app.example.test\r\nConnection: close\r\n\r\n`);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(origin.seen.filter((s) => s.url.startsWith('/admin')).length).toBe(0);
  });
});

describe('the control API over --admin: scope reads need the token', () => {
  it('GET /v1/scopes without a token does not hand out a secret in the path that opened an access', async () => {
    const origin = await startHttpOrigin();
    cleanups.push(() => origin.close());
    const leash = await leashWith(
      `version: 1
settings:
  dns:
    hosts: { hooks.example.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
agents:
  dev: { token: env:LEASH_T_RV2_DEV }
scopes:
  sandbox: { agents: [dev], ttl: 1h, maxHosts: 5, ports: [${origin.port}] }
rules: []
`,
      { admin: '127.0.0.1:0', env: { LEASH_ADMIN_TOKEN: ADMIN_TOKEN } },
    );
    const secret = 'Xq7Lp2Rt9Vw4Zk8Mn3Bc6Hd1Fg5Js0Ya';
    const reply = await viaProxy(
      leash.port,
      `http://hooks.example.test:${origin.port}/services/T0A1B2C3D/B4E5F6G7H/${secret}`,
      { 'Proxy-Authorization': auth('dev'), 'X-Leash-Scope': 'sandbox' },
    );
    expect(reply.status).toBe(200);
    expect(JSON.stringify(await leash.records())).not.toContain(secret);
    const read = await call({ port: leash.running.admin!.port }, 'GET', '/v1/scopes');
    expect(read.status).toBe(401);
    expect(read.text).not.toContain(secret);
  });
});

describe('lockdown reason text', () => {
  it.each([['agent → runaway 🔥 (ticket #12)'], ['naïve façade'], ['"quoted"; reason=none, x']])(
    'reason %s: the refusal is still a clean 403 lockdown',
    async (reason) => {
      const origin = await startHttpOrigin();
      cleanups.push(() => origin.close());
      const leash = await leashWith(`version: 1
settings:
  dns: { hosts: { api.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: api, domain: api.test, ports: "*", effect: allow }
`);
      const on = await call(
        { socketPath: leash.running.control.path },
        'POST',
        '/v1/lockdown/on',
        { reason },
        { 'X-Leash-Caller': 'reviewer' },
      );
      expect(on.status).toBe(200);
      const reply = await viaProxy(leash.port, `http://api.test:${origin.port}/`);
      expect(reply.status).toBe(403);
      expect(reply.headers['x-leash-decision']).toBe('deny; reason=lockdown');
      expect(origin.seen.length).toBe(0);
    },
  );
});

describe('X-Leash-Scope never reaches an origin', () => {
  it('where a rule allows the host (the scope has no say)', async () => {
    const origin = await startHttpOrigin();
    cleanups.push(() => origin.close());
    const leash = await leashWith(`version: 1
settings:
  dns: { hosts: { api.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
agents:
  dev: { token: env:LEASH_T_RV2_DEV }
scopes:
  sandbox: { agents: [dev], ttl: 1h, maxHosts: 5, ports: [${origin.port}] }
rules:
  - { name: api, domain: api.test, ports: "*", effect: allow }
`);
    for (const scope of ['sandbox', 'someone-elses']) {
      const reply = await viaProxy(leash.port, `http://api.test:${origin.port}/`, {
        'Proxy-Authorization': auth('dev'),
        'X-Leash-Scope': scope,
      });
      expect(reply.status).toBe(200);
      expect(origin.seen.at(-1)?.headers['x-leash-scope']).toBeUndefined();
    }
  });
});

describe('lockdown: a state file that could not be written once', () => {
  it('is written once it can be, so a restart keeps the lockdown', async () => {
    const origin = await startHttpOrigin();
    cleanups.push(() => origin.close());
    const yaml = `version: 1
settings:
  dns: { hosts: { api.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: api, domain: api.test, ports: "*", effect: allow }
`;
    const first = await startLeash(yaml);
    const dir = first.dir;
    // A transient failure: the temporary file leash writes cannot be created (as with a full disk).
    const blocker = path.join(dir, `leash-lockdown.json.${process.pid}.tmp`);
    await mkdir(blocker);
    const on = await call(
      { socketPath: first.running.control.path },
      'POST',
      '/v1/lockdown/on',
      { reason: 'incident' },
      { 'X-Leash-Caller': 'reviewer' },
    );
    expect(on.status).toBe(200);
    expect(on.json.stored).toBe(false);
    expect(on.json.warnings.join(' ')).toMatch(/once the store answers/);
    await rmdir(blocker);
    // The disk is fine again; the promise was "writes it there once the store answers".
    await new Promise((r) => setTimeout(r, 1_500));
    await first.stop();
    const again = await leashWith(yaml, { dir });
    const reply = await viaProxy(again.port, `http://api.test:${origin.port}/`);
    expect(reply.status).toBe(403);
  });
});

describe('approvals: --once with two held requests', () => {
  it('lets exactly one through, and every approval the other then waits on is on record as requested', async () => {
    const origin = await startHttpOrigin();
    cleanups.push(() => origin.close());
    const leash = await leashWith(`version: 1
settings:
  dns:
    hosts: { held.example.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
  approvals: { agents: [ops], wait: 3s, expire: 1h }
agents:
  ops: { token: env:LEASH_T_RV2_OPS }
rules: []
`);
    const sock = { socketPath: leash.running.control.path };
    const target = `http://held.example.test:${origin.port}/x`;
    const a = viaProxy(leash.port, target, { 'Proxy-Authorization': auth('ops') });
    const b = viaProxy(leash.port, target, { 'Proxy-Authorization': auth('ops') });
    const pending = await waitFor(async () => {
      const list = (await call(sock, 'GET', '/v1/approvals')).json?.approvals as
        { id: string; requests: number }[] | undefined;
      return list?.[0] && list[0].requests >= 2 ? list[0] : undefined;
    });
    await call(sock, 'POST', `/v1/approvals/${pending!.id}/allow`, { grant: 'once' }, { 'X-Leash-Caller': 'reviewer' });
    const replies = await Promise.all([a, b]);
    expect(replies.map((r) => r.status).sort()).toEqual([200, 403]);
    expect(origin.seen.length).toBe(1);
    const ids = new Set<string>(
      (await call(sock, 'GET', '/v1/approvals')).json.approvals.map((x: { id: string }) => x.id),
    );
    const requested = new Set(
      (await leash.records())
        .filter((r) => r.reason === 'approval_requested')
        .map((r) => (r.approval as { id: string }).id),
    );
    for (const id of ids) expect(requested.has(id)).toBe(true);
  });
});
