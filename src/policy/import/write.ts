// The imported policy as a leash policy file: YAML with a comment above every construct saying where it came from
// and what differs from the source tool. Values go through js-yaml's dump, so a domain such as "*.example.com" or
// a reason with a colon is quoted as YAML needs; comments are folded to one line each, so text from the source
// can never end a comment and become policy.

import * as jsyaml from 'js-yaml';
import type { ImportedPolicy, ImportedRule } from './model.js';

export function writePolicy(policy: ImportedPolicy, sourceFile: string): string {
  const lines: string[] = [];
  comment(lines, '', `Imported by \`leash policy import --from ${policy.format}\` from ${sourceFile}.`);
  comment(
    lines,
    '',
    'Review every comment: each says where a rule came from and what, if anything, leash does differently.',
  );
  for (const note of policy.notes) comment(lines, '', note);
  lines.push('version: 1');
  if (policy.mode) lines.push('settings:', `  mode: ${policy.mode}`);
  if (policy.agents.length > 0) {
    lines.push('agents:');
    for (const agent of policy.agents) {
      for (const note of agent.notes) comment(lines, '  ', note);
      if (agent.cidrs?.length) lines.push(`  ${agent.name}:`, `    cidrs: ${value(agent.cidrs)}`);
      else lines.push(`  ${agent.name}: {}`);
    }
  }
  if (policy.rules.length === 0) {
    lines.push('rules: []');
  } else {
    lines.push('rules:');
    for (const rule of policy.rules) writeRule(lines, rule);
  }
  return `${lines.join('\n')}\n`;
}

function writeRule(lines: string[], rule: ImportedRule): void {
  for (const note of rule.notes) comment(lines, '  ', note);
  const fields: [string, unknown][] = [
    ['name', rule.name],
    ['domain', rule.domain],
    ['ports', rule.ports],
    ['methods', rule.methods],
    ['agents', rule.agents],
    ['rateLimit', rule.rateLimit],
    ['broad', rule.broad],
    ['effect', rule.effect],
    ['reason', rule.reason],
  ];
  let first = true;
  for (const [key, v] of fields) {
    if (v === undefined) continue;
    lines.push(`${first ? '  - ' : '    '}${key}: ${value(v)}`);
    first = false;
  }
}

function value(v: unknown): string {
  // A string with a line break would be dumped as a block scalar over several lines: write it double-quoted,
  // escapes and all, so every value stays on its key's line.
  if (typeof v === 'string' && /[\u0000-\u001f\u007f\u0085\u2028\u2029]/.test(v)) {
    return JSON.stringify(v).replace(
      /[\u007f\u0085\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  }
  return jsyaml.dump(v, { flowLevel: 0, lineWidth: -1 }).trimEnd();
}

/** One `#` line per line of text, never more than ~118 columns, with no control characters. */
function comment(lines: string[], indent: string, text: string): void {
  const clean = text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
  const width = 118 - indent.length;
  let line = '';
  for (const word of clean.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(`${indent}# ${line}`);
      line = '';
    }
    line = line ? `${line} ${word}` : word;
  }
  lines.push(line ? `${indent}# ${line}` : `${indent}#`);
}
