// Host patterns of the `domain:` field. Validating a pattern returns its compiled form, and the same compiled form
// is what the matcher indexes, so configuration time and run time cannot disagree about what a rule covers.

import ipaddr from 'ipaddr.js';
import { parse as parseDomain } from 'tldts';
import { normalizeHost, type HostKind } from './host.js';

export type HostPattern =
  | { kind: 'any'; text: '*' }
  | { kind: 'exact'; text: string; host: string; hostKind: HostKind }
  | { kind: 'wildcard'; text: string; suffix: string; publicSuffix: 'private' | null }
  | { kind: 'cidr'; text: string; range: [ipaddr.IPv4 | ipaddr.IPv6, number]; family: 'ipv4' | 'ipv6' };

export type PatternResult = { ok: true; pattern: HostPattern } | { ok: false; message: string };

export function compileHostPattern(text: string): PatternResult {
  if (text === '*') return { ok: true, pattern: { kind: 'any', text } };
  if (text.includes('/')) return compileCidr(text);
  if (text.startsWith('*.')) return compileWildcard(text);
  if (text.includes('*')) {
    return { ok: false, message: `"${text}": "*" is only allowed as a whole leading label ("*.example.com") or alone ("*")` };
  }
  const host = normalizeHost(text);
  if (!host.ok) return { ok: false, message: host.message };
  return { ok: true, pattern: { kind: 'exact', text, host: host.host, hostKind: host.kind } };
}

function compileWildcard(text: string): PatternResult {
  const rest = text.slice(2);
  if (rest.includes('*')) {
    return { ok: false, message: `"${text}": "*" is only allowed as a whole leading label ("*.example.com") or alone ("*")` };
  }
  const host = normalizeHost(rest);
  if (!host.ok) return { ok: false, message: host.message };
  if (host.kind !== 'name') return { ok: false, message: `"${text}": a wildcard applies to host names, not addresses; use a CIDR for address ranges` };
  if (!host.host.includes('.')) {
    return { ok: false, message: `"${text}" is too broad: a wildcard must keep at least two labels` };
  }
  const info = parseDomain(host.host, { allowPrivateDomains: true });
  if (info.publicSuffix === host.host || info.domain === null) {
    if (info.isIcann !== false) {
      return { ok: false, message: `"${text}" is too broad: ${host.host} is a public suffix, so the wildcard covers unrelated owners` };
    }
    // A privately registered suffix (ngrok.io, github.io): fine to deny wholesale, too broad to allow; the
    // caller knows the rule's effect and decides.
    return { ok: true, pattern: { kind: 'wildcard', text, suffix: host.host, publicSuffix: 'private' } };
  }
  return { ok: true, pattern: { kind: 'wildcard', text, suffix: host.host, publicSuffix: null } };
}

function compileCidr(text: string): PatternResult {
  let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    range = ipaddr.parseCIDR(text);
  } catch {
    return { ok: false, message: `"${text}" is not a valid CIDR (e.g. 10.0.0.0/8 or fd00::/8)` };
  }
  let [address, bits] = range;
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    address = (address as ipaddr.IPv6).toIPv4Address();
    bits -= 96;
  }
  const network = networkAddress(address, bits);
  if (network !== address.toString()) {
    return { ok: false, message: `"${text}" has host bits set; did you mean ${network}/${bits}?` };
  }
  return { ok: true, pattern: { kind: 'cidr', text, range: [address, bits], family: address.kind() } };
}

function networkAddress(address: ipaddr.IPv4 | ipaddr.IPv6, bits: number): string {
  return address.kind() === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${bits}`).toString()
    : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${bits}`).toString();
}

/** Does a normalised IP host fall inside a CIDR pattern? Address families never cross. */
export function cidrContains(pattern: Extract<HostPattern, { kind: 'cidr' }>, host: string, hostKind: HostKind): boolean {
  if (hostKind !== pattern.family) return false;
  return ipaddr.parse(host).match(pattern.range);
}

/**
 * Could `outer` match every host `inner` matches? Used to find rules shadowed by an earlier rule.
 */
export function patternCovers(outer: HostPattern, inner: HostPattern): boolean {
  switch (outer.kind) {
    case 'any':
      return true;
    case 'exact':
      return inner.kind === 'exact' && inner.host === outer.host;
    case 'wildcard':
      if (inner.kind === 'exact') return inner.hostKind === 'name' && inner.host.endsWith(`.${outer.suffix}`);
      if (inner.kind === 'wildcard') return inner.suffix === outer.suffix || inner.suffix.endsWith(`.${outer.suffix}`);
      return false;
    case 'cidr':
      if (inner.kind === 'exact') return inner.hostKind !== 'name' && cidrContains(outer, inner.host, inner.hostKind);
      if (inner.kind === 'cidr') {
        return inner.family === outer.family && inner.range[1] >= outer.range[1] && inner.range[0].match(outer.range);
      }
      return false;
  }
}
