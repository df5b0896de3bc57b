// TLS interception for the tunnels whose rules must see inside HTTPS. Leash answers the CONNECT, terminates the
// client's TLS with a certificate for the CONNECT host (minted by leaf.ts, offered with ALPN http/1.1 only),
// checks that the client asked for that host (SNI), and hands the decrypted connection to an internal HTTP
// server whose requests are decided one by one. Tunnels that need no interception never come here.

import http from 'node:http';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { normalizeHost } from '../policy/host.js';
import type { ExchangeSink } from '../proxy/exchange.js';
import { handleInterceptedRequest, handleInterceptedUpgrade, type InterceptSession } from '../proxy/intercepted-request.js';
import type { Reason } from '../proxy/reasons.js';
import type { ProxyState } from '../proxy/state.js';
import { Exchange } from '../proxy/exchange.js';
import type { CertificateAuthority } from './ca.js';
import { LeafMinter } from './leaf.js';

export class Interceptor {
  private readonly minter: LeafMinter;
  private readonly server: http.Server;
  private readonly sessions = new WeakMap<Socket, InterceptSession>();

  constructor(
    private readonly state: ProxyState & ExchangeSink,
    readonly ca: CertificateAuthority,
    minter: LeafMinter,
    private readonly log: (line: string) => void,
  ) {
    this.minter = minter;
    const { limits, timeouts } = state.policy.settings;
    this.server = http.createServer({ maxHeaderSize: limits.maxHeaderBytes, headersTimeout: timeouts.headersMs, requestTimeout: 0, keepAliveTimeout: Math.min(timeouts.idleMs, 60_000), requireHostHeader: false });
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const session = this.sessions.get(req.socket);
      if (!session) {
        res.destroy();
        return;
      }
      // A request parsed after a refusal half-closed this connection gets no answer and no upstream.
      if (req.socket.writableEnded) return;
      if (state.draining) res.shouldKeepAlive = false;
      handleInterceptedRequest(state, session, req, res).catch((err: unknown) => this.log(`internal error in intercepted request: ${(err as Error).stack ?? String(err)}`));
    };
    this.server.on('request', onRequest);
    // Expect (RFC 9110 §10.1.1): 100 Continue only once the request is allowed, 417 audited; see server.ts.
    this.server.on('checkContinue', onRequest);
    this.server.on('checkExpectation', onRequest);
    this.server.on('upgrade', (req, socket: Socket, head: Buffer) => {
      const session = this.sessions.get(socket);
      if (!session) return socket.destroy();
      handleInterceptedUpgrade(state, session, req, socket, head).catch((err: unknown) => {
        this.log(`internal error in intercepted upgrade: ${(err as Error).stack ?? String(err)}`);
        socket.destroy();
      });
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const reason: Reason = err.code === 'HPE_HEADER_OVERFLOW' ? 'header_too_large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'client_timeout' : 'bad_request';
      this.refuseInside(socket, reason, `malformed HTTP request inside the tunnel (${err.code ?? 'parse error'})`);
    });
  }

  /** Takes over a tunnel after `200 Connection Established`; the tunnel record is finished when it closes. */
  start(session: InterceptSession, client: Socket, head: Buffer): void {
    const tunnel = session.tunnel;
    const fail = (reason: Reason, message: string) => {
      tunnel.deny(reason, message);
      tunnel.abort();
      tunnel.finish();
    };
    if (head.length > 0) {
      // Bytes sent before the proxy's answer would have to be replayed into the TLS layer; no mainstream client
      // does this, so it is refused rather than handled by a rarely exercised path.
      fail('not_tls', 'the client sent data before the CONNECT was answered; intercepted tunnels need the client to wait for 200');
      return;
    }
    const { timeouts } = session.policy.settings;
    const secure = new tls.TLSSocket(client, { isServer: true, secureContext: this.minter.contextFor(session.host), ALPNProtocols: ['http/1.1'] });
    tunnel.abort = () => {
      secure.destroy();
      client.destroy();
    };
    let established = false;
    const timer = setTimeout(() => fail('hello_timeout', `no TLS handshake for ${session.host} within ${timeouts.headersMs} ms`), timeouts.headersMs);
    secure.on('error', (err: NodeJS.ErrnoException) => {
      if (!established) {
        clearTimeout(timer);
        fail('not_tls', `TLS handshake with the client failed: ${err.code ?? err.message}`);
      } else {
        tunnel.abort();
      }
    });
    secure.once('secure', () => {
      clearTimeout(timer);
      established = true;
      const sni = typeof secure.servername === 'string' ? secure.servername : undefined;
      tunnel.record.sni = sni ?? null;
      const problem = sniProblem(sni, session);
      if (problem) return fail(problem.reason, problem.message);
      this.sessions.set(secure, session);
      secure.setTimeout(timeouts.idleMs, () => tunnel.abort());
      this.server.emit('connection', secure);
    });
    client.once('close', () => tunnel.finish({ bytesOut: client.bytesRead, bytesIn: client.bytesWritten, requests: session.requests }));
  }

  private refuseInside(socket: Socket, reason: Reason, message: string, req?: http.IncomingMessage): void {
    const session = this.sessions.get(socket);
    const exchange = new Exchange(this.state, session?.policy ?? this.state.policy, 'request', session?.client ?? null);
    Object.assign(exchange.record, { scheme: 'https', tls: 'intercepted', host: session?.host ?? null, port: session?.port ?? null, agent: session?.agent ?? 'anonymous', identity: session?.identity ?? 'none' });
    if (req) {
      exchange.record.method = req.method ?? null;
      exchange.record.path = (req.url ?? '').slice(0, 2048);
    }
    exchange.refuseOnSocket(socket, reason, message);
  }

  close(): void {
    this.server.closeAllConnections();
  }
}

function sniProblem(sni: string | undefined, session: InterceptSession): { reason: Reason; message: string } | undefined {
  if (sni === undefined) {
    if (session.hostKind === 'name') return { reason: 'sni_missing', message: `the TLS ClientHello for ${session.host} names no server (SNI); leash cannot confirm the destination` };
    return undefined;
  }
  const normalized = normalizeHost(sni);
  if (!normalized.ok || normalized.host !== session.host) return { reason: 'sni_mismatch', message: `the TLS ClientHello asks for ${sni}, but the tunnel was opened to ${session.host}` };
  return undefined;
}
