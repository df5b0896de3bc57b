// How `leash audit` prints records and summaries: an aligned table for a terminal, CSV for spreadsheets, and the
// summary as text. Every string in a record came from the agent's traffic or from whoever can write the log, so:
// the table shows control characters, C1 controls and bidirectional overrides as visible escapes (an escape sequence
// in a path must not repaint the reviewer's terminal, and a bidi override must not make a host read as another),
// and CSV cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR) get a leading apostrophe.
// PURE: no I/O, no clock, no module state; the table writer holds only its first rows, to size the columns.

import type { AgentSummary, AuditLineRecord, AuditSummary, ScopeSummary } from './query.js';

const str = (value: unknown): string =>
  typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value);

// C0 controls, DEL, C1 controls, and the Unicode bidi embeddings, overrides and isolates (Trojan Source).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

/** `text` with every character that could alter a terminal's display replaced by a visible `\xNN` or `\u{NNNN}`. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

// ---- table ----

export const TABLE_HEADER = [
  'TIME',
  'AGENT',
  'EFFECT',
  'METHOD',
  'HOST',
  'PATH',
  'RULE',
  'REASON',
  'STATUS',
  'OUT/IN',
] as const;
/** Longest path shown in the table (the rest is cut with …; --format json has it whole). */
export const TABLE_PATH_WIDTH = 48;
/** Rows held to size the columns before the first line is printed. */
const SIZING_ROWS = 100;
/** Widest a column is sized; a longer cell overflows its own line. */
const MAX_COLUMN = TABLE_PATH_WIDTH;

export function tableCells(r: AuditLineRecord): string[] {
  const hostPort =
    r.host === null || r.host === undefined
      ? '-'
      : `${str(r.host)}${typeof r.port === 'number' && r.port !== 80 && r.port !== 443 ? `:${r.port}` : ''}`;
  const effect = `${str(r.effect) || '-'}${r.wouldDeny === true ? '*' : ''}`;
  let path = str(r.path) || (r.event === 'tunnel' ? '(tunnel)' : '-');
  if (path.length > TABLE_PATH_WIDTH) path = `${path.slice(0, TABLE_PATH_WIDTH - 1)}…`;
  return [
    str(r.time) || '-',
    str(r.agent) || '-',
    effect,
    str(r.method) || (r.event === 'policy' ? 'POLICY' : '-'),
    hostPort,
    path,
    str(r.rule) || '-',
    str(r.reason) || '-',
    r.status === null || r.status === undefined ? '-' : str(r.status),
    `${humanBytes(r.bytesOut)}/${humanBytes(r.bytesIn)}`,
  ].map(terminalSafe);
}

/**
 * Streams table rows: the first SIZING_ROWS rows (or all, if fewer, at end()) fix the column widths; later rows
 * that are wider push their own line out of alignment rather than lose characters. Constant memory after that.
 */
export class TableWriter {
  private widths: number[] | undefined;
  private held: string[][] = [];

  constructor(private readonly emit: (line: string) => void) {}

  row(cells: string[]): void {
    if (this.widths) this.emit(this.format(cells));
    else {
      this.held.push(cells);
      if (this.held.length >= SIZING_ROWS) this.release();
    }
  }

  /** Prints what is held (call at the end of input, or when a follow catches up). */
  release(): void {
    if (this.widths) return;
    const rows = [[...TABLE_HEADER], ...this.held];
    this.widths = TABLE_HEADER.map((_, i) =>
      Math.min(MAX_COLUMN, Math.max(...rows.map((row) => displayWidth(row[i] ?? '')))),
    );
    for (const row of rows) this.emit(this.format(row));
    this.held = [];
  }

  private format(cells: readonly string[]): string {
    const widths = this.widths as number[];
    return cells
      .map((cell, i) =>
        i === cells.length - 1 ? cell : cell + ' '.repeat(Math.max(0, (widths[i] ?? 0) - displayWidth(cell))),
      )
      .join('  ')
      .trimEnd();
  }
}

function displayWidth(text: string): number {
  return [...text].length;
}

export function humanBytes(value: unknown): string {
  const n = typeof value === 'number' && Number.isFinite(value) ? value : 0;
  if (n < 1024) return String(n);
  const units = ['K', 'M', 'G', 'T'];
  let v = n;
  let unit = '';
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}${unit}`;
}

// ---- CSV (RFC 4180) ----

export const CSV_COLUMNS = [
  'time',
  'seq',
  'id',
  'event',
  'agent',
  'identity',
  'effect',
  'wouldDeny',
  'method',
  'scheme',
  'host',
  'port',
  'path',
  'rule',
  'reason',
  'status',
  'bytesOut',
  'bytesIn',
  'durationMs',
  'resolved',
  'sni',
  'policyRevision',
  'userAgent',
  'client',
  'message',
] as const;

export function csvHeader(): string {
  return CSV_COLUMNS.join(',');
}

export function csvLine(r: AuditLineRecord): string {
  return CSV_COLUMNS.map((column) => {
    const value = r[column];
    if (value === undefined || value === null) return '';
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (column === 'client' && typeof value === 'object') {
      const c = value as { address?: unknown; port?: unknown };
      return csvCell(`${str(c.address)}${c.port === undefined ? '' : `:${str(c.port)}`}`);
    }
    return csvCell(typeof value === 'string' ? value : JSON.stringify(value));
  }).join(',');
}

function csvCell(text: string): string {
  // OWASP CSV injection: a cell a spreadsheet would evaluate starts with one of these.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

// ---- summary ----

export function summaryText(s: AuditSummary): string[] {
  const lines: string[] = [];
  const span = s.firstTime ? `${s.firstTime} to ${s.lastTime}` : 'no times';
  lines.push(`${s.records} record${s.records === 1 ? '' : 's'}, ${span}`);
  for (const a of s.agents) lines.push('', ...agentText(a));
  if (s.lockdowns.length > 0) {
    lines.push('', `lockdowns switched (${s.lockdowns.length}):`);
    for (const l of s.lockdowns)
      lines.push(
        `  ${l.time ?? '-'}  ${l.on ? 'on ' : 'off'}  ${l.agent === '*' ? 'every agent' : `agent ${terminalSafe(l.agent)}`}  by ${terminalSafe(l.by)}${l.reason ? `: ${terminalSafe(l.reason)}` : ''}`,
      );
  }
  for (const scope of s.scopes) lines.push('', ...scopeText(scope));
  if (s.approvals.length > 0 || s.approvalsNotTracked > 0) lines.push('', ...approvalsText(s));
  lines.push(
    '',
    `policy revisions seen (${s.revisions.length}); reloads ${s.policyReloads}, rejected ${s.policyRejected}`,
  );
  for (const r of s.revisions)
    lines.push(`  ${terminalSafe(r.revision)}  ${r.records} records  ${r.firstSeen ?? '-'} to ${r.lastSeen ?? '-'}`);
  return lines;
}

function agentText(a: AgentSummary): string[] {
  const lines = [
    `agent ${terminalSafe(a.agent)}`,
    `  requests ${a.requests}: allowed ${a.allowed}, denied ${a.denied}${a.wouldDeny > 0 ? `, would deny ${a.wouldDeny} (report mode)` : ''}`,
    `  rate-limited ${a.rateLimited}; grants issued ${a.grantsIssued}, used ${a.grantsUsed}${a.lockdownRefused > 0 ? `; refused or cut by lockdown ${a.lockdownRefused}` : ''}`,
    `  bytes out ${a.bytesOut} (${humanBytes(a.bytesOut)}), in ${a.bytesIn} (${humanBytes(a.bytesIn)})`,
  ];
  if (a.topDeniedHosts.length > 0) {
    lines.push('  top denied hosts:');
    const width = Math.max(...a.topDeniedHosts.map((h) => String(h.count).length));
    for (const h of a.topDeniedHosts) lines.push(`    ${String(h.count).padStart(width)}  ${terminalSafe(h.host)}`);
  }
  if (a.bytesOutByHost.length > 0) {
    lines.push('  bytes out by host:');
    const width = Math.max(...a.bytesOutByHost.map((h) => String(h.bytesOut).length));
    for (const h of a.bytesOutByHost)
      lines.push(
        `    ${String(h.bytesOut).padStart(width)}  ${terminalSafe(h.host)}  (${h.requests} request${h.requests === 1 ? '' : 's'})`,
      );
  }
  if (a.recordsNotTracked > 0)
    lines.push(`  (${a.recordsNotTracked} records about further hosts are counted above but not listed by host)`);
  return lines;
}

/** Per scope, the hosts it opened, for whom, and what was sent: the list a reviewer reads before promoting a host. */
function scopeText(scope: ScopeSummary): string[] {
  const opened = scope.hosts.filter((h) => h.opened > 0).length;
  const lines = [`scope ${terminalSafe(scope.scope)}: ${opened} host${opened === 1 ? '' : 's'} opened`];
  for (const h of scope.hosts) {
    const where = `${h.host}${h.port === null ? '' : `:${h.port}`}`;
    const extra = [
      h.refusedFull > 0 ? `refused scope_full ${h.refusedFull}` : '',
      h.revoked > 0 ? `revoked ${h.revoked}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    const first = h.firstOpened
      ? `first opened ${h.firstOpened} by request ${h.openedBy ?? '?'}`
      : 'not opened in this period';
    lines.push(
      terminalSafe(
        `  ${where}  agent ${h.agent}  ${first}; ${h.requests} request${h.requests === 1 ? '' : 's'}, bytes out ${h.bytesOut} (${humanBytes(h.bytesOut)})${extra ? `; ${extra}` : ''}`,
      ),
    );
  }
  if (scope.recordsNotTracked > 0)
    lines.push(`  (${scope.recordsNotTracked} records about further hosts are not listed)`);
  return lines;
}

function approvalsText(s: AuditSummary): string[] {
  const lines = [`approvals (${s.approvals.length})`];
  for (const a of s.approvals) {
    const where = `${a.host}${a.port === null ? '' : `:${a.port}`}`;
    const answers =
      a.decisions.length === 0
        ? 'no answer'
        : a.decisions.map((d) => `${d.grant} by ${d.by}${d.rule ? ` (rule ${d.rule})` : ''}`).join(', then ');
    const used = `${a.approvedRequests} approved request${a.approvedRequests === 1 ? '' : 's'} (bytes out ${a.bytesOut})`;
    lines.push(
      terminalSafe(
        `  ${a.id}  agent ${a.agent}  ${where}  asked ${a.requestedAt ?? '-'}; refused pending ${a.pendingRefusals}; ${answers}; ${used}${a.deniedRequests > 0 ? `; refused denied ${a.deniedRequests}` : ''}`,
      ),
    );
  }
  if (s.approvalsNotTracked > 0)
    lines.push(`  (${s.approvalsNotTracked} records about further approvals are not listed)`);
  return lines;
}
