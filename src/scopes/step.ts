// The sandbox-scope step of the admission pipeline (proxy/admission.ts calls it after the grant step, on the raw
// decision). A developer's agent with an active scope (X-Leash-Scope: NAME on the request or on the CONNECT of
// its tunnel, or scope: NAME on the agent) may reach a host no rule allows and no deny rule matches: the first
// such request opens a time-bound access for that agent to that host and port, audited as its own record
// (`event: scope`, reason scope_opened, naming the scope and the request), and every request in the access's
// lifetime is allowed with reason `scope`. The opening is recorded by the pipeline once the request is admitted
// (ScopeOpening), so a host the address guard refuses is never on record as opened.
//
// What it never does: apply where a rule speaks about the host (policy/unknown-host.ts), open a port the scope
// does not list, open more than `maxHosts` accesses per agent and scope (`scope_full`), or allow anything when the
// store cannot answer (`store_unavailable`). Deny rules and the lockdown are decided before it, the rate-limit step
// and the address guard after it, and all still apply. A header naming a scope that does not exist or does not list
// the agent is refused (`scope_denied`) where the scope would have mattered: silently ignoring it would leave a
// developer wondering why the sandbox does nothing; where a rule decides, the header changes nothing.

import { randomUUID } from 'node:crypto';
import { newRecord, type AuditRecord } from '../audit/record.js';
import { StoreUnavailableError } from '../errors.js';
import { describeRequest } from '../policy/evaluate.js';
import type { CompiledPolicy, ScopeSpec } from '../policy/policy.js';
import { denyLooksInside, noRuleSpeaks } from '../policy/unknown-host.js';
import type { Verdict } from '../proxy/verdict.js';
import type { ScopeStore } from './store.js';

/** The header an agent activates a scope with; leash removes it before forwarding (plain HTTP and intercepted). */
export const SCOPE_HEADER = 'x-leash-scope';

export interface ScopeContext {
  readonly policy: CompiledPolicy;
  readonly scopes: ScopeStore;
  readonly now: () => number;
}

export interface ScopeAsk {
  /** X-Leash-Scope as sent, on the request or on the CONNECT of the tunnel it travels in. */
  readonly header?: string;
  /** The request's audit record id: it names the request that opened an access. */
  readonly requestId: string;
  readonly identity: AuditRecord['identity'];
}

/**
 * An access this request opened, not yet on record: the pipeline writes `record` once the request is admitted
 * (the address guard passed), and calls `undo` when a later step refuses it, so a scope never shows (or counts
 * against maxHosts) a host that was never reached, such as a name that resolves to a private address.
 */
export interface ScopeOpening {
  readonly record: AuditRecord;
  undo(): Promise<void>;
}

export type ScopeOutcome =
  /** No scope applies; `scope` says what the request asked for, for its record. */
  | { readonly kind: 'none'; readonly scope?: AuditRecord['scope']; readonly message?: string }
  | {
      readonly kind: 'allowed';
      readonly verdict: Verdict;
      readonly scope: AuditRecord['scope'];
      readonly opening?: ScopeOpening;
    }
  | { readonly kind: 'refused'; readonly verdict: Verdict; readonly scope?: AuditRecord['scope'] };

/** The scope this request activates: the header's, else the agent's own; undefined when there is none. */
export function activeScope(
  policy: CompiledPolicy,
  agent: string,
  header: string | undefined,
): { name: string; via: 'header' | 'agent' } | undefined {
  const asked = header?.trim();
  if (asked) return { name: asked.slice(0, 64), via: 'header' };
  const own = policy.agents.get(agent)?.scope;
  return own ? { name: own, via: 'agent' } : undefined;
}

export async function scopeFor(ctx: ScopeContext, verdict: Verdict, ask: ScopeAsk): Promise<ScopeOutcome> {
  const request = verdict.request;
  if (!request) return { kind: 'none' };
  const active = activeScope(ctx.policy, request.agent, ask.header);
  if (!active) return { kind: 'none' };
  const note = { name: active.name, via: active.via };
  // Where a rule decides (or a deny rule matched), the scope has no say.
  if (!noRuleSpeaks(verdict)) return { kind: 'none', scope: note };
  const refuse = (reason: Verdict['reason'], message: string, scope: AuditRecord['scope'] = note): ScopeOutcome => ({
    kind: 'refused',
    verdict: { ...verdict, effect: 'deny', wouldDeny: false, reason, rule: null, message },
    scope,
  });

  const spec: ScopeSpec | undefined = ctx.policy.scopes.get(active.name);
  if (!spec || !spec.agents.has(request.agent)) {
    const why = !spec
      ? `no scope "${active.name}" is defined`
      : `scope ${spec.name} does not list agent ${request.agent}`;
    return refuse(
      'scope_denied',
      `${describeRequest(request)} denied: X-Leash-Scope asks for a sandbox scope, but ${why}; no rule allows this host`,
    );
  }
  if (!spec.ports.has(request.port)) {
    return {
      kind: 'none',
      scope: note,
      message: `${verdict.message}; scope ${spec.name} opens only ports [${[...spec.ports].join(', ')}]`,
    };
  }

  const now = ctx.now();
  let admission;
  try {
    admission = await ctx.scopes.admit(
      {
        scope: spec.name,
        agent: request.agent,
        host: request.host,
        port: request.port,
        openedBy: { requestId: ask.requestId, method: request.method, path: request.path ?? null },
      },
      { ttlMs: spec.ttlMs, maxHosts: spec.maxHosts },
      now,
    );
  } catch (err) {
    // Fail closed: an access that cannot be checked is not an access.
    if (!(err instanceof StoreUnavailableError)) throw err;
    return refuse(
      'store_unavailable',
      `${describeRequest(request)}: scope ${spec.name} cannot be checked: ${err.message}`,
    );
  }
  if (admission.kind === 'full') {
    return refuse(
      'scope_full',
      `${describeRequest(request)} denied: agent ${request.agent} already holds ${admission.open} open accesses in scope ${spec.name} (maxHosts ${spec.maxHosts}); wait for one to expire or end one with leash scopes revoke`,
      { ...note, open: admission.open },
    );
  }
  const access = admission.access;
  const scope = { ...note, openedBy: access.openedBy.requestId, expiresAt: new Date(access.expiresAt).toISOString() };
  let opening: ScopeOpening | undefined;
  if (admission.kind === 'opened') {
    const key = { scope: spec.name, agent: request.agent, host: request.host, port: request.port };
    opening = {
      undo: async () => {
        await ctx.scopes.revoke(key, ctx.now()).catch(() => []);
      },
      record: newRecord(randomUUID(), 'scope', ctx.policy.revision, {
        agent: request.agent,
        identity: ask.identity,
        method: request.method,
        host: request.host,
        port: request.port,
        path: request.path ?? null,
        effect: 'allow',
        reason: 'scope_opened',
        message: `scope ${spec.name} opened ${request.host}:${request.port} for agent ${request.agent} until ${scope.expiresAt}: request ${ask.requestId} (${describeRequest(request)}) was allowed by no rule`,
        scope,
      }),
    };
  }
  return {
    kind: 'allowed',
    scope,
    ...(opening ? { opening } : {}),
    verdict: {
      ...verdict,
      effect: 'allow',
      wouldDeny: false,
      reason: 'scope',
      rule: null,
      // Spliced like a rule without methods or paths, unless a deny rule on methods or paths covers the host: then
      // each request inside must be seen (and is admitted again, by the scope the tunnel carries).
      intercept: request.method === 'CONNECT' && request.path === undefined && denyLooksInside(ctx.policy, request),
      message: `${describeRequest(request)} allowed by scope ${spec.name}: access opened by request ${access.openedBy.requestId}, until ${scope.expiresAt}`,
    },
  };
}
