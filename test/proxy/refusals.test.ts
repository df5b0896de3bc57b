// Denials an agent understands: every refusal carries the standard Proxy-Status (RFC 9209) besides X-Leash-Decision,
// says whether retrying can help, answers in JSON when the client asks for JSON, and its reason phrase names what
// actually decided (the rule and the method it refused, the address class and the setting that would allow it).

import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let origin: TestOrigin;
let leash: TestLeash;

beforeAll(async () => {
  origin = await startHttpOrigin();
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1, private.test: 10.1.2.3 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: api, domain: api.test, ports: "*", methods: [GET], rateLimit: 1/1m, effect: allow }
  - { name: private, domain: private.test, ports: "*", effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

it('a method refused on an allowed host: the phrase names the rule and the method; Proxy-Status says retrying will not help', async () => {
  const r = await curl({ url: `http://api.test:${origin.port}/x`, proxy: leash.url, method: 'DELETE' });
  expect(r.status).toBe(403);
  expect(r.headers['proxy-status']).toMatch(
    /^leash; error=http_request_denied; details=".*rule api decides for this host and does not allow it \(method DELETE is not in \[GET\]\) \(no_rule; retrying will not help: this is a policy decision\)"$/,
  );
  expect(r.body).toContain('retrying will not help');
});

it('the reason phrase names the rule and the method', async () => {
  const head = await rawHead(
    `DELETE http://api.test:${origin.port}/x HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n`,
  );
  expect(head.split('\r\n')[0]).toBe(
    'HTTP/1.1 403 Blocked by leash (rule api does not allow this: method DELETE is not in [GET])',
  );
});

it('an address-guard refusal names the address class and the setting that would allow it', async () => {
  const head = await rawHead(
    `GET http://private.test:${origin.port}/ HTTP/1.1\r\nHost: private.test\r\nConnection: close\r\n\r\n`,
  );
  expect(head.split('\r\n')[0]).toBe(
    'HTTP/1.1 403 Blocked by leash (private.test resolves to 10.1.2.3, which is a private network address; leash refuses it unless settings.network.allowCidrs lists it)',
  );
  expect(head).toMatch(/\r\nProxy-Status: leash; error=destination_ip_prohibited; details="/);
});

it('a rate limit: Proxy-Status says retry after Retry-After; a client asking for JSON gets JSON', async () => {
  expect((await curl({ url: `http://api.test:${origin.port}/first`, proxy: leash.url })).status).toBe(200);
  const r = await curl({
    url: `http://api.test:${origin.port}/second`,
    proxy: leash.url,
    headers: { Accept: 'application/json' },
  });
  expect(r.status).toBe(429);
  expect(r.headers['content-type']).toBe('application/json');
  expect(r.headers['proxy-status']).toContain('(rate_limited; retry after the Retry-After seconds)');
  expect(JSON.parse(r.body)).toEqual({
    leash: {
      reason: 'rate_limited',
      rule: 'api',
      message: expect.stringContaining('rate limit of 1/1m'),
      error: 'http_request_denied',
      retry: 'after-retry-after',
      requestId: r.headers['x-leash-request-id'],
      retryAfterSeconds: expect.any(Number),
    },
  });
});

it('a refused CONNECT carries Proxy-Status too', async () => {
  const head = await rawHead(`CONNECT nowhere.test:443 HTTP/1.1\r\n\r\n`);
  expect(head).toMatch(/^HTTP\/1\.1 403 /);
  expect(head).toMatch(
    /\r\nProxy-Status: leash; error=http_request_denied; details="CONNECT nowhere\.test:443 denied: no rule allows it \(default deny\) \(no_rule; retrying will not help: this is a policy decision\)"\r\n/,
  );
});

function rawHead(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(leash.port, '127.0.0.1');
    let buf = '';
    socket.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end !== -1) {
        socket.destroy();
        resolve(buf.slice(0, end));
      }
    });
    socket.on('error', reject);
    socket.write(request);
  });
}
