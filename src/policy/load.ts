// From policy sources to the compiled policy, in three shapes: YAML text → validated documents → frozen compiled
// policy. Pure: the caller reads the files (read.ts) and hands over their text, so the same function serves
// `leash check`, `leash serve`, reloads and tests alike.

import { createHash } from 'node:crypto';
import { formatLocation, type PolicyIssue, type SourceLocation } from '../errors.js';
import { buildHostIndex } from './host-index.js';
import { intentWarnings } from './intent.js';
import { lintRules } from './lint.js';
import { collectAgents } from './agents.js';
import type { CompiledPolicy } from './policy.js';
import { compileRule, type CompiledRule, type RawRule } from './rule.js';
import { checkSchema, fieldName } from './schema.js';
import { checkAgentScopes, collectScopes, resolveApprovals, scopeNames } from './scopes.js';
import { mergeSettings, resolveSettings } from './settings.js';
import { parseYaml, type ParsedYaml } from './yaml.js';
import { secretsOutsideInterception } from '../secrets/reach.js';
import { collectSecrets } from '../secrets/spec.js';

export interface PolicySource {
  /** As shown in messages: the path the operator gave, joined with the file name. */
  readonly file: string;
  readonly text: string;
}

export interface LoadResult {
  /** Present when there are no errors. */
  readonly policy?: CompiledPolicy;
  /** Errors and warnings in file order. */
  readonly issues: readonly PolicyIssue[];
}

export function compilePolicy(sources: readonly PolicySource[]): LoadResult {
  const issues: PolicyIssue[] = [];
  const files: ParsedYaml[] = [];
  for (const source of sources) {
    const result = parseYaml(source.file, source.text);
    if (!result.ok) {
      issues.push({ severity: 'error', location: result.location, field: '(file)', message: result.message });
      continue;
    }
    const schemaIssues = checkSchema(result.parsed);
    issues.push(...schemaIssues);
    if (schemaIssues.length === 0) files.push(result.parsed);
  }

  const leaves = mergeSettings(files, issues);
  const settings = resolveSettings(leaves, issues);
  const agents = collectAgents(files, issues);
  const agentNames = new Set(agents.keys());
  const secrets = collectSecrets(files, issues);
  const scopes = collectScopes(files, agents, issues);
  checkAgentScopes(files, agents, scopes, scopeNames(files), issues);
  const approvals = resolveApprovals(leaves, agents, issues);

  const rules: CompiledRule[] = [];
  // Where each rule name was first used, whether or not that rule compiled, so a duplicate is reported in the
  // same run as the first rule's own errors.
  const names = new Map<string, SourceLocation>();
  for (const file of files) {
    const raws = (file.value as { rules?: RawRule[] }).rules ?? [];
    if (raws.length === 0) continue;
    const locations = file.itemLocations(['rules']);
    raws.forEach((raw, position) => {
      const location = locations[position] ?? file.locate(['rules', position]);
      const rule = compileRule(raw, { file, position, location, index: rules.length, settings, agentNames }, issues);
      const first = names.get(raw.name);
      if (first) {
        issues.push({
          severity: 'error',
          location: file.locate(['rules', position, 'name']),
          field: fieldName(['rules', position, 'name']),
          message: `"${raw.name}" is already the name of the rule at ${formatLocation(first)}; rule names must be unique`,
        });
      } else {
        names.set(raw.name, location);
      }
      if (rule) rules.push(rule);
    });
  }

  if (issues.some((i) => i.severity === 'error')) return { issues: sortIssues(issues) };
  const index = buildHostIndex(rules);
  const warnings = [...issues, ...lintRules(rules, index), ...intentWarnings({ rules, settings })];
  const policy: CompiledPolicy = Object.freeze({
    revision: revisionOf(sources),
    files: sources.map((s) => s.file),
    rules: Object.freeze(rules),
    settings,
    agents,
    secrets,
    scopes,
    approvals,
    index,
    warnings: sortIssues(warnings),
  });
  // Needs the compiled rules: it asks the decision what a tunnel to each secret's host would get.
  const unreachable = secretsOutsideInterception(policy, secrets);
  if (unreachable.length > 0) return { issues: sortIssues([...issues, ...unreachable]) };
  return { policy, issues: policy.warnings };
}

function revisionOf(sources: readonly PolicySource[]): string {
  const hash = createHash('sha256');
  for (const source of sources) hash.update(source.file).update('\0').update(source.text).update('\0');
  return hash.digest('hex').slice(0, 12);
}

function sortIssues(issues: PolicyIssue[]): PolicyIssue[] {
  // Stable: keeps file order (load order), then line order within a file.
  const fileOrder = new Map<string, number>();
  for (const issue of issues)
    if (!fileOrder.has(issue.location.file)) fileOrder.set(issue.location.file, fileOrder.size);
  return [...issues].sort(
    (a, b) =>
      (fileOrder.get(a.location.file) ?? 0) - (fileOrder.get(b.location.file) ?? 0) ||
      a.location.line - b.location.line ||
      a.location.column - b.location.column,
  );
}
