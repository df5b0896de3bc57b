// `leash scopes list [--agent NAME] [--scope NAME] [--format table|json]` shows the open sandbox-scope accesses of
// a running leash with their expiry; `leash scopes revoke [--agent NAME] [--scope NAME] [--host HOST[:PORT]] |
// --all` ends them (audited as scope_revoked). Both go through the control API (control-call.ts).

import { terminalSafe } from '../audit/format.js';
import { LeashError } from '../errors.js';
import { splitAuthority } from '../policy/host.js';
import { control, table, until, type EndpointOptions } from './control-call.js';
import type { CommandIo } from './io.js';

export interface ScopesOptions extends EndpointOptions {
  agent?: string;
  scope?: string;
  host?: string;
  all?: boolean;
  format?: string;
}

interface AccessJson {
  scope: string;
  agent: string;
  host: string;
  port: number;
  openedAt: string;
  expiresAt: string;
  openedBy: { requestId: string; method: string; path: string | null };
}

export async function scopesCommand(action: 'list' | 'revoke', options: ScopesOptions, io: CommandIo): Promise<number> {
  const format = options.format ?? 'table';
  if (format !== 'table' && format !== 'json')
    throw new LeashError('LEASH_USAGE', `--format must be table or json, got "${format}"`);
  if (action === 'list') {
    const query = new URLSearchParams();
    if (options.agent) query.set('agent', options.agent);
    if (options.scope) query.set('scope', options.scope);
    const reply = await control(options, io, 'GET', `/v1/scopes${query.size ? `?${query}` : ''}`);
    const accesses = (reply.body as { accesses: AccessJson[] }).accesses;
    print(accesses, format, io, 'no open scope accesses');
    return 0;
  }
  const body: Record<string, unknown> = {};
  if (options.agent) body.agent = options.agent;
  if (options.scope) body.scope = options.scope;
  if (options.host) {
    const authority = splitAuthority(options.host);
    if (authority && /:\d+$/.test(options.host)) Object.assign(body, { host: authority.host, port: authority.port });
    else body.host = options.host;
  }
  if (options.all) body.all = true;
  if (Object.keys(body).length === 0)
    throw new LeashError('LEASH_USAGE', 'say which accesses to end: --agent, --scope, --host HOST[:PORT], or --all');
  const reply = await control(options, io, 'POST', '/v1/scopes/revoke', body);
  const revoked = (reply.body as { revoked: AccessJson[] }).revoked;
  if (format === 'json') io.out(JSON.stringify(revoked));
  else io.err(`revoked ${revoked.length} access${revoked.length === 1 ? '' : 'es'}`);
  if (format === 'table' && revoked.length > 0) print(revoked, format, io, '');
  return 0;
}

function print(accesses: AccessJson[], format: string, io: CommandIo, empty: string): void {
  if (format === 'json') return io.out(JSON.stringify(accesses));
  if (accesses.length === 0) return io.err(empty);
  const now = Date.now();
  const rows = accesses.map((a) =>
    [
      a.scope,
      a.agent,
      `${a.host}:${a.port}`,
      a.openedAt,
      `${a.expiresAt} (${until(a.expiresAt, now)})`,
      `${a.openedBy.method} ${a.openedBy.requestId}`,
    ].map(terminalSafe),
  );
  for (const line of table(['SCOPE', 'AGENT', 'HOST', 'OPENED', 'EXPIRES', 'OPENED BY'], rows)) io.out(line);
}
