// Plain HTTP through leash: absolute-form requests decided on host, port, method and path, forwarded to the
// address leash checked, with proxy headers stripped; every refusal names its rule and reason.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl, expectContinue, floodRequest, nodeFetch, pythonUrllib, rawRequest } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let origin: TestOrigin;
let slow: TestOrigin;
let leash: TestLeash;
let closedPort: number;

beforeAll(async () => {
  origin = await startHttpOrigin();
  slow = await startHttpOrigin(() => {
    // Never answers: leash's response timeout must turn this into a 504.
  });
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  process.env.LEASH_TEST_HTTP_TOKEN = 'secret';
  leash = await startLeash(
    policy(`
agents:
  user: { token: env:LEASH_TEST_HTTP_TOKEN }
settings:
  dns:
    hosts: { origin.test: 127.0.0.1, api.origin.test: 127.0.0.1, slow.test: 127.0.0.1, closed.test: 127.0.0.1 }
  network:
    allowCidrs: ["127.0.0.0/8"]
  timeouts: { response: 700ms, connect: 1s }
rules:
  - { name: blocked-path, domain: api.origin.test, ports: [${origin.port}], paths: ["/admin/**"], effect: deny, reason: admin API }
  - { name: api-read, domain: api.origin.test, ports: [${origin.port}], methods: [GET, HEAD], paths: ["/v1/**"], effect: allow }
  - { name: origin, domain: origin.test, ports: [${origin.port}], effect: allow, reason: test origin }
  - { name: slow, domain: slow.test, ports: [${slow.port}], effect: allow }
  - { name: closed, domain: closed.test, ports: [${closedPort}], effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
  await slow?.close();
});

const url = (host: string, path = '/', port = origin.port) => `http://${host}:${port}${path}`;

describe('allowed requests are forwarded', () => {
  it('curl GET reaches the origin with the body intact', async () => {
    const r = await curl({ url: url('origin.test', '/hello?q=1'), proxy: leash.url });
    expect(r.status).toBe(200);
    expect(r.body).toBe('hello from origin GET /hello?q=1');
  });

  it('Python urllib GET works', async () => {
    const r = await pythonUrllib({ url: url('origin.test', '/py'), proxy: leash.url });
    expect(r.status).toBe(200);
    expect(r.body).toContain('/py');
  });

  it('Node fetch (undici ProxyAgent, absolute-form) POST carries its body', async () => {
    const r = await nodeFetch({
      url: url('origin.test', '/upload'),
      proxy: leash.url,
      method: 'POST',
      body: 'x'.repeat(5000),
      tunnel: false,
    });
    expect(r.status).toBe(200);
    const seen = origin.seen.find((s) => s.url === '/upload');
    expect(seen?.body.length).toBe(5000);
  });

  it('strips hop-by-hop and Proxy-* headers, rewrites Host, adds nothing identifying', async () => {
    await curl({
      url: url('origin.test', '/headers'),
      proxy: leash.url,
      headers: {
        'Proxy-Authorization': 'Basic dXNlcjpzZWNyZXQ=',
        'X-Drop-Me': 'yes',
        Connection: 'X-Drop-Me',
        'Keep-Alive': 'timeout=5',
        Host: 'evil.example',
      },
    });
    const seen = origin.seen.find((s) => s.url === '/headers');
    expect(seen).toBeDefined();
    const names = Object.keys(seen?.headers ?? {});
    expect(names).not.toContain('proxy-authorization');
    expect(names).not.toContain('x-drop-me');
    expect(names).not.toContain('keep-alive');
    expect(names.filter((n) => n.startsWith('x-forwarded') || n === 'via' || n === 'forwarded')).toEqual([]);
    expect(seen?.headers.host).toBe(`origin.test:${origin.port}`);
  });

  it('allows GET on an allowed path of a method- and path-restricted rule', async () => {
    const r = await curl({ url: url('api.origin.test', '/v1/items'), proxy: leash.url });
    expect(r.status).toBe(200);
  });
});

describe('refusals name the rule and the reason', () => {
  it.each([
    {
      name: 'host with no rule',
      target: () => url('nowhere.test'),
      method: 'GET',
      status: 403,
      reason: 'no_rule',
      rule: undefined,
    },
    {
      name: 'method outside the rule',
      target: () => url('api.origin.test', '/v1/items'),
      method: 'POST',
      status: 403,
      reason: 'no_rule',
      rule: undefined,
    },
    {
      name: 'path outside the rule',
      target: () => url('api.origin.test', '/v2/items'),
      method: 'GET',
      status: 403,
      reason: 'no_rule',
      rule: undefined,
    },
    {
      name: 'deny rule on a path',
      target: () => url('api.origin.test', '/admin/users'),
      method: 'GET',
      status: 403,
      reason: 'denied_by_rule',
      rule: 'blocked-path',
    },
    {
      name: 'encoded path bypass of a deny rule',
      target: () => url('api.origin.test', '/%61dmin/users'),
      method: 'GET',
      status: 403,
      reason: 'denied_by_rule',
      rule: 'blocked-path',
    },
    {
      name: 'dot-segment bypass of a deny rule',
      target: () => url('api.origin.test', '/v1/../admin/users'),
      method: 'GET',
      status: 403,
      reason: 'denied_by_rule',
      rule: 'blocked-path',
    },
    {
      name: 'double-slash bypass of a deny rule',
      target: () => url('api.origin.test', '//admin/users'),
      method: 'GET',
      status: 403,
      reason: 'denied_by_rule',
      rule: 'blocked-path',
    },
    {
      name: 'allowed host on another port',
      target: () => url('origin.test', '/', origin.port + 1),
      method: 'GET',
      status: 403,
      reason: 'no_rule',
      rule: undefined,
    },
  ])('$name → $status $reason', async ({ target, method, status, reason, rule }) => {
    const before = origin.seen.length;
    const r = await curl({ url: target(), proxy: leash.url, method, extra: ['--path-as-is'] });
    expect(r.status).toBe(status);
    expect(r.headers['x-leash-decision']).toBe(
      rule ? `deny; rule=${rule}; reason=${reason}` : `deny; reason=${reason}`,
    );
    expect(r.body).toMatch(/^leash: .+\n$/);
    expect(origin.seen.length).toBe(before);
  });

  it('the reason phrase carries the decision for clients that show only the status line', async () => {
    const r = await rawRequest(
      leash.port,
      `GET ${url('api.origin.test', '/admin/x')} HTTP/1.1\r\nHost: api.origin.test\r\nConnection: close\r\n\r\n`,
    );
    expect(r.text.split('\r\n')[0]).toBe('HTTP/1.1 403 Blocked by leash (rule blocked-path: admin API)');
    expect(r.closed).toBe(true);
  });

  it('a policy refusal keeps a keep-alive connection usable for the next request', async () => {
    const denied = `GET ${url('nowhere.test')} HTTP/1.1\r\nHost: nowhere.test\r\n\r\n`;
    const allowed = `GET ${url('origin.test', '/after-deny')} HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n`;
    const r = await rawRequest(leash.port, denied + allowed);
    expect(r.text.match(/^HTTP\/1\.1 \d{3}/gm)).toEqual(['HTTP/1.1 403', 'HTTP/1.1 200']);
    expect(r.closed).toBe(true);
  });

  it('a refusal of a request with a body closes the connection', async () => {
    const r = await rawRequest(
      leash.port,
      `POST ${url('nowhere.test')} HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 3\r\n\r\nabc`,
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 403 /);
    expect(r.text).toContain('Connection: close');
    expect(r.closed).toBe(true);
  });

  it('a refused HEAD that carries a body gets its head, and the connection closes', async () => {
    const r = await rawRequest(
      leash.port,
      `HEAD ${url('nowhere.test')} HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 3\r\n\r\nabc`,
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 403 [^\r]*\r\n[\s\S]*Connection: close\r\n[\s\S]*\r\n\r\n$/);
    expect(r.closed).toBe(true);
  });

  it('a request pipelined behind a refusal that closes the connection is never forwarded', async () => {
    const refused = `POST ${url('nowhere.test')} HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 3\r\n\r\nabc`;
    const behind = `GET ${url('origin.test', '/behind-refusal')} HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n`;
    const r = await rawRequest(leash.port, refused + behind);
    expect(r.text.match(/^HTTP\/1\.1 \d{3}/gm)).toEqual(['HTTP/1.1 403']);
    expect(r.closed).toBe(true);
    // No event marks a request that must never happen: give it the few milliseconds forwarding takes here, ten times.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(origin.seen.find((s) => s.url === '/behind-refusal')).toBeUndefined();
    expect((await leash.records()).find((x) => x.path === '/behind-refusal')).toBeUndefined();
  });

  it('an origin-form request gets 400 explaining that leash is a forward proxy', async () => {
    const r = await rawRequest(leash.port, 'GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(r.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(r.text).toContain('leash is a forward proxy');
  });

  it('https:// in absolute form is refused (HTTPS goes through CONNECT)', async () => {
    const r = await rawRequest(
      leash.port,
      `GET https://origin.test:${origin.port}/ HTTP/1.1\r\nHost: origin.test\r\n\r\n`,
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(r.text).toContain('reason=unsupported_scheme');
  });
});

async function connected(): Promise<net.Socket> {
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return socket;
}

describe('Expect: 100-continue is answered only after the decision (RFC 9110 §10.1.1)', () => {
  const post = (target: string, expect: string) =>
    `POST ${target} HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 5\r\n${expect}\r\n`;

  it.each([
    { name: 'a host with no rule', target: () => url('nowhere.test', '/expect'), decision: 'deny; reason=no_rule' },
    {
      name: 'a deny rule',
      target: () => url('api.origin.test', '/admin/expect'),
      decision: 'deny; rule=blocked-path; reason=denied_by_rule',
    },
  ])(
    '$name: no 100, only the 403 with Connection: close, and nothing reaches the origin',
    async ({ target, decision }) => {
      const before = origin.seen.length;
      const socket = await connected();
      const text = await expectContinue(socket, post(target(), 'Expect: 100-continue\r\n'), 'hello');
      socket.destroy();
      expect(text).toMatch(/^HTTP\/1\.1 403 /);
      expect(text).not.toMatch(/HTTP\/1\.1 100/);
      expect(text).toContain(`X-Leash-Decision: ${decision}`);
      expect(text).toContain('Connection: close');
      expect(origin.seen.length).toBe(before);
    },
  );

  it.each([
    ['one Expect header', 'Expect: 100-continue\r\n'],
    ['two Expect headers', 'Expect: 100-continue\r\nExpect: 100-Continue\r\n'],
  ])('allowed, %s: 100 Continue, then the body goes through, then the origin answers', async (_name, expectHeaders) => {
    const socket = await connected();
    const text = await expectContinue(socket, post(url('origin.test', '/expect-allowed'), expectHeaders), 'hello');
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(text).toContain('hello from origin POST /expect-allowed');
    const seen = origin.seen.filter((x) => x.url === '/expect-allowed').at(-1);
    expect(seen?.body.toString()).toBe('hello');
    expect(seen?.headers.expect).toBeUndefined();
  });

  it.each([
    ['an unknown expectation', 'Expect: x-custom\r\n'],
    ['100-continue with another member', 'Expect: 100-continue, x-custom\r\n'],
    ['a second Expect header with another expectation', 'Expect: 100-continue\r\nExpect: x-custom\r\n'],
  ])('%s → 417 expectation_failed, nothing forwarded', async (_name, expectHeaders) => {
    const before = origin.seen.length;
    const socket = await connected();
    const text = await expectContinue(socket, post(url('origin.test', '/expect-other'), expectHeaders), 'hello');
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 417 /);
    expect(text).toContain('X-Leash-Decision: deny; reason=expectation_failed');
    expect(origin.seen.length).toBe(before);
  });
});

describe('a refusal reaches a client that is still uploading (RFC 9112 §9.6)', () => {
  // The client reads nothing for 300 ms, as one blocked in a long write: a reset in that time would destroy the
  // refusal in its receive buffer before it was read.
  it('a 10 GiB POST to a denied host gets the whole 403 within a second; leash reads next to none of it', async () => {
    const r = await floodRequest(
      leash.port,
      `POST ${url('nowhere.test', '/upload')} HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: ${10 * 1024 ** 3}\r\n\r\n`,
      { readAfterMs: 300 },
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 403 /);
    expect(r.text).toContain('X-Leash-Decision: deny; reason=no_rule');
    expect(r.text).toContain('Connection: close');
    expect(r.answeredMs).not.toBeNull();
    expect(r.answeredMs as number).toBeLessThan(1000);
    // leash half-closed at once and stopped reading: the client could fill the socket buffers, no more; the
    // connection is gone soon after.
    expect(r.endedMs as number).toBeLessThan(1000);
    expect(r.flushedBytes).toBeLessThan(8 * 1024 ** 2);
    expect(r.finished).not.toBe('timeout');
  });
});

describe('upstream failures are distinguishable', () => {
  it('a refused connection is 502 connect_refused, at once', async () => {
    const started = Date.now();
    const r = await curl({ url: url('closed.test', '/', closedPort), proxy: leash.url });
    expect(r.status).toBe(502);
    expect(r.headers['x-leash-decision']).toBe('deny; rule=closed; reason=connect_refused');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('an origin that never answers is 504 upstream_timeout after the response timeout', async () => {
    const r = await curl({ url: url('slow.test', '/', slow.port), proxy: leash.url });
    expect(r.status).toBe(504);
    expect(r.headers['x-leash-decision']).toBe('deny; rule=slow; reason=upstream_timeout');
  });

  it('a name that does not resolve is 502 dns_failure', async () => {
    // Only pinned names resolve here; a rule allows this one, so leash asks the system resolver, which only knows
    // localhost-style names: use a reserved .invalid name so no query leaves the machine for a real zone.
    const l = await startLeash(
      policy(`
settings:
  dns: { servers: ["127.0.0.1:9"], timeout: 500ms }
rules:
  - { name: any-invalid, domain: "*.example.invalid", ports: [80], effect: allow }
`),
    );
    try {
      const r = await curl({ url: 'http://nothing.example.invalid/', proxy: l.url });
      expect(r.status).toBe(502);
      expect(r.headers['x-leash-decision']).toBe('deny; rule=any-invalid; reason=dns_failure');
    } finally {
      await l.stop();
    }
  });
});

describe('audit records', () => {
  it('one record per request, with the decision fields', async () => {
    const records = await leash.records();
    const hello = records.find((r) => r.path === '/hello?q=1');
    expect(hello).toMatchObject({
      event: 'request',
      agent: 'anonymous',
      method: 'GET',
      scheme: 'http',
      host: 'origin.test',
      port: origin.port,
      effect: 'allow',
      rule: 'origin',
      reason: 'allowed_by_rule',
      status: 200,
      resolved: '127.0.0.1',
      policyRevision: leash.running.proxy.policy.revision,
    });
    expect(hello?.bytesIn).toBe('hello from origin GET /hello?q=1'.length);
    const upload = records.find((r) => r.path === '/upload');
    expect(upload?.bytesOut).toBe(5000);
    const denied = records.find((r) => r.path === '/admin/users');
    expect(denied).toMatchObject({
      effect: 'deny',
      rule: 'blocked-path',
      reason: 'denied_by_rule',
      status: 403,
      resolved: null,
    });
  });
});
