// squid.conf, the common allowlist subset: `acl NAME dstdomain|port|method|src VALUE...` and
// `http_access allow|deny [!]ACL...`. squid takes the first http_access line whose ACLs all match, and after the
// last line applies the opposite of it (no line at all denies). ACL lines with the same name add up (any value
// matches). `.example.com` matches example.com and every subdomain, so it becomes two leash patterns:
// `example.com` and `*.example.com`. `src` ACLs become agents identified by those CIDRs; the built-in ACLs `all`,
// `localhost` (127.0.0.1, ::1), `manager` (the cache manager, no egress) and `to_localhost` (leash's address
// guard refuses loopback anyway) are understood.
//
// An ACL type outside the subset cannot be judged: an allow line using it is left out (which denies more, and a
// comment says so), a deny line using it is refused at its line, since leaving it out would allow more.

import { compileHostPattern, type HostPattern } from '../host-pattern.js';
import { NO_ONE, PLAIN_METHODS, compileTable, covers, perRegion } from './regions.js';
import { agentName, type ImportedAgent, type ImportIssue, type ImportResult, type SourceRef } from './model.js';

type Acl =
  | { readonly type: 'dstdomain'; readonly patterns: HostPattern[]; readonly texts: string[] }
  | { readonly type: 'port'; readonly ranges: [number, number][] }
  | { readonly type: 'method'; readonly methods: Set<string> }
  | { readonly type: 'src'; readonly agent: string; readonly cidrs: string[] }
  | { readonly type: 'all' }
  | { readonly type: 'none'; readonly why: string }
  | { readonly type: 'unsupported'; readonly kind: string };

interface AclDef {
  acl: Acl;
  readonly line: number;
}

interface Access {
  readonly allow: boolean;
  readonly terms: readonly { readonly name: string; readonly negated: boolean }[];
  readonly source: SourceRef;
}

const KNOWN_METHODS: ReadonlySet<string> = new Set<string>([...PLAIN_METHODS, 'CONNECT']);
const BUILT_IN: Record<string, Acl> = {
  all: { type: 'all' },
  manager: {
    type: 'none',
    why: "squid's cache manager (cache_object://, /squid-internal-mgr/) is not egress; leash has none",
  },
  to_localhost: {
    type: 'none',
    why: "leash's address guard refuses loopback and unspecified addresses whatever the policy says",
  },
};

export function importSquid(file: string, text: string): ImportResult {
  const issues: ImportIssue[] = [];
  const notes: string[] = [
    "squid's .example.com covers example.com and its subdomains; leash's *.example.com covers subdomains only, so each such value became both example.com and *.example.com",
    'squid takes the first http_access line that matches; leash lets deny rules win and the most specific host decide, so the rules below are computed to decide what the lines decided, not copied line by line',
  ];
  const acls = new Map<string, AclDef>();
  const access: Access[] = [];
  const skipped = new Set<string>();
  const lineNotes = new Set<string>();

  for (const { line, words } of logicalLines(text)) {
    const at = (message: string) => issues.push({ location: { file, line, column: 1 }, message });
    const [directive = '', ...args] = words;
    if (directive === 'acl') {
      const [name, type, ...rest] = args;
      if (!name || !type) {
        at('acl needs a name, a type and values: acl NAME TYPE VALUE...');
        continue;
      }
      const values = rest.filter((v) => !/^-[a-z]$/i.test(v)); // flags such as -i (case) and -n (no DNS)
      if (values.some((v) => v.startsWith('"'))) {
        at(
          `acl ${name}: values read from a file (${values.find((v) => v.startsWith('"'))}) cannot be imported; write them on the acl line`,
        );
        continue;
      }
      const parsed = parseAcl(name, type, values, at, lineNotes, line);
      if (!parsed) continue;
      const existing = acls.get(name);
      if (!existing) acls.set(name, { acl: parsed, line });
      else if (existing.acl.type !== parsed.type)
        at(`acl ${name} was defined as ${existing.acl.type} at line ${existing.line}; squid refuses a second type`);
      else existing.acl = merge(existing.acl, parsed);
    } else if (directive === 'http_access') {
      const [verb, ...names] = args;
      if (verb !== 'allow' && verb !== 'deny') {
        at(`http_access takes allow or deny, got ${JSON.stringify(verb ?? '')}`);
        continue;
      }
      access.push({
        allow: verb === 'allow',
        terms: names.map((n) => ({ name: n.replace(/^!/, ''), negated: n.startsWith('!') })),
        source: { line, text: words.join(' ') },
      });
    } else if (directive) {
      skipped.add(directive);
    }
  }

  // Every ACL an http_access line names must exist, as squid requires; a deny line must be judgeable.
  const kept: Access[] = [];
  for (const rule of access) {
    const at = (message: string) => issues.push({ location: { file, line: rule.source.line, column: 1 }, message });
    let usable = true;
    for (const term of rule.terms) {
      const acl = aclNamed(acls, term.name);
      if (!acl) {
        at(`http_access names acl ${term.name}, which no acl line defines`);
        usable = false;
      } else if (acl.type === 'unsupported') {
        if (rule.allow) {
          notes.push(
            `not carried over: line ${rule.source.line} (${rule.source.text}) uses acl ${term.name} of type ${acl.kind}, which leash cannot judge; the line is left out, which denies more`,
          );
        } else {
          at(
            `http_access deny uses acl ${term.name} of type ${acl.kind}, which leash cannot judge; leaving the line out would allow what it denies. Rewrite it with dstdomain, port, method or src acls, or remove it`,
          );
        }
        usable = false;
      } else if (acl.type === 'none') {
        lineNotes.add(`line ${rule.source.line}: acl ${term.name}: ${acl.why}`);
      }
    }
    if (usable) kept.push(rule);
  }
  if (issues.length) return { ok: false, issues };
  if (skipped.size) notes.push(`skipped: ${[...skipped].join(', ')} (not access rules)`);
  notes.push(...lineNotes);

  // src ACLs become agents; clients in none of them are anonymous.
  const agents: ImportedAgent[] = [];
  for (const rule of kept) {
    for (const term of rule.terms) {
      const acl = aclNamed(acls, term.name);
      if (acl?.type === 'src' && !agents.some((a) => a.name === acl.agent)) {
        agents.push({
          name: acl.agent,
          cidrs: acl.cidrs,
          notes: [
            `acl ${term.name} src${acls.get(term.name) ? ` (line ${acls.get(term.name)?.line})` : ' (built in)'}: clients from these addresses`,
          ],
        });
      }
    }
  }
  if (agents.length > 1)
    notes.push(
      'squid checked each src acl on its own; leash identifies a client as one agent, by the most specific CIDR, so a client inside two src acls is only the more specific one',
    );
  const last = kept[kept.length - 1];
  const implicit: SourceRef | null = last
    ? { line: last.source.line, text: `squid's implicit last rule: the opposite of "${last.source.text}"` }
    : null;

  const domainAcls = perRegion(
    (region) =>
      new Set(
        [...acls.values()]
          .filter(({ acl }) => acl.type === 'dstdomain' && acl.patterns.some((p) => covers(p, region)))
          .map(({ acl }) => acl),
      ),
  );
  const matches = (acl: Acl, region: HostPattern, port: number, method: string, agent: string): boolean => {
    switch (acl.type) {
      case 'all':
        return true;
      case 'none':
      case 'unsupported':
        return false;
      case 'dstdomain':
        return domainAcls(region).has(acl);
      case 'port':
        return acl.ranges.some(([lo, hi]) => port >= lo && port <= hi);
      case 'method':
        return acl.methods.has(method);
      case 'src':
        return agent === acl.agent;
    }
  };
  const { rules, notes: dropped } = compileTable({
    patterns: [...acls.values()].flatMap(({ acl }) => (acl.type === 'dstdomain' ? acl.texts : [])),
    declaredDenies: [],
    agents: [...agents.map((a) => a.name), 'anonymous'],
    portRanges: [...acls.values()].flatMap(({ acl }) => (acl.type === 'port' ? acl.ranges : [])),
    mode: 'tunnel',
    decide: ({ region, port, method, agent }) => {
      for (const rule of kept) {
        const hit = rule.terms.every(
          (term) => matches(aclNamed(acls, term.name) as Acl, region, port, method, agent) !== term.negated,
        );
        if (hit) return { effect: rule.allow ? 'allow' : 'deny', source: rule.source };
      }
      return { effect: last && !last.allow ? 'allow' : 'deny', source: implicit };
    },
  });
  return { ok: true, policy: { format: 'squid', notes: [...notes, ...dropped], agents, rules } };
}

function aclNamed(acls: ReadonlyMap<string, AclDef>, name: string): Acl | undefined {
  return (
    acls.get(name)?.acl ??
    BUILT_IN[name] ??
    (name === 'localhost' ? { type: 'src', agent: 'localhost', cidrs: ['127.0.0.1/32', '::1/128'] } : undefined)
  );
}

function parseAcl(
  name: string,
  type: string,
  values: string[],
  at: (message: string) => void,
  notes: Set<string>,
  line: number,
): Acl | undefined {
  switch (type) {
    case 'dstdomain': {
      const patterns: HostPattern[] = [];
      const texts: string[] = [];
      for (const value of values) {
        for (const text of value.startsWith('.') ? [value.slice(1), `*${value}`] : [value]) {
          const compiled = compileHostPattern(text.toLowerCase());
          if (!compiled.ok) {
            at(`acl ${name} dstdomain ${value}: ${compiled.message}`);
            return undefined;
          }
          patterns.push(compiled.pattern);
          texts.push(text.toLowerCase());
        }
      }
      return { type: 'dstdomain', patterns, texts };
    }
    case 'port': {
      const ranges: [number, number][] = [];
      for (const value of values) {
        const m = /^(\d+)(?:-(\d+))?$/.exec(value);
        const lo = Number(m?.[1]);
        const hi = m?.[2] === undefined ? lo : Number(m[2]);
        if (!m || lo < 1 || hi > 65535 || hi < lo) {
          at(`acl ${name} port: "${value}" is not a port or a range of ports from 1 to 65535`);
          return undefined;
        }
        ranges.push([lo, hi]);
      }
      return { type: 'port', ranges };
    }
    case 'method': {
      const methods = new Set(values.map((v) => v.toUpperCase()));
      const unknown = [...methods].filter((m) => !KNOWN_METHODS.has(m));
      if (unknown.length)
        notes.add(
          `line ${line}: acl ${name} names ${unknown.join(', ')}, which leash rules cannot name: a leash rule either lists methods (and refuses these) or allows any method`,
        );
      return { type: 'method', methods };
    }
    case 'src': {
      if (values.includes('all')) return { type: 'all' };
      const cidrs: string[] = [];
      for (const value of values) {
        const cidr = value.includes('/') ? value : `${value}/${value.includes(':') ? 128 : 32}`;
        const compiled = compileHostPattern(cidr);
        if (!compiled.ok || compiled.pattern.kind !== 'cidr') {
          notes.add(
            `line ${line}: acl ${name} src ${value} is not carried over (leash identifies agents by CIDR: write address/prefix)`,
          );
          continue;
        }
        cidrs.push(cidr);
      }
      return {
        type: 'src',
        agent: ['anonymous', NO_ONE].includes(agentName(name)) ? `${agentName(name)}-src` : agentName(name),
        cidrs,
      };
    }
    default:
      return { type: 'unsupported', kind: type };
  }
}

function merge(a: Acl, b: Acl): Acl {
  if (a.type === 'dstdomain' && b.type === 'dstdomain')
    return { type: 'dstdomain', patterns: [...a.patterns, ...b.patterns], texts: [...a.texts, ...b.texts] };
  if (a.type === 'port' && b.type === 'port') return { type: 'port', ranges: [...a.ranges, ...b.ranges] };
  if (a.type === 'method' && b.type === 'method')
    return { type: 'method', methods: new Set([...a.methods, ...b.methods]) };
  if (a.type === 'src' && b.type === 'src') return { ...a, cidrs: [...a.cidrs, ...b.cidrs] };
  return b.type === 'all' ? b : a;
}

/** squid.conf lines without comments, with `\` continuations joined, each with the line it starts on. */
function logicalLines(text: string): { line: number; words: string[] }[] {
  const out: { line: number; words: string[] }[] = [];
  let pending = '';
  let start = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    if (!pending) start = i + 1;
    const content = raw.replace(/(^|\s)#.*$/, '');
    if (/\\$/.test(content)) {
      pending += `${content.slice(0, -1)} `;
      return;
    }
    const words = `${pending}${content}`.trim().split(/\s+/).filter(Boolean);
    pending = '';
    if (words.length) out.push({ line: start, words });
  });
  return out;
}
