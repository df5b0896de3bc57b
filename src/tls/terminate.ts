// TLS termination of one socket: leash's side of an intercepted tunnel's handshake, with the certificate the
// caller's secure-context lookup gives for the CONNECT host, ALPN http/1.1 only, a deadline for the handshake, and
// the SNI check. It knows nothing of HTTP, policy or audit: the caller decides what the outcome means.

import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { HostKind } from '../policy/host.js';
import { sniProblem } from './sni.js';

export type Termination =
  | { readonly ok: true; readonly secure: tls.TLSSocket; readonly sni: string | undefined }
  | {
      readonly ok: false;
      readonly reason: 'not_tls' | 'hello_timeout' | 'sni_missing' | 'sni_mismatch';
      readonly message: string;
      readonly sni?: string;
    };

export interface TerminateOptions {
  readonly host: string;
  readonly hostKind: HostKind;
  readonly secureContext: tls.SecureContext;
  readonly handshakeTimeoutMs: number;
}

/**
 * Terminates `client`'s TLS. `secure` is handed out at once (so the caller can destroy it if the tunnel is cut
 * mid-handshake); the promise settles once the handshake succeeded and the SNI matched, or failed.
 */
export function terminateTls(
  client: Socket,
  options: TerminateOptions,
): { secure: tls.TLSSocket; done: Promise<Termination> } {
  const secure = new tls.TLSSocket(client, {
    isServer: true,
    secureContext: options.secureContext,
    ALPNProtocols: ['http/1.1'],
  });
  const done = new Promise<Termination>((resolve) => {
    const timer = setTimeout(
      () =>
        resolve({
          ok: false,
          reason: 'hello_timeout',
          message: `no TLS handshake for ${options.host} within ${options.handshakeTimeoutMs} ms`,
        }),
      options.handshakeTimeoutMs,
    );
    let established = false;
    // Stays attached: an error after the handshake is the caller's to handle (it adds its own listener), but one
    // arriving before the caller has attached must not go unhandled and take the process down.
    secure.on('error', (err: NodeJS.ErrnoException) => {
      if (established) return;
      clearTimeout(timer);
      resolve({
        ok: false,
        reason: 'not_tls',
        message: `TLS handshake with the client failed: ${err.code ?? err.message}`,
      });
    });
    secure.once('secure', () => {
      clearTimeout(timer);
      established = true;
      const sni = typeof secure.servername === 'string' ? secure.servername : undefined;
      const problem = sniProblem(sni, options.host, options.hostKind);
      resolve(problem ? { ok: false, ...problem, sni } : { ok: true, secure, sni });
    });
  });
  return { secure, done };
}
