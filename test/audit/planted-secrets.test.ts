// Planted secrets, end to end (issue 12): a real leash (test/helpers/leash.ts) with a rotating audit file, a plain
// HTTP origin and an HTTPS origin whose tunnels leash intercepts with a CA minted for the run. Every secret shape is
// planted in every place a request can carry one (path, query, `?pass=`, percent-encoded path, host label,
// User-Agent, Proxy-Authorization, Authorization, Cookie), over plain HTTP and inside intercepted TLS; then every
// file leash wrote (the audit file, its rotated siblings) and every stderr line is searched for the secret: raw,
// percent-decoded and lower-cased, whole or any 16-character stretch of it. The requests are real bytes on
// 127.0.0.1 sockets; nothing is mocked.

import { readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { rawRequest } from '../helpers/clients.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';
import { startHttpOrigin, startHttpsOrigin, type TestOrigin } from '../helpers/origin.js';
import { findLeak, PLANTED } from './secret-samples.js';

let leash: TestLeash;
let plain: TestOrigin;
let secure: TestOrigin;
let leashCaPem: string;
const AGENT_TOKEN = 'research-token-for-tests';

beforeAll(async () => {
  const dir = await tempDir();
  const originCa = createTestCa('planted-secrets origin CA');
  const extraCa = path.join(dir, 'origin-ca.pem');
  await writeFile(extraCa, originCa.certPem);
  const tokenFile = path.join(dir, 'research.token');
  await writeFile(tokenFile, AGENT_TOKEN, { mode: 0o600 });
  plain = await startHttpOrigin();
  secure = await startHttpsOrigin(originCa.issue(['docs.test']));
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { plain.test: 127.0.0.1, docs.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${secure.port}]
agents:
  research: { token: ${JSON.stringify(`file:${tokenFile}`)} }
rules:
  - { name: plain-admin, domain: plain.test, ports: [${plain.port}], paths: ["/admin/**"], effect: deny, reason: admin console }
  - { name: plain, domain: plain.test, ports: [${plain.port}], effect: allow }
  - { name: docs-admin, domain: docs.test, ports: [${secure.port}], paths: ["/admin/**"], effect: deny, reason: admin console }
  - { name: docs, domain: docs.test, ports: [${secure.port}], methods: [GET], effect: allow }
`),
    // Small files, so the records of this test spread over rotated siblings too.
    { auditRotation: { maxSize: '16K', keep: '1000' } },
  );
  leashCaPem = await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8');
});

afterAll(async () => {
  await leash?.stop();
  await plain?.close();
  await secure?.close();
});

const encodeAll = (text: string) =>
  [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
const encodeFirst = (text: string) => `${encodeAll(text.slice(0, 1))}${text.slice(1)}`;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Paths that carry the secret: raw, in the query, as ?pass=, percent-encoded (all, first character, Bearer%20). */
function plantedPaths(secret: string): string[] {
  return [
    `/v1/${secret}/usage`,
    `/search?q=${encodeURIComponent(secret)}&pass=${encodeURIComponent(secret)}`,
    `/v1/${encodeAll(secret)}`,
    `/v1/${encodeFirst(secret)}/x`,
    `/x/Bearer%20${encodeURIComponent(secret)}`,
    `/admin/${encodeFirst(secret)}`, // denied: the message repeats the decoded path
  ];
}

/** Headers that carry the secret; Proxy-Authorization names the known agent with the secret as a wrong token. */
function plantedHeaders(secret: string): string {
  return [
    `User-Agent: my-agent/1.0 (+${secret})`,
    `Authorization: Bearer ${secret}`,
    `Cookie: session=${secret}; theme=dark`,
    `X-Api-Key: ${secret}`,
  ].join('\r\n');
}

async function plainRequests(secret: string): Promise<number> {
  const origin = `plain.test:${plain.port}`;
  const labelled = `${secret.toLowerCase()}.plain.test:${plain.port}`;
  const requests = [
    ...plantedPaths(secret).map(
      (p) =>
        `GET http://${origin}${p} HTTP/1.1\r\nHost: ${origin}\r\n${plantedHeaders(secret)}\r\nConnection: close\r\n\r\n`,
    ),
    // A secret as a host label (unknown host: denied, and its name is logged).
    `GET http://${labelled}/ HTTP/1.1\r\nHost: ${labelled}\r\nConnection: close\r\n\r\n`,
    // Proxy credentials: a wrong token for a known agent, and a Bearer one.
    `GET http://${origin}/ HTTP/1.1\r\nHost: ${origin}\r\nProxy-Authorization: ${basic('research', secret)}\r\nConnection: close\r\n\r\n`,
    `GET http://${origin}/ HTTP/1.1\r\nHost: ${origin}\r\nProxy-Authorization: Bearer ${secret}\r\nConnection: close\r\n\r\n`,
  ];
  for (const request of requests) await rawRequest(leash.port, request, { timeoutMs: 5_000 });
  return requests.length;
}

/** Opens a CONNECT tunnel through leash; resolves with the status line and, on 200, a TLS socket trusting leash's CA. */
function connect(host: string, port: number, extraHeaders = ''): Promise<{ status: string; socket?: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(leash.port, '127.0.0.1');
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      if (!/^HTTP\/1\.1 200/.test(status)) {
        socket.destroy();
        resolve({ status });
        return;
      }
      const secure = tls.connect({ socket, servername: host, ca: leashCaPem }, () =>
        resolve({ status, socket: secure }),
      );
      secure.on('error', reject);
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n${extraHeaders}\r\n`);
  });
}

function exchange(socket: tls.TLSSocket, request: string): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', () => {});
    socket.write(request); // not end(): a half-close before the answer is a client that went away
  });
}

async function interceptedRequests(secret: string): Promise<number> {
  let sent = 0;
  const host = `docs.test:${secure.port}`;
  for (const p of plantedPaths(secret)) {
    const { status, socket } = await connect('docs.test', secure.port);
    expect(status).toMatch(/ 200 /);
    const request = `GET ${p} HTTP/1.1\r\nHost: ${host}\r\n${plantedHeaders(secret)}\r\nConnection: close\r\n\r\n`;
    const response = await exchange(socket as tls.TLSSocket, request);
    expect(response).toMatch(/^HTTP\/1\.1 (200|403) /);
    sent += 2; // the request inside, and the tunnel
  }
  // A secret as a host label of the CONNECT, and as a wrong proxy token on the CONNECT.
  await connect(`${secret.toLowerCase()}.docs.test`, secure.port);
  const refused = await connect('docs.test', secure.port, `Proxy-Authorization: ${basic('research', secret)}\r\n`);
  expect(refused.status).toMatch(/ 407 /);
  return sent + 2;
}

/** Every file leash wrote to its audit directory (the audit file and its rotated siblings), and its stderr. */
async function everythingLeashWrote(): Promise<{ name: string; text: string }[]> {
  await leash.running.audit.flush();
  const names = (await readdir(leash.dir)).filter((n) => n.startsWith('audit.log'));
  const files = await Promise.all(
    names.map(async (name) => ({ name, text: await readFile(path.join(leash.dir, name), 'utf8') })),
  );
  return [...files, { name: 'stderr', text: leash.stderr.join('\n') }];
}

async function recordCount(): Promise<number> {
  const files = await everythingLeashWrote();
  return files.filter((f) => f.name !== 'stderr').reduce((n, f) => n + f.text.split('\n').filter(Boolean).length, 0);
}

function leaksOf(secret: string, files: { name: string; text: string }[]): string[] {
  return files.flatMap(({ name, text }) => {
    const found = findLeak(text, secret);
    return found === undefined ? [] : [`${name}: ${found}`];
  });
}

describe.each([
  ['plain HTTP', plainRequests],
  ['intercepted TLS', interceptedRequests],
] as const)('%s', (_transport, send) => {
  it.each(PLANTED)('%s: in no file leash writes, in no encoding, whole or in part', async (_name, secret) => {
    const before = await recordCount();
    const sent = await send(secret);
    await expect.poll(recordCount, { timeout: 5_000 }).toBeGreaterThanOrEqual(before + sent);
    const files = await everythingLeashWrote();
    expect(leaksOf(secret, files)).toEqual([]);
    expect(files.some((f) => f.text.includes('[REDACTED]'))).toBe(true);
  });
});

describe('the log those requests left', () => {
  it('spans rotated files, every line a JSON record, the chain intact, and the agent known only by name', async () => {
    const files = (await everythingLeashWrote()).filter((f) => f.name !== 'stderr');
    expect(files.length).toBeGreaterThan(1);
    for (const f of files)
      for (const line of f.text.split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
    expect(files.some((f) => f.text.includes(AGENT_TOKEN))).toBe(false);
  });
});
