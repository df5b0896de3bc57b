// The HTTP side of TLS interception, for the tunnels whose rules must see inside HTTPS. After leash answers the
// CONNECT, tls/terminate.ts terminates the client's TLS with a certificate for the CONNECT host (from the leaf
// minter) and checks the SNI; the decrypted connection then joins an internal HTTP server whose requests and
// upgrades are decided one by one (intercepted-request.ts). Tunnels that need no interception never come here.

import http from 'node:http';
import type { Socket } from 'node:net';
import type { CertificateAuthority } from '../tls/ca.js';
import type { LeafMinter } from '../tls/leaf.js';
import { terminateTls } from '../tls/terminate.js';
import { Exchange, type ExchangeSink } from './exchange.js';
import { createLeashHttpServer } from './http-server.js';
import { handleInterceptedRequest, handleInterceptedUpgrade, type InterceptSession } from './intercepted-request.js';
import type { Reason } from './reasons.js';
import type { ProxyState } from './state.js';

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
    this.server = createLeashHttpServer(
      state.policy.settings,
      {
        request: (req, res) => {
          const session = this.sessions.get(req.socket);
          if (!session) return void res.destroy();
          handleInterceptedRequest(state, session, req, res).catch((err: unknown) =>
            this.log(`internal error in intercepted request: ${(err as Error).stack ?? String(err)}`),
          );
        },
        upgrade: (req, socket, head) => {
          const session = this.sessions.get(socket);
          if (!session) return void socket.destroy();
          handleInterceptedUpgrade(state, session, req, socket, head).catch((err: unknown) => {
            this.log(`internal error in intercepted upgrade: ${(err as Error).stack ?? String(err)}`);
            socket.destroy();
          });
        },
        refuse: (socket, reason, message, req) => this.refuseInside(socket, reason, message, req),
        draining: () => state.draining,
      },
      ' inside the tunnel',
    );
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
      fail(
        'not_tls',
        'the client sent data before the CONNECT was answered; intercepted tunnels need the client to wait for 200',
      );
      return;
    }
    const { timeouts } = session.policy.settings;
    const { secure, done } = terminateTls(client, {
      host: session.host,
      hostKind: session.hostKind,
      secureContext: this.minter.contextFor(session.host),
      handshakeTimeoutMs: timeouts.headersMs,
    });
    tunnel.abort = () => {
      secure.destroy();
      client.destroy();
    };
    void done.then((outcome) => {
      tunnel.record.sni = outcome.ok ? (outcome.sni ?? null) : (outcome.sni ?? tunnel.record.sni ?? null);
      if (!outcome.ok) return fail(outcome.reason, outcome.message);
      secure.on('error', () => tunnel.abort());
      this.sessions.set(secure, session);
      secure.setTimeout(timeouts.idleMs, () => tunnel.abort());
      this.server.emit('connection', secure);
    });
    client.once('close', () =>
      tunnel.finish({ bytesOut: client.bytesRead, bytesIn: client.bytesWritten, requests: session.requests }),
    );
  }

  private refuseInside(socket: Socket, reason: Reason, message: string, req?: http.IncomingMessage): void {
    const session = this.sessions.get(socket);
    const exchange = new Exchange(this.state, session?.policy ?? this.state.policy, 'request', session?.client ?? null);
    Object.assign(exchange.record, {
      scheme: 'https',
      tls: 'intercepted',
      host: session?.host ?? null,
      port: session?.port ?? null,
      agent: session?.agent ?? 'anonymous',
      identity: session?.identity ?? 'none',
    });
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
