// Test origins: real HTTP and HTTPS servers, and a raw TCP sink, on 127.0.0.1 port 0.
//
// Why: proxy tests assert on what actually arrived upstream (method, URL, headers, body, SNI), and on what did
// not arrive at all: a denied request must leave the sink's connection count at zero.
//
// Never: listen on anything but loopback, or leave sockets open after close() (keep-alive connections from the
// proxy would otherwise hold the test process open).

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface SeenRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  tls: boolean;
  /** SNI the client sent; only set for HTTPS origins and only when the client sent one. */
  servername?: string;
}

export interface TestOrigin {
  port: number;
  /** e.g. http://127.0.0.1:PORT or https://127.0.0.1:PORT */
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export type OriginHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

export interface TcpSink {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Everything received, one buffer per connection, in accept order (grows as data arrives). */
  received: Buffer[];
  close(): Promise<void>;
}

export const defaultOriginHandler: OriginHandler = (req, res) => {
  const body = `hello from origin ${req.method} ${req.url}`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

function listenOnLoopback(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server, destroyAll: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    destroyAll();
  });
}

function recordingListener(seen: SeenRequest[], tls: boolean, handler: OriginHandler) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: { ...req.headers },
        body,
        tls,
      };
      if (tls) {
        // Node reports `false` when the client sent no SNI (always the case for IP-literal hosts, RFC 6066 §3).
        const servername = (req.socket as TLSSocket).servername;
        if (typeof servername === 'string') entry.servername = servername;
      }
      seen.push(entry);
      try {
        handler(req, res, body);
      } catch (err) {
        // A throwing test handler must show up as a 500, not a hung request.
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`origin handler threw: ${(err as Error).message}`);
      }
    });
  };
}

async function startOrigin(
  server: http.Server | https.Server,
  scheme: 'http' | 'https',
  seen: SeenRequest[],
): Promise<TestOrigin> {
  const port = await listenOnLoopback(server);
  return {
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    seen,
    close: () => closeServer(server, () => server.closeAllConnections()),
  };
}

export function startHttpOrigin(handler: OriginHandler = defaultOriginHandler): Promise<TestOrigin> {
  const seen: SeenRequest[] = [];
  const server = http.createServer(recordingListener(seen, false, handler));
  return startOrigin(server, 'http', seen);
}

export function startHttpsOrigin(
  cert: { certPem: string; keyPem: string },
  handler: OriginHandler = defaultOriginHandler,
): Promise<TestOrigin> {
  const seen: SeenRequest[] = [];
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, recordingListener(seen, true, handler));
  // A client that rejects our certificate aborts the handshake; that is an expected outcome, not a crash.
  server.on('tlsClientError', () => {});
  return startOrigin(server, 'https', seen);
}

export async function startTcpSink(): Promise<TcpSink> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer();
  const sink: TcpSink = {
    port: 0,
    connections: 0,
    received: [],
    close: () =>
      closeServer(server, () => {
        for (const socket of sockets) socket.destroy();
      }),
  };
  server.on('connection', (socket) => {
    const index = sink.received.length;
    sink.connections += 1;
    sink.received.push(Buffer.alloc(0));
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      sink.received[index] = Buffer.concat([sink.received[index]!, chunk]);
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  sink.port = await listenOnLoopback(server);
  return sink;
}
