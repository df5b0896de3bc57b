// Request smuggling shapes and connection limits: ambiguous framing is refused with 400 and never forwarded,
// oversized or slow headers are cut with a status, and nothing hangs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/audit-sink.js';
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
  dns: { hosts: { origin.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  timeouts: { headers: 500ms }
  limits: { maxHeaderBytes: 4096 }
rules:
  - { name: origin, domain: origin.test, ports: "*", effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

const target = () => `http://origin.test:${origin.port}/smuggle`;

describe('ambiguous framing is refused and never forwarded', () => {
  it.each([
    [
      'Content-Length and Transfer-Encoding together',
      'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n',
      '0\r\n\r\n',
    ],
    ['two differing Content-Length headers', 'Content-Length: 4\r\nContent-Length: 5\r\n', 'abcde'],
    ['two identical Content-Length headers', 'Content-Length: 4\r\nContent-Length: 4\r\n', 'abcd'],
    ['Transfer-Encoding other than chunked', 'Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'],
    ['obfuscated Transfer-Encoding', 'Transfer-Encoding : chunked\r\n', '0\r\n\r\n'],
    ['a header line without a colon', 'X-Bad header\r\n', ''],
    ['a bare LF inside a header value', 'X-Bad: a\nb\r\n', ''],
    ['a non-numeric Content-Length', 'Content-Length: 4x\r\n', 'abcd'],
    // RFC 9112 §3.2: more than one Host is a 400; proxies and origins may each pick a different one.
    ['a second Host header', 'Host: evil.test\r\nContent-Length: 4\r\n', 'abcd'],
    ['a second, identical Host header', 'Host: origin.test\r\nContent-Length: 4\r\n', 'abcd'],
    ['a second, empty Host header', 'Host:\r\nContent-Length: 4\r\n', 'abcd'],
  ])('%s → 400', async (_name, headers, body) => {
    const before = origin.seen.length;
    const r = await rawRequest(leash.port, `POST ${target()} HTTP/1.1\r\nHost: origin.test\r\n${headers}\r\n${body}`);
    expect(r.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(r.closed).toBe(true);
    expect(origin.seen.length).toBe(before);
  });

  it('a second Host header is named in the refusal', async () => {
    const r = await rawRequest(leash.port, `GET ${target()} HTTP/1.1\r\nHost: origin.test\r\nHost: evil.test\r\n\r\n`);
    expect(r.text).toContain('X-Leash-Decision: deny; reason=bad_request');
    expect(r.text).toContain('more than one Host header');
  });

  it('is audited as bad_request', async () => {
    await waitFor(async () => (await leash.records()).some((r) => r.reason === 'bad_request' && r.status === 400));
  });
});

describe('limits', () => {
  it('headers over the size limit get 431', async () => {
    const r = await rawRequest(
      leash.port,
      `GET ${target()} HTTP/1.1\r\nHost: origin.test\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`,
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('a client that sends headers too slowly (slowloris) gets 408 soon after the header timeout', async () => {
    const r = await rawRequest(leash.port, `GET ${target()} HTTP/1.1\r\nHost: origin.test\r\n`, { timeoutMs: 5000 });
    expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.elapsedMs).toBeLessThan(2500);
  });

  it('a well-formed chunked request still goes through', async () => {
    const r = await rawRequest(
      leash.port,
      `POST ${target()} HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n`,
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(origin.seen.at(-1)?.body.toString()).toBe('abcd');
  });
});
