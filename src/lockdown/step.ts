// The lockdown step of admission: right after the agent is identified, before the policy is consulted. A locked
// agent is refused (403, reason `lockdown`) whatever the policy says; an agent that is not locked goes on to the
// policy as if lockdown did not exist; an unidentified client never gets here (identification refused it).
// A function of what the proxy hands it (the lockdown in force and the agent), so it is tested without sockets.

import { lockdownMessage, type LockdownEntry } from './state.js';

/** What the step needs to know: the lockdown in force in this process (runtime.ts implements it). */
export interface LockdownView {
  lockOf(agent: string): { readonly entry: LockdownEntry; readonly scope: 'all' | 'agent' } | undefined;
}

export interface LockdownRefusal {
  readonly ok: false;
  readonly reason: 'lockdown';
  /** Names the agent, since when and the operator's reason text: the body and Proxy-Status carry it. */
  readonly message: string;
}

/** A refusal when `agent` is locked down; undefined to go on to the next step. */
export function lockdownStep(view: LockdownView | undefined, agent: string): LockdownRefusal | undefined {
  const lock = view?.lockOf(agent);
  if (!lock) return undefined;
  return { ok: false, reason: 'lockdown', message: lockdownMessage(agent, lock.entry, lock.scope) };
}
