// TLS interception end to end: real clients trusting leash's CA (through their ecosystem's variables, never by
// switching verification off) talk HTTPS through leash to a real HTTPS origin whose certificate comes from a CA
// minted for this run. Each request inside an intercepted tunnel is decided on its own; other tunnels are spliced.

import { readFile, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { createTestCa, type TestCa } from '../helpers/certs.js';
import { curl, expectContinue, floodOn, nodeFetch, pythonUrllib } from '../helpers/clients.js';
import { startHttpsOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let originCa: TestCa;
let origin: TestOrigin;
let impostor: TestOrigin;
let leash: TestLeash;
let bundle: string;
let leashCaPem: string;

beforeAll(async () => {
  const dir = await tempDir();
  originCa = createTestCa('origin test CA');
  const extraCa = path.join(dir, 'origin-ca.pem');
  await writeFile(extraCa, originCa.certPem);
  origin = await startHttpsOrigin(originCa.issue(['docs.test', 'plain.test']));
  // A certificate from a CA leash does not trust.
  impostor = await startHttpsOrigin(createTestCa('impostor CA').issue(['bad.test']));
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { docs.test: 127.0.0.1, plain.test: 127.0.0.1, bad.test: 127.0.0.1, other.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${origin.port}, ${impostor.port}]
rules:
  - { name: docs-admin, domain: docs.test, ports: [${origin.port}], paths: ["/admin/**"], effect: deny, reason: admin console }
  - { name: docs-read, domain: docs.test, ports: [${origin.port}], methods: [GET, HEAD], effect: allow }
  - { name: docs-write, domain: docs.test, ports: [${origin.port}], methods: [POST], paths: ["/items/**"], effect: allow }
  - { name: plain, domain: plain.test, ports: [${origin.port}], effect: allow }
  - { name: bad, domain: bad.test, ports: [${impostor.port}], methods: [GET], effect: allow }
`),
  );
  leashCaPem = await readFile(path.join(leash.dir, 'certs', 'leash-ca.pem'), 'utf8');
  // Clients trust leash's CA for intercepted tunnels and the origin's CA for spliced ones.
  bundle = path.join(dir, 'bundle.pem');
  await writeFile(bundle, `${leashCaPem}\n${originCa.certPem}`);
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
  await impostor?.close();
});

const docs = (p: string) => `https://docs.test:${origin.port}${p}`;

interface InsideTunnel {
  readonly client: tls.TLSSocket;
  /** Everything leash sent inside the tunnel so far, as latin1. */
  text(): string;
  /** Resolves when leash closed (or half-closed) the tunnel. */
  readonly ended: Promise<void>;
}

/** An intercepted tunnel to docs.test opened by hand, for raw requests inside it. */
async function insideTunnel(opts: { allowHalfOpen?: boolean } = {}): Promise<InsideTunnel> {
  const socket = net.connect({ port: leash.port, host: '127.0.0.1', allowHalfOpen: opts.allowHalfOpen === true });
  socket.write(`CONNECT docs.test:${origin.port} HTTP/1.1\r\n\r\n`);
  await new Promise<void>((r) => socket.once('data', () => r()));
  const client = tls.connect({
    socket,
    servername: 'docs.test',
    ca: leashCaPem,
    allowHalfOpen: opts.allowHalfOpen === true,
  } as tls.ConnectionOptions);
  client.on('error', () => {});
  let text = '';
  client.on('data', (d: Buffer) => (text += d.toString('latin1')));
  const ended = new Promise<void>((r) => {
    client.once('end', () => r());
    client.once('close', () => r());
  });
  await new Promise<void>((r) => client.once('secureConnect', () => r()));
  return { client, text: () => text, ended };
}

describe('leash serve created its CA on start because the policy intercepts', () => {
  it('with a 0600 key, and said where', async () => {
    expect((await stat(path.join(leash.dir, 'certs', 'leash-ca.key'))).mode & 0o777).toBe(0o600);
    expect(leash.stderr.join('\n')).toContain('created a CA for TLS interception');
  });
});

describe('each request inside an intercepted tunnel is decided on its own', () => {
  it.each([
    { name: 'GET on the allowed host', method: 'GET', path: '/guide', status: 200, decision: undefined },
    { name: 'POST to the same host', method: 'POST', path: '/guide', status: 403, decision: 'deny; reason=no_rule' },
    {
      name: 'a denied path',
      method: 'GET',
      path: '/admin/users',
      status: 403,
      decision: 'deny; rule=docs-admin; reason=denied_by_rule',
    },
  ])('curl: $name → $status', async ({ method, path: p, status, decision }) => {
    const before = origin.seen.length;
    const r = await curl({ url: docs(p), proxy: leash.url, caFile: bundle, method });
    expect(r.status).toBe(status);
    expect(r.headers['x-leash-decision']).toBe(decision);
    expect(origin.seen.length - before).toBe(status === 200 ? 1 : 0);
  });

  it('Node (NODE_EXTRA_CA_CERTS-style trust via undici) and Python (SSL context) work through interception', async () => {
    const node = await nodeFetch({ url: docs('/node'), proxy: leash.url, caPem: leashCaPem });
    expect(node.status).toBe(200);
    const py = await pythonUrllib({ url: docs('/python'), proxy: leash.url, caFile: bundle });
    expect(py.status).toBe(200);
    const denied = await pythonUrllib({ url: docs('/python'), proxy: leash.url, caFile: bundle, method: 'DELETE' });
    expect(denied.status).toBe(403);
  });

  it('keep-alive: several requests on one tunnel, each audited, and the tunnel audited with totals', async () => {
    const socket = net.connect(leash.port, '127.0.0.1');
    socket.write(`CONNECT docs.test:${origin.port} HTTP/1.1\r\n\r\n`);
    await new Promise<void>((r) => socket.once('data', () => r()));
    const client = tls.connect({ socket, servername: 'docs.test', ca: leashCaPem });
    let text = '';
    client.on('data', (d: Buffer) => (text += d.toString('latin1')));
    await new Promise<void>((r) => client.once('secureConnect', () => r()));
    client.write(`GET /one HTTP/1.1\r\nHost: docs.test:${origin.port}\r\n\r\n`);
    client.write(`GET /two HTTP/1.1\r\nHost: docs.test:${origin.port}\r\n\r\n`);
    client.write(
      `POST /three HTTP/1.1\r\nHost: docs.test:${origin.port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    await new Promise<void>((r) => client.once('close', () => r()));
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 403']);
    const records = (await waitFor(async () => {
      const all = await leash.records();
      const tunnel = all.find((x) => x.event === 'tunnel' && x.requests === 3);
      return tunnel ? all : undefined;
    })) as Record<string, unknown>[];
    // Records are written as exchanges complete: the quick refusal of /three may come first.
    const order = ['/one', '/two', '/three'];
    const inner = records
      .filter((x) => x.tls === 'intercepted' && order.includes(x.path as string))
      .sort((a, b) => order.indexOf(a.path as string) - order.indexOf(b.path as string));
    expect(inner.map((x) => [x.path, x.effect, x.status])).toEqual([
      ['/one', 'allow', 200],
      ['/two', 'allow', 200],
      ['/three', 'deny', 403],
    ]);
    expect(inner[0]).toMatchObject({ event: 'request', scheme: 'https', host: 'docs.test', rule: 'docs-read' });
    const tunnel = records.find((x) => x.event === 'tunnel' && x.requests === 3);
    expect(tunnel).toMatchObject({ reason: 'intercepted', rule: 'docs-read', sni: 'docs.test', status: 200 });
    expect(tunnel?.bytesIn as number).toBeGreaterThan(0);
  });
});

describe('Expect: 100-continue inside the tunnel is answered only after the decision (RFC 9110 §10.1.1)', () => {
  const post = (p: string, expect: string) =>
    `POST ${p} HTTP/1.1\r\nHost: docs.test:${origin.port}\r\nContent-Length: 5\r\n${expect}\r\n`;

  it('denied: no 100, only the 403 with Connection: close, and nothing reaches the origin', async () => {
    const before = origin.seen.length;
    const t = await insideTunnel();
    const text = await expectContinue(t.client, post('/guide', 'Expect: 100-continue\r\n'), 'hello');
    t.client.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(text).not.toMatch(/HTTP\/1\.1 100/);
    expect(text).toContain('X-Leash-Decision: deny; reason=no_rule');
    expect(text).toContain('Connection: close');
    expect(origin.seen.length).toBe(before);
  });

  it.each([
    ['one Expect header', 'Expect: 100-continue\r\n'],
    ['two Expect headers', 'Expect: 100-continue\r\nExpect: 100-continue\r\n'],
  ])('allowed, %s: 100 Continue, then the body goes through, then the origin answers', async (_name, expectHeaders) => {
    const t = await insideTunnel();
    const text = await expectContinue(t.client, post('/items/expect', expectHeaders), 'hello');
    t.client.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    const seen = origin.seen.filter((x) => x.url === '/items/expect').at(-1);
    expect(seen?.body.toString()).toBe('hello');
    expect(seen?.headers.expect).toBeUndefined();
  });

  it('a refused upload the client keeps sending gets the whole 403 (lingering close, RFC 9112 §9.6)', async () => {
    const t = await insideTunnel({ allowHalfOpen: true });
    const r = await floodOn(
      t.client,
      `POST /guide HTTP/1.1\r\nHost: docs.test:${origin.port}\r\nContent-Length: ${10 * 1024 ** 3}\r\n\r\n`,
      { readAfterMs: 300 },
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 403 /);
    expect(r.text).toContain('Connection: close');
    expect(r.answeredMs as number).toBeLessThan(1000);
    expect(r.flushedBytes).toBeLessThan(8 * 1024 ** 2);
    expect(r.finished).not.toBe('timeout');
  });

  it('another expectation → 417 expectation_failed, nothing forwarded', async () => {
    const before = origin.seen.length;
    const t = await insideTunnel();
    const text = await expectContinue(
      t.client,
      post('/items/other', 'Expect: 100-continue\r\nExpect: x-custom\r\n'),
      'hello',
    );
    t.client.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 417 /);
    expect(text).toContain('X-Leash-Decision: deny; reason=expectation_failed');
    expect(origin.seen.length).toBe(before);
  });
});

describe('method rules mean what they say inside the tunnel', () => {
  const send = async (head: string, body = '') => {
    const t = await insideTunnel();
    t.client.write(
      `${head}Host: docs.test:${origin.port}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    await t.ended;
    t.client.destroy();
    return t.text();
  };
  const FORM = 'Content-Type: application/x-www-form-urlencoded\r\n';

  it.each([
    {
      name: 'X-HTTP-Method-Override: DELETE on an allowed POST',
      head: `POST /items/1 HTTP/1.1\r\nX-HTTP-Method-Override: DELETE\r\n`,
      body: '',
      says: 'DELETE (X-HTTP-Method-Override)',
    },
    {
      name: 'a _method form field',
      head: `POST /items/1 HTTP/1.1\r\n${FORM}`,
      body: 'a=1&_method=DELETE',
      says: 'DELETE (the _method form field)',
    },
    {
      name: 'a _method query parameter on an allowed GET',
      head: 'GET /guide?_method=DELETE HTTP/1.1\r\n',
      body: '',
      says: 'DELETE (the _method query parameter)',
    },
    {
      name: 'a form over 64 KiB',
      head: `POST /items/1 HTTP/1.1\r\n${FORM}`,
      body: `a=${'x'.repeat(70_000)}`,
      says: 'over 64 KiB',
    },
  ])('$name → 403 method_override, nothing forwarded', async ({ head, body, says }) => {
    const before = origin.seen.length;
    const text = await send(head, body);
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(text).toContain('X-Leash-Decision: deny; reason=method_override');
    expect(text).toContain(says);
    expect(origin.seen.length).toBe(before);
  });

  it('a form without _method is forwarded unchanged', async () => {
    const body = `title=a+b&pad=${'p'.repeat(30_000)}`;
    const text = await send(`POST /items/form HTTP/1.1\r\n${FORM}`, body);
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(origin.seen.find((x) => x.url === '/items/form')?.body.toString()).toBe(body);
  });
});

describe('what interception refuses', () => {
  it.each([
    ['a second Host naming another host', 'other.test'],
    ['a second, identical Host', 'docs.test'],
  ])('%s: 400 bad_request, nothing forwarded', async (_name, second) => {
    const before = origin.seen.length;
    const t = await insideTunnel();
    t.client.write(`GET /two-hosts HTTP/1.1\r\nHost: docs.test:${origin.port}\r\nHost: ${second}\r\n\r\n`);
    await t.ended;
    expect(t.text()).toMatch(/^HTTP\/1\.1 400 /);
    expect(t.text()).toContain('X-Leash-Decision: deny; reason=bad_request');
    expect(t.text()).toContain('more than one Host header');
    t.client.destroy();
    expect(origin.seen.length).toBe(before);
  });

  it('a Host header naming another host is domain fronting: 403 host_mismatch', async () => {
    const r = await curl({ url: docs('/fronted'), proxy: leash.url, caFile: bundle, headers: { Host: 'other.test' } });
    expect(r.status).toBe(403);
    expect(r.headers['x-leash-decision']).toBe('deny; reason=host_mismatch');
    expect(origin.seen.find((s) => s.url === '/fronted')).toBeUndefined();
  });

  it('an SNI naming another host is refused before any request', async () => {
    const socket = net.connect(leash.port, '127.0.0.1');
    socket.write(`CONNECT docs.test:${origin.port} HTTP/1.1\r\n\r\n`);
    await new Promise<void>((r) => socket.once('data', () => r()));
    const client = tls.connect({
      socket,
      servername: 'other.test',
      ca: leashCaPem,
      checkServerIdentity: () => undefined,
    });
    client.on('error', () => {});
    await new Promise<void>((r) => client.once('close', () => r()));
    await waitFor(async () => (await leash.records()).find((x) => x.event === 'tunnel' && x.reason === 'sni_mismatch'));
  });

  it('an origin whose certificate does not verify gets 502 upstream_tls', async () => {
    const r = await curl({ url: `https://bad.test:${impostor.port}/`, proxy: leash.url, caFile: bundle });
    expect(r.status).toBe(502);
    expect(r.headers['x-leash-decision']).toBe('deny; rule=bad; reason=upstream_tls');
    expect(impostor.seen).toHaveLength(0);
  });
});

describe('tunnels that need no interception are untouched', () => {
  it('the client sees the origin certificate itself', async () => {
    // Trusting only the origin's CA works, so leash did not present its own certificate.
    const dir = await tempDir();
    const originOnly = path.join(dir, 'origin-only.pem');
    await writeFile(originOnly, originCa.certPem);
    const spliced = await curl({
      url: `https://plain.test:${origin.port}/spliced`,
      proxy: leash.url,
      caFile: originOnly,
    });
    expect(spliced.status).toBe(200);
    const record = await waitFor(async () =>
      (await leash.records()).find((x) => x.event === 'tunnel' && x.host === 'plain.test'),
    );
    expect(record).toMatchObject({ reason: 'allowed_by_rule', rule: 'plain' });
  });
});

describe('a reload reaches tunnels that are already open', () => {
  it('the next request in a kept-alive intercepted tunnel is decided by the new policy', async () => {
    const dir = await tempDir();
    const extraCa = path.join(dir, 'origin-ca.pem');
    await writeFile(extraCa, originCa.certPem);
    const yaml = (effect: 'allow' | 'deny') =>
      policy(`
settings:
  dns: { hosts: { docs.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(extraCa)} }
  tlsPorts: [${origin.port}]
rules:
  - { name: docs, domain: docs.test, ports: [${origin.port}], paths: ["/public/**"], effect: ${effect} }
  - { name: docs-other, domain: docs.test, ports: [${origin.port}], paths: ["/other/**"], effect: allow }
`);
    const l = await startLeash(yaml('allow'));
    try {
      const ca = await readFile(path.join(l.dir, 'certs', 'leash-ca.pem'), 'utf8');
      const socket = net.connect(l.port, '127.0.0.1');
      socket.write(`CONNECT docs.test:${origin.port} HTTP/1.1\r\n\r\n`);
      await new Promise<void>((r) => socket.once('data', () => r()));
      const client = tls.connect({ socket, servername: 'docs.test', ca });
      let text = '';
      client.on('data', (d: Buffer) => (text += d.toString('latin1')));
      await new Promise<void>((r) => client.once('secureConnect', () => r()));
      client.write(`GET /public/a HTTP/1.1\r\nHost: docs.test:${origin.port}\r\n\r\n`);
      await waitFor(() => /hello from origin GET \/public\/a/.test(text));
      await l.rewritePolicy(yaml('deny'));
      client.write(`GET /public/b HTTP/1.1\r\nHost: docs.test:${origin.port}\r\nConnection: close\r\n\r\n`);
      await new Promise<void>((r) => client.once('close', () => r()));
      expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 403']);
      expect(origin.seen.find((s) => s.url === '/public/b')).toBeUndefined();
    } finally {
      await l.stop();
    }
  });
});
