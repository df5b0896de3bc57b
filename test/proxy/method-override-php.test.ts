// FINDING: `_method` is matched as URLSearchParams decodes the name (plus trim), not as PHP does. PHP rewrites "."
// and " " in request variable names to "_" (php_register_variable_ex), so `.method=DELETE` in a form body or query
// is `$_POST['_method']` / `$_GET['_method']` to Laravel/Symfony (Request::getMethod with
// enableHttpMethodParameterOverride), yet leash does not see an override and forwards it under a [GET, POST] rule.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { rawRequest } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let api: TestOrigin;
let leash: TestLeash;

beforeAll(async () => {
  api = await startHttpOrigin();
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: api, domain: api.test, ports: [${api.port}], methods: [GET, POST], effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await api?.close();
});

function post(target: string, body: string) {
  return rawRequest(
    leash.port,
    `POST http://api.test:${api.port}${target} HTTP/1.1\r\nHost: api.test:${api.port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    { timeoutMs: 2000 },
  );
}

it('control (holds): _method=DELETE and %5Fmethod=DELETE in a form are refused (method_override)', async () => {
  const r = await post('/items/1', '_method=DELETE');
  expect(r.text).toMatch(/^HTTP\/1\.1 403/);
  const s = await post('/items/1', 'x=1&%5Fmethod=DELETE');
  expect(s.text).toMatch(/^HTTP\/1\.1 403/);
});

for (const [name, target, body] of [
  ['form field .method (PHP reads it as _method)', '/items/1', '.method=DELETE'],
  ['query .method (PHP $_GET[_method])', '/items/1?.method=DELETE', 'a=b'],
] as const) {
  it(`a POST carrying ${name} is refused under methods [GET, POST]`, async () => {
    const r = await post(target, body);
    expect(r.text.slice(0, 12)).toBe('HTTP/1.1 403');
  });
}
