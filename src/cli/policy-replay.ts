// `leash policy replay [--policy NEW]... [--format text|json] [--allow-tightening] [AUDIT]...`: re-decides every
// recorded request and tunnel under the new policy (policy/replay.ts) and prints the decisions that change, grouped
// by host and rule, with counts, so a reviewer sees the real effect of a pull request before merging it.
// Input: the audit FILEs and DIRs given, else $LEASH_AUDIT or ./leash-audit.log with its rotated siblings, plain
// or gzip, streamed in constant memory (audit/read.ts). Exit 0: nothing that was allowed would be denied (or
// --allow-tightening); 1: something would be (the CI gate), or the policy is invalid, or a line of the log could
// not be read as a record (the replay would be incomplete: each such line is named); 2: usage.

import { LeashError, PolicyInvalidError } from '../errors.js';
import { terminalSafe } from '../audit/format.js';
import { auditInputs, MAX_LINE, readAuditInputs, type LineState } from '../audit/read.js';
import { compilePolicy } from '../policy/load.js';
import { readPolicySources } from '../policy/read.js';
import { Replay, type AuditLine, type ReplayGroup, type ReplayResult } from '../policy/replay.js';
import { defaultAuditPath } from './audit-path.js';
import type { CommandIo } from './io.js';
import { policyPaths } from './policy-paths.js';
import { progressBar } from './progress-bar.js';

export interface ReplayOptions {
  policy?: string[];
  format?: string;
  allowTightening?: boolean;
}

const SHOWN_PROBLEMS = 10;

export async function replayCommand(options: ReplayOptions, args: readonly string[], io: CommandIo): Promise<number> {
  const format = options.format ?? 'text';
  if (format !== 'text' && format !== 'json')
    throw new LeashError('LEASH_USAGE', `--format needs text or json, got "${format}"`);
  const compiled = compilePolicy(await readPolicySources(policyPaths(options.policy)));
  if (!compiled.policy) throw new PolicyInvalidError(compiled.issues);
  const policy = compiled.policy;
  const { files } = await auditInputs(args, defaultAuditPath(io.env));

  const replay = new Replay(policy);
  let problems = 0;
  const problem = (text: string) => {
    problems++;
    if (problems <= SHOWN_PROBLEMS) io.err(`leash policy replay: ${terminalSafe(text)}`);
  };
  const onLine = (bytes: Buffer, file: string, line: number, state: LineState) => {
    if (state === 'too_long') return problem(`${file}:${line}: line longer than ${MAX_LINE} bytes, not replayed`);
    let record: unknown;
    try {
      record = JSON.parse(bytes.toString('utf8'));
    } catch {
      return problem(
        `${file}:${line}: ${state === 'unterminated' ? 'incomplete last line (no newline)' : 'not a JSON record'}, not replayed`,
      );
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record))
      return problem(`${file}:${line}: not a JSON object, not replayed`);
    replay.add(record as AuditLine);
  };
  const progress = progressBar(io, 'leash policy replay');
  await readAuditInputs(files, onLine, { onChunk: progress });
  progress.stop();

  const result = replay.result();
  const blocked = result.tightened > 0 && !options.allowTightening;
  if (format === 'json') {
    io.out(
      JSON.stringify(
        {
          policy: { revision: policy.revision, files: policy.files },
          inputs: files.map((f) => f.path),
          ...result,
          unreadableLines: problems,
        },
        null,
        2,
      ),
    );
  } else {
    for (const line of replayText(result, policy.files, files.length, policy.settings.mode)) io.out(line);
  }
  if (problems > SHOWN_PROBLEMS)
    io.err(`leash policy replay: ${problems - SHOWN_PROBLEMS} more unreadable lines not shown`);
  if (problems > 0)
    io.err(
      `leash policy replay: ${problems} line${problems === 1 ? '' : 's'} could not be read as records, so this replay is incomplete; run \`leash audit verify\` on the same files`,
    );
  if (blocked)
    io.err(
      `leash policy replay: ${count(result.tightened, 'request')} allowed before would now be denied (--allow-tightening accepts that)`,
    );
  return problems > 0 || blocked ? 1 : 0;
}

/** The report for a terminal or a pull request comment; every string from the log made terminal-safe. */
export function replayText(
  result: ReplayResult,
  policyFiles: readonly string[],
  inputFiles: number,
  mode: 'enforce' | 'report' = 'enforce',
): string[] {
  const out: string[] = [];
  const shownFiles = policyFiles.length > 3 ? `${policyFiles.slice(0, 3).join(', ')}, ...` : policyFiles.join(', ');
  out.push(
    `replayed ${count(result.records, 'record')} from ${count(inputFiles, 'file')} under policy revision ${result.revision} (${shownFiles})`,
  );
  if (mode === 'report')
    out.push(
      'note: the new policy is in report mode: leash would let its denials through, recorded with wouldDeny; they are shown as what the policy decides',
    );
  for (const [direction, title, total] of [
    ['tightened', 'allow → deny', result.tightened],
    ['loosened', 'deny → allow', result.loosened],
  ] as const) {
    if (total === 0) continue;
    out.push('', `${title}: ${count(total, 'request')}`);
    for (const group of result.groups.filter((g) => g.direction === direction)) out.push(...groupText(group));
    const ungrouped = result.ungrouped[direction];
    if (ungrouped > 0)
      out.push(`  ${count(ungrouped, 'more request')} in groups past the first ${result.groups.length} (not listed)`);
  }
  out.push('');
  out.push(
    `${number(result.replayed)} requests and tunnels replayed: ${number(result.unchanged)} unchanged, ${number(result.tightened)} allow → deny, ${number(result.loosened)} deny → allow`,
  );
  if (result.keptByGrant > 0) {
    out.push(
      `  ${count(result.keptByGrant, 'request')} allowed by a grant: a grant would still apply, since no rule of the new policy speaks for the host`,
    );
  }
  if (result.nowIntercepted > 0) {
    out.push(
      `  ${count(result.nowIntercepted, 'tunnel')} spliced before would now be intercepted: agents must trust leash's CA, and the requests inside were never recorded, so replay cannot decide them`,
    );
  }
  if (result.skipped.length > 0) {
    const skipped = result.skipped.reduce((sum, s) => sum + s.count, 0);
    out.push(
      `not replayed: ${number(skipped)}: ${result.skipped.map((s) => `${number(s.count)} ${s.label}`).join('; ')}`,
    );
  }
  return out.map(terminalSafe);
}

function groupText(g: ReplayGroup): string[] {
  const was = g.was.rule !== null ? `rule ${g.was.rule} (${g.was.reason})` : g.was.reason;
  const now = g.now.rule !== null ? `rule ${g.now.rule} (${g.now.reason}, ${g.now.at})` : g.now.reason;
  const host = g.host.includes(':') ? `[${g.host}]` : g.host;
  const agents = g.agents.join(', ') + (g.moreAgents > 0 ? ` and ${g.moreAgents} more` : '');
  return [
    `  ${String(g.count).padStart(7)}  ${host}:${g.port}  was ${was}, now ${now}`,
    `           agents: ${agents}`,
    ...g.samples.map((s) => `           e.g. ${s}`),
  ];
}

function number(n: number): string {
  return n.toLocaleString('en-US');
}

function count(n: number, noun: string): string {
  return `${number(n)} ${noun}${n === 1 ? '' : 's'}`;
}
