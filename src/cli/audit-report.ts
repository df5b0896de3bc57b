// `leash audit report [FILE|DIR]... [filters as for leash audit] [--policy PATH]... -o report.html`: one
// self-contained HTML page for a security review (report.ts gathers the figures, report-html.ts draws the page).
// One streamed pass over the inputs, in constant memory: every line goes to the chain verifier (the chain covers
// the whole log, so it is checked before filters), and every record that matches the filters to the report.
// The policy (default as for `leash check`) gives the rule names, to list the rules that no record names.
// Exit codes: 0 written; 1 written, but the hash chain is broken or a line could not be read as a record (named on
// stderr; the page says so at the top), or nothing written: an input, the policy or the output could not be read
// or written; 2 usage.

import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { LeashError } from '../errors.js';
import { compileQuery, type AuditLineRecord } from '../audit/query.js';
import { auditInputs, MAX_LINE, readAuditInputs } from '../audit/read.js';
import { chainStatus, ReportBuilder, type ReportData } from '../audit/report.js';
import { renderReport, type ReportAssets } from '../audit/report-html.js';
import { ChainVerifier, type LineAt } from '../audit/verify.js';
import { compilePolicy } from '../policy/load.js';
import { readPolicySources } from '../policy/read.js';
import { defaultAuditPath, parseQuery, type AuditOptions } from './audit.js';
import type { CommandIo } from './io.js';
import { policyPaths } from './policy-paths.js';
import { progressBar } from './progress-bar.js';

export interface ReportOptions extends AuditOptions {
  output?: string;
  policy?: string[];
}

const require = createRequire(import.meta.url);

/** uPlot's browser build and stylesheet, read from the installed package when the report is generated. */
export async function chartAssets(): Promise<ReportAssets> {
  const [chartJs, chartCss] = await Promise.all([
    readFile(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  ]);
  return { chartJs, chartCss };
}

function leashVersion(): string {
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The filters as given, for the page's header. */
function filterText(o: AuditOptions): string[] {
  const out: string[] = [];
  if (o.effect !== undefined) out.push(`--effect ${o.effect}`);
  for (const [flag, values] of [
    ['host', o.host],
    ['agent', o.agent],
    ['rule', o.rule],
    ['reason', o.reason],
  ] as const) {
    for (const v of values ?? []) out.push(`--${flag} ${v}`);
  }
  if (o.since !== undefined) out.push(`--since ${o.since}`);
  if (o.until !== undefined) out.push(`--until ${o.until}`);
  return out;
}

/** The rule names of the policy given (or the default one); undefined, with a note, when it cannot be loaded. */
async function policyRules(
  given: readonly string[] | undefined,
  io: CommandIo,
): Promise<{ rules: string[]; paths: string[] } | undefined> {
  const paths = policyPaths(given);
  const sources = await readPolicySources(paths);
  const result = compilePolicy(sources);
  if (!result.policy) {
    const errors = result.issues.filter((i) => i.severity === 'error').length;
    if (given && given.length > 0)
      throw new LeashError(
        'LEASH_POLICY_INVALID',
        `${paths.join(', ')}: ${errors} error${errors === 1 ? '' : 's'}; run leash check`,
      );
    io.err(
      `leash audit report: note: the default policy (${paths.join(', ')}) has errors; "rules never hit" is left out`,
    );
    return undefined;
  }
  return { rules: result.policy.rules.map((r) => r.name), paths };
}

export interface ReportRun {
  readonly data: ReportData;
  readonly html: string;
  readonly problems: number;
}

/** Reads the inputs and builds the page; the command writes it. Exposed for tests and the benchmark. */
export async function buildReport(
  options: ReportOptions,
  args: readonly string[],
  io: CommandIo,
  now: number = Date.now(),
): Promise<ReportRun> {
  const query = parseQuery(options, now);
  const compiled = compileQuery(query);
  // Policy reloads belong on the timeline whatever agent, host or effect is asked for: only the time window applies.
  const policyWindow = compileQuery({ since: query.since, until: query.until });
  const policy = await policyRules(options.policy, io);
  const { files } = await auditInputs(args, defaultAuditPath(io.env));
  const verifier = new ChainVerifier();
  const builder = new ReportBuilder();
  let matched = 0;
  let problems = 0;
  const problem = (text: string) => {
    problems++;
    if (problems <= 10) io.err(`leash audit report: ${text}`);
  };
  // The seq of the last two lines, to name the seq where the chain breaks: verify names a gap one line late.
  let previous: { file: string; line: number; seq: number | null } | undefined;
  let current: { file: string; line: number; seq: number | null } | undefined;
  let brokenAtSeq: number | null = null;
  const seqAt = (at: LineAt): number | null =>
    [current, previous].find((l) => l !== undefined && l.file === at.file && l.line === at.line)?.seq ?? null;
  const progress = progressBar(io, 'leash audit report', () => `, ${matched.toLocaleString('en-US')} matched`);
  try {
    await readAuditInputs(
      files,
      (bytes, file, line, state) => {
        let record: unknown;
        let readable = false;
        if (state !== 'too_long') {
          try {
            record = JSON.parse(bytes.toString('utf8'));
            readable = typeof record === 'object' && record !== null && !Array.isArray(record);
          } catch {
            // named below, after the chain has seen the line
          }
        }
        previous = current;
        current = {
          file,
          line,
          seq:
            readable && typeof (record as { seq?: unknown }).seq === 'number' ? (record as { seq: number }).seq : null,
        };
        if (!verifier.failed) {
          if (state === 'too_long') verifier.add(Buffer.from('not json'), { file, line });
          else verifier.add(bytes, { file, line }, state === 'complete');
          const finding = verifier.failed ? verifier.finish().finding : undefined;
          if (finding) brokenAtSeq = seqAt(finding.at);
        }
        if (state === 'too_long') return problem(`${file}:${line}: line longer than ${MAX_LINE} bytes, skipped`);
        if (record === undefined)
          return problem(
            `${file}:${line}: ${state === 'unterminated' ? 'incomplete last line (no newline)' : 'not a JSON record'}, skipped`,
          );
        if (!readable) return problem(`${file}:${line}: not a JSON object, skipped`);
        if (
          !((record as AuditLineRecord).event === 'policy' ? policyWindow : compiled).matches(record as AuditLineRecord)
        )
          return;
        matched++;
        builder.add(record as AuditLineRecord);
      },
      { onChunk: progress },
    );
  } finally {
    progress.stop();
  }
  if (problems > 10) io.err(`leash audit report: ${problems - 10} more unreadable lines not shown`);
  const verified = verifier.finish();
  // A gap at the very end is found only now.
  if (verified.finding && brokenAtSeq === null) brokenAtSeq = seqAt(verified.finding.at);
  const data = builder.result(chainStatus(verified, brokenAtSeq), policy?.rules);
  const html = renderReport(
    data,
    {
      generatedAt: new Date(now).toISOString(),
      inputs: files.map((f) => f.path),
      filters: filterText(options),
      policy: policy?.paths ?? null,
      version: leashVersion(),
    },
    await chartAssets(),
  );
  return { data, html, problems };
}

export async function reportCommand(
  options: ReportOptions,
  args: readonly string[],
  io: CommandIo,
  now?: number,
): Promise<number> {
  if (options.format !== undefined || options.summary || options.follow) {
    throw new LeashError(
      'LEASH_USAGE',
      'audit report takes the filters of leash audit, not --format, --summary or --follow',
    );
  }
  if (!options.output)
    throw new LeashError('LEASH_USAGE', 'audit report needs -o FILE.html (where to write the report)');
  const { data, html, problems } = await buildReport(options, args, io, now);
  try {
    await writeFile(options.output, html);
  } catch (err) {
    throw new LeashError(
      'LEASH_AUDIT',
      `cannot write ${options.output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { cause: err },
    );
  }
  io.out(
    `wrote ${options.output}: ${data.records} records, ${data.agents.length} agent${data.agents.length === 1 ? '' : 's'}; ${data.chain.state === 'verified' ? 'hash chain verified' : data.chain.message}`,
  );
  if (problems > 0)
    io.err(
      `leash audit report: ${problems} line${problems === 1 ? '' : 's'} could not be read as records; run \`leash audit verify\` on the same files`,
    );
  return problems > 0 || data.chain.state === 'broken' ? 1 : 0;
}
