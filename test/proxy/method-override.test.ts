// Method rules mean what they say: a request that asks the origin for another method (X-HTTP-Method-Override,
// X-HTTP-Method, X-Method-Override, a `_method` query parameter or urlencoded form field) is held to the rule's
// `methods` with that method too, and the upstream receives nothing when it is refused. Plain HTTP here; inside
// intercepted tunnels in test/tls/intercept.test.ts.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectContinue, rawRequest } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';
import { fieldOverrides, headerOverrides, queryOverrides } from '../../src/proxy/method-override.js';

let origin: TestOrigin;
let search: TestOrigin;
let leash: TestLeash;

beforeAll(async () => {
  origin = await startHttpOrigin();
  // A trusted search API whose responses grant GET/HEAD to the hosts they link to.
  search = await startHttpOrigin((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ results: [{ url: `http://granted.test:${origin.port}/page` }] }));
  });
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1, open.test: 127.0.0.1, search.test: 127.0.0.1, granted.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: no-delete, domain: api.test, ports: [${origin.port}], methods: [DELETE], effect: deny, reason: no deletions }
  - { name: api-rw, domain: api.test, ports: [${origin.port}], methods: [GET, POST], effect: allow }
  - { name: open, domain: open.test, ports: [${origin.port}], effect: allow }
  - { name: search, domain: search.test, ports: [${search.port}], inspect: [json], effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
  await search?.close();
});

const api = (p: string, host = 'api.test') => `http://${host}:${origin.port}${p}`;
const FORM = 'Content-Type: application/x-www-form-urlencoded\r\n';

function request(method: string, target: string, headers: string, body = ''): string {
  const length = headers.includes('Transfer-Encoding') ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return `${method} ${target} HTTP/1.1\r\nHost: api.test\r\n${length}${headers}Connection: close\r\n\r\n${body}`;
}

function chunked(body: string): string {
  return `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
}

describe('where overrides are found', () => {
  it.each([
    {
      name: 'each override header, any case',
      raw: ['X-HTTP-Method-Override', 'delete', 'x-http-method', 'PUT', 'X-Method-Override', 'Patch'],
      methods: ['DELETE', 'PUT', 'PATCH'],
    },
    {
      name: 'a repeated header and a list',
      raw: ['X-HTTP-Method-Override', 'GET', 'X-HTTP-Method-Override', 'PUT, DELETE'],
      methods: ['GET', 'PUT', 'DELETE'],
    },
    { name: 'empty values are not overrides', raw: ['X-HTTP-Method-Override', ' '], methods: [] },
    { name: 'other headers are not', raw: ['X-Method', 'DELETE', 'Method', 'DELETE'], methods: [] },
  ])('headers: $name', ({ raw, methods }) => {
    expect(headerOverrides(raw).map((o) => o.method)).toEqual(methods);
  });

  it.each([
    ['/v1/items/1?_method=DELETE', ['DELETE']],
    ['/v1/items/1?a=1&_method=put&_method=patch', ['PUT', 'PATCH']],
    ['/v1/items/1?%5Fmethod=DELETE', ['DELETE']],
    ['/v1/items/1?_METHOD=DELETE', ['DELETE']],
    ['/v1/_method/DELETE', []],
    ['/v1/items/1?method=DELETE', []],
  ])('query: %s → %j', (path, methods) => {
    expect(queryOverrides(path).map((o) => o.method)).toEqual(methods);
  });

  it('form fields are read like the query, + as space', () => {
    expect(fieldOverrides('title=a+b&_method=+delete+', 'form').map((o) => o.method)).toEqual(['DELETE']);
  });
});

describe('under a GET/POST rule, an override to another method is refused and nothing is forwarded', () => {
  it.each([
    {
      name: 'X-HTTP-Method-Override: DELETE (a deny rule on DELETE catches it)',
      method: 'POST',
      path: '/v1/items/1',
      headers: 'X-HTTP-Method-Override: DELETE\r\n',
      body: '',
      decision: 'deny; rule=no-delete; reason=method_override',
      says: 'DELETE (X-HTTP-Method-Override)',
    },
    {
      name: 'X-HTTP-Method: PUT',
      method: 'POST',
      path: '/v1/items/1',
      headers: 'X-HTTP-Method: PUT\r\n',
      body: '',
      decision: 'deny; reason=method_override',
      says: 'PUT (X-HTTP-Method)',
    },
    {
      name: 'X-Method-Override: patch on a GET',
      method: 'GET',
      path: '/v1/items/1',
      headers: 'X-Method-Override: patch\r\n',
      body: '',
      decision: 'deny; reason=method_override',
      says: 'PATCH (X-Method-Override)',
    },
    {
      name: 'a harmless override and a second header asking for PUT',
      method: 'POST',
      path: '/v1/items/1',
      headers: 'X-HTTP-Method-Override: GET\r\nX-HTTP-Method-Override: PUT\r\n',
      body: '',
      decision: 'deny; reason=method_override',
      says: 'PUT',
    },
    {
      name: 'a _method query parameter',
      method: 'POST',
      path: '/v1/items/1?_method=PUT',
      headers: '',
      body: '',
      decision: 'deny; reason=method_override',
      says: 'PUT (the _method query parameter)',
    },
    {
      name: 'a _method form field',
      method: 'POST',
      path: '/v1/items/1',
      headers: FORM,
      body: 'title=x&_method=PUT',
      decision: 'deny; reason=method_override',
      says: 'PUT (the _method form field)',
    },
    {
      name: 'a _method form field to DELETE',
      method: 'POST',
      path: '/v1/items/1',
      headers: FORM,
      body: '_method=delete',
      decision: 'deny; rule=no-delete; reason=method_override',
      says: 'DELETE (the _method form field)',
    },
    {
      name: 'a form whose content type has parameters and odd case',
      method: 'POST',
      path: '/v1/items/1',
      headers: 'Content-Type: Application/X-WWW-Form-Urlencoded; charset=utf-8\r\n',
      body: '_method=PUT',
      decision: 'deny; reason=method_override',
      says: 'PUT',
    },
    {
      name: 'a form named only by a second Content-Type header',
      method: 'POST',
      path: '/v1/items/1',
      headers: `Content-Type: text/plain\r\n${FORM}`,
      body: '_method=PUT',
      decision: 'deny; reason=method_override',
      says: 'PUT',
    },
    {
      name: 'a chunked form',
      method: 'POST',
      path: '/v1/items/1',
      headers: `${FORM}Transfer-Encoding: chunked\r\n`,
      body: chunked('a=1&_method=PUT'),
      decision: 'deny; reason=method_override',
      says: 'PUT',
    },
    {
      name: 'a form over 64 KiB (Content-Length)',
      method: 'POST',
      path: '/v1/items/1',
      headers: FORM,
      body: `a=${'x'.repeat(70_000)}`,
      decision: 'deny; rule=no-delete; reason=method_override',
      says: 'over 64 KiB, too long for leash to check',
    },
    {
      name: 'a chunked form over 64 KiB',
      method: 'POST',
      path: '/v1/items/1',
      headers: `${FORM}Transfer-Encoding: chunked\r\n`,
      body: chunked(`a=${'x'.repeat(70_000)}&_method=PUT`),
      decision: 'deny; rule=no-delete; reason=method_override',
      says: 'over 64 KiB',
    },
  ])('$name → 403 method_override', async ({ method, path, headers, body, decision, says }) => {
    const before = origin.seen.length;
    const r = await rawRequest(leash.port, request(method, api(path), headers, body));
    expect(r.text).toMatch(/^HTTP\/1\.1 403 /);
    expect(r.text).toContain(`X-Leash-Decision: ${decision}`);
    expect(r.text).toContain(says);
    expect(origin.seen.length).toBe(before);
  });

  it('is audited with the reason and the message naming the override', async () => {
    await rawRequest(leash.port, request('POST', api('/v1/audited'), 'X-HTTP-Method-Override: PUT\r\n'));
    const record = (await leash.records()).find((r) => r.path === '/v1/audited');
    expect(record).toMatchObject({ effect: 'deny', reason: 'method_override', status: 403, method: 'POST' });
    expect(record?.message).toContain('PUT (X-HTTP-Method-Override)');
  });
});

describe('what stays allowed, byte for byte', () => {
  it.each([
    {
      name: 'an override to an allowed method',
      host: 'api.test',
      headers: 'X-HTTP-Method-Override: GET\r\n',
      body: '',
    },
    { name: 'a form without _method', host: 'api.test', headers: FORM, body: 'title=a+b&n=%41' },
    {
      name: 'a form whose _method is allowed, near the read limit',
      host: 'api.test',
      headers: FORM,
      body: `_method=POST&a=${'y'.repeat(60_000)}`,
    },
    {
      name: 'a chunked form without _method',
      host: 'api.test',
      headers: `${FORM}Transfer-Encoding: chunked\r\n`,
      body: chunked('a=1&b=2'),
    },
    {
      name: 'a large JSON body without _method (a prompt, an image)',
      host: 'api.test',
      headers: 'Content-Type: application/json\r\n',
      body: JSON.stringify({ model: 'm', pad: 'z'.repeat(200_000) }),
    },
    {
      name: 'a large body of another type',
      host: 'api.test',
      headers: 'Content-Type: application/octet-stream\r\n',
      body: `_method=DELETE&${'z'.repeat(200_000)}`,
    },
    {
      name: 'any override where no rule limits methods',
      host: 'open.test',
      headers: `X-HTTP-Method-Override: DELETE\r\n${FORM}`,
      body: `_method=DELETE&a=${'w'.repeat(200_000)}`,
    },
  ])('$name → 200, the origin gets the body unchanged', async ({ host, headers, body }) => {
    const path = `/v1/allowed-${Math.random().toString(36).slice(2)}`;
    const r = await rawRequest(leash.port, request('POST', api(path, host), headers, body), { timeoutMs: 5000 });
    expect(r.text).toMatch(/^HTTP\/1\.1 200 /);
    const seen = origin.seen.find((s) => s.url === path);
    const sent = headers.includes('Transfer-Encoding') ? /^[0-9a-f]+\r\n([\s\S]*)\r\n0\r\n\r\n$/.exec(body)?.[1] : body;
    expect(seen?.body.toString()).toBe(sent);
  });

  it('a form the decision needs gets 100 Continue before the decision, then its answer', async () => {
    const socket = net.connect(leash.port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const body = '_method=PUT';
    const text = await expectContinue(
      socket,
      `POST ${api('/v1/expect-form')} HTTP/1.1\r\nHost: api.test\r\n${FORM}Content-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
      body,
    );
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 403 /);
    expect(text).toContain('reason=method_override');
  });
});

describe('a grant is for reading', () => {
  it('a granted GET that asks for DELETE through an override is refused; the plain GET goes through', async () => {
    const found = await rawRequest(
      leash.port,
      `GET http://search.test:${search.port}/q HTTP/1.1\r\nHost: search.test\r\nConnection: close\r\n\r\n`,
    );
    expect(found.text).toMatch(/^HTTP\/1\.1 200 /);
    const before = origin.seen.length;
    const overridden = await rawRequest(
      leash.port,
      `GET http://granted.test:${origin.port}/page HTTP/1.1\r\nHost: granted.test\r\nX-HTTP-Method-Override: DELETE\r\nConnection: close\r\n\r\n`,
    );
    expect(overridden.text).toMatch(/^HTTP\/1\.1 403 /);
    expect(overridden.text).toContain('X-Leash-Decision: deny; rule=grant; reason=method_override');
    expect(overridden.text).toContain('a grant allows only GET and HEAD');
    expect(origin.seen.length).toBe(before);
    const plain = await rawRequest(
      leash.port,
      `GET http://granted.test:${origin.port}/page HTTP/1.1\r\nHost: granted.test\r\nConnection: close\r\n\r\n`,
    );
    expect(plain.text).toMatch(/^HTTP\/1\.1 200 /);
  });
});
