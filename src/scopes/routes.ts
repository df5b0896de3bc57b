// The control API's scope routes (`leash scopes list`, `leash scopes revoke`): what is open in which sandbox, and
// ending it. Every access revoked is audited (`event: scope`, scope_revoked, naming who). The store failing is a
// 503 that changed nothing.

import { randomUUID } from 'node:crypto';
import { newRecord, type AuditRecord } from '../audit/record.js';
import { controlError, ok, type ControlRequest, type ControlResponse, type ControlRoute } from '../control/api.js';
import { StoreUnavailableError } from '../errors.js';
import { normalizeHost } from '../policy/host.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { ScopeAccess, ScopeFilter, ScopeStore } from './store.js';

export interface ScopeRoutesDeps {
  readonly scopes: ScopeStore;
  readonly policy: () => CompiledPolicy;
  readonly now: () => number;
  readonly record: (record: AuditRecord) => void;
}

/** An access as the API shows it: times as ISO strings. */
export function accessJson(a: ScopeAccess): Record<string, unknown> {
  return { ...a, openedAt: new Date(a.openedAt).toISOString(), expiresAt: new Date(a.expiresAt).toISOString() };
}

export function scopeRoutes(deps: ScopeRoutesDeps): ControlRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/scopes',
      mutating: false,
      summary: 'open sandbox-scope accesses (?agent=NAME&scope=NAME), with their expiry',
      handle: (req) =>
        guarded(async () => {
          const filter = selector({
            agent: req.query.get('agent') ?? undefined,
            scope: req.query.get('scope') ?? undefined,
          });
          if ('error' in filter) return controlError('bad_request', filter.error);
          return ok({ accesses: (await deps.scopes.list(filter, deps.now())).map(accessJson) });
        }),
    },
    {
      method: 'POST',
      path: '/v1/scopes/revoke',
      mutating: true,
      summary: 'end open accesses: { agent?, scope?, host?, port? } (at least one), or { all: true }',
      handle: (req) => guarded(() => revoke(deps, req)),
    },
  ];
}

async function revoke(deps: ScopeRoutesDeps, req: ControlRequest): Promise<ControlResponse> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body))
    return controlError('bad_request', 'the body must be a JSON object');
  const unknown = Object.keys(body).find((k) => !['agent', 'scope', 'host', 'port', 'all'].includes(k));
  if (unknown)
    return controlError(
      'bad_request',
      `unknown field "${unknown.slice(0, 40)}" (allowed: agent, scope, host, port, all)`,
    );
  const filter = selector(body);
  if ('error' in filter) return controlError('bad_request', filter.error);
  const selects = Object.values(filter).some((v) => v !== undefined);
  // Revoking everything is allowed, but only when asked for in so many words.
  if (!selects && body.all !== true)
    return controlError(
      'bad_request',
      'say which accesses to end (agent, scope, host, port), or all: true for every one',
    );
  if (selects && body.all === true) return controlError('bad_request', 'all: true ends every access; give it alone');
  const revoked = await deps.scopes.revoke(filter, deps.now());
  const policy = deps.policy();
  for (const a of revoked) {
    deps.record(
      newRecord(randomUUID(), 'scope', policy.revision, {
        agent: a.agent,
        host: a.host,
        port: a.port,
        effect: 'deny',
        reason: 'scope_revoked',
        message: `${req.caller} ended scope ${a.scope}'s access to ${a.host}:${a.port} for agent ${a.agent} (opened by request ${a.openedBy.requestId}, due to expire ${new Date(a.expiresAt).toISOString()})`,
        scope: {
          name: a.scope,
          openedBy: a.openedBy.requestId,
          expiresAt: new Date(a.expiresAt).toISOString(),
          by: req.caller,
        },
      }),
    );
  }
  return ok({ revoked: revoked.map(accessJson) });
}

/** The filter from untrusted values: names as the policy spells them, a normalised host, a port. */
function selector(raw: Record<string, unknown>): ScopeFilter | { error: string } {
  const out: { scope?: string; agent?: string; host?: string; port?: number } = {};
  for (const key of ['agent', 'scope'] as const) {
    const value = raw[key];
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string' || !/^[a-z][a-z0-9_-]{0,62}$/.test(value))
      return { error: `${key} must be a name as the policy spells it` };
    out[key] = value;
  }
  if (raw.host !== undefined) {
    const host = typeof raw.host === 'string' ? normalizeHost(raw.host) : undefined;
    if (!host?.ok) return { error: 'host must be a host name or address' };
    out.host = host.host;
  }
  if (raw.port !== undefined) {
    if (typeof raw.port !== 'number' || !Number.isInteger(raw.port) || raw.port < 1 || raw.port > 65535)
      return { error: 'port must be a number from 1 to 65535' };
    out.port = raw.port;
  }
  return out;
}

/** A store that cannot answer is a 503 that changed nothing. */
export async function guarded(run: () => Promise<ControlResponse>): Promise<ControlResponse> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof StoreUnavailableError) return controlError('unavailable', err.message);
    throw err;
  }
}
