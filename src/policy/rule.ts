// One rule: from its validated YAML value to the frozen form the matcher uses. Every field is checked here with
// the same code that later matches it (host pattern, path glob, rate), so what `leash check` accepts is exactly
// what `leash serve` enforces.

import type { PolicyIssue, SourceLocation } from '../errors.js';
import { compileFoundPattern, type FoundPattern } from '../inspect/found-pattern.js';
import { parseBandwidth, parseRate, type Rate } from './duration.js';
import { compileHostPattern, type HostPattern } from './host-pattern.js';
import { compilePathGlob, type PathGlob } from './path-glob.js';
import { fieldName } from './schema.js';
import type { PolicySettings } from './settings.js';
import type { ParsedYaml } from './yaml.js';

export type Effect = 'allow' | 'deny';
export type InspectKind = 'json' | 'html';

/** `inspect.grant`: what an inspect rule may grant; null members do not narrow. */
export interface GrantNarrowing {
  /** Only hosts matching one of these patterns (compileHostPattern, as in `domain:`). */
  readonly hosts: readonly HostPattern[] | null;
  /** Only references found at one of these places (`$.results[*].image`, `img[src]`, `header Location`). */
  readonly paths: readonly FoundPattern[] | null;
}

/** The object form of `inspect`; the list form `[json]` is the same as `{ types: [json] }`. */
export interface RawInspect {
  types: InspectKind[];
  grant?: { hosts?: string[]; paths?: string[] };
}

export interface CompiledRule {
  /** Position in the merged, ordered rule list: lower wins. */
  readonly index: number;
  readonly name: string;
  readonly location: SourceLocation;
  readonly effect: Effect;
  readonly pattern: HostPattern;
  readonly ports: ReadonlySet<number> | 'any';
  readonly methods: ReadonlySet<string> | null;
  readonly paths: readonly PathGlob[] | null;
  readonly agents: ReadonlySet<string> | null;
  readonly rateLimit: Rate | null;
  /** Tunnels (CONNECTs) per window, per agent: counts connections, never the requests inside them. */
  readonly connections: Rate | null;
  /** Upload budget in bytes per window, per agent. */
  readonly bandwidth: Rate | null;
  readonly inspect: readonly InspectKind[];
  /** `inspect.grant`, or null: the rule may grant any host its responses name (leash check warns). */
  readonly grantNarrowing: GrantNarrowing | null;
  readonly reason: string | null;
  /** WebSocket upgrades of allowed GETs inside intercepted tunnels. */
  readonly websocket: boolean;
}

export interface RawRule {
  name: string;
  domain: string;
  ports?: number[] | '*';
  methods?: string[];
  paths?: string[];
  rateLimit?: string;
  connections?: string;
  bandwidth?: string;
  inspect?: InspectKind[] | RawInspect;
  agents?: string[];
  effect: Effect;
  reason?: string;
  websocket?: boolean;
  broad?: boolean;
}

/** Allow rules cover the web ports unless they say otherwise; deny rules cover every port (see compileRule). */
export const DEFAULT_PORTS: readonly number[] = [80, 443];

export const ANONYMOUS_AGENT = 'anonymous';

export interface RuleContext {
  readonly file: ParsedYaml;
  /** Index of the rule inside its file's `rules:` list. */
  readonly position: number;
  readonly location: SourceLocation;
  readonly index: number;
  readonly settings: PolicySettings;
  readonly agentNames: ReadonlySet<string>;
}

export function compileRule(raw: RawRule, ctx: RuleContext, issues: PolicyIssue[]): CompiledRule | undefined {
  const before = issues.length;
  const path = ['rules', ctx.position] as const;
  const fail = (key: string | (string | number)[], message: string, where: 'key' | 'value' = 'value') => {
    const p = [...path, ...(Array.isArray(key) ? key : [key])];
    issues.push({ severity: 'error', location: ctx.file.locate(p, where), field: fieldName(p), message });
  };

  const compiled = compileHostPattern(raw.domain);
  if (!compiled.ok) fail('domain', compiled.message);
  else if (raw.effect === 'allow' && raw.broad !== true) {
    const p = compiled.pattern;
    if (p.kind === 'any')
      fail(
        'domain',
        '"*" allows every host on the internet; leash is an allowlist. Name the hosts, or add broad: true if that is really meant',
      );
    else if (p.kind === 'wildcard' && p.publicSuffix) {
      const why = !p.suffix.includes('.')
        ? 'is too broad: a wildcard must keep at least two labels'
        : p.publicSuffix === 'icann'
          ? `is too broad: ${p.suffix} is a public suffix, so the wildcard covers unrelated owners`
          : `is too broad to allow: ${p.suffix} is a public suffix whose subdomains belong to different owners (deny rules may use it)`;
      fail('domain', `"${raw.domain}" ${why}; name the sites, or add broad: true if that is really meant`);
    }
  } else if (
    raw.effect === 'deny' &&
    compiled.pattern.kind === 'any' &&
    (raw.ports === undefined || raw.ports === '*') &&
    !raw.methods &&
    !raw.paths &&
    !raw.agents
  ) {
    fail(
      'domain',
      'a deny rule for "*" with no ports, methods, paths or agents denies everything, which leash already does: no rule allowing a request denies it. Remove the rule (deny rules win over allow rules whatever their order)',
    );
  }

  // A deny rule without ports covers every port: a deny on hook.example must not be passed on :8080.
  const ports: ReadonlySet<number> | 'any' =
    raw.ports === '*' || (raw.ports === undefined && raw.effect === 'deny')
      ? 'any'
      : new Set(raw.ports ?? DEFAULT_PORTS);
  if (ports !== 'any' && raw.ports && ports.size !== raw.ports.length) fail('ports', 'lists a port twice');

  const methods = raw.methods ? new Set(raw.methods) : null;
  if (methods && raw.methods && methods.size !== raw.methods.length) fail('methods', 'lists a method twice');

  let paths: PathGlob[] | null = null;
  if (raw.paths) {
    paths = [];
    raw.paths.forEach((text, i) => {
      const glob = compilePathGlob(text, raw.effect === 'deny');
      if ('error' in glob) fail(['paths', i], glob.error);
      else paths?.push(glob);
    });
  }

  let rateLimit: Rate | null = null;
  if (raw.rateLimit !== undefined) {
    rateLimit = parseRate(raw.rateLimit) ?? null;
    if (!rateLimit)
      fail('rateLimit', `"${raw.rateLimit}" does not parse; allowed: N/WINDOW such as 60/1m, 10/s or 1000/1h`);
  }
  let connections: Rate | null = null;
  if (raw.connections !== undefined) {
    connections = parseRate(raw.connections) ?? null;
    if (!connections)
      fail('connections', `"${raw.connections}" does not parse; allowed: N/WINDOW such as 30/1m, 5/s or 1000/1h`);
  }
  if (raw.rateLimit !== undefined && raw.methods?.includes('CONNECT')) {
    fail(
      'rateLimit',
      'counts requests, and leash cannot see the requests inside the CONNECT tunnels this rule allows; limit tunnels with connections: N/WINDOW instead',
    );
  }
  let bandwidth: Rate | null = null;
  if (raw.bandwidth !== undefined) {
    bandwidth = parseBandwidth(raw.bandwidth) ?? null;
    if (!bandwidth)
      fail(
        'bandwidth',
        `"${raw.bandwidth}" does not parse; allowed: BYTES/WINDOW such as 10MB/1h, 512KiB/1m or 1GB/24h`,
      );
  }

  raw.agents?.forEach((agent, i) => {
    if (agent !== ANONYMOUS_AGENT && !ctx.agentNames.has(agent)) {
      const known = [...ctx.agentNames, ANONYMOUS_AGENT].join(', ');
      fail(['agents', i], `"${agent}" is not a defined agent; defined: ${known}`);
    }
  });

  const inspect = Array.isArray(raw.inspect) ? { types: raw.inspect } : raw.inspect;
  let grantNarrowing: GrantNarrowing | null = null;
  if (inspect?.grant) {
    const at = ['inspect', 'grant'];
    let hosts: HostPattern[] | null = null;
    if (inspect.grant.hosts) {
      hosts = [];
      inspect.grant.hosts.forEach((text, i) => {
        const host = compileHostPattern(text);
        if (!host.ok) fail([...at, 'hosts', i], host.message);
        else if (host.pattern.kind === 'cidr' || (host.pattern.kind === 'exact' && host.pattern.hostKind !== 'name')) {
          fail([...at, 'hosts', i], `"${text}": grants are never made for IP addresses; name hosts`);
        } else if (host.pattern.kind === 'any' || (host.pattern.kind === 'wildcard' && host.pattern.publicSuffix)) {
          const p = host.pattern;
          const why =
            p.kind === 'any'
              ? 'it is every host, which is what no narrowing already means'
              : !p.suffix.includes('.')
                ? 'a wildcard must keep at least two labels'
                : `${p.suffix} is a public suffix whose subdomains belong to different owners`;
          fail(
            [...at, 'hosts', i],
            `"${text}" is too broad${p.kind === 'wildcard' && !p.suffix.includes('.') ? '' : ' to grant'}: ${why}`,
          );
        } else hosts?.push(host.pattern);
      });
    }
    let paths: FoundPattern[] | null = null;
    if (inspect.grant.paths) {
      paths = [];
      inspect.grant.paths.forEach((text, i) => {
        const found = compileFoundPattern(text);
        if (!found.ok) fail([...at, 'paths', i], found.message);
        else paths?.push(found.pattern);
      });
    }
    grantNarrowing = { hosts, paths };
  }

  if (issues.length > before || !compiled.ok) return undefined;
  return Object.freeze({
    index: ctx.index,
    name: raw.name,
    location: ctx.location,
    effect: raw.effect,
    pattern: compiled.pattern,
    ports,
    methods,
    paths,
    agents: raw.agents ? new Set(raw.agents) : null,
    rateLimit,
    connections,
    bandwidth,
    inspect: inspect?.types ?? [],
    grantNarrowing,
    reason: raw.reason ?? null,
    websocket: raw.websocket === true,
  });
}
