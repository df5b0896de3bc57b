// Endpoints for kernel rules: the `HOST:PORT` of `--proxy` and `--allow`, parsed into the one canonical address a
// packet filter compares against.
// Why: a firewall matches addresses, not names. A host name here would be looked up once, when the rules are
// written, and go stale (or be answered by an attacker's resolver), so only IP literals are accepted. Every IPv4
// spelling and IPv4-mapped IPv6 collapse to the dotted quad the kernel sees on the wire, using the same
// normaliser as the policy engine so the two can never disagree about what an address is.
// PURE: never resolves a name.

import { LeashError } from '../errors.js';
import { normalizeHost, splitAuthority } from '../policy/host.js';

export type Family = 4 | 6;

export interface Endpoint {
  readonly family: Family;
  /** Canonical: dotted quad, or RFC 5952 compressed IPv6 without brackets. */
  readonly address: string;
  readonly port: number;
}

/** `127.0.0.1:3128` or `[::1]:3128`, as written in rules, comments and messages. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.family === 6 ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
}

/** Parses `--proxy`/`--allow` values; `flag` names the option in the error message. */
export function parseEndpoint(text: string, flag: string): Endpoint {
  const authority = splitAuthority(text);
  if (!authority)
    throw new LeashError('LEASH_USAGE', `${flag} needs IP:PORT (e.g. 127.0.0.1:3128 or [::1]:3128), got "${text}"`);
  const host = normalizeHost(authority.host);
  if (!host.ok) throw new LeashError('LEASH_USAGE', `${flag} "${text}": ${host.message}`);
  if (host.kind === 'name') {
    throw new LeashError(
      'LEASH_USAGE',
      `${flag} "${text}": give an IP address, not a name: kernel rules match addresses, and a name would be resolved once and go stale`,
    );
  }
  if (host.host === '0.0.0.0' || host.host === '::') {
    throw new LeashError(
      'LEASH_USAGE',
      `${flag} "${text}": the unspecified address is where a server listens, not where a client connects; give the address the agent connects to (e.g. 127.0.0.1)`,
    );
  }
  return { family: host.kind === 'ipv6' ? 6 : 4, address: host.host, port: authority.port };
}
