// From a source tool's decision to leash rules that decide the same. Source tools decide in ways leash does not:
// squid takes the first matching line, smokescreen lets a role's own list beat the global deny list, sandbox-runtime
// checks its deny list first. Leash lets a matching deny rule win and otherwise lets the allow rules of the most
// specific host pattern decide. Translating rule by rule would therefore change what is allowed. Instead the
// importer hands over the source's decision as a function, and this module asks it about every *region* of the
// host space (the hosts whose most specific pattern is the same one), every port class, method and agent, then
// writes allow rules for exactly the cells the source allows and deny rules where a broader leash rule would
// otherwise widen a narrower one. Within a region every host matches the same source patterns (all of them are
// exact names or suffix wildcards), so one question per region stands for all of its hosts.
//
// What cannot be said in leash is said in a comment on the rule, always in the direction that denies more, except
// where a note says otherwise.

import { compileHostPattern, patternCovers, specificity, type HostPattern } from '../host-pattern.js';
import type { ImportedRule, SourceRef } from './model.js';

export const PLAIN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const;
/** An agent no client can be (no token, uid or cidrs): a rule naming only it allows nothing but still ranks. */
export const NO_ONE = 'no-one';
const ALL_METHODS = [...PLAIN_METHODS, 'CONNECT'] as const;
/** leash's default settings.tlsPorts: CONNECTs to them are tunnels leash can splice or intercept. */
const TLS_PORTS: ReadonlySet<number> = new Set([443, 8443]);

export interface Cell {
  /** The region's pattern: a source pattern matches every host of the region exactly when it covers this one. */
  readonly region: HostPattern;
  /** A port standing for its whole port class. */
  readonly port: number;
  readonly method: string;
  readonly agent: string;
}

export interface Verdict {
  readonly effect: 'allow' | 'deny';
  /** The construct that decided, or null for the source's default. */
  readonly source: SourceRef | null;
}

export interface DecisionTable {
  /** leash host patterns (exact host, `*.suffix`, `*`) for every domain the source names. */
  readonly patterns: readonly string[];
  /** Domains the source denies by name: written as deny rules where nothing under them is allowed. */
  readonly declaredDenies: readonly { pattern: string; source: SourceRef }[];
  /** Agent names, `anonymous` included when unidentified clients are decided too. */
  readonly agents: readonly string[];
  /** Port ranges the source names; empty when it never looks at ports. */
  readonly portRanges: readonly (readonly [number, number])[];
  /**
   * `tunnel`: the source is a proxy that sees CONNECT and judges a tunnel whole (squid, sandbox-runtime,
   * smokescreen). `request`: the source sees every request, HTTPS included (SafeClaw gates the agent's calls).
   */
  readonly mode: 'tunnel' | 'request';
  decide(cell: Cell): Verdict;
}

interface PortClass {
  readonly lo: number;
  readonly hi: number;
}

interface Region {
  readonly pattern: HostPattern;
  readonly text: string;
}

interface AgentCells {
  readonly perClass: Map<PortClass, Set<string>>;
  /** The constructs that allowed these cells, by line and text. */
  readonly sources: Map<string, SourceRef | null>;
}

interface Entry {
  readonly ports: readonly number[] | '*';
  readonly methods: ReadonlySet<string>;
}

/**
 * `fn` remembered per region: the table asks about every port, method and agent of a region, and which source
 * patterns cover it does not change between those questions. The memory belongs to the one import that made it.
 */
export function perRegion<T>(fn: (region: HostPattern) => T): (region: HostPattern) => T {
  const memory = new Map<HostPattern, T>();
  return (region) => {
    if (!memory.has(region)) memory.set(region, fn(region));
    return memory.get(region) as T;
  };
}

/** Compares source patterns with regions: does `source` match every host of `region`? */
export function covers(source: HostPattern, region: HostPattern): boolean {
  return patternCovers(source, region);
}

export interface CompiledTable {
  readonly rules: ImportedRule[];
  /** What could not be carried over at all (no rule is left to carry the comment): for the head of the file. */
  readonly notes: string[];
}

export function compileTable(table: DecisionTable): CompiledTable {
  const dropped: string[] = [];
  const regions = regionsOf(table.patterns);
  const index = coverIndex(regions);
  const classes = portClasses(table.portRanges);
  const methods: readonly string[] = table.mode === 'tunnel' ? ALL_METHODS : PLAIN_METHODS;
  const everyone = table.agents;

  // Ask the source about every cell; keep the allowed ones by region, then by what a leash rule must carry from
  // the construct that allowed them (its rate limit and reason), then by agent.
  const allowed = new Map<Region, Map<string, Map<string, AgentCells>>>();
  const allowedClasses = new Map<Region, Set<PortClass>>();
  const allowedAgents = new Map<Region, ReadonlySet<string>>();
  for (const region of regions) {
    const byAttrs = new Map<string, Map<string, AgentCells>>();
    const regionClasses = new Set<PortClass>();
    for (const agent of everyone) {
      for (const portClass of classes) {
        for (const method of methods) {
          const verdict = table.decide({ region: region.pattern, port: portClass.lo, method, agent });
          if (verdict.effect !== 'allow') continue;
          const key = `${verdict.source?.rateLimit ?? ''}\u0000${verdict.source?.reason ?? ''}`;
          let byAgent = byAttrs.get(key);
          if (!byAgent) byAttrs.set(key, (byAgent = new Map()));
          let cells = byAgent.get(agent);
          if (!cells) byAgent.set(agent, (cells = { perClass: new Map(), sources: new Map() }));
          let set = cells.perClass.get(portClass);
          if (!set) cells.perClass.set(portClass, (set = new Set()));
          set.add(method);
          cells.sources.set(verdict.source ? `${verdict.source.line}:${verdict.source.text}` : '', verdict.source);
          regionClasses.add(portClass);
        }
      }
    }
    allowed.set(region, byAttrs);
    allowedClasses.set(region, regionClasses);
    allowedAgents.set(region, new Set([...byAttrs.values()].flatMap((byAgent) => [...byAgent.keys()])));
  }

  const rules: Omit<ImportedRule, 'name'>[] = [];
  const allowRules = new Map<Region, Omit<ImportedRule, 'name'>[]>();
  for (const region of regions) {
    const out: Omit<ImportedRule, 'name'>[] = [];
    for (const byAgent of allowed.get(region)?.values() ?? []) {
      // Agents with the same allowed cells share rules.
      const groups = new Map<
        string,
        {
          agents: string[];
          perClass: ReadonlyMap<PortClass, ReadonlySet<string>>;
          sources: Map<string, SourceRef | null>;
        }
      >();
      for (const [agent, cells] of byAgent) {
        const key = [...cells.perClass]
          .map(([c, set]) => `${c.lo}-${c.hi}:${[...set].sort().join(',')}`)
          .sort()
          .join(';');
        const group = groups.get(key);
        if (group) {
          group.agents.push(agent);
          for (const [k, v] of cells.sources) group.sources.set(k, v);
        } else {
          groups.set(key, { agents: [agent], perClass: cells.perClass, sources: new Map(cells.sources) });
        }
      }
      for (const { agents, perClass, sources } of groups.values()) {
        const from = [...sources.values()].sort((a, b) => (a?.line ?? 0) - (b?.line ?? 0));
        const notes: string[] = [];
        const denyPorts: number[] = [];
        const entries = portEntries(perClass, classes, notes, denyPorts);
        for (const entry of entries)
          out.push(...methodRules(region, entry, table.mode, from, agents, everyone, notes, dropped));
        if (denyPorts.length > 0) {
          const refused = table.decide({
            region: region.pattern,
            port: denyPorts[0] as number,
            method: methods[0] as string,
            agent: agents[0] as string,
          }).source;
          const denyNotes = [
            ...sourceNotes([refused]),
            `the rules above allow every port; the source refused ${denyPorts.join(', ')}`,
          ];
          const lost = (index.under.get(region) ?? []).filter((r) =>
            [...(allowedClasses.get(r) ?? [])].some((c) => denyPorts.includes(c.lo)),
          );
          if (lost.length)
            denyNotes.push(
              `differs: deny rules win in leash, so this also denies ${lost.map((r) => r.text).join(', ')} on these ports`,
            );
          out.push({
            domain: region.text,
            effect: 'deny',
            ports: denyPorts,
            ...(agents.length === everyone.length ? {} : { agents: [...agents].sort() }),
            notes: denyNotes,
          });
        }
      }
    }
    allowRules.set(region, out);
    rules.push(...out);
  }

  rules.push(...denyRules(table, regions, index, classes, allowedClasses, allowedAgents, allowRules, rules));
  return { rules: named(merged(rules)), notes: [...new Set(dropped)] };
}

interface CoverIndex {
  /** Strictly broader regions that cover each region: found by its suffixes, not by comparing every pair. */
  readonly broader: ReadonlyMap<Region, readonly Region[]>;
  /** Strictly narrower regions each region covers. */
  readonly under: ReadonlyMap<Region, readonly Region[]>;
}

function coverIndex(regions: readonly Region[]): CoverIndex {
  const byText = new Map(regions.map((r) => [r.text, r] as const));
  const broader = new Map<Region, Region[]>();
  const under = new Map<Region, Region[]>(regions.map((r) => [r, []]));
  for (const region of regions) {
    const p = region.pattern;
    const name = p.kind === 'exact' && p.hostKind === 'name' ? p.host : p.kind === 'wildcard' ? p.suffix : undefined;
    const candidates = p.kind === 'any' ? [] : ['*'];
    if (name !== undefined) {
      for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1))
        candidates.push(`*.${name.slice(dot + 1)}`);
    }
    const found = candidates
      .map((t) => byText.get(t))
      .filter((r): r is Region => r !== undefined && r !== region && covers(r.pattern, p));
    broader.set(region, found);
    for (const outer of found) under.get(outer)?.push(region);
  }
  return { broader, under };
}

function regionsOf(patterns: readonly string[]): Region[] {
  const byText = new Map<string, Region>();
  for (const text of ['*', ...patterns]) {
    const compiled = compileHostPattern(text);
    if (!compiled.ok) continue; // the importer reported it at its line
    const canonical = canonicalText(compiled.pattern);
    if (!byText.has(canonical)) byText.set(canonical, { pattern: compiled.pattern, text: canonical });
  }
  return [...byText.values()];
}

function canonicalText(pattern: HostPattern): string {
  switch (pattern.kind) {
    case 'any':
      return '*';
    case 'exact':
      return pattern.host;
    case 'wildcard':
      return `*.${pattern.suffix}`;
    case 'cidr':
      return pattern.text;
  }
}

/** The port space cut at every boundary the source names; one class for all ports when it names none. */
function portClasses(ranges: readonly (readonly [number, number])[]): PortClass[] {
  const cuts = new Set<number>([1, 65536]);
  for (const [lo, hi] of ranges) {
    cuts.add(lo);
    cuts.add(hi + 1);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const classes: PortClass[] = [];
  for (let i = 0; i + 1 < points.length; i++)
    classes.push({ lo: points[i] as number, hi: (points[i + 1] as number) - 1 });
  return classes;
}

function isWhole(classes: readonly PortClass[]): boolean {
  return classes.length === 1;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((m) => b.has(m));
}

/**
 * The allowed methods per port class, as leash port lists. leash lists ports one by one or says "*", so a range
 * of ports (squid's 1025-65535) can be carried only as part of "*": when every range allows the same methods and
 * each listed port allows at least those. Otherwise the ranges are left out, which denies more, and a note says so.
 */
function portEntries(
  perClass: ReadonlyMap<PortClass, ReadonlySet<string>>,
  classes: readonly PortClass[],
  notes: string[],
  denyPorts: number[],
): Entry[] {
  const empty = new Set<string>();
  const setOf = (c: PortClass) => perClass.get(c) ?? empty;
  const first = classes[0] as PortClass;
  if (isWhole(classes) || classes.every((c) => sameSet(setOf(c), setOf(first)))) {
    return setOf(first).size ? [{ ports: '*', methods: setOf(first) }] : [];
  }
  const ranges = classes.filter((c) => c.hi > c.lo);
  const singles = classes.filter((c) => c.hi === c.lo);
  const entries: Entry[] = [];
  let base: ReadonlySet<string> = empty;
  const rangeSet = ranges.length ? setOf(ranges[0] as PortClass) : empty;
  if (rangeSet.size > 0) {
    // A listed port that allows nothing can still go with "*": a deny rule for that port takes it back.
    if (
      ranges.every((c) => sameSet(setOf(c), rangeSet)) &&
      singles.every((c) => setOf(c).size === 0 || [...rangeSet].every((m) => setOf(c).has(m)))
    ) {
      base = rangeSet;
      entries.push({ ports: '*', methods: base });
      denyPorts.push(...singles.filter((c) => setOf(c).size === 0).map((c) => c.lo));
    }
  }
  const dropped = base.size > 0 ? [] : ranges.filter((c) => setOf(c).size > 0).map((c) => `${c.lo}-${c.hi}`);
  if (dropped.length)
    notes.push(
      `not carried over: the source also allowed ports ${dropped.join(', ')} here; leash lists ports one by one, so these are denied`,
    );
  // Listed ports with the same methods beyond the base share one rule.
  const byMethods = new Map<string, { ports: number[]; methods: Set<string> }>();
  for (const c of singles) {
    const extra = new Set([...setOf(c)].filter((m) => !base.has(m)));
    if (extra.size === 0) continue;
    const key = [...extra].sort().join(',');
    const group = byMethods.get(key);
    if (group) group.ports.push(c.lo);
    else byMethods.set(key, { ports: [c.lo], methods: extra });
  }
  for (const group of byMethods.values()) entries.push({ ports: group.ports, methods: group.methods });
  return entries;
}

/**
 * The rules for one (ports, methods) entry. On a TLS port leash lets any matching allow rule open a tunnel (and
 * intercepts it when the rule names methods); on other ports only a rule naming CONNECT opens one. A proxy like
 * squid judges a tunnel whole, by its CONNECT: so CONNECT gets a rule of its own, first, which splices tunnels
 * untouched as the source did, and the plain methods get another.
 */
function methodRules(
  region: Region,
  entry: Entry,
  mode: 'tunnel' | 'request',
  sources: readonly (SourceRef | null)[],
  agents: readonly string[],
  everyone: readonly string[],
  groupNotes: readonly string[],
  dropped: string[],
): Omit<ImportedRule, 'name'>[] {
  const notes = [...sourceNotes(sources), ...groupNotes];
  // Every source of one group carries the same rate limit and reason.
  const source = sources.find((x) => x !== null) ?? null;
  const plain = [...entry.methods].filter((m) => m !== 'CONNECT');
  const connect = entry.methods.has('CONNECT');
  const base = {
    domain: region.text,
    effect: 'allow' as const,
    ...(agents.length === everyone.length ? {} : { agents: [...agents].sort() }),
    ...(source?.reason ? { reason: source.reason.slice(0, 200) } : {}),
  };
  const broad = broadNote(region.pattern);
  if (broad) notes.push(broad);
  const extra = broad ? { broad: true } : {};
  const ports = entry.ports;
  const anyTls = ports === '*' || ports.some((p) => TLS_PORTS.has(p));
  const anyOpaque = ports === '*' || ports.some((p) => !TLS_PORTS.has(p));
  const limited = plain.length < PLAIN_METHODS.length;
  const out: Omit<ImportedRule, 'name'>[] = [];

  if (mode === 'request') {
    if (limited && anyTls)
      notes.push(
        "leash sees the method of an HTTPS request only by intercepting the tunnel: agents must trust leash's CA (leash ca trust)",
      );
    if (source?.rateLimit && anyTls)
      notes.push(
        "rateLimit counts requests, so leash intercepts this host's HTTPS tunnels to count them: agents must trust leash's CA",
      );
    out.push({
      ...base,
      ...extra,
      ports,
      ...(limited ? { methods: sortMethods(plain) } : {}),
      ...(source?.rateLimit ? { rateLimit: source.rateLimit } : {}),
      notes,
    });
    return out;
  }
  const withMethods = (
    methods: readonly string[] | null,
    ruleNotes: string[],
    rulePorts: readonly number[] | '*' = ports,
  ) => out.push({ ...base, ...extra, ports: rulePorts, ...(methods ? { methods } : {}), notes: ruleNotes });
  if (connect) {
    if (!limited && !anyOpaque) {
      // Every method, TLS ports only: one rule splices the tunnels and allows plain requests alike.
      withMethods(null, notes);
      return out;
    }
    const connectNotes = [...notes];
    if (anyOpaque)
      connectNotes.push(
        'methods [CONNECT]: the source opened tunnels to any port; leash opens one to a port outside settings.tlsPorts only for a rule naming CONNECT',
      );
    withMethods(['CONNECT'], connectNotes);
    if (plain.length > 0) withMethods(limited ? sortMethods(plain) : null, sourceNotes(sources));
    return out;
  }
  if (!anyTls) {
    withMethods(limited ? sortMethods(plain) : null, notes);
  } else if (ports === '*') {
    notes.push(
      `differs: the source refused CONNECT here; leash opens a tunnel to a TLS port (443, 8443) of a host an allow rule names${limited ? ', intercepting it and holding each request inside to these methods' : ''}`,
    );
    withMethods(limited ? sortMethods(plain) : null, notes);
  } else {
    const kept = ports.filter((p) => !TLS_PORTS.has(p));
    notes.push(
      `not carried over: plain HTTP to port ${ports.filter((p) => TLS_PORTS.has(p)).join(', ')}, which the source allowed while refusing CONNECT there; leash would open tunnels too, so it is left out`,
    );
    if (kept.length > 0) withMethods(limited ? sortMethods(plain) : null, notes, kept);
    else dropped.push(`${region.text}: ${notes[notes.length - 1] as string}`);
  }
  return out;
}

function sortMethods(methods: readonly string[]): string[] {
  return [...methods].sort((a, b) => ALL_METHODS.indexOf(a as never) - ALL_METHODS.indexOf(b as never));
}

function sourceNotes(sources: readonly (SourceRef | null)[]): string[] {
  return sources.map((source) =>
    source ? `from line ${source.line}: ${source.text}` : "the source's default for hosts it does not name",
  );
}

function broadNote(pattern: HostPattern): string | undefined {
  if (pattern.kind === 'any')
    return 'broad: the source allowed every host here; leash asks you to confirm that with broad: true';
  if (pattern.kind === 'wildcard' && pattern.publicSuffix)
    return `broad: ${pattern.suffix} is a public suffix, so this covers unrelated owners; leash asks you to confirm that with broad: true`;
  return undefined;
}

/**
 * Deny rules: for domains the source denies by name when nothing under them is allowed (so a reader sees them),
 * and wherever a region allows nothing on a port while a broader leash rule would allow something there (in
 * leash the broader rule would decide; in the source the narrower pattern did).
 */
function denyRules(
  table: DecisionTable,
  regions: readonly Region[],
  index: CoverIndex,
  classes: readonly PortClass[],
  allowedClasses: ReadonlyMap<Region, ReadonlySet<PortClass>>,
  allowedAgents: ReadonlyMap<Region, ReadonlySet<string>>,
  allowRules: ReadonlyMap<Region, readonly Omit<ImportedRule, 'name'>[]>,
  emitted: readonly Omit<ImportedRule, 'name'>[],
): Omit<ImportedRule, 'name'>[] {
  const out: Omit<ImportedRule, 'name'>[] = [];
  // Deny rules by domain: a port and agents they already deny need no second rule.
  const denies = new Map<string, Omit<ImportedRule, 'name'>[]>();
  const remember = (rule: Omit<ImportedRule, 'name'>) => {
    if (rule.effect === 'deny') denies.set(rule.domain, [...(denies.get(rule.domain) ?? []), rule]);
  };
  emitted.forEach(remember);
  const push = (rule: Omit<ImportedRule, 'name'>) => {
    out.push(rule);
    remember(rule);
  };
  const denied = new Set<Region>();
  const under = (outer: Region) => [outer, ...(index.under.get(outer) ?? [])];

  for (const { pattern, source } of table.declaredDenies) {
    const compiled = compileHostPattern(pattern);
    if (!compiled.ok) continue;
    const region = regions.find((r) => r.text === canonicalText(compiled.pattern));
    if (!region || region.pattern.kind === 'any' || denied.has(region)) continue;
    if (under(region).some((r) => (allowedClasses.get(r)?.size ?? 0) > 0)) continue;
    denied.add(region);
    push({
      domain: region.text,
      effect: 'deny',
      ...(source.reason ? { reason: source.reason.slice(0, 200) } : {}),
      notes: sourceNotes([source]),
    });
  }

  for (const region of regions) {
    if (region.pattern.kind === 'any' || denied.has(region)) continue;
    const own = allowedClasses.get(region) ?? new Set<PortClass>();
    const broader = (index.broader.get(region) ?? []).filter(
      (r) => specificity(r.pattern) < specificity(region.pattern),
    );
    // The classes where a broader rule would decide, and the agents it would allow: those must be denied here.
    const wideningRules = (c: PortClass) =>
      broader
        .flatMap((r) => allowRules.get(r) ?? [])
        .filter((rule) => rule.ports === '*' || (c.lo === c.hi && rule.ports?.includes(c.lo)));
    const candidates = classes.filter((c) => !own.has(c) && wideningRules(c).length > 0);
    const needDeny = new Set(
      candidates.flatMap((c) => wideningRules(c).flatMap((rule) => rule.agents ?? table.agents)),
    );
    const taken = denies.get(region.text) ?? [];
    const widened = candidates.filter(
      (c) =>
        !taken.some(
          (r) =>
            (r.ports === undefined || r.ports === '*' || r.ports.includes(c.lo)) &&
            (!r.agents || [...needDeny].every((a) => r.agents?.includes(a))),
        ),
    );
    if (widened.length === 0) continue;
    const agents = needDeny.size === table.agents.length ? {} : { agents: [...needDeny].sort() };
    const lost = (index.under.get(region) ?? []).filter((r) =>
      [...(allowedAgents.get(r) ?? [])].some((a) => needDeny.has(a)),
    );
    const first = widened[0] as PortClass;
    const refused = new Map(
      [...needDeny]
        .map((agent) => table.decide({ region: region.pattern, port: first.lo, method: 'GET', agent }).source)
        .map((s) => [s ? `${s.line}:${s.text}` : '', s]),
    );
    const notes = [
      ...sourceNotes([...refused.values()]),
      'the source allowed nothing here; without this rule a broader leash rule would decide these hosts',
    ];
    const listed = widened.filter((c) => c.lo === c.hi).map((c) => c.lo);
    const ranges = widened.some((c) => c.hi > c.lo);
    if (lost.length === 0 && (own.size === 0 || !ranges)) {
      // Nothing narrower is allowed to these agents: a deny rule says it plainly.
      push({ domain: region.text, effect: 'deny', ...(own.size === 0 ? {} : { ports: listed }), ...agents, notes });
    } else {
      // A deny rule would also deny what narrower hosts allow, or cannot name a range of ports: instead an allow
      // rule for no one makes this pattern the most specific one, so the broader rule no longer decides here.
      push({
        domain: region.text,
        effect: 'allow',
        ports: '*',
        agents: [NO_ONE],
        ...(region.pattern.kind === 'wildcard' && region.pattern.publicSuffix ? { broad: true } : {}),
        notes: [
          ...notes,
          `allows no one (${NO_ONE} is an agent no client can be); a deny rule would also deny ${lost.length ? lost.map((r) => r.text).join(', ') : 'ports this host allows'}`,
        ],
      });
    }
  }
  return out;
}

/**
 * Rules that differ only in their listed ports become one rule with both lists, which decides the same (allow rules
 * of one pattern are a union; so are deny rules). Within a domain, rules naming only CONNECT stay first, so a tunnel
 * is spliced by them rather than intercepted by a rule with methods.
 */
function merged(rules: readonly Omit<ImportedRule, 'name'>[]): Omit<ImportedRule, 'name'>[] {
  const out: Omit<ImportedRule, 'name'>[] = [];
  const shape = (r: Omit<ImportedRule, 'name'>) =>
    JSON.stringify([r.domain, r.effect, r.methods, r.agents, r.rateLimit, r.reason, r.broad, Array.isArray(r.ports)]);
  const at = new Map<string, number>();
  for (const rule of rules) {
    const key = shape(rule);
    const i = at.get(key);
    const into = i === undefined ? undefined : out[i];
    if (into && Array.isArray(into.ports) && Array.isArray(rule.ports)) {
      const ports = [...new Set([...into.ports, ...rule.ports])].sort((a, b) => a - b);
      out[i as number] = { ...into, ports, notes: [...new Set([...into.notes, ...rule.notes])] };
      continue;
    }
    at.set(key, out.length);
    out.push(rule);
  }
  const connectOnly = (r: Omit<ImportedRule, 'name'>) => r.methods?.length === 1 && r.methods[0] === 'CONNECT';
  const order = new Map<string, number>();
  out.forEach((r) => order.set(r.domain, order.get(r.domain) ?? order.size));
  return out
    .map((rule, index) => ({ rule, index }))
    .sort(
      (a, b) =>
        (order.get(a.rule.domain) ?? 0) - (order.get(b.rule.domain) ?? 0) ||
        Number(connectOnly(b.rule)) - Number(connectOnly(a.rule)) ||
        a.index - b.index,
    )
    .map(({ rule }) => rule);
}

/** Unique rule names from the domains: `api.example.com`, `star.example.com`, `all-hosts`, `deny-...`. */
function named(rules: readonly Omit<ImportedRule, 'name'>[]): ImportedRule[] {
  const used = new Map<string, number>();
  return rules.map((rule) => {
    const slug = (
      rule.domain === '*' ? 'all-hosts' : rule.domain.replace(/^\*\./, 'star.').replace(/[^A-Za-z0-9._-]+/g, '-')
    ).slice(0, 54);
    const base = `${rule.effect === 'deny' ? 'deny-' : ''}${slug}`;
    const count = (used.get(base) ?? 0) + 1;
    used.set(base, count);
    return { name: count === 1 ? base : `${base}-${count}`, ...rule };
  });
}
