// `leash approvals list [--format table|json]`, `leash approvals allow ID [--once | --for 1h | --always]` and
// `leash approvals deny ID`: answering the questions leash asked for the agents under settings.approvals, through
// the control API of the running leash (control-call.ts). Every answer is audited there (approval_decided).

import { terminalSafe } from '../audit/format.js';
import { LeashError } from '../errors.js';
import { control, table, until, type EndpointOptions } from './control-call.js';
import type { CommandIo } from './io.js';

export interface ApprovalsOptions extends EndpointOptions {
  once?: boolean;
  for?: string;
  always?: boolean;
  format?: string;
}

interface ApprovalJson {
  id: string;
  agent: string;
  host: string;
  port: number;
  first: { requestId: string; method: string; path: string | null };
  requests: number;
  state: string;
  grant: string | null;
  expiresAt: string;
  decidedBy: string | null;
}

export async function approvalsCommand(
  action: 'list' | 'allow' | 'deny',
  id: string | undefined,
  options: ApprovalsOptions,
  io: CommandIo,
): Promise<number> {
  if (action === 'list') {
    const format = options.format ?? 'table';
    if (format !== 'table' && format !== 'json')
      throw new LeashError('LEASH_USAGE', `--format must be table or json, got "${format}"`);
    const approvals = ((await control(options, io, 'GET', '/v1/approvals')).body as { approvals: ApprovalJson[] })
      .approvals;
    if (format === 'json') {
      io.out(JSON.stringify(approvals));
      return 0;
    }
    if (approvals.length === 0) {
      io.err('no approvals in force');
      return 0;
    }
    const now = Date.now();
    const rows = approvals.map((a) =>
      [
        a.id,
        a.state + (a.grant ? ` (${a.grant})` : ''),
        a.agent,
        `${a.host}:${a.port}`,
        `${a.first.method} ${a.first.path ?? ''}`.trim(),
        String(a.requests),
        until(a.expiresAt, now),
        a.decidedBy ?? '-',
      ].map(terminalSafe),
    );
    for (const line of table(['ID', 'STATE', 'AGENT', 'HOST', 'FIRST', 'REQUESTS', 'EXPIRES', 'BY'], rows))
      io.out(line);
    return 0;
  }
  if (!id || !/^[a-z0-9]{1,32}$/.test(id))
    throw new LeashError(
      'LEASH_USAGE',
      `approvals ${action} needs the approval's ID (leash approvals list shows them)`,
    );
  const route = `/v1/approvals/${id}/${action}`;
  if (action === 'deny') {
    const reply = await control(options, io, 'POST', route, {});
    const a = (reply.body as { approval: ApprovalJson }).approval;
    io.out(
      `denied ${a.id}: agent ${terminalSafe(a.agent)} to ${terminalSafe(a.host)}:${a.port} is refused until ${a.expiresAt}`,
    );
    return 0;
  }
  const chosen = [options.once, options.for !== undefined, options.always].filter(Boolean).length;
  if (chosen > 1) throw new LeashError('LEASH_USAGE', 'give one of --once, --for DURATION, --always');
  const body = options.always
    ? { grant: 'always' }
    : options.for !== undefined
      ? { grant: 'for', for: options.for }
      : { grant: 'once' };
  const reply = await control(options, io, 'POST', route, body);
  const answer = reply.body as { approval: ApprovalJson; file?: string; rule?: string; reloaded?: boolean };
  const a = answer.approval;
  const what = `agent ${terminalSafe(a.agent)} to ${terminalSafe(a.host)}:${a.port}`;
  if (a.grant === 'once') io.out(`allowed ${a.id} once: the next request of ${what} goes through`);
  else if (a.grant === 'for') io.out(`allowed ${a.id}: ${what} until ${a.expiresAt}`);
  else {
    io.out(`allowed ${a.id} always: rule ${answer.rule} written to ${answer.file}`);
    if (answer.reloaded) io.out('policy reloaded: the rule is in force');
    else
      io.err(
        "leash: the rule was written, but the reload did not put it in force (see leash serve's stderr); the approval allows the requests meanwhile",
      );
  }
  return 0;
}
