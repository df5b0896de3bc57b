// Resolve, then check, and hand back exactly one address to dial. Called only after the policy allowed the name,
// so a denied name is never looked up. Every address a name resolves to must pass the address guard: one private
// answer among public ones is a rebinding attempt, not a reason to pick another. The caller dials the address
// returned here and never looks the name up again, so the answer cannot change between check and connect.

import { promises as dns } from 'node:dns';
import { checkAddress } from '../policy/address.js';
import type { HostKind } from '../policy/host.js';
import type { PolicySettings } from '../policy/settings.js';

export type Resolution =
  | { ok: true; address: string; family: 4 | 6; source: 'literal' | 'pin' | 'dns' | 'system' }
  | { ok: false; reason: 'dns_failure' | 'address_denied'; message: string };

/**
 * `resolver` queries settings.dns.servers (one per policy revision, see policy-runtime.ts); without one, or when
 * the policy names no servers, the system resolver answers.
 */
export async function resolveTarget(
  host: string,
  kind: HostKind,
  settings: PolicySettings,
  resolver?: dns.Resolver,
): Promise<Resolution> {
  let addresses: readonly string[];
  let source: 'literal' | 'pin' | 'dns' | 'system';
  if (kind !== 'name') {
    addresses = [host];
    source = 'literal';
  } else if (settings.dns.hosts.has(host)) {
    addresses = settings.dns.hosts.get(host) ?? [];
    source = 'pin';
  } else {
    const servers = settings.dns.servers.length > 0 && resolver ? resolver : undefined;
    const looked = await withTimeout(
      servers ? queryServers(host, servers) : querySystem(host),
      settings.dns.timeoutMs,
      host,
    );
    if (!looked.ok) return looked;
    addresses = looked.addresses;
    source = servers ? 'dns' : 'system';
  }
  if (addresses.length === 0) return { ok: false, reason: 'dns_failure', message: `${host} has no addresses` };
  for (const address of addresses) {
    const verdict = checkAddress(settings.guard, address);
    // "api.test resolves to 10.1.2.3, which is a private network address; ..." reads as one sentence.
    if (!verdict.ok)
      return {
        ok: false,
        reason: 'address_denied',
        message:
          kind === 'name'
            ? `${host} resolves to ${verdict.message.replace(/^(\S+(?: \([^)]*\))?) is /, '$1, which is ')}`
            : verdict.message,
      };
  }
  const address = addresses[0] as string;
  return { ok: true, address, family: address.includes(':') ? 6 : 4, source };
}

type Lookup = { ok: true; addresses: string[] } | { ok: false; reason: 'dns_failure'; message: string };

async function queryServers(host: string, resolver: dns.Resolver): Promise<Lookup> {
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (addresses.length > 0) return { ok: true, addresses };
  const err = (v4.status === 'rejected' ? v4.reason : v6.status === 'rejected' ? v6.reason : undefined) as
    NodeJS.ErrnoException | undefined;
  return { ok: false, reason: 'dns_failure', message: describeDnsError(host, err) };
}

async function querySystem(host: string): Promise<Lookup> {
  try {
    const results = await dns.lookup(host, { all: true, verbatim: true });
    return { ok: true, addresses: results.map((r) => r.address) };
  } catch (err) {
    return { ok: false, reason: 'dns_failure', message: describeDnsError(host, err as NodeJS.ErrnoException) };
  }
}

function describeDnsError(host: string, err: NodeJS.ErrnoException | undefined): string {
  switch (err?.code) {
    case 'ENOTFOUND':
    case 'ENODATA':
      return `${host} does not exist in DNS`;
    case 'ETIMEOUT':
      return `DNS lookup of ${host} timed out`;
    case 'ESERVFAIL':
      return `DNS server failed to resolve ${host}`;
    case 'ECONNREFUSED':
      return `DNS server refused the query for ${host}`;
    default:
      return `DNS lookup of ${host} failed${err?.code ? ` (${err.code})` : ''}`;
  }
}

async function withTimeout(lookup: Promise<Lookup>, ms: number, host: string): Promise<Lookup> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Lookup>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, reason: 'dns_failure', message: `DNS lookup of ${host} timed out` }),
      ms,
    );
  });
  try {
    return await Promise.race([lookup, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
