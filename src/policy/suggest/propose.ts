// From evidence (evidence.ts) and the policy in force to the rules `leash policy suggest` proposes. Conservative by
// construction, each refusal named in the output:
//  - never a host a deny rule refused in the log or denies now (`decide` on what was seen), nor one the address
//    guard refused in the log or refuses now (an IP literal outside public space), nor one reached only through a
//    grant (the inspect rule that granted it is proposed instead, narrowed to the hosts it granted);
//  - methods and path prefixes only where every request was seen (plain HTTP, intercepted tunnels); a spliced
//    tunnel's content was not seen, so its host gets no methods, paths or rateLimit (which would intercept it) and
//    `connections` instead; an opaque tunnel (not a TLS port) gets `methods: [CONNECT]`, as leash requires;
//  - limits from the busiest minute per agent, times HEADROOM: a token bucket of N per minute lets through any N in
//    a row, and the busiest calendar minute can meet the next one's start, so twice the peak is what was seen;
//  - `agents:` when not every agent (seen in the log or defined in the policy) used the host;
//  - a wildcard only when at least `wildcardMin` sibling subdomains were proposed, none of their siblings was
//    refused or granted, and the suffix is no public suffix; the comment says what it widens.
// PURE: the policy and the evidence come in, plain data goes out.

import { checkAddress } from '../address.js';
import { decide, type Decision } from '../evaluate.js';
import { normalizeHost } from '../host.js';
import { compileHostPattern } from '../host-pattern.js';
import type { CompiledPolicy } from '../policy.js';
import { ANONYMOUS_AGENT } from '../rule.js';
import { hostPortKey, MAX_PREFIXES, type Evidence, type Use } from './evidence.js';

export interface SuggestOptions {
  /** A host and port needs at least this many requests (tunnels included) to be proposed. */
  readonly minRequests: number;
  /** Sibling subdomains (`a.cdn.example`, `b.cdn.example`, …) proposed before they become `*.cdn.example`. */
  readonly wildcardMin: number;
}

export const DEFAULT_SUGGEST_OPTIONS: SuggestOptions = { minRequests: 1, wildcardMin: 5 };

/** Limits are the busiest minute times this (see the header). */
export const HEADROOM = 2;

export interface ProposedRule {
  readonly name: string;
  readonly domain: string;
  readonly ports: readonly number[];
  readonly methods?: readonly string[];
  readonly paths?: readonly string[];
  readonly rateLimit?: string;
  readonly connections?: string;
  readonly agents?: readonly string[];
  readonly inspect?: {
    readonly types: readonly ('json' | 'html')[];
    readonly grant: { readonly hosts: readonly string[] };
  };
  readonly effect: 'allow';
  /** Comment lines: the evidence, and what the rule does not cover. */
  readonly comments: readonly string[];
  /** Set when the rule cannot be loaded beside the policy as it is: written commented out, with this reason. */
  readonly disabled?: string;
}

export interface NotProposed {
  readonly what: string;
  readonly why: string;
}

export interface Suggestion {
  readonly rules: readonly ProposedRule[];
  readonly notProposed: readonly NotProposed[];
}

/** One host (or wildcard) and port, before it is written as a rule. */
interface Shape {
  domain: string;
  /** The exact hosts it stands for. */
  hosts: string[];
  port: number;
  agents: Set<string>;
  requests: number;
  tunnels: number;
  spliced: number;
  visible: number;
  methods: Set<string>;
  /** Null: no `paths:` (not every request seen, or too many prefixes). */
  prefixes: Set<string> | null;
  unlisted: number;
  peak: number;
  peakAgent: string;
  tunnelPeak: number;
  first: string;
  last: string;
  inspect?: ProposedRule['inspect'];
  notes: string[];
}

export function proposePolicy(
  evidence: Evidence,
  policy: CompiledPolicy,
  options: SuggestOptions = DEFAULT_SUGGEST_OPTIONS,
): Suggestion {
  const notProposed: NotProposed[] = [];
  const byHostPort = new Map<string, Use[]>();
  for (const use of evidence.uses.values()) {
    const key = hostPortKey(use.host, use.port);
    const list = byHostPort.get(key);
    if (list) list.push(use);
    else byHostPort.set(key, [use]);
  }

  const shapes: Shape[] = [];
  for (const uses of byHostPort.values()) {
    const { host, port } = uses[0] as Use;
    const what = `${displayHost(host)}:${port}`;
    const refused = refusal(evidence, policy, host);
    if (refused) {
      notProposed.push({ what, why: refused });
      continue;
    }
    // A host also reached through grants counts only what rules allowed directly (a grant's use is no evidence).
    const granted = (evidence.flags.get(host)?.granted ?? 0) > 0;
    const counted = granted ? uses.filter((u) => u.byRule > 0) : uses;
    if (counted.length === 0) {
      notProposed.push({ what, why: grantOnly(evidence, host) });
      continue;
    }
    const total = counted.reduce((sum, u) => sum + u.requests, 0);
    if (total < options.minRequests) {
      notProposed.push({
        what,
        why: `only ${total} request${total === 1 ? '' : 's'} (--min-requests ${options.minRequests})`,
      });
      continue;
    }
    const shape = shapeFor(evidence, policy, counted, notProposed);
    if (shape) shapes.push(shape);
  }

  // Hosts refused or granted that no record shows in use are listed too, so the reader sees every refusal.
  const used = new Set([...evidence.uses.values()].map((u) => u.host));
  for (const [host, flags] of evidence.flags) {
    if (used.has(host)) continue;
    const why = refusal(evidence, policy, host) ?? (flags.granted > 0 ? grantOnly(evidence, host) : undefined);
    if (why) notProposed.push({ what: displayHost(host), why });
  }

  attachGrants(evidence, policy, shapes, notProposed);
  const merged = widen(evidence, shapes, options);
  const taken = new Set(policy.rules.map((r) => r.name));
  const allAgents = new Set([...evidence.agents, ...policy.agents.keys()]);
  const rules = merged
    .sort((a, b) => compare(a.domain, b.domain) || a.port - b.port)
    .map((shape) => render(shape, policy, allAgents, taken));
  notProposed.sort((a, b) => compare(a.what, b.what));
  return { rules, notProposed };
}

/**
 * Names that mean this machine or a cloud's metadata service wherever they are looked up. A no_rule denial is never
 * resolved, so the log cannot show where they lead: they are refused by name.
 */
const LOCAL_NAMES: ReadonlySet<string> = new Set([
  'localhost',
  'metadata',
  'metadata.google.internal',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.com',
  'metadata.packet.net',
  'metadata.platformequinix.com',
]);

/** Why a host must never be proposed, or undefined. */
function refusal(evidence: Evidence, policy: CompiledPolicy, host: string): string | undefined {
  if (LOCAL_NAMES.has(host) || host.endsWith('.localhost') || host.endsWith('.internal') || host.endsWith('.local')) {
    return 'its name means this machine, the local network or a metadata service, which the address guard exists to keep agents from';
  }
  const flags = evidence.flags.get(host);
  if (flags && flags.deniedBy.size > 0) return `a deny rule refused it (${[...flags.deniedBy].sort().join(', ')})`;
  if (flags && flags.guardRefused > 0)
    return `the address guard refused it (${flags.guardRefused} record${flags.guardRefused === 1 ? '' : 's'} with reason address_denied)`;
  for (const address of flags?.resolvedSpecial ?? []) {
    const verdict = checkAddress(policy.settings.guard, address);
    if (!verdict.ok) return `it resolved to ${address}, which the address guard refuses: ${verdict.message}`;
  }
  const normalized = normalizeHost(host);
  if (!normalized.ok) return 'not a host name or address';
  if (normalized.kind !== 'name') {
    const verdict = checkAddress(policy.settings.guard, host);
    if (!verdict.ok) return `the address guard refuses it: ${verdict.message}`;
  }
  return undefined;
}

function grantOnly(evidence: Evidence, host: string): string {
  const rules = [...evidence.grantSources.values()]
    .filter((s) => s.hosts.has(host))
    .map((s) => s.rule)
    .sort();
  return `reached only through grants${rules.length > 0 ? ` made by rule ${rules.join(', ')}` : ''}: the inspect rule that grants it is what to allow, never the host`;
}

/** What the uses of one host and port need that the policy does not allow yet; undefined when nothing. */
function shapeFor(
  evidence: Evidence,
  policy: CompiledPolicy,
  uses: readonly Use[],
  notProposed: NotProposed[],
): Shape | undefined {
  const { host, port } = uses[0] as Use;
  const what = `${displayHost(host)}:${port}`;
  const prefixes = evidence.prefixes.get(host)?.get(port);
  const probes = prefixes && prefixes.counts.size > 0 ? [...prefixes.counts.keys()] : ['/'];
  const needed: Use[] = [];
  const methods = new Set<string>();
  const paths = new Set<string>();
  const allowedBy = new Set<string>();
  const deniedBy = new Set<string>();
  const note = (d: Decision) => {
    if (d.effect === 'allow' && d.rule) allowedBy.add(d.rule.name);
    if (d.reason === 'denied_by_rule' && d.rule) deniedBy.add(d.rule.name);
  };
  for (const use of uses) {
    let needs = false;
    if (use.tunnels > 0) {
      const d = decide(policy, { method: 'CONNECT', host, port, agent: use.agent });
      note(d);
      if (d.reason === 'denied_by_rule') continue;
      // A spliced tunnel needs a rule unless the policy allows the tunnel; an intercepted one is judged below.
      if (use.spliced > 0 && d.effect !== 'allow') needs = true;
    }
    for (const method of use.methods) {
      for (const probe of probes) {
        const d = decide(policy, {
          method,
          host,
          port,
          path: probe === '/' ? '/' : probe.slice(0, -3),
          agent: use.agent,
        });
        note(d);
        if (d.effect === 'allow' || d.reason === 'denied_by_rule') continue;
        needs = true;
        methods.add(method);
        if (probe !== '/' || prefixes?.counts.has('/')) paths.add(probe);
      }
    }
    if (needs) needed.push(use);
  }
  if (needed.length === 0) {
    const why =
      deniedBy.size > 0 && allowedBy.size === 0
        ? `the policy denies it (deny rule ${[...deniedBy].sort().join(', ')})`
        : `the policy already allows it${allowedBy.size > 0 ? ` (rule ${[...allowedBy].sort().join(', ')})` : ''}`;
    notProposed.push({ what, why });
    return undefined;
  }
  const sum = (f: (u: Use) => number) => needed.reduce((n, u) => n + f(u), 0);
  const busiest = needed.reduce((a, b) => (b.peak > a.peak ? b : a));
  const spliced = sum((u) => u.spliced);
  const notes: string[] = [];
  if (deniedBy.size > 0)
    notes.push(`some of what was seen stays denied by deny rule ${[...deniedBy].sort().join(', ')}`);
  return {
    domain: host,
    hosts: [host],
    port,
    agents: new Set(needed.map((u) => u.agent)),
    requests: sum((u) => u.requests),
    tunnels: sum((u) => u.tunnels),
    spliced,
    visible: sum((u) => u.visible),
    methods,
    prefixes: spliced === 0 && prefixes && !prefixes.overflow && paths.size > 0 ? paths : null,
    unlisted: prefixes?.unlisted ?? 0,
    peak: busiest.peak,
    peakAgent: busiest.agent,
    tunnelPeak: Math.max(...needed.map((u) => u.tunnelPeak)),
    first: needed.map((u) => u.first).reduce((a, b) => (b < a ? b : a)),
    last: needed.map((u) => u.last).reduce((a, b) => (b > a ? b : a)),
    notes: prefixes?.overflow
      ? [...notes, `more than ${MAX_PREFIXES} path prefixes were seen: paths are not restricted`]
      : notes,
  };
}

/**
 * Grants: a host reached through grants is not proposed; the inspect rule that granted it is. When the policy has
 * that rule, nothing is to add; otherwise the proposal for the host its responses came from reads them (`inspect`)
 * and may grant exactly the hosts it granted (`grant.hosts`).
 */
function attachGrants(evidence: Evidence, policy: CompiledPolicy, shapes: Shape[], notProposed: NotProposed[]): void {
  for (const source of [...evidence.grantSources.values()].sort((a, b) => compare(a.rule, b.rule))) {
    const hosts = [...source.hosts].filter((h) => isName(h) && refusal(evidence, policy, h) === undefined).sort();
    const what = `grants by rule ${source.rule}`;
    if (policy.rules.some((r) => r.name === source.rule)) {
      notProposed.push({
        what,
        why: `${source.grants} grant${source.grants === 1 ? '' : 's'} (${hosts.slice(0, 5).join(', ')}${hosts.length > 5 ? ', …' : ''}); the policy has rule ${source.rule}, which made them: nothing to add`,
      });
      continue;
    }
    const target = shapes.find((s) => source.from.has(hostPortKey(s.domain, s.port)));
    if (!target || hosts.length === 0) {
      notProposed.push({
        what,
        why: `${source.grants} grant${source.grants === 1 ? '' : 's'}; the host its responses came from is not proposed, so no inspect rule is`,
      });
      continue;
    }
    target.inspect = { types: source.types.size > 0 ? [...source.types].sort() : ['json'], grant: { hosts } };
    target.notes.push(
      `inspect: its responses (rule ${source.rule} in the log) granted ${source.grants} time${source.grants === 1 ? '' : 's'}; grant.hosts lists the hosts granted${source.hostsOverflow ? ' (the first 64 of more)' : ''}`,
    );
  }
}

/** Sibling subdomains proposed on the same port become one wildcard, when the conditions in the header hold. */
function widen(evidence: Evidence, shapes: Shape[], options: SuggestOptions): Shape[] {
  const groups = new Map<string, Shape[]>();
  for (const shape of shapes) {
    if (!isName(shape.domain) || shape.inspect) continue;
    const dot = shape.domain.indexOf('.');
    const parent = shape.domain.slice(dot + 1);
    if (dot < 0 || !parent.includes('.')) continue;
    const key = hostPortKey(parent, shape.port);
    const group = groups.get(key);
    if (group) group.push(shape);
    else groups.set(key, [shape]);
  }
  // Every parent domain of a host that was refused or granted: no wildcard may cover such a host.
  const tainted = new Set<string>();
  for (const [host, f] of evidence.flags) {
    if (f.deniedBy.size === 0 && f.guardRefused === 0 && f.granted === 0 && f.resolvedSpecial.size === 0) continue;
    for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) tainted.add(host.slice(dot + 1));
  }
  const out = new Set(shapes);
  for (const [key, group] of groups) {
    if (group.length < options.wildcardMin) continue;
    const parent = key.slice(0, key.indexOf(' '));
    const pattern = compileHostPattern(`*.${parent}`);
    if (!pattern.ok || pattern.pattern.kind !== 'wildcard' || pattern.pattern.publicSuffix !== null) continue;
    if (tainted.has(parent)) {
      for (const shape of group)
        shape.notes.push(`not widened to *.${parent}: a sibling was refused or granted in the log`);
      continue;
    }
    for (const shape of group) out.delete(shape);
    out.add(mergeShapes(`*.${parent}`, group, options));
  }
  return [...out];
}

function mergeShapes(domain: string, group: readonly Shape[], options: SuggestOptions): Shape {
  const all = <T>(f: (s: Shape) => T) => group.map(f);
  const spliced = all((s) => s.spliced).reduce((a, b) => a + b, 0);
  const prefixes = group.every((s) => s.prefixes !== null)
    ? new Set(group.flatMap((s) => [...(s.prefixes as Set<string>)]))
    : null;
  const busiest = group.reduce((a, b) => (b.peak > a.peak ? b : a));
  const hosts = group.flatMap((s) => s.hosts).sort();
  return {
    domain,
    hosts,
    port: (group[0] as Shape).port,
    agents: new Set(group.flatMap((s) => [...s.agents])),
    requests: all((s) => s.requests).reduce((a, b) => a + b, 0),
    tunnels: all((s) => s.tunnels).reduce((a, b) => a + b, 0),
    spliced,
    visible: all((s) => s.visible).reduce((a, b) => a + b, 0),
    methods: new Set(group.flatMap((s) => [...s.methods])),
    prefixes: prefixes && prefixes.size <= MAX_PREFIXES ? prefixes : null,
    unlisted: all((s) => s.unlisted).reduce((a, b) => a + b, 0),
    // One token bucket per (rule, agent) now counts every sibling: the sum of their peaks bounds the joint peak.
    peak: all((s) => s.peak).reduce((a, b) => a + b, 0),
    peakAgent: busiest.peakAgent,
    tunnelPeak: all((s) => s.tunnelPeak).reduce((a, b) => a + b, 0),
    first: all((s) => s.first).reduce((a, b) => (b < a ? b : a)),
    last: all((s) => s.last).reduce((a, b) => (b > a ? b : a)),
    notes: [
      `widened to ${domain}: ${group.length} sibling subdomains were seen (at least ${options.wildcardMin}, --wildcard-min): ${hosts.slice(0, 8).join(', ')}${hosts.length > 8 ? ', …' : ''}; this also allows subdomains never seen`,
      ...new Set(group.flatMap((s) => s.notes)),
    ],
  };
}

function render(
  shape: Shape,
  policy: CompiledPolicy,
  allAgents: ReadonlySet<string>,
  taken: Set<string>,
): ProposedRule {
  const tlsPort = policy.settings.tlsPorts.has(shape.port);
  const opaque = !tlsPort && shape.tunnels > 0;
  const seenWhole = shape.spliced === 0 && shape.visible > 0;
  const methods = opaque
    ? ['CONNECT', ...[...shape.methods].sort()]
    : seenWhole
      ? [...shape.methods].sort()
      : undefined;
  const paths = !opaque && seenWhole && shape.prefixes ? [...shape.prefixes].sort() : undefined;
  const rateLimit = !opaque && seenWhole ? `${Math.ceil(shape.peak * HEADROOM)}/1m` : undefined;
  const connections = shape.spliced > 0 ? `${Math.max(1, Math.ceil(shape.tunnelPeak * HEADROOM))}/1m` : undefined;

  const comments: string[] = [];
  const agents = [...shape.agents].sort();
  const tunnels =
    shape.tunnels > 0
      ? ` (${shape.tunnels} tunnel${shape.tunnels === 1 ? '' : 's'}${shape.spliced > 0 ? `, ${shape.spliced} spliced` : ''})`
      : '';
  comments.push(
    `${shape.requests} request${shape.requests === 1 ? '' : 's'}${tunnels} by ${agents.join(', ')}; first ${shape.first}, last ${shape.last}`,
  );
  if (rateLimit)
    comments.push(
      `busiest minute: ${shape.peak} request${shape.peak === 1 ? '' : 's'} (${shape.peakAgent}); rateLimit is ${HEADROOM}x that`,
    );
  if (connections) {
    comments.push(
      `busiest minute: ${shape.tunnelPeak} tunnel${shape.tunnelPeak === 1 ? '' : 's'}; connections is ${HEADROOM}x that${opaque ? '' : ' (rateLimit, methods and paths would make leash intercept tunnels it splices now)'}`,
    );
  }
  if (opaque)
    comments.push(`port ${shape.port} is not in settings.tlsPorts: its tunnels are opaque, so the rule names CONNECT`);
  else if (shape.spliced > 0 && shape.visible > 0)
    comments.push(
      `no methods or paths: ${shape.spliced} tunnel${shape.spliced === 1 ? ' was' : 's were'} spliced, so what they carried was not seen`,
    );
  if (paths && shape.unlisted > 0)
    comments.push(
      `${shape.unlisted} request${shape.unlisted === 1 ? '' : 's'} on paths that are no plain prefix (encoded, redacted) are not covered`,
    );
  comments.push(...shape.notes);

  let listed: string[] | undefined;
  let disabled: string | undefined;
  if (![...allAgents].every((a) => shape.agents.has(a))) {
    const undefinedAgents = agents.filter((a) => a !== ANONYMOUS_AGENT && !policy.agents.has(a));
    listed = agents.filter((a) => !undefinedAgents.includes(a));
    if (undefinedAgents.length > 0)
      comments.push(
        `agent${undefinedAgents.length === 1 ? '' : 's'} ${undefinedAgents.join(', ')} used it but ${undefinedAgents.length === 1 ? 'is' : 'are'} not defined in the policy, so not listed`,
      );
    if (listed.length === 0)
      disabled = `only agents the policy does not define used it (${undefinedAgents.join(', ')}); define them and list them under agents:`;
  }

  return {
    name: ruleName(shape.domain, shape.port, taken),
    domain: shape.domain,
    ports: [shape.port],
    ...(methods ? { methods } : {}),
    ...(paths ? { paths } : {}),
    ...(rateLimit ? { rateLimit } : {}),
    ...(connections ? { connections } : {}),
    ...(listed && listed.length > 0 ? { agents: listed } : {}),
    ...(shape.inspect ? { inspect: shape.inspect } : {}),
    effect: 'allow',
    comments,
    ...(disabled ? { disabled } : {}),
  };
}

/** `api.example.com-443`, `any.cdn.example-443` for a wildcard; unique among the policy's rules and these. */
function ruleName(domain: string, port: number, taken: Set<string>): string {
  const base = `${domain
    .replace(/^\*\./, 'any.')
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 56)}-${port}`;
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  taken.add(name);
  return name;
}

function isName(host: string): boolean {
  const normalized = normalizeHost(host);
  return normalized.ok && normalized.kind === 'name';
}

function displayHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
