// SafeClaw policy YAML. Its published format could not be found when this was written, so this importer reads the
// fields named for it: a `rules` list (or a bare list) of `{ action: network.request, domain, method, effect,
// reason, rateLimit: { maxRequests, window: "1 minute" } }`, and an optional top-level `defaultEffect`. Assumed
// semantics, stated in the output too: rules are tried in order and the first whose domain and method match
// decides; `domain` is an exact host, `*.example.com` (subdomains, not the apex) or `*`; `method` is one method or
// a list (absent: any); the default is deny. SafeClaw gates the agent's own calls, so it judges every request,
// HTTPS included; leash must intercept HTTPS to judge methods. `require_approval` has no leash equivalent and
// becomes deny. Other actions (files, shell) are not egress and are skipped.

import { compileHostPattern, type HostPattern } from '../host-pattern.js';
import type { ImportedRule, ImportIssue, ImportResult, SourceRef } from './model.js';
import { PLAIN_METHODS, compileTable, covers } from './regions.js';
import { isRecord, oneLine, readYamlSource, type SourceDocument } from './source.js';

interface Rule {
  readonly pattern: HostPattern;
  readonly text: string;
  readonly methods: ReadonlySet<string> | null;
  readonly allow: boolean;
  readonly source: SourceRef;
}

const RULE_KEYS: ReadonlySet<string> = new Set(['action', 'domain', 'method', 'effect', 'reason', 'rateLimit']);
const UNITS: Record<string, string> = { second: 's', minute: 'm', hour: 'h', s: 's', m: 'm', h: 'h' };

export function importSafeClaw(file: string, text: string): ImportResult {
  const read = readYamlSource(file, text);
  if (!read.ok) return { ok: false, issues: [read.issue] };
  const doc = read.doc;
  const issues: ImportIssue[] = [];
  const top = doc.value;
  const list = Array.isArray(top) ? top : isRecord(top) ? top.rules : undefined;
  const base = Array.isArray(top) ? [] : ['rules'];
  if (!Array.isArray(list))
    return {
      ok: false,
      issues: [doc.issue(base, 'a SafeClaw policy is a list of rules, or a mapping with rules: [...]')],
    };
  const defaultEffect = isRecord(top) ? (top.defaultEffect ?? 'deny') : 'deny';
  if (defaultEffect !== 'allow' && defaultEffect !== 'deny')
    issues.push(
      doc.issue(['defaultEffect'], `defaultEffect must be allow or deny, got ${JSON.stringify(defaultEffect)}`),
    );

  const notes = [
    "SafeClaw's policy format is not published where leash could read it: this import assumes rules are tried in order, the first whose domain and method match decides, *.example.com covers subdomains only, and anything unmatched is denied",
    "SafeClaw judges every request the agent makes; leash judges an HTTPS request by its method only when it intercepts the tunnel, so agents must trust leash's CA (leash ca trust) for the rules that name methods",
  ];
  const rules: Rule[] = [];
  list.forEach((raw, i) => {
    const rule = readRule(doc, [...base, i], raw, issues, notes);
    if (rule) rules.push(rule);
  });
  if (issues.length) return { ok: false, issues };

  const defaultSource: SourceRef | null =
    defaultEffect === 'allow' ? { line: doc.at(['defaultEffect']).line, text: 'defaultEffect: allow' } : null;
  const { rules: compiled, notes: dropped } = compileTable({
    patterns: rules.map((r) => r.text),
    declaredDenies: rules.filter((r) => !r.allow && !r.methods).map((r) => ({ pattern: r.text, source: r.source })),
    agents: ['anonymous'],
    portRanges: [],
    mode: 'request',
    decide: ({ region, method }) => {
      const hit = rules.find((r) => covers(r.pattern, region) && (!r.methods || r.methods.has(method)));
      if (hit) return { effect: hit.allow ? 'allow' : 'deny', source: hit.source };
      return { effect: defaultEffect === 'allow' ? 'allow' : 'deny', source: defaultSource };
    },
  });
  return {
    ok: true,
    policy: { format: 'safeclaw', notes: [...notes, ...dropped], agents: [], rules: withBucketNotes(compiled) },
  };
}

/** One SafeClaw rate limit split over several leash rules gives each its own bucket: say so on each. */
function withBucketNotes(rules: readonly ImportedRule[]): ImportedRule[] {
  const count = new Map<string, number>();
  const key = (r: ImportedRule) => (r.rateLimit ? `${r.rateLimit}\u0000${r.notes[0] ?? ''}` : '');
  for (const r of rules) if (r.rateLimit) count.set(key(r), (count.get(key(r)) ?? 0) + 1);
  return rules.map((r) => {
    if (!r.rateLimit) return r;
    const extra = [
      "rateLimit: leash counts a token bucket per agent (a burst of up to N, then N per window), which may differ from SafeClaw's counting",
    ];
    if ((count.get(key(r)) ?? 0) > 1)
      extra.push(
        'differs: this limit is split over several leash rules, each with its own bucket, so together they allow more than the one SafeClaw rule',
      );
    return { ...r, notes: [...r.notes, ...extra] };
  });
}

function readRule(
  doc: SourceDocument,
  path: (string | number)[],
  raw: unknown,
  issues: ImportIssue[],
  notes: string[],
): Rule | undefined {
  const line = doc.at(path).line;
  if (!isRecord(raw)) {
    issues.push(
      doc.issue(path, 'a rule is a mapping with action, domain, effect and optionally method, reason and rateLimit'),
    );
    return undefined;
  }
  if (raw.action !== 'network.request') {
    notes.push(
      `skipped: the rule at line ${line} (action ${JSON.stringify(raw.action ?? null)}) is not a network request`,
    );
    return undefined;
  }
  const extra = Object.keys(raw).filter((k) => !RULE_KEYS.has(k));
  if (extra.length) notes.push(`not carried over: ${extra.join(', ')} of the rule at line ${line}`);
  const domain = raw.domain;
  if (typeof domain !== 'string' || domain === '') {
    issues.push(doc.issue([...path, 'domain'], 'domain must be a host, "*.example.com" or "*"'));
    return undefined;
  }
  const compiled = compileHostPattern(domain.toLowerCase());
  if (!compiled.ok) {
    issues.push(doc.issue([...path, 'domain'], compiled.message));
    return undefined;
  }
  let methods: Set<string> | null = null;
  if (raw.method !== undefined && raw.method !== '*') {
    const listed = (Array.isArray(raw.method) ? raw.method : [raw.method]).map((m) => String(m).toUpperCase());
    const unknown = listed.filter((m) => !(PLAIN_METHODS as readonly string[]).includes(m));
    if (unknown.length || listed.length === 0) {
      issues.push(
        doc.issue(
          [...path, 'method'],
          `method must be one of ${PLAIN_METHODS.join(', ')} (or a list of them), got ${unknown.join(', ') || 'an empty list'}`,
        ),
      );
      return undefined;
    }
    methods = new Set(listed);
  }
  const effect = raw.effect;
  if (effect !== 'allow' && effect !== 'deny' && effect !== 'require_approval') {
    issues.push(
      doc.issue(
        [...path, 'effect'],
        `effect must be allow, deny or require_approval, got ${JSON.stringify(effect ?? null)}`,
      ),
    );
    return undefined;
  }
  if (effect === 'require_approval')
    notes.push(`differs: the rule at line ${line} asks a person to approve; leash has no approval step, so it denies`);
  const reason = typeof raw.reason === 'string' ? oneLine(raw.reason, 200) : undefined;
  const rateLimit = raw.rateLimit === undefined ? undefined : rate(doc, [...path, 'rateLimit'], raw.rateLimit, issues);
  if (raw.rateLimit !== undefined && rateLimit === undefined) return undefined;
  const method = methods ? ` ${[...methods].join(',')}` : '';
  return {
    pattern: compiled.pattern,
    text: domain.toLowerCase(),
    methods,
    allow: effect === 'allow',
    source: {
      line,
      text: `${effect}${method} ${domain}${rateLimit ? ` (${rateLimit})` : ''}`,
      ...(reason ? { reason } : {}),
      ...(rateLimit && effect === 'allow' ? { rateLimit } : {}),
    },
  };
}

/** `{ maxRequests: 60, window: "1 minute" }` as leash's `60/1m`. */
function rate(doc: SourceDocument, path: (string | number)[], raw: unknown, issues: ImportIssue[]): string | undefined {
  const max = isRecord(raw) ? raw.maxRequests : undefined;
  const window = isRecord(raw) ? raw.window : undefined;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
    issues.push(doc.issue([...path, 'maxRequests'], 'rateLimit.maxRequests must be a whole number of at least 1'));
    return undefined;
  }
  const m = typeof window === 'string' ? /^(\d+)?\s*(second|minute|hour|day|s|m|h|d)s?$/i.exec(window.trim()) : null;
  if (!m) {
    issues.push(
      doc.issue(
        [...path, 'window'],
        'rateLimit.window must be a duration such as "1 minute", "30 seconds" or "1 hour"',
      ),
    );
    return undefined;
  }
  const n = Number(m[1] ?? 1);
  const unit = (m[2] as string).toLowerCase();
  if (n < 1) {
    issues.push(doc.issue([...path, 'window'], 'rateLimit.window must be longer than nothing'));
    return undefined;
  }
  return unit === 'day' || unit === 'd' ? `${max}/${n * 24}h` : `${max}/${n}${UNITS[unit] as string}`;
}
