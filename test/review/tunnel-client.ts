// Review probes: a client for intercepted tunnels through a real leash (CONNECT, then TLS to leash's own CA), with
// raw requests written inside, so the probes control every byte.

import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { waitFor } from '../helpers/audit-sink.js';

export interface Tunnel {
  readonly client: tls.TLSSocket;
  readonly closed: Promise<void>;
  text(): string;
  /** Status lines received so far. */
  statuses(): string[];
  /** Writes `bytes` and waits until `n` status lines in all have arrived (or the tunnel closed). */
  send(bytes: string, n: number): Promise<string[]>;
  close(): void;
}

export async function connectRaw(
  proxyPort: number,
  host: string,
  port: number,
  extraHead = '',
): Promise<{ socket: net.Socket; answer: string }> {
  const socket = net.connect(proxyPort, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n${extraHead}\r\n`);
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const onData = (c: Buffer) => {
      text += c.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(text));
  });
  return { socket, answer };
}

export async function intercepted(
  proxyPort: number,
  host: string,
  port: number,
  leashCa: string,
  extraHead = '',
): Promise<Tunnel> {
  const { socket, answer } = await connectRaw(proxyPort, host, port, extraHead);
  if (!answer.startsWith('HTTP/1.1 200'))
    throw new Error(`CONNECT ${host}:${port} refused: ${answer.split('\r\n')[0]}`);
  const client = tls.connect({ socket, servername: host, ca: leashCa });
  client.on('error', () => {});
  let text = '';
  client.on('data', (d: Buffer) => (text += d.toString('latin1')));
  let isClosed = false;
  const closed = new Promise<void>((r) => client.once('close', () => ((isClosed = true), r())));
  await new Promise<void>((resolve, reject) => {
    client.once('secureConnect', () => resolve());
    client.once('close', () => reject(new Error('closed before the TLS handshake')));
  });
  const statuses = () => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
  return {
    client,
    closed,
    text: () => text,
    statuses,
    async send(bytes, n) {
      client.write(bytes);
      await waitFor(() => statuses().length >= n || isClosed, { timeoutMs: 5000 });
      return statuses();
    },
    close: () => client.destroy(),
  };
}

export function wsHead(host: string, port: number, target = '/socket', extra = ''): string {
  return `GET ${target} HTTP/1.1\r\nHost: ${host}:${port}\r\n${extra}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}
