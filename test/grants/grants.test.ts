// Response-aware allowlisting end to end: a loopback "search API" whose responses reference CDN hosts, a CDN
// origin, two agents and a controlled clock. What the API's response references, the agent that received it may
// GET for the grant's TTL; nobody else may, deny rules still win, and the audit trail links every use of a grant
// to the response that caused it.

import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/audit-sink.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

const TOKENS = { LEASH_TEST_GRANT_A: 'grant-token-a', LEASH_TEST_GRANT_B: 'grant-token-b' };
let now = 1_700_000_000_000;
let api: TestOrigin;
let cdn: TestOrigin;
let leash: TestLeash;

const cdnUrl = (host: string, path = '/asset.png') => `http://${host}:${cdn.port}${path}`;

beforeAll(async () => {
  Object.assign(process.env, TOKENS);
  cdn = await startHttpOrigin();
  api = await startHttpOrigin((req, res) => {
    const json = (body: string, headers: Record<string, string> = {}) => {
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    switch (req.url) {
      case '/search':
        return json(
          JSON.stringify({
            results: [
              { title: 'a', image: cdnUrl('img.cdn.test') },
              { text: `see ${cdnUrl('text.cdn.test', '/page')} for more` },
              { bad: cdnUrl('evil.test') },
              { ip: `http://127.0.0.1:${cdn.port}/x` },
            ],
          }),
        );
      case '/split': {
        // The URL is cut in two TCP writes; it must still be found before the second half reaches the client.
        const body = JSON.stringify({ link: cdnUrl('split.cdn.test') });
        const cut = body.indexOf('split.cdn') + 5;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(body.slice(0, cut));
        setTimeout(() => res.end(body.slice(cut)), 50);
        return;
      }
      case '/html':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(
          `<html><body><a href="${cdnUrl('html.cdn.test', '/doc')}">doc</a><img srcset="${cdnUrl('srcset.cdn.test', '/1x.png')} 1x"></body></html>`,
        );
      case '/many':
        return json(JSON.stringify({ links: Array.from({ length: 10 }, (_, i) => cdnUrl(`m${i}.cdn.test`)) }));
      case '/redirect':
        res.writeHead(302, { location: cdnUrl('moved.cdn.test', '/new') });
        return res.end();
      case '/malformed':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"a": "http://broken.cdn.test/" ,, ]]] \u0000 {');
      default:
        res.writeHead(404).end();
    }
  });
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { search.test: 127.0.0.1, img.cdn.test: 127.0.0.1, text.cdn.test: 127.0.0.1, evil.test: 127.0.0.1, split.cdn.test: 127.0.0.1, html.cdn.test: 127.0.0.1, srcset.cdn.test: 127.0.0.1, moved.cdn.test: 127.0.0.1, gz.cdn.test: 127.0.0.1, br.cdn.test: 127.0.0.1, ${Array.from({ length: 10 }, (_, i) => `m${i}.cdn.test: 127.0.0.1`).join(', ')} } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  grants: { ttl: 30s, maxPerResponse: 5 }
agents:
  a: { token: env:LEASH_TEST_GRANT_A }
  b: { token: env:LEASH_TEST_GRANT_B }
rules:
  - { name: evil, domain: evil.test, ports: "*", effect: deny }
  - { name: search, domain: search.test, ports: [${api.port}], inspect: [json, html], effect: allow }
`),
    { now: () => now },
  );
});

afterAll(async () => {
  await leash?.stop();
  await api?.close();
  await cdn?.close();
  for (const key of Object.keys(TOKENS)) delete process.env[key];
});

const as = (agent: 'a' | 'b') =>
  leash.url.replace(
    'http://',
    `http://${agent}:${TOKENS[agent === 'a' ? 'LEASH_TEST_GRANT_A' : 'LEASH_TEST_GRANT_B']}@`,
  );
const get = (url: string, agent: 'a' | 'b' = 'a') => curl({ url, proxy: as(agent) });

describe('grants from a JSON response', () => {
  it('before the API answers, the CDN host is refused', async () => {
    expect((await get(cdnUrl('img.cdn.test'))).status).toBe(403);
  });

  it('after it, the agent that received it may GET the referenced hosts, including URLs inside longer text', async () => {
    expect((await get(`http://search.test:${api.port}/search`)).status).toBe(200);
    expect((await get(cdnUrl('img.cdn.test'))).status).toBe(200);
    expect((await get(cdnUrl('text.cdn.test', '/other'))).status).toBe(200);
  });

  it('only GET and HEAD', async () => {
    const r = await curl({ url: cdnUrl('img.cdn.test'), proxy: as('a'), method: 'POST', data: 'x' });
    expect(r.status).toBe(403);
  });

  it('another agent gets nothing from it', async () => {
    expect((await get(cdnUrl('img.cdn.test'), 'b')).status).toBe(403);
  });

  it('a host a deny rule names is never granted, and IP literals neither', async () => {
    const denied = await get(cdnUrl('evil.test'));
    expect(denied.headers['x-leash-decision']).toBe('deny; rule=evil; reason=denied_by_rule');
    const records = await leash.records();
    expect(records.find((r) => r.event === 'grant' && r.host === 'evil.test')).toMatchObject({
      reason: 'grant_skipped',
      grant: { skipped: 'deny_rule' },
    });
    expect(records.find((r) => r.event === 'grant' && r.host === '127.0.0.1')).toMatchObject({
      reason: 'grant_skipped',
      grant: { skipped: 'ip_literal' },
    });
  });

  it('expires after the TTL', async () => {
    now += 29_000;
    expect((await get(cdnUrl('img.cdn.test'))).status).toBe(200);
    now += 2_000;
    expect((await get(cdnUrl('img.cdn.test'))).status).toBe(403);
  });

  it('the audit trail links each use of a grant to the response that caused it', async () => {
    const records = await leash.records();
    const source = records.find((r) => r.event === 'request' && r.path === '/search');
    const grant = records.find((r) => r.event === 'grant' && r.host === 'img.cdn.test');
    expect(grant).toMatchObject({
      agent: 'a',
      reason: 'granted',
      rule: 'search',
      grant: { source: source?.id, ttlMs: 30_000, found: '$.results[0].image' },
    });
    const use = records.find((r) => r.event === 'request' && r.host === 'img.cdn.test' && r.effect === 'allow');
    expect(use).toMatchObject({
      rule: 'grant',
      reason: 'granted',
      grant: { source: source?.id, sourceRule: 'search' },
    });
  });
});

describe('what is inspected', () => {
  it.each([
    ['a URL split across two chunks', '/split', 'split.cdn.test'],
    ['HTML href', '/html', 'html.cdn.test'],
    ['HTML srcset', '/html', 'srcset.cdn.test'],
    ['a redirect from the API', '/redirect', 'moved.cdn.test'],
  ])('%s grants its host', async (_name, path, host) => {
    await get(`http://search.test:${api.port}${path}`);
    expect((await get(cdnUrl(host))).status).toBe(200);
  });

  it('the per-response cap holds; the rest are audited as grant_skipped', async () => {
    await get(`http://search.test:${api.port}/many`);
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await get(cdnUrl(`m${i}.cdn.test`))).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    const skipped = (await leash.records()).filter(
      (r) =>
        r.event === 'grant' &&
        r.reason === 'grant_skipped' &&
        String(r.host).endsWith('.cdn.test') &&
        String(r.host).startsWith('m'),
    );
    expect(skipped).toHaveLength(5);
  });

  it('malformed JSON passes through byte-exact', async () => {
    const r = await get(`http://search.test:${api.port}/malformed`);
    expect(r.status).toBe(200);
    expect(r.body).toBe('{"a": "http://broken.cdn.test/" ,, ]]] \u0000 {');
  });
});

describe('compressed bodies', () => {
  it.each([
    ['gzip', 'gz.cdn.test', (b: Buffer) => gzipSync(b)],
    ['br', 'br.cdn.test', (b: Buffer) => brotliCompressSync(b)],
  ])('%s is decoded for inspection while the client receives the original bytes', async (encoding, host, compress) => {
    const raw = compress(Buffer.from(JSON.stringify({ url: cdnUrl(host) })));
    const origin = await startHttpOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding });
      res.end(raw);
    });
    const l = await startLeash(
      policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1, ${host}: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: api, domain: api.test, ports: [${origin.port}], inspect: [json], effect: allow }
`),
    );
    try {
      const r = await curl({ url: `http://api.test:${origin.port}/`, proxy: l.url, extra: ['--raw', '-o', '-'] });
      expect(r.status).toBe(200);
      expect((await curl({ url: cdnUrl(host), proxy: l.url })).status).toBe(200);
      expect(origin.seen).toHaveLength(1);
    } finally {
      await l.stop();
      await origin.close();
    }
  });

  it('a 50 MB decompression bomb is delivered whole while inspection stays bounded', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
    const origin = await startHttpOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(bomb);
    });
    const l = await startLeash(
      policy(`
settings:
  dns: { hosts: { bomb.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  grants: { maxInspectBytes: 1048576 }
rules:
  - { name: bomb, domain: bomb.test, ports: [${origin.port}], inspect: [json], effect: allow }
`),
    );
    try {
      global.gc?.();
      const before = process.memoryUsage().rss;
      const r = await curl({ url: `http://bomb.test:${origin.port}/`, proxy: l.url });
      const grown = process.memoryUsage().rss - before;
      expect(r.status).toBe(200);
      const record = await waitFor(async () => (await l.records()).find((x) => x.host === 'bomb.test'));
      expect(record?.bytesIn).toBe(bomb.length);
      // Decoding all of it would take 50 MB at least; inspection stops at 1 MiB.
      expect(grown).toBeLessThan(40 * 1024 * 1024);
    } finally {
      await l.stop();
      await origin.close();
    }
  });
});

describe('scope url', () => {
  it('allows the exact URL seen and refuses another path on the same host', async () => {
    const target = cdnUrl('exact.cdn.test', '/file.txt?v=1');
    const origin = await startHttpOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ download: target }));
    });
    const l = await startLeash(
      policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1, exact.cdn.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  grants: { scope: url }
rules:
  - { name: api, domain: api.test, ports: [${origin.port}], inspect: [json], effect: allow }
`),
    );
    try {
      await curl({ url: `http://api.test:${origin.port}/`, proxy: l.url });
      expect((await curl({ url: target, proxy: l.url })).status).toBe(200);
      expect((await curl({ url: cdnUrl('exact.cdn.test', '/file.txt?v=2'), proxy: l.url })).status).toBe(403);
      expect((await curl({ url: cdnUrl('exact.cdn.test', '/other'), proxy: l.url })).status).toBe(403);
    } finally {
      await l.stop();
      await origin.close();
    }
  });
});

describe('scope url: each URL is its own grant (issue 11 §2)', () => {
  it('names the URL and the right JSON path, and a later reference to another URL never keeps an older one alive', async () => {
    let clock = 1_800_000_000_000;
    const u0 = cdnUrl('exact2.cdn.test', '/0.png');
    const u3 = cdnUrl('exact2.cdn.test', '/3.png');
    const origin = await startHttpOrigin((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === '/first')
        res.end(JSON.stringify({ results: [{ image: u0 }, { t: 1 }, { t: [2] }, { image: u3 }] }));
      else res.end(JSON.stringify({ results: [{ image: u3 }] }));
    });
    const l = await startLeash(
      policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1, exact2.cdn.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  grants: { scope: url, ttl: 30s }
rules:
  - { name: api, domain: api.test, ports: [${origin.port}], inspect: [json], effect: allow }
`),
      { now: () => clock },
    );
    try {
      await curl({ url: `http://api.test:${origin.port}/first`, proxy: l.url });
      expect((await curl({ url: u0, proxy: l.url })).status).toBe(200);
      expect((await curl({ url: u3, proxy: l.url })).status).toBe(200);
      const records = await l.records();
      const grants = records.filter((r) => r.event === 'grant' && r.reason === 'granted');
      expect(grants.map((r) => [(r.grant as { found: string }).found, (r.grant as { url: string }).url])).toEqual([
        ['$.results[0].image', u0],
        ['$.results[3].image', u3],
      ]);
      const uses = records.filter((r) => r.event === 'request' && r.rule === 'grant');
      expect(uses.map((r) => [r.path, (r.grant as { found: string }).found])).toEqual([
        ['/0.png', '$.results[0].image'],
        ['/3.png', '$.results[3].image'],
      ]);
      clock += 20_000;
      await curl({ url: `http://api.test:${origin.port}/second`, proxy: l.url });
      clock += 11_000;
      expect((await curl({ url: u0, proxy: l.url })).status).toBe(403);
      expect((await curl({ url: u3, proxy: l.url })).status).toBe(200);
    } finally {
      await l.stop();
      await origin.close();
    }
  });
});

describe('over intercepted HTTPS', () => {
  it('an HTTPS API with inspect is intercepted, and the HTTPS host it references opens as a tunnel for the same agent', async () => {
    const { createTestCa } = await import('../helpers/certs.js');
    const { startHttpsOrigin } = await import('../helpers/origin.js');
    const { tempDir } = await import('../helpers/audit-sink.js');
    const { writeFile, readFile } = await import('node:fs/promises');
    const path = await import('node:path');
    const ca = createTestCa('grants https CA');
    const dir = await tempDir();
    const caFile = path.join(dir, 'ca.pem');
    await writeFile(caFile, ca.certPem);
    const cdnTls = await startHttpsOrigin(ca.issue(['files.cdn.test']));
    const apiTls = await startHttpsOrigin(ca.issue(['api.tls.test']), (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ file: `https://files.cdn.test:${cdnTls.port}/report.pdf` }));
    });
    const l = await startLeash(
      policy(`
settings:
  dns: { hosts: { api.tls.test: 127.0.0.1, files.cdn.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tls: { extraCa: ${JSON.stringify(caFile)} }
  tlsPorts: [${apiTls.port}, ${cdnTls.port}]
rules:
  - { name: api, domain: api.tls.test, ports: [${apiTls.port}], inspect: [json], effect: allow }
`),
    );
    try {
      const bundle = path.join(dir, 'bundle.pem');
      await writeFile(bundle, `${await readFile(path.join(l.dir, 'certs', 'leash-ca.pem'), 'utf8')}\n${ca.certPem}`);
      const file = `https://files.cdn.test:${cdnTls.port}/report.pdf`;
      expect((await curl({ url: file, proxy: l.url, caFile: bundle })).status).toBe(403);
      expect((await curl({ url: `https://api.tls.test:${apiTls.port}/q`, proxy: l.url, caFile: bundle })).status).toBe(
        200,
      );
      const r = await curl({ url: file, proxy: l.url, caFile: bundle });
      expect(r.status).toBe(200);
      const tunnel = await waitFor(async () =>
        (await l.records()).find((x) => x.event === 'tunnel' && x.host === 'files.cdn.test' && x.effect === 'allow'),
      );
      expect(tunnel).toMatchObject({ rule: 'grant', reason: 'granted' });
      const records = await l.records();
      expect(records.find((x) => x.event === 'grant' && x.host === 'files.cdn.test')).toMatchObject({
        reason: 'granted',
        scheme: 'https',
        port: cdnTls.port,
      });
    } finally {
      await l.stop();
      await apiTls.close();
      await cdnTls.close();
    }
  });
});

describe('secrets in the source URL', () => {
  it('never reach the audit log through grant records or grant uses', async () => {
    const secret = 'sk-proj-GrantSecret0123456789abcdef';
    const origin = await startHttpOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ img: cdnUrl('leaky.cdn.test', '/a.png#frag') }));
    });
    const l = await startLeash(
      policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1, leaky.cdn.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  grants: { scope: url }
rules:
  - { name: api, domain: api.test, ports: [${origin.port}], inspect: [json], effect: allow }
`),
    );
    try {
      await curl({ url: `http://api.test:${origin.port}/search?api_key=plain-${secret.slice(8)}&q=x`, proxy: l.url });
      // The fragment is never sent, so the exact-URL grant must not depend on it.
      expect((await curl({ url: cdnUrl('leaky.cdn.test', '/a.png'), proxy: l.url })).status).toBe(200);
      await l.records();
      const { readFile } = await import('node:fs/promises');
      const log = await readFile(l.auditFile, 'utf8');
      expect(log).toContain('leaky.cdn.test');
      expect(log).not.toContain(secret.slice(8));
    } finally {
      await l.stop();
      await origin.close();
    }
  });
});

describe('a grant is for reading', () => {
  it('a GET that carries a body does not use it', async () => {
    await get(`http://search.test:${api.port}/search`);
    const r = await curl({ url: cdnUrl('img.cdn.test'), proxy: as('a'), method: 'GET', data: 'EXFILTRATED' });
    expect(r.status).toBe(403);
    expect(cdn.seen.find((s) => s.body.toString() === 'EXFILTRATED')).toBeUndefined();
  });
});
