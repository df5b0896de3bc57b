// `leash audit [FILE|DIR]... [filters] [--format table|json|csv] [--summary] [--follow]`: read the audit log as a
// reviewer: filter it, print it for a terminal, a pipe or a spreadsheet, sum it up per agent, or tail it.
// `leash audit verify [FILE]...`: check the hash chain and name the first record that breaks it (exit 1).
// Input: the FILEs and DIRs given, else $LEASH_AUDIT (the path `leash serve --audit` writes when it is set), else
// ./leash-audit.log, each with its rotated siblings; read in time order, streamed, in constant memory.
// Exit codes: 0 done; 1 a line could not be read as a record (it is named on stderr), or verify found a break;
// 2 usage.

import { once } from 'node:events';
import { LeashError } from '../errors.js';
import { AUDIT_REASONS, REASONS } from '../proxy/reasons.js';
import { csvHeader, csvLine, summaryText, TableWriter, tableCells } from '../audit/format.js';
import { compileQuery, parseTimeBound, SummaryBuilder, type AuditLineRecord, type AuditQuery } from '../audit/query.js';
import { auditInputs, followFile, MAX_LINE, readAuditInputs, type LineState } from '../audit/read.js';
import { ChainVerifier, formatAt } from '../audit/verify.js';
import { defaultAuditPath } from './audit-path.js';
import { processIo, type CommandIo } from './io.js';
import { progressBar, type ProgressBar } from './progress-bar.js';

export { DEFAULT_AUDIT_FILE, defaultAuditPath } from './audit-path.js';

export interface AuditOptions {
  effect?: string;
  host?: string[];
  agent?: string[];
  rule?: string[];
  reason?: string[];
  since?: string;
  until?: string;
  format?: string;
  summary?: boolean;
  follow?: boolean;
  /** With --follow: print what the log already holds before following it (default: only new records). */
  fromStart?: boolean;
}

/** What a caller other than the command line provides: a way to stop --follow, a clock, output back-pressure. */
export interface AuditContext {
  readonly signal?: AbortSignal;
  readonly now?: number;
  readonly followPollMs?: number;
  /** --follow: the live file is open and its starting point fixed (tests wait for it). */
  readonly onFollowing?: () => void;
  /** Resolves when the output can take more (stdout's 'drain'); undefined when it can now. */
  readonly outputDrained?: () => Promise<void> | undefined;
}

/** The command-line entry: `verify` dispatch, and SIGINT/SIGTERM/EPIPE ending --follow or a long read cleanly. */
export async function auditCli(
  values: AuditOptions & { output?: string; policy?: string[] },
  positionals: string[],
  io: CommandIo,
): Promise<number> {
  if (positionals[0] === 'report')
    return (await import('./audit-report.js')).reportCommand(values, positionals.slice(1), io);
  if (values.output !== undefined || values.policy !== undefined)
    throw new LeashError('LEASH_USAGE', '-o/--output and --policy are for leash audit report');
  if (positionals[0] === 'verify') {
    const filters = Object.keys(values);
    if (filters.length > 0) throw new LeashError('LEASH_USAGE', `audit verify takes only files, got --${filters[0]}`);
    return verifyCommand(positionals.slice(1), io);
  }
  if (io !== processIo) return auditCommand(values, positionals, io);
  const controller = new AbortController();
  const stop = () => controller.abort();
  // `leash audit | head`: the reader went away (EPIPE); stop reading rather than die on the unhandled error.
  const onStdoutError = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.on('error', onStdoutError);
  try {
    return await auditCommand(values, positionals, io, {
      signal: controller.signal,
      outputDrained: () =>
        process.stdout.writableNeedDrain ? once(process.stdout, 'drain').then(() => undefined) : undefined,
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.stdout.off('error', onStdoutError);
  }
}

type Format = 'table' | 'json' | 'csv';

export async function auditCommand(
  options: AuditOptions,
  args: readonly string[],
  io: CommandIo,
  context: AuditContext = {},
): Promise<number> {
  const format = parseFormat(options.format);
  if (options.fromStart && !options.follow) throw new LeashError('LEASH_USAGE', '--from-start applies to --follow');
  if (options.summary && options.follow)
    throw new LeashError(
      'LEASH_USAGE',
      '--summary and --follow cannot be combined (a summary needs the end of the log)',
    );
  if (options.summary && format === 'csv')
    throw new LeashError('LEASH_USAGE', '--summary prints as table (text) or json, not csv');
  const query = parseQuery(options, context.now ?? Date.now());
  for (const reason of query.reasons ?? []) {
    if (!(reason in REASONS) && !(reason in AUDIT_REASONS))
      io.err(`leash audit: note: "${reason}" is not a reason code leash writes (see the README's reason table)`);
  }
  const compiled = compileQuery(query);
  const needles = compiled.needles.map((n) => Buffer.from(n));
  const { files, live } = await auditInputs(args, defaultAuditPath(io.env));
  if (options.follow && (live === undefined || files.find((f) => f.path === live)?.gzip)) {
    throw new LeashError(
      'LEASH_USAGE',
      '--follow needs a plain (not compressed) live file: the default path, one FILE, or a DIR',
    );
  }

  let pending: string[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    io.progress?.('');
    io.out(pending.join('\n'));
    pending = [];
    await context.outputDrained?.();
  };
  const table = format === 'table' && !options.summary ? new TableWriter((line) => pending.push(line)) : undefined;
  const summary = options.summary ? new SummaryBuilder() : undefined;
  if (format === 'csv') pending.push(csvHeader());

  let matched = 0;
  let problems = 0;
  const problem = (text: string) => {
    problems++;
    if (problems <= 10) io.err(`leash audit: ${text}`);
  };
  const onLine = (bytes: Buffer, file: string, line: number, state: LineState) => {
    if (state === 'too_long') return problem(`${file}:${line}: line longer than ${MAX_LINE} bytes, skipped`);
    // Fast path: a line without escapes that lacks a required value cannot match (query.ts, `needles`).
    if (needles.length > 0 && state === 'complete' && bytes.indexOf(0x5c) < 0) {
      for (const needle of needles) if (bytes.indexOf(needle) < 0) return;
    }
    const text = bytes.toString('utf8');
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch {
      return problem(
        `${file}:${line}: ${state === 'unterminated' ? 'incomplete last line (no newline)' : 'not a JSON record'}, skipped`,
      );
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record))
      return problem(`${file}:${line}: not a JSON object, skipped`);
    if (!compiled.matches(record as AuditLineRecord)) return;
    matched++;
    if (summary) summary.add(record as AuditLineRecord);
    else if (table) table.row(tableCells(record as AuditLineRecord));
    else if (format === 'csv') pending.push(csvLine(record as AuditLineRecord));
    else pending.push(text);
    if (pending.length >= 1024) {
      io.progress?.('');
      io.out(pending.join('\n'));
      pending = [];
    }
  };

  const progress = progressReporter(io, () => matched);
  // --follow starts at the end of the live file, so an alerting pipe restarted does not re-alert old events;
  // --from-start prints what the log (and its rotated siblings) already hold first.
  const readFirst = options.follow ? (options.fromStart ? files.filter((f) => f.path !== live) : []) : files;
  await readAuditInputs(readFirst, onLine, {
    signal: context.signal,
    onChunk: async (p) => {
      progress(p);
      await flush();
    },
  });
  if (options.follow && live !== undefined && !context.signal?.aborted) {
    await followFile(live, onLine, {
      signal: context.signal ?? new AbortController().signal,
      pollMs: context.followPollMs,
      onChunk: () => {
        table?.release();
        void flush();
      },
      note: (text) => io.err(`leash audit: ${text}`),
      fromEnd: !options.fromStart,
      onOpen: context.onFollowing,
    });
  }
  table?.release();
  if (summary) {
    const result = summary.result();
    if (format === 'json') pending.push(JSON.stringify(result, null, 2));
    else pending.push(...summaryText(result));
  }
  await flush();
  progress.stop();
  if (problems > 10) io.err(`leash audit: ${problems - 10} more unreadable lines not shown`);
  if (problems > 0)
    io.err(
      `leash audit: ${problems} line${problems === 1 ? '' : 's'} could not be read as records; run \`leash audit verify\` on the same files`,
    );
  return problems > 0 ? 1 : 0;
}

export async function verifyCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const { files } = await auditInputs(args, defaultAuditPath(io.env));
  const verifier = new ChainVerifier();
  const progress = progressReporter(io, () => 0);
  const controller = new AbortController();
  await readAuditInputs(
    files,
    (bytes, file, line, state) => {
      if (state === 'too_long') verifier.add(Buffer.from('not json'), { file, line });
      else verifier.add(bytes, { file, line }, state === 'complete');
      if (verifier.failed) controller.abort();
    },
    { signal: controller.signal, onChunk: progress },
  );
  progress.stop();
  const result = verifier.finish();
  const fileCount = `${files.length} file${files.length === 1 ? '' : 's'}`;
  if (result.finding) {
    io.out(result.finding.message);
    io.out(`verify: FAILED after ${result.records} records in ${fileCount}`);
    return 1;
  }
  if (!result.head) {
    io.out(`ok: no records in ${fileCount}`);
    return 0;
  }
  const first = result.startsAt ?? 1;
  io.out(`ok: ${result.records} records in ${fileCount}, seq ${first}..${result.head.seq}, chain intact`);
  io.out(`head: seq ${result.head.seq} sha256 ${result.head.hash} (${formatAt(result.head.at)})`);
  if (result.startsAt !== undefined)
    io.out(
      `note: the first record is seq ${result.startsAt}; records before it are not in these files (rotated out or deleted), so its prev cannot be checked`,
    );
  for (const at of result.chainStarts)
    io.out(
      `note: a new chain starts at ${formatAt(at)} (leash started without the previous file, or another log follows)`,
    );
  return 0;
}

function parseFormat(format: string | undefined): Format {
  if (format === undefined) return 'table';
  if (format === 'table' || format === 'json' || format === 'csv') return format;
  throw new LeashError('LEASH_USAGE', `--format needs table, json or csv, got "${format}"`);
}

export function parseQuery(options: AuditOptions, now: number): AuditQuery {
  if (options.effect !== undefined && options.effect !== 'allow' && options.effect !== 'deny') {
    throw new LeashError('LEASH_USAGE', `--effect needs allow or deny, got "${options.effect}"`);
  }
  const since = options.since === undefined ? undefined : parseTimeBound(options.since, now, 'since');
  const until = options.until === undefined ? undefined : parseTimeBound(options.until, now, 'until');
  if (since !== undefined && until !== undefined && since >= until)
    throw new LeashError(
      'LEASH_USAGE',
      `--since (${new Date(since).toISOString()}) is not before --until (${new Date(until).toISOString()})`,
    );
  return {
    effect: options.effect,
    hosts: options.host,
    agents: options.agent,
    rules: options.rule,
    reasons: options.reason,
    since,
    until,
  };
}

/** Progress on a terminal (progress-bar.ts): how far through the input, records read and matched. */
function progressReporter(io: CommandIo, matched: () => number): ProgressBar {
  return progressBar(io, 'leash audit', () => `, ${matched().toLocaleString('en-US')} matched`);
}
