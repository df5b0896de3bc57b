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
  bandwidth?: string;
  inspect?: InspectKind[] | RawInspect;
  agents?: string[];
  effect: Effect;
  reason?: string;
  websocket?: boolean;
}

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
  else if (compiled.pattern.kind === 'wildcard' && compiled.pattern.publicSuffix === 'private' && raw.effect === 'allow') {
    fail('domain', `"${raw.domain}" is too broad to allow: ${compiled.pattern.suffix} is a public suffix whose subdomains belong to different owners (deny rules may use it)`);
  }

  const ports: ReadonlySet<number> | 'any' = raw.ports === '*' ? 'any' : new Set(raw.ports ?? DEFAULT_PORTS);
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
    if (!rateLimit) fail('rateLimit', `"${raw.rateLimit}" does not parse; allowed: N/WINDOW such as 60/1m, 10/s or 1000/1h`);
  }
  let bandwidth: Rate | null = null;
  if (raw.bandwidth !== undefined) {
    bandwidth = parseBandwidth(raw.bandwidth) ?? null;
    if (!bandwidth) fail('bandwidth', `"${raw.bandwidth}" does not parse; allowed: BYTES/WINDOW such as 10MB/1h, 512KiB/1m or 1GB/24h`);
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
        } else if (host.pattern.kind === 'wildcard' && host.pattern.publicSuffix === 'private') {
          const why = `${host.pattern.suffix} is a public suffix whose subdomains belong to different owners`;
          fail([...at, 'hosts', i], `"${text}" is too broad to grant: ${why}`);
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
    bandwidth,
    inspect: inspect?.types ?? [],
    grantNarrowing,
    reason: raw.reason ?? null,
    websocket: raw.websocket === true,
  });
}
