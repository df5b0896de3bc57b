// Review probes: method overrides in request bodies other than urlencoded forms. Rack::MethodOverride (Rails),
// Symfony and Laravel read `_method` from multipart/form-data bodies exactly as from urlencoded ones (PHP and Rack
// parse both into the POST parameters), and Laravel also from JSON bodies (its input source for JSON requests).
// method-override.ts (formMayMatter) reads only application/x-www-form-urlencoded bodies, so under a rule that
// allows GET and POST, a multipart POST carrying _method=DELETE is forwarded as an allowed POST.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { rawRequest } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let origin: TestOrigin;
let leash: TestLeash;

beforeAll(async () => {
  origin = await startHttpOrigin();
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { app.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: app, domain: app.test, ports: [${origin.port}], methods: [GET, POST], effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

function post(contentType: string, body: string): Promise<string> {
  const head = `POST http://app.test:${origin.port}/items/1 HTTP/1.1\r\nHost: app.test:${origin.port}\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  return rawRequest(leash.port, head + body, { timeoutMs: 3000 }).then((r) => r.text.split('\r\n')[0] ?? '');
}

it('control: a urlencoded form with _method=DELETE is refused (method_override)', async () => {
  expect(await post('application/x-www-form-urlencoded', 'name=x&_method=DELETE')).toMatch(/^HTTP\/1\.1 403 /);
});

it('a multipart/form-data body with _method=DELETE is refused like the urlencoded one', async () => {
  const boundary = 'review0boundary';
  const body = `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--${boundary}\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--${boundary}--\r\n`;
  const before = origin.seen.length;
  const status = await post(`multipart/form-data; boundary=${boundary}`, body);
  expect({ status, forwarded: origin.seen.length - before }).toEqual({
    status: expect.stringMatching(/^HTTP\/1\.1 403 /),
    forwarded: 0,
  });
});

it('a JSON body with "_method": "DELETE" (Laravel reads it) is refused too', async () => {
  const before = origin.seen.length;
  const status = await post('application/json', JSON.stringify({ name: 'x', _method: 'DELETE' }));
  expect({ status, forwarded: origin.seen.length - before }).toEqual({
    status: expect.stringMatching(/^HTTP\/1\.1 403 /),
    forwarded: 0,
  });
});

it('a large JSON body (past 64 KiB) with _method in what leash reads is refused; one without is forwarded', async () => {
  const pad = 'z'.repeat(100_000);
  expect(await post('application/json', JSON.stringify({ _method: 'DELETE', pad }))).toMatch(/^HTTP\/1\.1 403 /);
  expect(await post('application/json', `{"\\u005fmethod":"DELETE","pad":"${pad}"}`)).toMatch(/^HTTP\/1\.1 403 /);
  expect(await post('application/json', JSON.stringify({ model: 'm', pad }))).toMatch(/^HTTP\/1\.1 200 /);
});

it('a large multipart upload is forwarded; its _method field, when leash reads it, is refused', async () => {
  const boundary = 'review1boundary';
  const file = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n${'q'.repeat(100_000)}\r\n`;
  const method = `--${boundary}\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n`;
  expect(await post(`multipart/form-data; boundary=${boundary}`, `${file}--${boundary}--\r\n`)).toMatch(
    /^HTTP\/1\.1 200 /,
  );
  expect(await post(`multipart/form-data; boundary=${boundary}`, `${method}${file}--${boundary}--\r\n`)).toMatch(
    /^HTTP\/1\.1 403 /,
  );
});
