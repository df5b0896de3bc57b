// The control API on real sockets: the Unix control socket (mode 0600, no secret) and the TCP transport of the
// --admin listener (a bearer token for every mutating call, off without LEASH_ADMIN_TOKEN), both serving one route
// table; and the client's one clear line when nothing answers.

import { spawn } from 'node:child_process';
import { lstat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ok, type ControlRoute } from '../../src/control/api.js';
import { callControl, controlEndpoint, defaultControlPath, type ControlEndpoint } from '../../src/control/client.js';
import { controlHandler, startControlSocket, type ControlSocket } from '../../src/control/server.js';
import { LeashError } from '../../src/errors.js';
import { tempDir } from '../helpers/audit-sink.js';

const TOKEN = 'tok-3f9a1c7e5b2d4a6f';

/** A route table that says back what it was handed. */
const calls: { caller: string; body: unknown }[] = [];
const routes: ControlRoute[] = [
  {
    method: 'GET',
    path: '/v1/echo',
    mutating: false,
    summary: 'read',
    handle: async (req) => ok({ caller: req.caller, q: req.query.get('q') }),
  },
  {
    method: 'POST',
    path: '/v1/echo/:id',
    mutating: true,
    summary: 'write',
    handle: async (req) => {
      calls.push({ caller: req.caller, body: req.body });
      return ok({ caller: req.caller, id: req.params.id, body: req.body });
    },
  },
  {
    method: 'POST',
    path: '/v1/throws',
    mutating: true,
    summary: 'a handler with a bug',
    handle: async () => {
      throw new Error(`boom ${TOKEN}`);
    },
  },
];

async function tcpServer(
  token: string | undefined,
  log: (line: string) => void = () => {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(controlHandler(routes, { kind: 'tcp', token }, log));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

function raw(
  url: string,
  method: string,
  route: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${route}`, { method, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the control socket', () => {
  let dir: string;
  let socket: ControlSocket;
  let endpoint: ControlEndpoint;

  beforeAll(async () => {
    dir = await tempDir('leash-control-');
    socket = await startControlSocket(path.join(dir, 'admin.sock'), controlHandler(routes, { kind: 'socket' }));
    endpoint = { kind: 'socket', path: socket.path };
  });
  afterAll(async () => {
    await socket?.close();
  });

  it('is a socket of mode 0600', async () => {
    const stat = await lstat(socket.path);
    expect(stat.isSocket()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
  });

  it('serves mutating routes with no secret, naming the OS user the client runs as', async () => {
    const reply = await callControl(endpoint, 'POST', '/v1/echo/7', { on: true });
    expect(reply.status).toBe(200);
    const me = `${(await import('node:os')).userInfo().username} (uid ${process.getuid?.()}) (control socket)`;
    expect(reply.body).toEqual({ caller: me, id: '7', body: { on: true } });
  });

  it('passes the query', async () => {
    expect((await callControl(endpoint, 'GET', '/v1/echo?q=x%20y')).body).toMatchObject({ q: 'x y' });
  });

  it.each([
    {
      name: 'unknown route',
      method: 'GET',
      route: '/v1/none',
      headers: {},
      body: undefined,
      status: 404,
      code: 'not_found',
    },
    {
      name: 'wrong method',
      method: 'DELETE',
      route: '/v1/echo',
      headers: {},
      body: undefined,
      status: 405,
      code: 'method_not_allowed',
    },
    {
      name: 'a body that is not JSON',
      method: 'POST',
      route: '/v1/echo/1',
      headers: { 'content-type': 'application/json' },
      body: '{on',
      status: 400,
      code: 'bad_request',
    },
    {
      name: 'a body of another type (a cross-origin form)',
      method: 'POST',
      route: '/v1/echo/1',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'a body over 64 KiB',
      method: 'POST',
      route: '/v1/echo/1',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify('x'.repeat(70_000)),
      status: 413,
      code: 'too_large',
    },
  ])('refuses $name with $status $code', async ({ method, route, headers, body, status, code }) => {
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ socketPath: socket.path, path: route, method, headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(reply.status).toBe(status);
    expect(JSON.parse(reply.body)).toMatchObject({ error: { code } });
  });

  it('a second leash on the same path is refused while the first answers', async () => {
    await expect(startControlSocket(socket.path, controlHandler(routes, { kind: 'socket' }))).rejects.toThrow(
      /another leash is running with its control socket at/,
    );
  });

  it('a stale socket (its leash died) is replaced; a file that is not a socket is not', async () => {
    const stale = path.join(dir, 'stale.sock');
    // A leash killed with SIGKILL leaves its socket file behind: a real process, killed the same way.
    const child = spawn(
      process.execPath,
      ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((r) => child.stdout.once('data', r));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await lstat(stale)).isSocket()).toBe(true);
    const replaced = await startControlSocket(stale, controlHandler(routes, { kind: 'socket' }));
    expect((await callControl({ kind: 'socket', path: stale }, 'GET', '/v1/echo')).status).toBe(200);
    await replaced.close();
    await expect(lstat(stale)).rejects.toMatchObject({ code: 'ENOENT' });

    const file = path.join(dir, 'not-a-socket');
    await writeFile(file, 'keep me');
    await expect(startControlSocket(file, controlHandler(routes, { kind: 'socket' }))).rejects.toThrow(
      /exists and is not a socket/,
    );
  });

  it('a handler that throws answers 500 without its message, and logs no token', async () => {
    const logged: string[] = [];
    const other = await startControlSocket(
      path.join(dir, 'throws.sock'),
      controlHandler(routes, { kind: 'socket' }, (l) => logged.push(l)),
    );
    try {
      const reply = await callControl({ kind: 'socket', path: other.path }, 'POST', '/v1/throws', {});
      expect(reply.status).toBe(500);
      expect(JSON.stringify(reply.body)).not.toContain('boom');
    } finally {
      await other.close();
    }
  });
});

describe('the control API over TCP (--admin)', () => {
  const servers: { close: () => Promise<void> }[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  it.each([
    {
      name: 'a mutating call without a token',
      route: '/v1/echo/1',
      method: 'POST',
      auth: undefined,
      status: 401,
      code: 'unauthorized',
    },
    {
      name: 'a mutating call with a wrong token',
      route: '/v1/echo/1',
      method: 'POST',
      auth: `Bearer ${TOKEN}x`,
      status: 401,
      code: 'unauthorized',
    },
    {
      name: 'a mutating call with a token of another scheme',
      route: '/v1/echo/1',
      method: 'POST',
      auth: `Basic ${TOKEN}`,
      status: 401,
      code: 'unauthorized',
    },
    {
      name: 'a read with a wrong token',
      route: '/v1/echo',
      method: 'GET',
      auth: 'Bearer nope',
      status: 401,
      code: 'unauthorized',
    },
    {
      name: 'a read without a token (what the API lists names agents, hosts and paths)',
      route: '/v1/echo',
      method: 'GET',
      auth: undefined,
      status: 401,
      code: 'unauthorized',
    },
    {
      name: 'a mutating call with the token',
      route: '/v1/echo/1',
      method: 'POST',
      auth: `Bearer ${TOKEN}`,
      status: 200,
      code: undefined,
    },
  ])('$name: $status', async ({ route, method, auth, status, code }) => {
    const logged: string[] = [];
    const server = await tcpServer(TOKEN, (l) => logged.push(l));
    servers.push(server);
    const before = calls.length;
    const reply = await raw(
      server.url,
      method,
      route,
      { ...(auth ? { authorization: auth } : {}), 'content-type': 'application/json' },
      method === 'POST' ? '{"on":true}' : undefined,
    );
    expect(reply.status).toBe(status);
    if (code) {
      expect(JSON.parse(reply.body)).toMatchObject({ error: { code } });
      expect(calls.length).toBe(before);
    }
    if (status === 200 && method === 'POST') expect(JSON.parse(reply.body)).toMatchObject({ caller: 'admin-token' });
    expect(reply.body).not.toContain(TOKEN);
    expect(logged.join('\n')).not.toContain(TOKEN);
  });

  it('without LEASH_ADMIN_TOKEN the control API is off there, and says so', async () => {
    const server = await tcpServer(undefined);
    servers.push(server);
    for (const [method, route] of [
      ['GET', '/v1/echo'],
      ['POST', '/v1/echo/1'],
    ] as const) {
      const reply = await raw(server.url, method, route, { authorization: `Bearer ${TOKEN}` });
      expect(reply.status).toBe(403);
      expect(JSON.parse(reply.body)).toMatchObject({
        error: { code: 'tcp_control_off', message: expect.stringContaining('LEASH_ADMIN_TOKEN is not set') },
      });
    }
  });

  it('the client sends the token from LEASH_ADMIN_TOKEN to the --admin URL', async () => {
    const server = await tcpServer(TOKEN);
    servers.push(server);
    const endpoint = controlEndpoint(
      { admin: server.url.replace('http://', '') },
      { LEASH_ADMIN_TOKEN: TOKEN },
      '/unused',
    );
    expect((await callControl(endpoint, 'POST', '/v1/echo/2', {})).body).toMatchObject({
      caller: 'admin-token',
      id: '2',
    });
  });
});

describe('finding the endpoint', () => {
  it.each([
    {
      name: '--control wins',
      flags: { control: '/tmp/a.sock' },
      env: { LEASH_ADMIN: '127.0.0.1:1' },
      expected: { kind: 'socket', path: '/tmp/a.sock' },
    },
    {
      name: '--admin',
      flags: { admin: 'http://127.0.0.1:9090' },
      env: {},
      expected: { kind: 'admin', origin: 'http://127.0.0.1:9090' },
    },
    {
      name: '--admin without a scheme',
      flags: { admin: '[::1]:9090' },
      env: {},
      expected: { kind: 'admin', origin: 'http://[::1]:9090' },
    },
    {
      name: 'LEASH_ADMIN',
      flags: {},
      env: { LEASH_ADMIN: '127.0.0.1:9091' },
      expected: { kind: 'admin', origin: 'http://127.0.0.1:9091' },
    },
    {
      name: 'else the default socket',
      flags: {},
      env: {},
      expected: { kind: 'socket', path: '/var/log/leash/leash-admin.sock' },
    },
  ])('$name', ({ flags, env, expected }) => {
    const endpoint = controlEndpoint(flags, env, '/var/log/leash/leash-admin.sock');
    expect(
      endpoint.kind === 'socket'
        ? { kind: 'socket', path: endpoint.path }
        : { kind: 'admin', origin: endpoint.url.origin },
    ).toEqual(expected);
  });

  it.each(['http://u:p@127.0.0.1:9090', 'http://127.0.0.1:9090/metrics', 'ftp://127.0.0.1:21', 'not a url'])(
    'refuses --admin %s',
    (admin) => {
      expect(() => controlEndpoint({ admin }, {}, '/x')).toThrow(/--admin needs the admin listener's address/);
    },
  );

  it.each([
    { name: 'root', audit: 'leash-audit.log', uid: 0, expected: '/run/leash/admin.sock' },
    {
      name: 'beside the audit log',
      audit: '/var/log/leash/audit.log',
      uid: 1000,
      expected: '/var/log/leash/leash-admin.sock',
    },
    { name: 'the default audit log', audit: 'leash-audit.log', uid: 1000, expected: 'leash-admin.sock' },
    { name: 'audit to stdout', audit: '-', uid: 1000, expected: 'leash-admin.sock' },
  ])('default socket: $name', ({ audit, uid, expected }) => {
    expect(defaultControlPath(audit, uid)).toBe(expected);
  });
});

describe('when leash is not running there', () => {
  it.each([
    {
      name: 'no socket file',
      make: async (dir: string) => path.join(dir, 'none.sock'),
      line: /^leash is not running at \S+none\.sock \(no control socket there\); start leash serve, or point to its socket with --control PATH/,
    },
  ])('$name: one clear line', async ({ make, line }) => {
    const dir = await tempDir('leash-control-');
    const error = await callControl({ kind: 'socket', path: await make(dir) }, 'GET', '/v1').catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(LeashError);
    expect((error as LeashError).code).toBe('LEASH_NOT_RUNNING');
    expect((error as LeashError).message).toMatch(line);
    expect((error as LeashError).message).not.toContain('\n');
  });

  it('nothing on the --admin port: one clear line', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    const error = (await callControl(controlEndpoint({ admin: `127.0.0.1:${port}` }, {}, '/x'), 'GET', '/v1').catch(
      (err: unknown) => err,
    )) as LeashError;
    expect(error.message).toBe(
      `leash is not running at http://127.0.0.1:${port} (connection refused); start leash serve with --admin, or check the address`,
    );
  });
});
