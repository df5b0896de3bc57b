// Does the TLS server name a client asked for match the host its tunnel was opened to? One check, used on the
// ClientHello of a spliced tunnel (read by client-hello.ts before anything is forwarded) and on the handshake of an
// intercepted one: a different name is domain fronting or a policy bypass; no name for a host name leaves leash
// unable to confirm the destination. PURE.

import { normalizeHost, type HostKind } from '../policy/host.js';

export interface SniProblem {
  readonly reason: 'sni_missing' | 'sni_mismatch';
  readonly message: string;
}

export function sniProblem(sni: string | undefined, host: string, hostKind: HostKind): SniProblem | undefined {
  if (sni === undefined) {
    if (hostKind === 'name')
      return {
        reason: 'sni_missing',
        message: `the TLS ClientHello for ${host} names no server (SNI); leash cannot confirm the destination`,
      };
    return undefined;
  }
  const normalized = normalizeHost(sni);
  if (!normalized.ok || normalized.host !== host)
    return {
      reason: 'sni_mismatch',
      message: `the TLS ClientHello asks for ${sni}, but the tunnel was opened to ${host}`,
    };
  return undefined;
}
