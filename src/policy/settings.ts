// Policy-wide settings: defaults, the merge of `settings:` blocks from several files (a key set twice is an error
// naming both places, so no file silently overrides another), and the semantic checks a schema cannot do.

import ipaddr from 'ipaddr.js';
import type { PolicyIssue, SourceLocation } from '../errors.js';
import { compileAddressGuard, type AddressGuard } from './address.js';
import { parseDuration } from './duration.js';
import { normalizeHost } from './host.js';
import { fieldName } from './schema.js';
import type { ParsedYaml, YamlPath } from './yaml.js';

export interface PolicySettings {
  readonly mode: 'enforce' | 'report';
  readonly requireAgent: boolean;
  readonly dns: {
    /** `IP` or `IP:PORT` strings as Node's resolver takes them; empty means the system resolver. */
    readonly servers: readonly string[];
    readonly hosts: ReadonlyMap<string, readonly string[]>;
    readonly timeoutMs: number;
  };
  readonly network: { readonly allowCidrs: readonly string[]; readonly denyCidrs: readonly string[] };
  readonly guard: AddressGuard;
  readonly grants: {
    readonly ttlMs: number;
    readonly maxPerResponse: number;
    readonly scope: 'host' | 'url';
    readonly maxInspectBytes: number;
  };
  readonly tlsPorts: ReadonlySet<number>;
  readonly tls: { readonly extraCa: string | null };
  readonly timeouts: {
    readonly headersMs: number;
    readonly connectMs: number;
    readonly responseMs: number;
    readonly idleMs: number;
    readonly drainMs: number;
    readonly maxLifetimeMs: number;
  };
  readonly limits: { readonly maxConnections: number; readonly maxHeaderBytes: number };
}

export const DEFAULT_SETTINGS = {
  mode: 'enforce',
  dnsTimeout: '5s',
  grants: { ttl: '30s', maxPerResponse: 64, scope: 'host', maxInspectBytes: 4 * 1024 * 1024 },
  tlsPorts: [443, 8443],
  timeouts: { headers: '10s', connect: '10s', response: '60s', idle: '5m', drain: '10s', maxLifetime: '1h' },
  limits: { maxConnections: 4096, maxHeaderBytes: 16 * 1024 },
} as const;

/** A settings value and where it was written (for merged lists, where each item was written). */
interface Leaf {
  readonly value: unknown;
  readonly location: SourceLocation;
  readonly itemLocations?: readonly SourceLocation[];
}

/**
 * Lists that several files may each contribute to, as `dns.hosts` entries do: an exception to the address guard
 * added by one team's file must not make another team's an error. Every other leaf may be set once.
 */
const MERGED_LISTS: ReadonlySet<string> = new Set([
  'settings.network.allowCidrs',
  'settings.network.denyCidrs',
  'settings.tlsPorts',
]);

/** Merges the `settings` blocks of all files leaf by leaf; maps merge, scalars and lists may be set once. */
export function mergeSettings(files: readonly ParsedYaml[], issues: PolicyIssue[]): Map<string, Leaf> {
  const leaves = new Map<string, Leaf>();
  for (const file of files) {
    const settings = (file.value as { settings?: unknown }).settings;
    if (settings === undefined) continue;
    const visit = (value: unknown, path: (string | number)[]) => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        for (const [key, child] of Object.entries(value)) visit(child, [...path, key]);
        return;
      }
      const key = fieldName(path);
      const location = file.locate(path, 'key');
      const first = leaves.get(key);
      if (MERGED_LISTS.has(key) && Array.isArray(value)) {
        const items = value.map((_, i) => file.locate([...path, i]));
        if (!first) leaves.set(key, { value, location, itemLocations: items });
        else if (Array.isArray(first.value)) {
          leaves.set(key, {
            value: [...first.value, ...value],
            location: first.location,
            itemLocations: [...(first.itemLocations ?? []), ...items],
          });
        }
        return;
      }
      if (first) {
        issues.push({
          severity: 'error',
          location,
          field: key,
          message: `is defined twice; first at ${first.location.file}:${first.location.line}:${first.location.column}`,
        });
        return;
      }
      leaves.set(key, { value, location });
    };
    visit(settings, ['settings']);
  }
  return leaves;
}

export function resolveSettings(leaves: Map<string, Leaf>, issues: PolicyIssue[]): PolicySettings {
  const get = <T>(path: YamlPath, fallback: T): T => (leaves.get(fieldName(path))?.value as T | undefined) ?? fallback;
  const fail = (path: YamlPath, message: string, item?: number) => {
    const leaf = leaves.get(fieldName(path));
    const location = (item === undefined ? undefined : leaf?.itemLocations?.[item]) ?? leaf?.location;
    if (location) issues.push({ severity: 'error', location, field: fieldName(path), message });
  };
  const duration = (path: YamlPath, fallback: string) =>
    parseDuration(get(path, fallback)) ?? (parseDuration(fallback) as number);

  const servers = get<string[]>(['settings', 'dns', 'servers'], []);
  servers.forEach((server, i) => {
    if (!isResolverAddress(server))
      fail(
        ['settings', 'dns', 'servers'],
        `"${server}" (item ${i + 1}) is not a resolver address; allowed: IP or IP:PORT ([IPv6]:PORT)`,
      );
  });

  const hosts = new Map<string, string[]>();
  for (const [key, leaf] of leaves) {
    const prefix = 'settings.dns.hosts';
    if (!key.startsWith(prefix) || key === prefix) continue;
    const name = key
      .slice(prefix.length)
      .replace(/^\./, '')
      .replace(/^\["(.*)"\]$/, '$1');
    const field = key;
    const host = normalizeHost(name);
    if (!host.ok || host.kind !== 'name') {
      issues.push({
        severity: 'error',
        location: leaf.location,
        field,
        message: `"${name}" is not a host name to pin`,
      });
      continue;
    }
    const addresses = (Array.isArray(leaf.value) ? leaf.value : [leaf.value]) as string[];
    const canonical: string[] = [];
    for (const address of addresses) {
      if (!ipaddr.isValid(address)) {
        issues.push({
          severity: 'error',
          location: leaf.location,
          field,
          message: `"${address}" is not an IP address`,
        });
      } else {
        canonical.push(ipaddr.process(address).toString());
      }
    }
    if (hosts.has(host.host)) {
      issues.push({
        severity: 'error',
        location: leaf.location,
        field,
        message: `pins ${host.host} a second time (another spelling of the same host)`,
      });
    }
    hosts.set(host.host, canonical);
  }

  const allowCidrs = get<string[]>(['settings', 'network', 'allowCidrs'], []);
  const denyCidrs = get<string[]>(['settings', 'network', 'denyCidrs'], []);
  let guard: AddressGuard = compileAddressGuard([], []);
  let guardOk = true;
  for (const [key, list] of [
    ['allowCidrs', allowCidrs],
    ['denyCidrs', denyCidrs],
  ] as const) {
    list.forEach((cidr, i) => {
      try {
        if (key === 'allowCidrs') compileAddressGuard([cidr], []);
        else compileAddressGuard([], [cidr]);
      } catch (err) {
        guardOk = false;
        fail(['settings', 'network', key], (err as Error).message, i);
      }
    });
  }
  if (guardOk) guard = compileAddressGuard(allowCidrs, denyCidrs);
  for (const cidr of allowCidrs) {
    if (/\/0$/.test(cidr)) {
      const leaf = leaves.get('settings.network.allowCidrs');
      if (leaf)
        issues.push({
          severity: 'warning',
          location: leaf.location,
          field: 'settings.network.allowCidrs',
          message: `"${cidr}" switches the address guard off for a whole address family`,
        });
    }
  }

  return {
    mode: get(['settings', 'mode'], DEFAULT_SETTINGS.mode),
    requireAgent: get(['settings', 'requireAgent'], false),
    dns: { servers, hosts, timeoutMs: duration(['settings', 'dns', 'timeout'], DEFAULT_SETTINGS.dnsTimeout) },
    network: { allowCidrs, denyCidrs },
    guard,
    grants: {
      ttlMs: duration(['settings', 'grants', 'ttl'], DEFAULT_SETTINGS.grants.ttl),
      maxPerResponse: get(['settings', 'grants', 'maxPerResponse'], DEFAULT_SETTINGS.grants.maxPerResponse),
      scope: get(['settings', 'grants', 'scope'], DEFAULT_SETTINGS.grants.scope),
      maxInspectBytes: get(['settings', 'grants', 'maxInspectBytes'], DEFAULT_SETTINGS.grants.maxInspectBytes),
    },
    tls: { extraCa: get<string | null>(['settings', 'tls', 'extraCa'], null) },
    tlsPorts: new Set(get<number[]>(['settings', 'tlsPorts'], [...DEFAULT_SETTINGS.tlsPorts])),
    timeouts: {
      headersMs: duration(['settings', 'timeouts', 'headers'], DEFAULT_SETTINGS.timeouts.headers),
      connectMs: duration(['settings', 'timeouts', 'connect'], DEFAULT_SETTINGS.timeouts.connect),
      responseMs: duration(['settings', 'timeouts', 'response'], DEFAULT_SETTINGS.timeouts.response),
      idleMs: duration(['settings', 'timeouts', 'idle'], DEFAULT_SETTINGS.timeouts.idle),
      drainMs: duration(['settings', 'timeouts', 'drain'], DEFAULT_SETTINGS.timeouts.drain),
      maxLifetimeMs: duration(['settings', 'timeouts', 'maxLifetime'], DEFAULT_SETTINGS.timeouts.maxLifetime),
    },
    limits: {
      maxConnections: get(['settings', 'limits', 'maxConnections'], DEFAULT_SETTINGS.limits.maxConnections),
      maxHeaderBytes: get(['settings', 'limits', 'maxHeaderBytes'], DEFAULT_SETTINGS.limits.maxHeaderBytes),
    },
  };
}

function isResolverAddress(text: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) return ipaddr.IPv6.isValid(bracketed[1] as string) && validPort(bracketed[2]);
  if (ipaddr.isValid(text)) return true;
  const v4 = /^([\d.]+):(\d{1,5})$/.exec(text);
  return v4 !== null && ipaddr.IPv4.isValidFourPartDecimal(v4[1] as string) && validPort(v4[2]);
}

function validPort(text: string | undefined): boolean {
  return text === undefined || (Number(text) >= 1 && Number(text) <= 65535);
}
