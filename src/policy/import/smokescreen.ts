// smokescreen ACL YAML (version v1): `services` (each a role with `name`, `project`, `action` and
// `allowed_domains`), an optional `default` rule for roles without one, and `global_allow_list` /
// `global_deny_list`. smokescreen decides for the client's role: a host in the role's allowed_domains is allowed
// (even one on the global deny list); else a host on the global deny list is denied; else one on the global allow
// list is allowed; else the role's action decides: `enforce` denies, `open` allows, `report` allows and logs that
// it would have denied. A role with no rule and no default is denied. Globs are exact hosts or `*.example.com`
// (subdomains, never the apex), as in leash. The ACL names no ports.
//
// Roles become leash agents; the default rule becomes what unidentified clients (`anonymous`) may do.

import { compileHostPattern, type HostPattern } from '../host-pattern.js';
import { agentName, type ImportedAgent, type ImportIssue, type ImportResult, type SourceRef } from './model.js';
import { NO_ONE, compileTable, covers, type Verdict } from './regions.js';
import { isRecord, readYamlSource, type SourceDocument } from './source.js';

type Action = 'open' | 'report' | 'enforce';

interface Glob {
  readonly pattern: HostPattern;
  readonly text: string;
  readonly source: SourceRef;
}

interface Role {
  readonly agent: string;
  readonly name: string;
  readonly action: Action;
  readonly actionSource: SourceRef;
  readonly globs: readonly Glob[];
}

const ACTIONS: ReadonlySet<string> = new Set<string>(['open', 'report', 'enforce']);
const SERVICE_KEYS: ReadonlySet<string> = new Set(['name', 'project', 'action', 'allowed_domains']);
const TOP_KEYS: ReadonlySet<string> = new Set([
  'version',
  'services',
  'default',
  'global_allow_list',
  'global_deny_list',
]);

export function importSmokescreen(file: string, text: string): ImportResult {
  const read = readYamlSource(file, text);
  if (!read.ok) return { ok: false, issues: [read.issue] };
  const doc = read.doc;
  const issues: ImportIssue[] = [];
  const top = doc.value;
  if (!isRecord(top))
    return { ok: false, issues: [doc.issue([], 'a smokescreen ACL is a YAML mapping with version: v1 and services:')] };
  if (top.version !== 'v1')
    issues.push(
      doc.issue(
        ['version'],
        `expected version "v1" (the smokescreen ACL format this importer reads), got ${JSON.stringify(top.version ?? null)}`,
      ),
    );
  if (!Array.isArray(top.services)) issues.push(doc.issue(['services'], "top level list 'services' is missing"));
  if (issues.length) return { ok: false, issues };

  const notes: string[] = [];
  const agentNotes = new Map<string, string[]>();
  const used = new Set<string>(['anonymous', NO_ONE]);
  const roles: Role[] = [];
  const seen = new Set<string>();
  (top.services as unknown[]).forEach((raw, i) => {
    const role = readRole(doc, ['services', i], raw, issues, notes);
    if (!role) return;
    if (seen.has(role.name)) {
      issues.push(doc.issue(['services', i, 'name'], `rule already exists for service ${role.name}`));
      return;
    }
    seen.add(role.name);
    let agent = agentName(role.name);
    for (let n = 2; used.has(agent); n++) agent = `${agentName(role.name).slice(0, 60)}-${n}`;
    used.add(agent);
    roles.push({ ...role, agent });
    const project = isRecord(raw) && typeof raw.project === 'string' ? `, project ${raw.project}` : '';
    agentNotes.set(agent, [
      `service ${role.name} (line ${doc.at(['services', i]).line}${project}, action ${role.action})${agent === role.name ? '' : `; renamed: leash agent names are lower-case letters, digits, - and _`}`,
      'how leash tells this agent apart is yours to add: token: env:NAME, uid: N or cidrs: [...] (smokescreen took the role from the client certificate)',
    ]);
  });
  const defaultRole =
    top.default === undefined || top.default === null
      ? undefined
      : readRole(doc, ['default'], { name: 'default', ...(isRecord(top.default) ? top.default : {}) }, issues, notes);
  const fallback: Role | null = defaultRole ? { ...defaultRole, agent: 'anonymous' } : null;
  const globalDeny = globs(doc, ['global_deny_list'], top.global_deny_list, issues);
  const globalAllow = globs(doc, ['global_allow_list'], top.global_allow_list, issues);
  const unknown = Object.keys(top).filter((k) => !TOP_KEYS.has(k));
  if (unknown.length)
    notes.push(`not carried over: ${unknown.join(', ')} (not part of the smokescreen ACL this importer reads)`);
  if (issues.length) return { ok: false, issues };

  // Report everywhere and nothing globally denied: leash's policy-wide report mode says exactly that.
  const all = [...roles, ...(fallback ? [fallback] : [])];
  const reportMode =
    all.length > 0 && all.every((r) => r.action === 'report') && fallback !== null && globalDeny.length === 0;
  notes.push(
    reportMode
      ? 'every role reports: settings.mode report lets through what the rules deny and audits it with wouldDeny: true, as smokescreen logged it'
      : 'a role with action report becomes an allow rule for that agent: smokescreen let those requests through and logged them as would-be-denied; leash audits every request, but marks them wouldDeny only in its policy-wide report mode (settings.mode)',
    fallback
      ? "smokescreen's default rule applied to every role without a rule of its own; here it is what unidentified clients (the agent anonymous) may do"
      : 'no default rule: smokescreen denied roles without a rule, and leash denies unidentified clients (anonymous) everything',
    "smokescreen's ACL names no ports: the rules allow every port, as it did",
  );

  const roleOf = new Map<string, Role | null>([...roles.map((r) => [r.agent, r] as const), ['anonymous', fallback]]);
  const decide = ({ region, agent }: { region: HostPattern; agent: string }): Verdict => {
    const role = roleOf.get(agent) ?? null;
    if (!role) return { effect: 'deny', source: null };
    const own = role.globs.find((g) => covers(g.pattern, region));
    if (own) return { effect: 'allow', source: own.source };
    const denied = globalDeny.find((g) => covers(g.pattern, region));
    if (denied) return { effect: 'deny', source: denied.source };
    const allowed = globalAllow.find((g) => covers(g.pattern, region));
    if (allowed) return { effect: 'allow', source: allowed.source };
    if (role.action === 'open' || (role.action === 'report' && !reportMode))
      return { effect: 'allow', source: role.actionSource };
    return { effect: 'deny', source: role.actionSource };
  };
  const { rules, notes: dropped } = compileTable({
    patterns: [...all.flatMap((r) => r.globs), ...globalDeny, ...globalAllow].map((g) => g.text),
    declaredDenies: globalDeny.map((g) => ({ pattern: g.text, source: g.source })),
    agents: [...roles.map((r) => r.agent), 'anonymous'],
    portRanges: [],
    mode: 'tunnel',
    decide,
  });
  const agents: ImportedAgent[] = roles.map((r) => ({ name: r.agent, notes: agentNotes.get(r.agent) ?? [] }));
  return {
    ok: true,
    policy: {
      format: 'smokescreen',
      notes: [...notes, ...dropped],
      ...(reportMode ? { mode: 'report' as const } : {}),
      agents,
      rules,
    },
  };
}

function readRole(
  doc: SourceDocument,
  path: (string | number)[],
  raw: unknown,
  issues: ImportIssue[],
  notes: string[],
): Omit<Role, 'agent'> | undefined {
  if (!isRecord(raw)) {
    issues.push(doc.issue(path, 'a service is a mapping with name, project, action and allowed_domains'));
    return undefined;
  }
  const name = raw.name;
  if (typeof name !== 'string' || name === '') {
    issues.push(doc.issue([...path, 'name'], 'a service needs a name (its role)'));
    return undefined;
  }
  const action = raw.action;
  if (typeof action !== 'string' || !ACTIONS.has(action)) {
    issues.push(
      doc.issue([...path, 'action'], `action must be open, report or enforce, got ${JSON.stringify(action ?? null)}`),
    );
    return undefined;
  }
  const extra = Object.keys(raw).filter((k) => !SERVICE_KEYS.has(k));
  if (extra.length)
    notes.push(
      `not carried over: ${extra.join(', ')} of ${path[0] === 'default' ? 'the default rule' : `service ${name}`} (line ${doc.at(path).line}); leash has no equivalent`,
    );
  const line = doc.at([...path, 'action']).line;
  return {
    name,
    action: action as Action,
    actionSource: { line, text: `${path[0] === 'default' ? 'default' : `service ${name}`}: action: ${action}` },
    globs: globs(
      doc,
      [...path, 'allowed_domains'],
      raw.allowed_domains,
      issues,
      path[0] === 'default' ? 'default' : `service ${name}`,
    ),
  };
}

function globs(
  doc: SourceDocument,
  path: (string | number)[],
  raw: unknown,
  issues: ImportIssue[],
  owner?: string,
): Glob[] {
  if (raw === undefined || raw === null) return [];
  const key = String(path[path.length - 1]);
  if (!Array.isArray(raw)) {
    issues.push(doc.issue(path, `${key} must be a list of domains`));
    return [];
  }
  const out: Glob[] = [];
  raw.forEach((text, i) => {
    const at = [...path, i];
    if (typeof text !== 'string' || text === '' || text === '*' || text === '*.') {
      issues.push(
        doc.issue(at, `${JSON.stringify(text)}: domain glob must name a domain and must not match everything`),
      );
      return;
    }
    if (text.startsWith('*') && !text.startsWith('*.')) {
      issues.push(doc.issue(at, `"${text}": domain glob must represent a full prefix (sub)domain`));
      return;
    }
    const compiled = compileHostPattern(text);
    if (!compiled.ok) {
      issues.push(doc.issue(at, compiled.message));
      return;
    }
    out.push({
      pattern: compiled.pattern,
      text,
      source: { line: doc.at(at).line, text: `${owner ? `${owner} ` : ''}${key}: ${text}` },
    });
  });
  return out;
}
