// The suggested policy as YAML with comments: every rule under the evidence for it, rules that cannot load as
// they are written commented out with the reason, and what was not proposed, and why, at the end. Values are
// serialised by js-yaml (quoting is its job); comments are ours, made only of values evidence.ts validated, and
// still stripped of anything but printable characters, so no host or path in a log can end a comment early and
// write a line of policy.
// PURE.

import * as jsyaml from 'js-yaml';
import type { ProposedRule, Suggestion } from './propose.js';

export interface SuggestionHeader {
  readonly records: number;
  readonly used: number;
  readonly firstTime: string | null;
  readonly lastTime: string | null;
  /** The policy the rules were checked against, as the operator named it. */
  readonly policy: readonly string[];
}

/** At most this many "not proposed" lines; the rest are counted. */
export const MAX_NOT_PROPOSED_LINES = 500;

export function suggestionYaml(suggestion: Suggestion, header: SuggestionHeader): string {
  const lines: string[] = [
    comment(
      `Suggested by leash policy suggest from ${header.records} audit record${header.records === 1 ? '' : 's'} (${header.used} counted as use), ${header.firstTime ?? '-'} to ${header.lastTime ?? '-'}.`,
    ),
    comment(
      `Checked against the policy in ${header.policy.join(', ')}: load this file beside it (its agents are used here, none of its rules is repeated). Review every rule before use.`,
    ),
    'version: 1',
  ];
  if (suggestion.rules.length === 0) lines.push('rules: []');
  else lines.push('rules:');
  for (const rule of suggestion.rules) {
    lines.push('');
    for (const text of rule.comments) lines.push(`  ${comment(text)}`);
    const body = jsyaml
      .dump([ruleValue(rule)], { flowLevel: 2, lineWidth: -1, noRefs: true })
      .trimEnd()
      .split('\n');
    if (rule.disabled) {
      lines.push(`  ${comment(`not enabled: ${rule.disabled}`)}`);
      for (const line of body) lines.push(`  # ${line}`);
    } else {
      for (const line of body) lines.push(`  ${line}`);
    }
  }
  if (suggestion.notProposed.length > 0) {
    lines.push('', comment('Not proposed:'));
    for (const item of suggestion.notProposed.slice(0, MAX_NOT_PROPOSED_LINES))
      lines.push(comment(`  ${item.what}: ${item.why}`));
    const more = suggestion.notProposed.length - MAX_NOT_PROPOSED_LINES;
    if (more > 0) lines.push(comment(`  … and ${more} more`));
  }
  return `${lines.join('\n')}\n`;
}

function ruleValue(rule: ProposedRule): Record<string, unknown> {
  const { comments: _comments, disabled: _disabled, ...value } = rule;
  return value;
}

/** One comment line: printable characters only, so nothing in it can start a new line of YAML. */
export function comment(text: string): string {
  return `# ${text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?')}`;
}
