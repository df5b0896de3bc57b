// The common model every importer produces and the writer prints: a leash policy (agents, rules, report mode) in
// which every construct carries the comments that explain where it came from and what differs from the source
// tool. Pure data; nothing here reads files.

import type { SourceLocation } from '../../errors.js';

export type ImportFormat = 'safeclaw' | 'srt' | 'squid' | 'smokescreen';

export const IMPORT_FORMATS: readonly ImportFormat[] = ['safeclaw', 'srt', 'squid', 'smokescreen'];

/** The source construct a leash rule was made from, named in the rule's comment. */
export interface SourceRef {
  readonly line: number;
  /** The construct as the operator wrote it, shortened to one line. */
  readonly text: string;
  readonly reason?: string;
  /** A leash rateLimit (`N/WINDOW`) the construct asked for. */
  readonly rateLimit?: string;
}

export interface ImportedRule {
  readonly name: string;
  readonly domain: string;
  readonly effect: 'allow' | 'deny';
  readonly ports?: readonly number[] | '*';
  readonly methods?: readonly string[];
  readonly agents?: readonly string[];
  readonly rateLimit?: string;
  readonly broad?: boolean;
  readonly reason?: string;
  /** Comments written above the rule: its source, and every way it is not exactly what the source did. */
  readonly notes: readonly string[];
}

export interface ImportedAgent {
  readonly name: string;
  readonly cidrs?: readonly string[];
  readonly notes: readonly string[];
}

export interface ImportedPolicy {
  readonly format: ImportFormat;
  /** Comments at the head of the file: what was not carried over at all, and assumptions about the source. */
  readonly notes: readonly string[];
  readonly mode?: 'report';
  readonly agents: readonly ImportedAgent[];
  readonly rules: readonly ImportedRule[];
}

export interface ImportIssue {
  readonly location: SourceLocation;
  readonly message: string;
}

export type ImportResult = { ok: true; policy: ImportedPolicy } | { ok: false; issues: readonly ImportIssue[] };

/** A source name (service, acl) as a leash agent name: lower case letters, digits, - and _, starting with a letter. */
export function agentName(source: string): string {
  const name = source
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 63);
  return name || 'agent';
}

/** The agents, plus the agent no one can be when a rule names it (see NO_ONE in regions.ts). */
export function withNoOne(
  agents: readonly ImportedAgent[],
  rules: readonly ImportedRule[],
  noOne: string,
): ImportedAgent[] {
  if (!rules.some((r) => r.agents?.includes(noOne))) return [...agents];
  const notes = [
    'an agent no client can be (no token, uid or cidrs): rules naming only it allow nothing, and exist so that a broader rule does not decide hosts the source refused',
  ];
  return [...agents, { name: noOne, notes }];
}
