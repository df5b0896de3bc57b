// `leash policy suggest [AUDIT]... [--agent NAME] [--since 7d] [--min-requests N] [--wildcard-min N]
// [--policy PATH]... [-o FILE]`: learn mode. Streams the audit logs (report mode, or enforce mode's denials) once,
// in constant memory, into the evidence accumulator (policy/suggest/evidence.ts), proposes the rules that would
// allow what was seen and the policy does not allow yet (propose.ts), and writes them as YAML with the evidence in
// comments (write.ts). Fails closed: the output is loaded beside the policy before it is written, and a suggestion
// that would not pass `leash check` is not written at all.
// Exit codes: 0 written; 1 a log line could not be read as a record (named on stderr; the suggestion is still
// written), or nothing written: the policy, an input or the output could not be read or written; 2 usage.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatIssue, LeashError, PolicyInvalidError } from '../errors.js';
import { compileQuery } from '../audit/query.js';
import { auditInputs, MAX_LINE, readAuditInputs } from '../audit/read.js';
import { compilePolicy } from '../policy/load.js';
import { readPolicySources } from '../policy/read.js';
import { EvidenceBuilder, type SuggestRecord } from '../policy/suggest/evidence.js';
import { DEFAULT_SUGGEST_OPTIONS, proposePolicy } from '../policy/suggest/propose.js';
import { suggestionYaml } from '../policy/suggest/write.js';
import { defaultAuditPath, parseQuery } from './audit.js';
import type { CommandIo } from './io.js';
import { policyPaths } from './policy-paths.js';
import { progressBar } from './progress-bar.js';

export interface SuggestOptions {
  agent?: string[];
  since?: string;
  minRequests?: string;
  wildcardMin?: string;
  policy?: string[];
  output?: string;
}

export interface SuggestContext {
  /** Epoch ms for --since relative times (tests fix it). */
  readonly now?: number;
}

export async function suggestCommand(
  options: SuggestOptions,
  args: readonly string[],
  io: CommandIo,
  context: SuggestContext = {},
): Promise<number> {
  const minRequests = count(options.minRequests, '--min-requests', DEFAULT_SUGGEST_OPTIONS.minRequests, 1);
  const wildcardMin = count(options.wildcardMin, '--wildcard-min', DEFAULT_SUGGEST_OPTIONS.wildcardMin, 2);
  const query = compileQuery(parseQuery({ agent: options.agent, since: options.since }, context.now ?? Date.now()));
  const paths = policyPaths(options.policy);
  // A FILE inside --policy (re-running into policies/suggested.yaml) is what this run replaces: checked against it,
  // the new suggestion would leave out what the old one allowed, and writing it would take that away.
  const replaced = (file: string) =>
    options.output !== undefined && path.resolve(file) === path.resolve(options.output);
  const sources = (await readPolicySources(paths)).filter((source) => !replaced(source.file));
  if (sources.length === 0)
    throw new LeashError(
      'LEASH_USAGE',
      `-o ${options.output} is the whole policy given; write the suggestion beside it`,
    );
  const loaded = compilePolicy(sources);
  if (!loaded.policy) throw new PolicyInvalidError(loaded.issues);
  const { files } = await auditInputs(args, defaultAuditPath(io.env));

  const builder = new EvidenceBuilder();
  let problems = 0;
  const problem = (text: string) => {
    problems++;
    if (problems <= 10) io.err(`leash policy suggest: ${text}`);
  };
  const progress = progressBar(io, 'leash policy suggest');
  const started = performance.now();
  await readAuditInputs(
    files,
    (bytes, file, line, state) => {
      if (state === 'too_long') return problem(`${file}:${line}: line longer than ${MAX_LINE} bytes, skipped`);
      let record: unknown;
      try {
        record = JSON.parse(bytes.toString('utf8'));
      } catch {
        return problem(
          `${file}:${line}: ${state === 'unterminated' ? 'incomplete last line (no newline)' : 'not a JSON record'}, skipped`,
        );
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record))
        return problem(`${file}:${line}: not a JSON object, skipped`);
      if (query.matches(record as SuggestRecord)) builder.add(record as SuggestRecord);
    },
    { onChunk: progress },
  );
  progress.stop();
  const seconds = (performance.now() - started) / 1000;
  const evidence = builder.result();
  const suggestion = proposePolicy(evidence, loaded.policy, { minRequests, wildcardMin });
  const text = suggestionYaml(suggestion, {
    records: evidence.records,
    used: evidence.used,
    firstTime: evidence.firstTime,
    lastTime: evidence.lastTime,
    policy: paths,
  });

  // Fail closed: what is written must load beside the policy it was checked against.
  const outputName = options.output ?? '(suggested policy)';
  const check = compilePolicy([...sources, { file: outputName, text }]);
  if (!check.policy) {
    for (const issue of check.issues.filter((i) => i.severity === 'error')) io.err(formatIssue(issue));
    throw new LeashError(
      'LEASH_POLICY_INVALID',
      'the suggested policy does not load beside the policy (a bug in leash); nothing was written',
    );
  }
  if (options.output === undefined) io.out(text.replace(/\n$/, ''));
  else {
    try {
      await writeFile(options.output, text);
    } catch (err) {
      throw new LeashError(
        'LEASH_AUDIT',
        `cannot write ${options.output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { cause: err },
      );
    }
  }
  const proposed = suggestion.rules.filter((r) => !r.disabled).length;
  const rate = seconds > 0 ? Math.round(evidence.records / seconds) : evidence.records;
  io.err(
    `leash policy suggest: ${proposed} rule${proposed === 1 ? '' : 's'} proposed${suggestion.rules.length > proposed ? ` (${suggestion.rules.length - proposed} written disabled)` : ''}, ` +
      `${suggestion.notProposed.length} not proposed, from ${evidence.records} records in ${files.length} file${files.length === 1 ? '' : 's'} ` +
      `(${rate} records/s)${options.output ? `; wrote ${options.output}` : ''}`,
  );
  if (evidence.malformed > 0)
    io.err(
      `leash policy suggest: ${evidence.malformed} record${evidence.malformed === 1 ? '' : 's'} with fields leash does not write (host, agent, method, time) were not counted`,
    );
  if (evidence.notTracked > 0)
    io.err(
      `leash policy suggest: ${evidence.notTracked} records about hosts beyond the first 100000 host/port/agent combinations were not counted`,
    );
  if (problems > 10) io.err(`leash policy suggest: ${problems - 10} more unreadable lines not shown`);
  return problems > 0 ? 1 : 0;
}

function count(text: string | undefined, flag: string, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min)
    throw new LeashError('LEASH_USAGE', `${flag} needs a whole number of at least ${min}, got "${text}"`);
  return value;
}
