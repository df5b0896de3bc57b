// Host patterns of the `domain:` field. Validating a pattern returns its compiled form, and the same compiled form
// is what the matcher indexes, so configuration time and run time cannot disagree about what a rule covers.

import ipaddr from 'ipaddr.js';
import { parse as parseDomain } from 'tldts';
import { normalizeHost, type HostKind } from './host.js';

export type HostPattern =
  | { kind: 'any'; text: '*' }
  | { kind: 'exact'; text: string; host: string; hostKind: HostKind }
  /** `publicSuffix`: the wildcard covers a whole public suffix (ICANN: `*.com`, `*.co.uk`; private: `*.github.io`). */
  | { kind: 'wildcard'; text: string; suffix: string; publicSuffix: 'icann' | 'private' | null }
  | { kind: 'cidr'; text: string; range: [ipaddr.IPv4 | ipaddr.IPv6, number]; family: 'ipv4' | 'ipv6' };

export type PatternResult = { ok: true; pattern: HostPattern } | { ok: false; message: string };

const WILDCARD_HELP = '"*" is only allowed as a whole leading label ("*.example.com") or alone ("*")';

export function compileHostPattern(text: string): PatternResult {
  if (text === '*') return { ok: true, pattern: { kind: 'any', text } };
  const misplaced = notAHost(text);
  if (misplaced) return { ok: false, message: misplaced };
  if (text.includes('/')) return compileCidr(text);
  if (text.startsWith('*.')) return compileWildcard(text);
  if (text.includes('*')) return { ok: false, message: `"${text}": ${WILDCARD_HELP}` };
  const host = normalizeHost(text);
  if (!host.ok) return { ok: false, message: host.message };
  return { ok: true, pattern: { kind: 'exact', text, host: host.host, hostKind: host.kind } };
}

/** A URL, `host:port` or `host/path` written where a host pattern belongs: say which field takes the rest. */
function notAHost(text: string): string | undefined {
  const url = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/i.exec(text);
  if (url) {
    const authority = url[2] ?? '';
    const host = authority.replace(/^.*@/, '').replace(/:(\d+)$/, '');
    const port = /:(\d+)$/.exec(authority)?.[1];
    const rest = (url[3] ?? '').replace(/[?#].*$/, '');
    const hints = [`domain: ${host || 'HOST'}`];
    if (port) hints.push(`ports: [${port}]`);
    else if (/^https$/i.test(url[1] ?? '')) hints.push('ports: [443]');
    else if (/^http$/i.test(url[1] ?? '')) hints.push('ports: [80]');
    if (rest && rest !== '/') hints.push(`paths: ["${rest}"]`);
    return `"${text}" is a URL; domain takes a host only: write ${hints.join(', ')}`;
  }
  // host:port (one colon, not an IPv6 address) and host/path (a slash after something that is not an address).
  const hostPort = /^([^:/[\]]+):(\d+)(\/.*)?$/.exec(text);
  if (hostPort) {
    const hints = [`domain: ${hostPort[1]}`, `ports: [${hostPort[2]}]`];
    if (hostPort[3] && hostPort[3] !== '/') hints.push(`paths: ["${hostPort[3]}"]`);
    return `"${text}" includes a port; domain takes a host only: write ${hints.join(', ')}`;
  }
  const slash = text.indexOf('/');
  if (slash > 0) {
    const before = text.slice(0, slash);
    const after = text.slice(slash);
    if (!ipaddr.isValid(before) && !/^\d+$/.test(after.slice(1))) {
      return `"${text}" includes a path; domain takes a host only: write domain: ${before}${after === '/' ? '' : `, paths: ["${after}"]`}`;
    }
  }
  return undefined;
}

function compileWildcard(text: string): PatternResult {
  const rest = text.slice(2);
  if (rest.includes('*'))
    return { ok: false, message: `"${text}": ${WILDCARD_HELP}; "*.*.example.com" is written "*.example.com"` };
  if (rest === '' || rest === '.')
    return { ok: false, message: `"${text}" names no domain after "*."; write "*.example.com", or "*" for every host` };
  const host = normalizeHost(rest);
  if (!host.ok) return { ok: false, message: host.message };
  if (host.kind !== 'name')
    return {
      ok: false,
      message: `"${text}": a wildcard applies to host names, not addresses; use a CIDR for address ranges`,
    };
  // One label (`*.com`, `*.test`): a whole top-level domain.
  if (!host.host.includes('.'))
    return { ok: true, pattern: { kind: 'wildcard', text, suffix: host.host, publicSuffix: 'icann' } };
  const info = parseDomain(host.host, { allowPrivateDomains: true });
  if (info.publicSuffix === host.host || info.domain === null) {
    // The caller knows the rule's effect: denying a whole suffix is safe, allowing one needs `broad: true`.
    return {
      ok: true,
      pattern: {
        kind: 'wildcard',
        text,
        suffix: host.host,
        publicSuffix: info.isIcann === false ? 'private' : 'icann',
      },
    };
  }
  return { ok: true, pattern: { kind: 'wildcard', text, suffix: host.host, publicSuffix: null } };
}

/**
 * How specific a pattern is, for precedence among allow rules: an exact host or address beats every wildcard and
 * CIDR, a longer wildcard suffix or CIDR prefix beats a shorter one, and "*" comes last. Names and addresses never
 * compete (a name never matches a CIDR, an address never matches a wildcard).
 */
export function specificity(pattern: HostPattern): number {
  switch (pattern.kind) {
    case 'exact':
      return 1_000_000;
    case 'wildcard':
      return 1000 + pattern.suffix.split('.').length;
    case 'cidr':
      return 1000 + pattern.range[1];
    case 'any':
      return 0;
  }
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
export function cidrContains(
  pattern: Extract<HostPattern, { kind: 'cidr' }>,
  host: string,
  hostKind: HostKind,
): boolean {
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
