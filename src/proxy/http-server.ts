// The one HTTP server setup leash uses twice: for the proxy listener (absolute-form requests, CONNECT) and for the
// decrypted side of intercepted tunnels. Both parse with the same limits (header size, header timeout, no request
// timeout: bodies may legitimately take long, the idle timeout catches stalls), route Expect the same way (RFC 9110
// §10.1.1: without these listeners Node answers 100 Continue before leash has decided, or 417 unaudited), refuse a
// request parsed after leash half-closed its connection, and turn a parse error into an audited refusal with a
// reason rather than Node's bare 400.

import http from 'node:http';
import type { Socket } from 'node:net';
import type { PolicySettings } from '../policy/settings.js';
import type { Reason } from './reasons.js';

export interface LeashHttpHandlers {
  /** A request to decide; not called for requests parsed after a refusal closed the connection's write side. */
  readonly request: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  readonly upgrade: (req: http.IncomingMessage, socket: Socket, head: Buffer) => void;
  /** Refuses on the socket and audits: a malformed request, headers too large or too slow, a stray CONNECT. */
  readonly refuse: (socket: Socket, reason: Reason, message: string, req?: http.IncomingMessage) => void;
  /** A CONNECT; without a handler (inside a tunnel) it is refused as bad_request, audited. */
  readonly connect?: (req: http.IncomingMessage, socket: Socket, head: Buffer) => void;
  /** Whether the server is draining (answers then close the connection). */
  readonly draining: () => boolean;
  /** Skips a connection leash already refused at accept. */
  readonly refused?: (socket: Socket) => boolean;
}

const PARSE_MESSAGES: Partial<Record<Reason, string>> = {
  header_too_large: 'request headers are larger than the limit',
  client_timeout: 'request headers did not arrive in time',
};

export function createLeashHttpServer(settings: PolicySettings, handlers: LeashHttpHandlers, where = ''): http.Server {
  const { limits, timeouts } = settings;
  const server = http.createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: timeouts.headersMs,
    requestTimeout: 0,
    keepAliveTimeout: Math.min(timeouts.idleMs, 60_000),
    connectionsCheckingInterval: Math.min(1000, timeouts.headersMs),
    insecureHTTPParser: false,
    requireHostHeader: false,
  });
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.socket.writableEnded || handlers.refused?.(req.socket)) return;
    if (handlers.draining()) res.shouldKeepAlive = false;
    handlers.request(req, res);
  };
  server.on('request', onRequest);
  server.on('checkContinue', onRequest);
  server.on('checkExpectation', onRequest);
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    if (handlers.refused?.(socket)) return;
    handlers.upgrade(req, socket, head);
  });
  // Node destroys the socket of a CONNECT nobody listens for, silently: every refusal is answered and audited.
  server.on('connect', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    if (handlers.refused?.(socket)) return;
    if (handlers.connect) return handlers.connect(req, socket, head);
    handlers.refuse(socket, 'bad_request', `CONNECT is not a request leash forwards${where}`, req);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const reason: Reason =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? 'header_too_large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'client_timeout'
          : 'bad_request';
    handlers.refuse(
      socket,
      reason,
      reason === 'bad_request'
        ? `malformed HTTP request${where} (${err.code ?? 'parse error'})`
        : `${PARSE_MESSAGES[reason] ?? reason}${where}`,
    );
  });
  return server;
}
