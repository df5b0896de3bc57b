// Self-tests for the integration-test helpers: each helper is proved against real sockets and real clients, so
// a proxy test that fails is failing on the proxy, not on its scaffolding.
//
// The clients are driven through a deliberately tiny forward proxy defined here (not leash): it dials
// 127.0.0.1 whatever host it is asked for, so nothing here can leave the machine.

import { X509Certificate } from 'node:crypto';
import { promises as dns } from 'node:dns';
import { writeFile, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLines, tempDir, waitFor } from './audit-sink.js';
import { createTestCa, type TestCa } from './certs.js';
import { curl, nodeFetch, parseCurlOutput, pythonUrllib, rawRequest } from './clients.js';
import { startDnsServer, type TestDnsServer } from './dns-server.js';
import { startHttpOrigin, startHttpsOrigin, startTcpSink, type TestOrigin } from './origin.js';

interface MiniProxy {
  url: string;
  /** Request targets as the proxy saw them: absolute-form URLs and CONNECT authorities. */
  targets: string[];
  close(): Promise<void>;
}

/** Forward proxy for the self-tests only: always dials 127.0.0.1, optionally refuses CONNECT with 403. */
async function startMiniProxy(opts: { denyConnect?: boolean } = {}): Promise<MiniProxy> {
  const targets: string[] = [];
  const tunnels = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    targets.push(req.url ?? '');
    const target = new URL(req.url ?? '');
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: target.port || 80,
        path: target.pathname + target.search,
        method: req.method,
        headers: req.headers,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    targets.push(req.url ?? '');
    tunnels.add(client);
    client.on('close', () => tunnels.delete(client));
    client.on('error', () => {});
    if (opts.denyConnect) {
      client.end('HTTP/1.1 403 Forbidden\r\nX-Mini-Proxy: denied\r\nContent-Length: 6\r\n\r\ndenied');
      return;
    }
    const port = Number((req.url ?? '').split(':').pop());
    const upstream = net.connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    tunnels.add(upstream);
    upstream.on('close', () => tunnels.delete(upstream));
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    targets,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of tunnels) socket.destroy();
      }),
  };
}

describe('dns-server', () => {
  let server: TestDnsServer;
  let resolver: dns.Resolver;

  beforeAll(async () => {
    server = await startDnsServer(
      {
        'Allowed.Example.': { A: ['10.0.0.1', '10.0.0.2'], AAAA: ['fd00::1'] },
        'v4only.example': { A: ['127.0.0.1'] },
        'broken.example': { A: ['10.9.9.9'] },
      },
      { servfail: ['broken.example'] },
    );
    resolver = new dns.Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([server.address]);
  });
  afterAll(() => server.close());

  it('answers A and AAAA, ignoring case and the trailing dot', async () => {
    expect(server.address).toBe(`127.0.0.1:${server.port}`);
    expect((await resolver.resolve4('allowed.example')).sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(await resolver.resolve6('ALLOWED.example.')).toEqual(['fd00::1']);
  });

  it.each([
    ['unknown name', 'nowhere.example', 'resolve4', 'ENOTFOUND'],
    ['known name without that type', 'v4only.example', 'resolve6', 'ENODATA'],
    ['name listed as servfail', 'broken.example', 'resolve4', 'ESERVFAIL'],
  ] as const)('%s -> %s', async (_case, name, method, code) => {
    await expect(resolver[method](name)).rejects.toMatchObject({ code });
  });

  it('records every query and counts them per name', async () => {
    server.reset();
    await resolver.resolve4('v4only.example');
    await resolver.resolve6('v4only.example').catch(() => undefined);
    expect(server.queries).toEqual([
      { name: 'v4only.example', type: 'A' },
      { name: 'v4only.example', type: 'AAAA' },
    ]);
    expect(server.queriesFor('V4ONLY.example.')).toBe(2);
    expect(server.queriesFor('allowed.example')).toBe(0);
  });

  it('delays answers when asked, so resolver timeouts can be tested', async () => {
    const slow = await startDnsServer({ 'slow.example': { A: ['10.0.0.3'] } }, { delayMs: 400 });
    try {
      const impatient = new dns.Resolver({ timeout: 100, tries: 1 });
      impatient.setServers([slow.address]);
      await expect(impatient.resolve4('slow.example')).rejects.toMatchObject({ code: 'ETIMEOUT' });
      const patient = new dns.Resolver({ timeout: 2000, tries: 1 });
      patient.setServers([slow.address]);
      expect(await patient.resolve4('slow.example')).toEqual(['10.0.0.3']);
    } finally {
      await slow.close();
    }
  });
});

describe('certs', () => {
  const ca = createTestCa('helpers self-test CA');

  it('mints a CA and a leaf with DNS and IP subjectAltNames, serverAuth and SHA-256', () => {
    const leaf = ca.issue(['origin.test', '127.0.0.1', '[::1]']);
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(leaf.certPem);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:origin.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // Node reports the EKU OIDs here
    expect(cert.checkHost('origin.test')).toBe('origin.test');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('other.test')).toBeUndefined();
    const now = Date.now();
    expect(Date.parse(cert.validFrom)).toBeLessThan(now);
    expect(Date.parse(cert.validTo)).toBeGreaterThan(now);
    expect(forge.pki.certificateFromPem(leaf.certPem).siginfo.algorithmOid).toBe(
      forge.pki.oids['sha256WithRSAEncryption'],
    );
    expect(leaf.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('reuses one leaf key per CA but gives each leaf its own serial', () => {
    const a = ca.issue(['a.test']);
    const b = ca.issue(['b.test']);
    expect(a.keyPem).toBe(b.keyPem);
    expect(new X509Certificate(a.certPem).serialNumber).not.toBe(new X509Certificate(b.certPem).serialNumber);
  });

  it('issues an already expired leaf on request', () => {
    const cert = new X509Certificate(ca.issue(['old.test'], { expired: true }).certPem);
    expect(Date.parse(cert.validTo)).toBeLessThan(Date.now());
  });

  it('is verified by Node TLS against the CA, and refused without it', async () => {
    const origin = await startHttpsOrigin(ca.issue(['127.0.0.1']));
    try {
      const get = (options: https.RequestOptions) =>
        new Promise<number>((resolve, reject) =>
          https
            .get(`${origin.url}/x`, { ...options, agent: false }, (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            })
            .on('error', reject),
        );
      expect(await get({ ca: ca.certPem })).toBe(200);
      await expect(get({})).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    } finally {
      await origin.close();
    }
  });
});

describe('origin', () => {
  it('answers with the default handler and records what it saw', async () => {
    const origin = await startHttpOrigin();
    try {
      expect(origin.url).toBe(`http://127.0.0.1:${origin.port}`);
      const res = await fetch(`${origin.url}/path?q=1`, {
        method: 'POST',
        body: 'payload',
        headers: { 'x-test': 'yes' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain');
      expect(await res.text()).toBe('hello from origin POST /path?q=1');
      expect(origin.seen).toHaveLength(1);
      expect(origin.seen[0]).toMatchObject({ method: 'POST', url: '/path?q=1', tls: false });
      expect(origin.seen[0]!.headers['x-test']).toBe('yes');
      expect(origin.seen[0]!.body.toString()).toBe('payload');
    } finally {
      await origin.close();
    }
  });

  it('passes the body to a custom handler, and turns a throwing handler into a 500', async () => {
    const origin = await startHttpOrigin((req, res, body) => {
      if (req.url === '/throw') throw new Error('boom');
      res.end(`echo:${body.toString()}`);
    });
    try {
      expect(await (await fetch(`${origin.url}/`, { method: 'PUT', body: 'abc' })).text()).toBe('echo:abc');
      const res = await fetch(`${origin.url}/throw`);
      expect(res.status).toBe(500);
      expect(await res.text()).toContain('boom');
    } finally {
      await origin.close();
    }
  });

  it('close() ends idle keep-alive connections instead of waiting for them', async () => {
    const origin = await startHttpOrigin();
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) =>
      http.get(`${origin.url}/`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject),
    );
    const started = Date.now();
    await origin.close();
    expect(Date.now() - started).toBeLessThan(1000);
    agent.destroy();
  });

  it('the TCP sink counts connections and keeps their bytes', async () => {
    const sink = await startTcpSink();
    try {
      expect(sink.connections).toBe(0);
      const result = await rawRequest(sink.port, 'GET / HTTP/1.1\r\n\r\n', { timeoutMs: 200 });
      expect(result.closed).toBe(false); // a sink never answers nor hangs up
      expect(result.data).toHaveLength(0);
      expect(sink.connections).toBe(1);
      expect(sink.received[0]!.toString()).toBe('GET / HTTP/1.1\r\n\r\n');
    } finally {
      await sink.close();
    }
  });
});

describe('clients', () => {
  let ca: TestCa;
  let caFile: string;
  let httpOrigin: TestOrigin;
  let httpsOrigin: TestOrigin;
  let proxy: MiniProxy;
  let denyingProxy: MiniProxy;

  beforeAll(async () => {
    ca = createTestCa();
    caFile = path.join(await tempDir(), 'ca.pem');
    await writeFile(caFile, ca.certPem);
    httpOrigin = await startHttpOrigin();
    httpsOrigin = await startHttpsOrigin(ca.issue(['origin.test', '127.0.0.1']));
    proxy = await startMiniProxy();
    denyingProxy = await startMiniProxy({ denyConnect: true });
  });
  afterAll(async () => {
    await Promise.all([httpOrigin.close(), httpsOrigin.close(), proxy.close(), denyingProxy.close()]);
  });

  const httpsUrl = () => `https://origin.test:${httpsOrigin.port}/secure?x=1`;

  it('parseCurlOutput keeps only the last response (after CONNECT and 1xx)', () => {
    const raw = Buffer.from(
      'HTTP/1.1 200 Connection Established\r\n\r\n' +
        'HTTP/1.1 100 Continue\r\n\r\n' +
        'HTTP/2 201 \r\ncontent-type: text/plain\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nthe body',
    );
    expect(parseCurlOutput(raw)).toEqual({
      status: 201,
      headers: { 'content-type': 'text/plain', 'set-cookie': 'a=1, b=2' },
      body: 'the body',
    });
    expect(parseCurlOutput(Buffer.from(''))).toEqual({ status: null, headers: {}, body: '' });
  });

  describe('curl', () => {
    it('sends http:// in absolute-form through the proxy', async () => {
      const r = await curl({
        url: `${httpOrigin.url}/plain`,
        proxy: proxy.url,
        method: 'POST',
        data: 'a=1',
        headers: { 'X-Agent': 'curl' },
      });
      expect(r).toMatchObject({ status: 200, exitCode: 0, body: 'hello from origin POST /plain' });
      expect(r.headers['content-type']).toBe('text/plain');
      expect(proxy.targets).toContain(`${httpOrigin.url}/plain`);
      const seen = httpOrigin.seen.at(-1)!;
      expect(seen.headers['x-agent']).toBe('curl');
      expect(seen.body.toString()).toBe('a=1');
    });

    it('tunnels https:// with CONNECT, verifies against the CA file and sends SNI', async () => {
      const r = await curl({ url: httpsUrl(), proxy: proxy.url, caFile });
      expect(r).toMatchObject({ status: 200, exitCode: 0, body: 'hello from origin GET /secure?x=1' });
      expect(proxy.targets).toContain(`origin.test:${httpsOrigin.port}`);
      expect(httpsOrigin.seen.at(-1)).toMatchObject({ tls: true, servername: 'origin.test' });
    });

    it('refuses an origin it cannot verify (never -k)', async () => {
      const r = await curl({ url: httpsUrl(), proxy: proxy.url });
      expect(r.exitCode).toBe(60); // CURLE_PEER_FAILED_VERIFICATION
      expect(r.stderr).toMatch(/certificate/i);
    });

    it('reports the status of a refused CONNECT', async () => {
      const r = await curl({ url: httpsUrl(), proxy: denyingProxy.url, caFile });
      expect(r.status).toBe(403);
      expect(r.headers['x-mini-proxy']).toBe('denied');
      expect(r.exitCode).toBe(56); // CURLE_RECV_ERROR: "CONNECT tunnel failed, response 403"
      expect(r.stderr).toContain('403');
    });
  });

  describe('python urllib', () => {
    it('sends http:// through the proxy', async () => {
      const r = await pythonUrllib({ url: `${httpOrigin.url}/py`, proxy: proxy.url, method: 'DELETE' });
      expect(r).toMatchObject({ status: 200, exitCode: 0, body: 'hello from origin DELETE /py' });
      expect(r.headers['content-type']).toBe('text/plain');
      expect(proxy.targets).toContain(`${httpOrigin.url}/py`);
    });

    it('tunnels https:// and verifies against the CA file', async () => {
      const r = await pythonUrllib({ url: httpsUrl(), proxy: proxy.url, caFile });
      expect(r).toMatchObject({ status: 200, exitCode: 0, body: 'hello from origin GET /secure?x=1' });
    });

    it('reports an HTTP error status as a status, with its body', async () => {
      const origin = await startHttpOrigin((_req, res) => res.writeHead(404, { 'x-why': 'gone' }).end('nope'));
      try {
        const r = await pythonUrllib({ url: `${origin.url}/missing`, proxy: proxy.url });
        expect(r).toMatchObject({ status: 404, exitCode: 0, body: 'nope' });
        expect(r.headers['x-why']).toBe('gone');
      } finally {
        await origin.close();
      }
    });

    it('reports a refused CONNECT as URLError, exit 2, with no status', async () => {
      const r = await pythonUrllib({ url: httpsUrl(), proxy: denyingProxy.url, caFile });
      expect(r).toMatchObject({ status: null, exitCode: 2 });
      expect(r.stderr).toContain('Tunnel connection failed: 403');
    });
  });

  describe('node fetch (undici ProxyAgent)', () => {
    it('tunnels even http:// through CONNECT by default', async () => {
      const r = await nodeFetch({ url: `${httpOrigin.url}/undici`, proxy: proxy.url });
      expect(r).toMatchObject({ status: 200, exitCode: 0, body: 'hello from origin GET /undici' });
      expect(proxy.targets).toContain(`127.0.0.1:${httpOrigin.port}`);
    });

    it('sends http:// in absolute-form with tunnel: false', async () => {
      const r = await nodeFetch({
        url: `${httpOrigin.url}/undici-abs`,
        proxy: proxy.url,
        tunnel: false,
        method: 'POST',
        body: 'b',
      });
      expect(r).toMatchObject({ status: 200, body: 'hello from origin POST /undici-abs' });
      expect(proxy.targets).toContain(`${httpOrigin.url}/undici-abs`);
    });

    it('verifies https:// against caPem, and fails without it', async () => {
      expect(await nodeFetch({ url: httpsUrl(), proxy: proxy.url, caPem: ca.certPem })).toMatchObject({
        status: 200,
        exitCode: 0,
      });
      const refused = await nodeFetch({ url: httpsUrl(), proxy: proxy.url });
      expect(refused).toMatchObject({ status: null, exitCode: 1 });
      expect(refused.stderr).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    });

    it('reports a refused CONNECT as an error naming the status', async () => {
      const r = await nodeFetch({ url: httpsUrl(), proxy: denyingProxy.url, caPem: ca.certPem });
      expect(r).toMatchObject({ status: null, exitCode: 1 });
      expect(r.stderr).toContain('Proxy response (403)');
    });
  });

  describe('rawRequest', () => {
    it('collects the whole answer until the server closes', async () => {
      const r = await rawRequest(httpOrigin.port, 'GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(r.closed).toBe(true);
      expect(r.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(r.text.endsWith('hello from origin GET /raw')).toBe(true);
    });

    it('sees the server reject malformed bytes', async () => {
      const r = await rawRequest(httpOrigin.port, 'NOT HTTP AT ALL\x00\r\n\r\n');
      expect(r).toMatchObject({ closed: true });
      expect(r.text).toMatch(/^HTTP\/1\.1 400 /);
    });

    it('gives up at the timeout when the server neither answers nor closes', async () => {
      const r = await rawRequest(httpOrigin.port, 'GET / HTTP/1.1\r\nHost: x\r\n', { timeoutMs: 150 });
      expect(r).toMatchObject({ closed: false, text: '' });
      expect(r.elapsedMs).toBeGreaterThanOrEqual(140);
    });

    it('rejects when nothing listens', async () => {
      const sink = await startTcpSink();
      const port = sink.port;
      await sink.close();
      await expect(rawRequest(port, 'x')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });
  });
});

describe('audit-sink', () => {
  it('reads JSON lines back as objects', async () => {
    const file = path.join(await tempDir(), 'audit.log');
    await writeFile(file, '{"a":1}\n{"b":"two"}\n');
    expect(await readAuditLines(file)).toEqual([{ a: 1 }, { b: 'two' }]);
  });

  it.each([
    ['a torn line', '{"a":1}\n{"b":', 2],
    ['a blank line', '{"a":1}\n\n{"c":3}\n', 2],
    ['a JSON value that is not an object', '{"a":1}\n{"b":2}\n[3]\n', 3],
  ])('throws on %s, naming its line', async (_case, content, line) => {
    const file = path.join(await tempDir(), 'audit.log');
    await writeFile(file, content);
    await expect(readAuditLines(file)).rejects.toThrow(`audit.log:${line}:`);
  });

  it('waitFor returns the first truthy value, retrying through throws', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls += 1;
        if (calls < 3) throw new Error('not yet');
        return calls === 3 ? 'ready' : '';
      },
      { intervalMs: 5 },
    );
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  it('waitFor throws the last error at the timeout, or names the last falsy value', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('still failing');
        },
        { timeoutMs: 50, intervalMs: 5 },
      ),
    ).rejects.toThrow('still failing');
    await expect(waitFor(() => 0, { timeoutMs: 50, intervalMs: 5 })).rejects.toThrow(
      /timed out after 50 ms; last value: 0/,
    );
  });

  it('tempDir creates a fresh directory each time', async () => {
    const [a, b] = await Promise.all([tempDir('leash-x-'), tempDir('leash-x-')]);
    expect(a).not.toBe(b);
    expect(path.basename(a!)).toMatch(/^leash-x-/);
    expect((await stat(a!)).isDirectory()).toBe(true);
  });
});
