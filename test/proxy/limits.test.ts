// Limits that are promised are kept: a connection over limits.maxConnections gets the 503 the README promises,
// with its reason, instead of a bare close; a tunnel is closed at settings.timeouts.maxLifetime even while busy.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/audit-sink.js';
import { startTcpSink, type TcpSink } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let sink: TcpSink;

beforeAll(async () => {
  sink = await startTcpSink();
});

afterAll(async () => {
  await sink?.close();
});

function readAll(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    socket.on('data', (c: Buffer) => (buf += c.toString('latin1')));
    socket.on('error', () => {});
    socket.once('close', () => resolve(buf));
  });
}

describe('limits.maxConnections', () => {
  let leash: TestLeash;
  beforeAll(async () => {
    leash = await startLeash(
      policy(`
settings:
  limits: { maxConnections: 2 }
rules:
  - { name: none, domain: nothing.test, effect: allow }
`),
    );
  });
  afterAll(async () => leash?.stop());

  it('the connection over the limit gets 503 too_many_connections with the reason, and is audited', async () => {
    // Two connections that leash has certainly accepted: each has been answered once (and is kept alive).
    const held = [net.connect(leash.port, '127.0.0.1'), net.connect(leash.port, '127.0.0.1')];
    await Promise.all(
      held.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.once('data', () => resolve());
            s.write('GET http://nothing.test:1/ HTTP/1.1\r\nHost: nothing.test:1\r\n\r\n');
          }),
      ),
    );
    const third = net.connect(leash.port, '127.0.0.1');
    const answer = await readAll(third);
    held.forEach((s) => s.destroy());
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toContain('X-Leash-Decision: deny; reason=too_many_connections');
    expect(answer).toContain('2 connections already open (limits.maxConnections)');
    const record = await waitFor(async () => (await leash.records()).find((r) => r.reason === 'too_many_connections'));
    expect(record).toMatchObject({ event: 'connection', effect: 'deny', status: 503 });
  });

  it('once connections close, new ones are served again', async () => {
    const s = net.connect(leash.port, '127.0.0.1');
    s.write('GET http://nothing.test:1/ HTTP/1.1\r\nHost: nothing.test:1\r\nConnection: close\r\n\r\n');
    const answer = await readAll(s);
    expect(answer).not.toContain('too_many_connections');
  });
});

describe('settings.timeouts.maxLifetime', () => {
  let leash: TestLeash;
  beforeAll(async () => {
    leash = await startLeash(
      policy(`
settings:
  dns: { hosts: { busy.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  timeouts: { maxLifetime: 700ms }
rules:
  - { name: busy, domain: busy.test, ports: "*", methods: [CONNECT], effect: allow }
`),
    );
  });
  afterAll(async () => leash?.stop());

  it('a busy tunnel is closed when it reaches its maximum lifetime, and audited max_lifetime', async () => {
    const socket = net.connect(leash.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(`CONNECT busy.test:${sink.port} HTTP/1.1\r\n\r\n`);
    await new Promise<void>((r) => socket.once('data', () => r()));
    const opened = performance.now();
    // Keep it busy: a write every 50 ms, so the idle timeout never applies.
    const busy = setInterval(() => socket.writable && socket.write('x'), 50);
    await new Promise<void>((r) => socket.once('close', () => r()));
    clearInterval(busy);
    const lived = performance.now() - opened;
    expect(lived).toBeGreaterThan(600);
    expect(lived).toBeLessThan(3000);
    const record = await waitFor(async () =>
      (await leash.records()).find((r) => r.event === 'tunnel' && r.host === 'busy.test'),
    );
    expect(record).toMatchObject({ effect: 'deny', reason: 'max_lifetime', status: 200 });
    expect(record?.bytesOut as number).toBeGreaterThan(0);
  });
});
