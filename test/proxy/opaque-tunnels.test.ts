// Tunnels leash cannot see into, and deny rules on every port. A CONNECT to a port outside settings.tlsPorts is an
// opaque tunnel: whatever it carries (SSH, a database protocol, plain HTTP to anywhere the server forwards) is
// neither visible nor audited, so only a rule whose methods name CONNECT allows it, and the refusal says how. A
// deny rule without ports covers every port, so a catch-all allow on 8080 cannot open a denied host there.

import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTcpSink, type TcpSink } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let sink: TcpSink;
let leash: TestLeash;

beforeAll(async () => {
  sink = await startTcpSink();
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { git.test: 127.0.0.1, db.test: 127.0.0.1, hook.test: 127.0.0.1, ok.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: git-ssh, domain: git.test, ports: [${sink.port}], methods: [CONNECT], effect: allow, reason: git over SSH }
  - { name: db, domain: db.test, ports: [${sink.port}], effect: allow }
  - { name: everything-else, domain: "*", ports: [${sink.port}], methods: [CONNECT], broad: true, effect: allow }
  - { name: hook, domain: hook.test, effect: deny, reason: request catcher }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await sink?.close();
});

async function connect(authority: string): Promise<{ head: string; socket: net.Socket }> {
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  const head = await new Promise<string>((resolve) => {
    let buf = '';
    socket.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      if (buf.includes('\r\n\r\n')) resolve(buf);
    });
    socket.once('close', () => resolve(buf));
  });
  return { head, socket };
}

it('a rule naming CONNECT opens an opaque tunnel, and bytes flow both ways', async () => {
  const before = sink.received.length;
  const { head, socket } = await connect(`git.test:${sink.port}`);
  expect(head).toBe('HTTP/1.1 200 Connection Established\r\n\r\n');
  socket.write('SSH-2.0-OpenSSH_9.6\r\n');
  await new Promise<void>((resolve) => {
    const check = () =>
      Buffer.concat(sink.received.slice(before)).toString().includes('SSH-2.0') ? resolve() : setTimeout(check, 10);
    check();
  });
  socket.destroy();
});

it('a rule without CONNECT in its methods does not open one: 403 opaque_tunnel, with how to allow it', async () => {
  const before = sink.received.length;
  const { head, socket } = await connect(`db.test:${sink.port}`);
  socket.destroy();
  expect(head).toMatch(/^HTTP\/1\.1 403 /);
  expect(head).toContain('X-Leash-Decision: deny; reason=opaque_tunnel');
  expect(head).toContain(`add CONNECT to the methods of rule db`);
  expect(sink.received.length).toBe(before);
  const records = await leash.records();
  expect(records.find((r) => r.host === 'db.test')).toMatchObject({
    event: 'tunnel',
    effect: 'deny',
    reason: 'opaque_tunnel',
  });
});

it('a deny rule without ports covers every port: a catch-all allow on another port does not open it', async () => {
  const { head, socket } = await connect(`hook.test:${sink.port}`);
  socket.destroy();
  expect(head).toMatch(/^HTTP\/1\.1 403 /);
  expect(head).toContain('X-Leash-Decision: deny; rule=hook; reason=denied_by_rule');
  const plain = await new Promise<string>((resolve) => {
    const s = net.connect(leash.port, '127.0.0.1');
    let buf = '';
    s.on('data', (c: Buffer) => (buf += c.toString('latin1')));
    s.on('close', () => resolve(buf));
    s.write(`GET http://hook.test:8080/steal HTTP/1.1\r\nHost: hook.test:8080\r\nConnection: close\r\n\r\n`);
  });
  expect(plain).toMatch(/^HTTP\/1\.1 403 /);
  expect(plain).toContain('rule=hook; reason=denied_by_rule');
});

it('the catch-all opaque rule still opens other hosts on its port', async () => {
  const { head, socket } = await connect(`ok.test:${sink.port}`);
  socket.destroy();
  expect(head).toBe('HTTP/1.1 200 Connection Established\r\n\r\n');
});
