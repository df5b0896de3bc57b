// Finding the uid behind a loopback connection in the kernel's socket tables.

import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { findSocketOwner, SocketOwners } from '../../src/proxy/socket-owner.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0C38 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0C38 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D431 0100007F:0C38 01 00000000:00000000 00:00000000 00000000  1001        0 1003 1 0000000000000000 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:D432 0000000000000000FFFF00000100007F:0C38 01 00000000:00000000 00:00000000 00000000  1002        0 2001 1 0000000000000000 20 4 30 10 -1
   1: 00000000000000000000000001000000:D433 00000000000000000000000001000000:0C38 01 00000000:00000000 00:00000000 00000000  1003        0 2002 1 0000000000000000 20 4 30 10 -1
`;
const at = (address: string, port: number) => ({ address: ipaddr.parse(address), port });

describe('findSocketOwner', () => {
  it.each([
    [
      'the client end of an IPv4 connection, not the proxy end',
      TCP,
      at('127.0.0.1', 0xd431),
      at('127.0.0.1', 3128),
      1001,
    ],
    ['an IPv4 client on an IPv6 socket (mapped addresses)', TCP6, at('127.0.0.1', 0xd432), at('127.0.0.1', 3128), 1002],
    ['an IPv6 loopback client', TCP6, at('::1', 0xd433), at('::1', 3128), 1003],
    ['no such connection', TCP, at('127.0.0.1', 1), at('127.0.0.1', 3128), undefined],
  ])('%s', (_name, table, client, server, uid) => {
    expect(findSocketOwner(table, client, server)).toBe(uid);
  });
});

describe.runIf(process.platform === 'linux')('socketOwnerUid on this machine', () => {
  it('finds this process as the owner of its own loopback connection', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const socket = await accepted;
    expect(await new SocketOwners().uidOf(socket)).toBe(process.getuid?.());
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
});
