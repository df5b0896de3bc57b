// Review probes: the control API's authentication over --admin and the control socket's file, on real sockets.

import net from 'node:net';
import { lstat, mkdir, symlink, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlSocket, controlHandler } from '../../src/control/server.js';
import { tempDir } from '../helpers/audit-sink.js';
import { startLeash, type TestLeash } from '../helpers/leash.js';

const TOKEN = 'admin-token-rv2-c0ffee-1234567890';

function raw(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (c: Buffer) => (out += c.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.write(head);
  });
}

describe('the control API over --admin', () => {
  let leash: TestLeash;
  let port: number;
  beforeAll(async () => {
    leash = await startLeash('version: 1\nrules: []\n', { admin: '127.0.0.1:0', env: { LEASH_ADMIN_TOKEN: TOKEN } });
    port = leash.running.admin!.port;
  });
  afterAll(() => leash?.stop());

  const body = '{"reason":"probe"}';
  const post = (target: string, extra = '') =>
    `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n${extra}\r\n${body}`;

  it.each([
    ['no token', '/v1/lockdown/on', ''],
    ['wrong token', '/v1/lockdown/on', 'Authorization: Bearer nope\r\n'],
    ['empty bearer', '/v1/lockdown/on', 'Authorization: Bearer \r\n'],
    [
      'basic scheme with the token',
      '/v1/lockdown/on',
      `Authorization: Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}\r\n`,
    ],
    [
      'token in a second Authorization header',
      '/v1/lockdown/on',
      `Authorization: Bearer nope\r\nAuthorization: Bearer ${TOKEN}\r\n`,
    ],
    ['token in X-Leash-Caller', '/v1/lockdown/on', `X-Leash-Caller: ${TOKEN}\r\n`],
    ['dot segments', '/v1/../v1/lockdown/on', ''],
    ['double slash', '//v1/lockdown/on', ''],
    ['trailing slash', '/v1/lockdown/on/', ''],
    ['encoded path', '/v1/%6cockdown/on', ''],
    ['absolute form', 'http://127.0.0.1/v1/lockdown/on', ''],
    ['method override as GET', '/v1/lockdown', 'X-HTTP-Method-Override: POST\r\n'],
    ['metrics prefix', '/metrics/../v1/lockdown/on', ''],
    ['query', '/v1/lockdown/on?token=' + TOKEN, ''],
  ])('%s: nothing is locked', async (_name, target, extra) => {
    const answer = await raw(port, post(target, extra));
    expect(answer).not.toMatch(/^HTTP\/1\.1 200/);
    expect(leash.running.lockdown.runtime.state.all).toBeNull();
  });

  it('the token never reaches stderr or the audit log', async () => {
    const answer = await raw(port, post('/v1/lockdown/on', `Authorization: Bearer ${TOKEN}\r\n`));
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    await raw(port, post('/v1/lockdown/off', `Authorization: Bearer ${TOKEN}\r\n`));
    expect(leash.stderr.join('\n')).not.toContain(TOKEN);
    expect(JSON.stringify(await leash.records())).not.toContain(TOKEN);
  });
});

describe('an empty LEASH_ADMIN_TOKEN', () => {
  it('turns TCP control off', async () => {
    const leash = await startLeash('version: 1\nrules: []\n', { admin: '127.0.0.1:0', env: { LEASH_ADMIN_TOKEN: '' } });
    try {
      const answer = await raw(
        leash.running.admin!.port,
        'GET /v1/lockdown HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \r\nConnection: close\r\n\r\n',
      );
      expect(answer).toMatch(/^HTTP\/1\.1 403/);
    } finally {
      await leash.stop();
    }
  });
});

describe('the control socket file', () => {
  const handler = controlHandler([], { kind: 'socket' });
  it.each([
    ['a regular file', async (p: string) => writeFile(p, 'keep me')],
    [
      'a symlink to a file',
      async (p: string) => {
        await writeFile(`${p}.target`, 'keep me');
        await symlink(`${p}.target`, p);
      },
    ],
    ['a dangling symlink', async (p: string) => symlink(`${p}.nowhere`, p)],
    ['a directory', async (p: string) => mkdir(p)],
  ])('%s at the path is refused and left alone', async (_name, plant) => {
    const dir = await tempDir('leash-sock-');
    const p = path.join(dir, 'admin.sock');
    await plant(p);
    await expect(startControlSocket(p, handler)).rejects.toThrow(/LEASH_LISTEN|not a socket|exists/);
    expect((await lstat(p)).isSocket()).toBe(false);
    if (_name.includes('file')) expect(await readFile(p, 'utf8')).toBe('keep me');
  });

  it('is created with mode 0600', async () => {
    const dir = await tempDir('leash-sock-');
    const p = path.join(dir, 'admin.sock');
    const sock = await startControlSocket(p, handler);
    try {
      expect((await lstat(p)).mode & 0o777).toBe(0o600);
    } finally {
      await sock.close();
    }
  });
});
