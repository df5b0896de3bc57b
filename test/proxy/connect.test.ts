// CONNECT tunnels: decided on host and port, dialled at the checked address, and on TLS ports held until the
// client's ClientHello names the CONNECT host. Real TLS end to end: an origin certificate from a CA minted for
// this run, clients trusting that CA explicitly (never verification switched off).

import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { createTestCa, type TestCa } from '../helpers/certs.js';
import { curl, floodRequest, nodeFetch, pythonUrllib } from '../helpers/clients.js';
import { startHttpsOrigin, startTcpSink, type TcpSink, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let ca: TestCa;
let caFile: string;
let origin: TestOrigin;
let sink: TcpSink;
let leash: TestLeash;

beforeAll(async () => {
  ca = createTestCa();
  caFile = path.join(await tempDir(), 'ca.pem');
  await writeFile(caFile, ca.certPem);
  origin = await startHttpsOrigin(ca.issue(['secure.test', 'other.test']));
  sink = await startTcpSink();
  leash = await startLeash(
    policy(`
settings:
  dns:
    hosts: { secure.test: 127.0.0.1, other.test: 127.0.0.1, sink.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
  tlsPorts: [${origin.port}, ${sink.port}]
  timeouts: { headers: 1s }
rules:
  - { name: secure, domain: secure.test, ports: [${origin.port}], effect: allow }
  - { name: sink, domain: sink.test, ports: [${sink.port}], effect: allow }
  - { name: sink-ip, domain: 127.0.0.1, ports: [${sink.port}], effect: allow }
  - { name: forbidden, domain: other.test, ports: "*", effect: deny, reason: not for agents }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
  await sink?.close();
});

const secureUrl = (p = '/') => `https://secure.test:${origin.port}${p}`;

/** Opens a CONNECT tunnel by hand and returns the socket after the proxy's answer, plus that answer's head. */
async function openTunnel(authority: string): Promise<{ socket: net.Socket; head: string }> {
  const socket = net.connect(leash.port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  const head = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      if (buf.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve(buf);
      }
    };
    socket.on('data', onData);
  });
  return { socket, head };
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((r) => (socket.destroyed ? r() : socket.once('close', () => r())));
}

describe('allowed tunnels carry real TLS end to end', () => {
  it('curl', async () => {
    const r = await curl({ url: secureUrl('/curl'), proxy: leash.url, caFile });
    expect(r.status).toBe(200);
    expect(r.body).toBe('hello from origin GET /curl');
  });

  it('Python urllib', async () => {
    const r = await pythonUrllib({ url: secureUrl('/py'), proxy: leash.url, caFile });
    expect(r.status).toBe(200);
    expect(r.body).toContain('/py');
  });

  it('Node fetch through undici ProxyAgent', async () => {
    const r = await nodeFetch({ url: secureUrl('/node'), proxy: leash.url, caPem: ca.certPem });
    expect(r.status).toBe(200);
    expect(origin.seen.find((s) => s.url === '/node')?.servername).toBe('secure.test');
  });

  it('is audited as one tunnel record with byte counts', async () => {
    await curl({ url: secureUrl('/counted'), proxy: leash.url, caFile });
    const record = (await waitFor(async () =>
      (await leash.records())
        .filter((r) => r.event === 'tunnel' && r.host === 'secure.test' && r.sni === 'secure.test')
        .at(-1),
    )) as Record<string, unknown>;
    expect(record).toMatchObject({
      method: 'CONNECT',
      scheme: 'tunnel',
      port: origin.port,
      effect: 'allow',
      rule: 'secure',
      status: 200,
      resolved: '127.0.0.1',
    });
    expect(record.bytesOut as number).toBeGreaterThan(200);
    expect(record.bytesIn as number).toBeGreaterThan(500);
  });
});

describe('refused tunnels', () => {
  it('a denied CONNECT gets 403 with the decision in the status line and header', async () => {
    const { socket, head } = await openTunnel(`other.test:${origin.port}`);
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 403 Blocked by leash (rule forbidden: not for agents)');
    expect(head).toContain('X-Leash-Decision: deny; rule=forbidden; reason=denied_by_rule');
    await closed(socket);
  });

  it('a client that keeps sending after its CONNECT still gets the whole 403, and leash reads next to none of it', async () => {
    // RFC 9112 §9.6: a reset while the client is sending could destroy the refusal before the client reads it.
    const r = await floodRequest(
      leash.port,
      `CONNECT other.test:${origin.port} HTTP/1.1\r\nHost: other.test:${origin.port}\r\n\r\n`,
      { readAfterMs: 300 },
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 403 Blocked by leash/);
    expect(r.text).toContain('Connection: close');
    expect(r.answeredMs).not.toBeNull();
    expect(r.answeredMs as number).toBeLessThan(1000);
    expect(r.flushedBytes).toBeLessThan(8 * 1024 ** 2);
    expect(r.finished).not.toBe('timeout');
  });

  it('curl reports the refusal status', async () => {
    const r = await curl({ url: `https://other.test:${origin.port}/`, proxy: leash.url, caFile });
    expect(r.status).toBe(403);
    expect(r.headers['x-leash-decision']).toBe('deny; rule=forbidden; reason=denied_by_rule');
  });

  it('an IP-literal CONNECT does not match a name-only rule', async () => {
    const { socket, head } = await openTunnel(`127.0.0.1:${origin.port}`);
    expect(head).toContain('X-Leash-Decision: deny; reason=no_rule');
    await closed(socket);
  });
});

describe('the ClientHello must name the CONNECT host', () => {
  it.each([
    { name: 'a different SNI (domain fronting)', servername: 'other.test', reason: 'sni_mismatch' },
    { name: 'no SNI at all', servername: undefined, reason: 'sni_missing' },
  ])('$name is cut before any byte reaches the upstream', async ({ servername, reason }) => {
    const before = sink.connections;
    const { socket, head } = await openTunnel(`sink.test:${sink.port}`);
    expect(head.startsWith('HTTP/1.1 200')).toBe(true);
    const client = tls.connect({ socket, servername: servername ?? '', ca: ca.certPem });
    client.on('error', () => {});
    await closed(client);
    const record = await waitFor(async () =>
      (await leash.records()).find((r) => r.event === 'tunnel' && r.reason === reason),
    );
    expect(record).toMatchObject({ effect: 'deny', host: 'sink.test', rule: 'sink' });
    // leash dialled the checked address to report failures as statuses, but forwarded nothing.
    expect(sink.connections).toBe(before + 1);
    expect(sink.received.slice(before).every((b) => b.length === 0)).toBe(true);
  });

  it('non-TLS bytes on a TLS port are refused', async () => {
    const before = sink.connections;
    const { socket } = await openTunnel(`sink.test:${sink.port}`);
    socket.write('GET / HTTP/1.1\r\nHost: sink.test\r\n\r\n');
    await closed(socket);
    const record = await waitFor(async () =>
      (await leash.records()).find((r) => r.event === 'tunnel' && r.reason === 'not_tls'),
    );
    expect(record).toMatchObject({ effect: 'deny', host: 'sink.test' });
    expect(sink.received.slice(before).every((b) => b.length === 0)).toBe(true);
  });

  it('a client that sends nothing is cut after the header timeout', async () => {
    const { socket } = await openTunnel(`sink.test:${sink.port}`);
    const started = Date.now();
    await closed(socket);
    expect(Date.now() - started).toBeLessThan(3000);
    await waitFor(async () =>
      (await leash.records()).find((r) => r.event === 'tunnel' && r.reason === 'hello_timeout'),
    );
  });

  it('an IP-literal tunnel accepts a ClientHello without SNI', async () => {
    const { socket, head } = await openTunnel(`127.0.0.1:${sink.port}`);
    expect(head.startsWith('HTTP/1.1 200')).toBe(true);
    const client = tls.connect({ socket, ca: ca.certPem, servername: '' });
    client.on('error', () => {});
    await waitFor(() => sink.received.some((b) => b.length > 0 && b[0] === 0x16));
    client.destroy();
  });
});
