// The lockdown routes of the control API, and the one function that switches a lockdown on for them and for
// SIGUSR1, so each switch is applied the same way and audited with who asked:
//   GET  /v1/lockdown       the lockdown in force (every agent, per agent: reason, who, since)
//   POST /v1/lockdown/on    { agents?: string[], reason?: string }   without agents: every agent
//   POST /v1/lockdown/off   { agents?: string[] }                    without agents: every lockdown is lifted

import { randomUUID } from 'node:crypto';
import { newRecord, type AuditRecord } from '../audit/record.js';
import { controlError, ok, type ControlRoute } from '../control/api.js';
import { StoreUnavailableError } from '../errors.js';
import type { LockdownRuntime } from './runtime.js';
import { cleanReason, parseTarget, type LockdownState, type LockdownTarget } from './state.js';

export interface LockdownDeps {
  readonly runtime: LockdownRuntime;
  /** Writes an audit record (the serve process's audit log). */
  readonly audit: (record: AuditRecord) => void;
  /** The policy revision in force, named by every record. */
  readonly revision: () => string;
  /** The agents the policy defines, to warn about a name it does not know. */
  readonly agents: () => ReadonlySet<string>;
  /** Operational messages (stderr): each switch gets a line, for whoever watches the logs at 3 a.m. */
  readonly log: (line: string) => void;
}

/** Switches a lockdown on and audits it (one record per agent, `*` for every agent). */
export async function switchOn(
  deps: LockdownDeps,
  target: LockdownTarget,
  reason: string,
  by: string,
): Promise<{ state: LockdownState; stored: boolean; problem?: string }> {
  const outcome = await deps.runtime.on(target, reason, by);
  deps.log(
    `leash: lockdown on for ${'all' in target ? 'every agent' : target.agents.join(', ')}, asked by ${by}: ${reason}`,
  );
  for (const agent of 'all' in target ? ['*'] : target.agents) {
    const whom = agent === '*' ? 'every agent' : `agent ${agent}`;
    deps.audit(
      newRecord(randomUUID(), 'lockdown', deps.revision(), {
        agent,
        effect: 'deny',
        reason: 'lockdown_on',
        message: `lockdown on for ${whom}, asked by ${by}: ${reason}${outcome.stored ? '' : ` (${outcome.problem})`}`,
        lockdown: { by, reason, store: deps.runtime.display, stored: outcome.stored },
      }),
    );
  }
  return outcome;
}

export function lockdownRoutes(deps: LockdownDeps): ControlRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/lockdown',
      mutating: false,
      summary: 'the lockdown in force',
      handle: async () => ok(view(deps.runtime.state, deps.runtime.display)),
    },
    {
      method: 'POST',
      path: '/v1/lockdown/on',
      mutating: true,
      summary: 'lock agents down (without agents: every agent): new requests refused, open connections cut',
      handle: async (req) => {
        const body = (req.body ?? {}) as { agents?: unknown; reason?: unknown };
        if (typeof body !== 'object' || Array.isArray(body))
          return controlError('bad_request', 'the body is { "agents"?: [names], "reason"?: text }');
        const target = parseTarget(body.agents);
        if (!target.ok) return controlError('bad_request', target.message);
        if (body.reason !== undefined && typeof body.reason !== 'string')
          return controlError('bad_request', '"reason" must be text');
        const outcome = await switchOn(deps, target.target, cleanReason(body.reason), req.caller);
        return ok({
          ...view(outcome.state, deps.runtime.display),
          stored: outcome.stored,
          warnings: [...unknownAgents(deps, target.target), ...(outcome.problem ? [outcome.problem] : [])],
        });
      },
    },
    {
      method: 'POST',
      path: '/v1/lockdown/off',
      mutating: true,
      summary: 'lift the lockdown of agents (without agents: every lockdown)',
      handle: async (req) => {
        const body = (req.body ?? {}) as { agents?: unknown };
        if (typeof body !== 'object' || Array.isArray(body))
          return controlError('bad_request', 'the body is { "agents"?: [names] }');
        const target = parseTarget(body.agents);
        if (!target.ok) return controlError('bad_request', target.message);
        let state: LockdownState;
        try {
          state = await deps.runtime.off(target.target);
        } catch (err) {
          if (err instanceof StoreUnavailableError || (err as { code?: string }).code === 'LEASH_LOCKDOWN') {
            return controlError(
              'unavailable',
              `nothing was lifted: the lockdown store ${deps.runtime.display} did not take it (${(err as Error).message})`,
            );
          }
          throw err;
        }
        deps.log(
          `leash: lockdown lifted for ${'all' in target.target ? 'every agent' : target.target.agents.join(', ')}, asked by ${req.caller}`,
        );
        for (const agent of 'all' in target.target ? ['*'] : target.target.agents) {
          deps.audit(
            newRecord(randomUUID(), 'lockdown', deps.revision(), {
              agent,
              effect: 'allow',
              reason: 'lockdown_off',
              message: `lockdown lifted for ${agent === '*' ? 'every agent' : `agent ${agent}`}, asked by ${req.caller}`,
              lockdown: { by: req.caller, store: deps.runtime.display, stored: true },
            }),
          );
        }
        const warnings =
          'agents' in target.target && state.all
            ? ['every agent is still locked down: lift that with lockdown off without --agent']
            : [];
        return ok({ ...view(state, deps.runtime.display), warnings });
      },
    },
  ];
}

/** The state as the API shows it: times as ISO 8601. */
function view(state: LockdownState, store: string) {
  const entry = (e: { reason: string; by: string; since: number }) => ({
    reason: e.reason,
    by: e.by,
    since: new Date(e.since).toISOString(),
  });
  return {
    store,
    all: state.all ? entry(state.all) : null,
    agents: Object.fromEntries(
      Object.keys(state.agents)
        .sort()
        .map((name) => [name, entry(state.agents[name] as { reason: string; by: string; since: number })]),
    ),
  };
}

function unknownAgents(deps: LockdownDeps, target: LockdownTarget): string[] {
  if ('all' in target) return [];
  const known = deps.agents();
  return target.agents
    .filter((a) => a !== 'anonymous' && !known.has(a))
    .map((a) => `the policy defines no agent ${a}; it is locked down should it appear`);
}
