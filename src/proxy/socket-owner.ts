// Which local user owns the other end of a loopback connection, from the kernel's socket tables
// (/proc/net/tcp and /proc/net/tcp6). With kernel rules that let an agent's OS user reach only the proxy, this
// names the agent without any secret it could leak. Linux only; elsewhere, and for remote clients, it is unknown.

import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Socket owners, looked up once per connection. One per process (ProxyState.socketOwners): it batches reads of the
 * kernel's tables. Reading them costs the kernel ~2 µs per socket listed, so at most one read runs, and everyone
 * who arrives meanwhile shares the single read that starts when it ends.
 */
export class SocketOwners {
  private readonly cache = new WeakMap<Socket, Promise<number | undefined>>();
  private inFlight: Promise<string[]> | undefined;
  private queued: Promise<string[]> | undefined;

  /** The uid owning the client end of `socket`. */
  uidOf(socket: Socket): Promise<number | undefined> {
    let pending = this.cache.get(socket);
    if (!pending) {
      pending = this.lookup(socket).catch(() => undefined);
      this.cache.set(socket, pending);
    }
    return pending;
  }

  private async lookup(socket: Socket): Promise<number | undefined> {
    if (process.platform !== 'linux') return undefined;
    const client = endpoint(socket.remoteAddress, socket.remotePort);
    const server = endpoint(socket.localAddress, socket.localPort);
    if (!client || !server || !isLoopback(client.address)) return undefined;
    for (const table of await this.tablesReadFromNowOn()) {
      const uid = findSocketOwner(table, client, server);
      if (uid !== undefined) return uid;
    }
    return undefined;
  }

  /** Socket tables read by a read that starts no earlier than this call, so they list the caller's connection. */
  private tablesReadFromNowOn(): Promise<string[]> {
    if (!this.inFlight) return this.startRead();
    this.queued ??= this.inFlight.then(() => {
      this.queued = undefined;
      return this.startRead();
    });
    return this.queued;
  }

  private startRead(): Promise<string[]> {
    const read = readTables();
    this.inFlight = read;
    void read.finally(() => {
      if (this.inFlight === read) this.inFlight = undefined;
    });
    return read;
  }
}

function readTables(): Promise<string[]> {
  return Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((table) => readFile(table, 'utf8').catch(() => '')));
}

interface Endpoint {
  readonly address: ipaddr.IPv4 | ipaddr.IPv6;
  readonly port: number;
}

function endpoint(address: string | undefined, port: number | undefined): Endpoint | undefined {
  if (!address || !port || !ipaddr.isValid(address)) return undefined;
  // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; the client's own socket may be either family.
  return { address: ipaddr.process(address), port };
}

function isLoopback(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return address.range() === 'loopback';
}

/**
 * Finds the socket whose local end is the client and whose remote end is the server (the client's own socket,
 * not the proxy's accepted one) in a /proc/net/tcp{,6} table, and returns its uid column.
 */
export function findSocketOwner(table: string, client: Endpoint, server: Endpoint): number | undefined {
  const local = `${hexAddress(client.address)}:${hexPort(client.port)}`;
  const remote = `${hexAddress(server.address)}:${hexPort(server.port)}`;
  const mappedLocal =
    client.address.kind() === 'ipv4'
      ? `${hexAddress(ipaddr.IPv6.parse(`::ffff:${client.address.toString()}`))}:${hexPort(client.port)}`
      : local;
  const mappedRemote =
    server.address.kind() === 'ipv4'
      ? `${hexAddress(ipaddr.IPv6.parse(`::ffff:${server.address.toString()}`))}:${hexPort(server.port)}`
      : remote;
  // A text search for the address pair, then only that line is split: tables hold thousands of sockets.
  for (const pair of [`${local} ${remote} `, `${mappedLocal} ${mappedRemote} `]) {
    const at = table.indexOf(pair);
    if (at === -1) continue;
    const end = table.indexOf('\n', at);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
    const fields = table
      .slice(at, end === -1 ? undefined : end)
      .trim()
      .split(/\s+/);
    const uid = Number(fields[6]);
    if (Number.isInteger(uid)) return uid;
  }
  return undefined;
}

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0');
}

/** The kernel prints each 32-bit word of the address in host byte order (little-endian on x86 and ARM). */
function hexAddress(address: ipaddr.IPv4 | ipaddr.IPv6): string {
  const bytes = address.toByteArray();
  let out = '';
  for (let word = 0; word < bytes.length; word += 4) {
    for (let i = 3; i >= 0; i--) out += (bytes[word + i] ?? 0).toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
