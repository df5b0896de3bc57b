// `leash lockdown on [--agent NAME]... [--reason TEXT]`, `leash lockdown off [--agent NAME]...`,
// `leash lockdown status`: the kill switch. Talks to the running leash through its control API (--control PATH,
// --admin URL or $LEASH_ADMIN, else the default socket); the running leash refuses the locked agents' new requests
// and cuts what they have open, within a second, on every replica sharing its store. Without --agent: every agent.
// Exit 0 when leash did it; 1 when leash is not running there or refused the call (one line on stderr saying which).

import { callControl, controlEndpoint, defaultControlPath, replyError } from '../control/client.js';
import { LeashError } from '../errors.js';
import { defaultAuditPath } from './audit-path.js';
import type { CommandIo } from './io.js';

export interface LockdownFlags {
  agent?: string[];
  reason?: string;
  control?: string;
  admin?: string;
}

interface EntryView {
  reason: string;
  by: string;
  since: string;
}

interface StateView {
  store: string;
  all: EntryView | null;
  agents: Record<string, EntryView>;
  stored?: boolean;
  warnings?: string[];
}

export async function lockdownCommand(
  action: 'on' | 'off' | 'status',
  flags: LockdownFlags,
  io: CommandIo,
): Promise<number> {
  if (action === 'status' && (flags.agent || flags.reason !== undefined))
    throw new LeashError('LEASH_USAGE', 'lockdown status takes no --agent or --reason');
  if (action === 'off' && flags.reason !== undefined)
    throw new LeashError('LEASH_USAGE', 'lockdown off takes no --reason');
  const endpoint = controlEndpoint(flags, io.env, defaultControlPath(defaultAuditPath(io.env), process.getuid?.()));
  const body =
    action === 'status'
      ? undefined
      : {
          ...(flags.agent ? { agents: flags.agent } : {}),
          ...(flags.reason !== undefined ? { reason: flags.reason } : {}),
        };
  const reply =
    action === 'status'
      ? await callControl(endpoint, 'GET', '/v1/lockdown')
      : await callControl(endpoint, 'POST', `/v1/lockdown/${action}`, body);
  if (reply.status !== 200) throw new LeashError('LEASH_CONTROL', `lockdown ${action}: ${replyError(reply)}`);
  const state = reply.body as StateView;
  if (action === 'on') {
    const whom = flags.agent ? `agent${flags.agent.length > 1 ? 's' : ''} ${flags.agent.join(', ')}` : 'every agent';
    io.out(
      `lockdown on: ${whom}: new requests are refused (403 lockdown), open connections were cut${state.stored === false ? ' (this replica only, for now)' : ''}`,
    );
  } else if (action === 'off') {
    io.out(
      `lockdown off: ${flags.agent ? `agent${flags.agent.length > 1 ? 's' : ''} ${flags.agent.join(', ')}` : 'every lockdown lifted'}`,
    );
  }
  for (const line of describe(state)) io.out(line);
  for (const warning of state.warnings ?? []) io.err(`leash lockdown: warning: ${warning}`);
  return 0;
}

/** The state, one line per lockdown; terminal-safe (reason texts come from operators, but print what we know). */
function describe(state: StateView): string[] {
  const safe = (text: string) => text.replace(/[\p{Cc}\p{Cf}]/gu, '?');
  const line = (who: string, e: EntryView) => `  ${who}: since ${e.since}, by ${safe(e.by)}: ${safe(e.reason)}`;
  const names = Object.keys(state.agents).sort();
  if (!state.all && names.length === 0) return [`no lockdown in force (state in ${state.store})`];
  return [
    `lockdown in force (state in ${state.store}):`,
    ...(state.all ? [line('every agent', state.all)] : []),
    ...names.map((n) => line(`agent ${n}`, state.agents[n] as EntryView)),
  ];
}
