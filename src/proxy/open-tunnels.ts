// What keeps an open tunnel honest after it was admitted. A decision is taken when a tunnel opens, but a tunnel
// can live for hours: a reload that denies its host, a grant that expires, or plain old age must end it, or the
// promise "a policy change takes effect" would hold only for new connections. Each tunnel registers here how to
// re-decide itself; the server asks every open tunnel again on reload, and timers end grant tunnels at their
// grant's expiry and every tunnel at settings.timeouts.maxLifetime. Every cut is audited on the tunnel's record.

import { StoreUnavailableError } from '../errors.js';
import { checkAddress } from '../policy/address.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { Exchange } from './exchange.js';
import { findGrant } from './grants.js';
import type { Reason } from './reasons.js';
import type { ProxyState } from './state.js';
import { judge } from './verdict.js';

export interface TunnelFacts {
  readonly host: string;
  readonly port: number;
  readonly agent: string;
  /** The address leash dialled (or will dial for each intercepted request). */
  readonly address: string;
  /** TLS is terminated and each request inside decided on its own. */
  readonly intercepted: boolean;
  /** Opened through a grant: it lives while a grant for its host does. */
  readonly granted: boolean;
  /** Opened through a sandbox-scope access or an approval: it lives while that does. */
  readonly access?: TunnelAccess;
}

export type TunnelAccess =
  | { readonly kind: 'scope'; readonly name: string }
  | { readonly kind: 'approval'; readonly id: string; readonly grant: string | null };

/** How often a tunnel opened by an access asks whether the access still holds (so a revoke or deny ends it). */
const ACCESS_CHECK_MS = 1000;

export interface Cut {
  readonly reason: Reason;
  readonly message: string;
}

/** Arms the re-decision, the lifetime and (for grant tunnels) the expiry of a tunnel that was just opened. */
export function guardTunnel(state: ProxyState, exchange: Exchange, facts: TunnelFacts): void {
  const timers: NodeJS.Timeout[] = [];
  const cut = (reason: Reason, message: string) => {
    if (!exchange.finished) exchange.cut(reason, message);
  };
  exchange.revalidate = (policy) => redecide(state, policy, facts);
  exchange.onFinish(() => timers.forEach(clearTimeout));

  const lifetime = exchange.policy.settings.timeouts.maxLifetimeMs;
  timers.push(
    setTimeout(
      () =>
        cut('max_lifetime', `the tunnel reached settings.timeouts.maxLifetime (${lifetime / 1000} s) and was closed`),
      lifetime,
    ).unref(),
  );

  if (facts.access) {
    const access = facts.access;
    const check = async () => {
      if (exchange.finished) return;
      const holds = await accessHolds(state, facts, access).catch((err: unknown) =>
        err instanceof StoreUnavailableError ? err : false,
      );
      if (holds instanceof StoreUnavailableError)
        return cut(
          'store_unavailable',
          `whether the ${describeAccess(access)} that opened this tunnel still holds cannot be checked (${holds.message}); the tunnel was closed`,
        );
      if (!holds)
        return cut(
          'access_ended',
          `the ${describeAccess(access)} that opened this tunnel to ${facts.host}:${facts.port} ended (expired, revoked or denied), and with it this tunnel`,
        );
      timers.push(setTimeout(() => void check(), ACCESS_CHECK_MS).unref());
    };
    timers.push(setTimeout(() => void check(), ACCESS_CHECK_MS).unref());
  }

  if (facts.granted) {
    const check = async () => {
      const grant = await findGrant(state, tunnelRequest(facts), 'https', undefined).catch((err: unknown) =>
        err instanceof StoreUnavailableError ? err : undefined,
      );
      if (grant instanceof StoreUnavailableError)
        return cut(
          'store_unavailable',
          `whether the grant for ${facts.host}:${facts.port} still holds cannot be checked (${grant.message}); the tunnel was closed`,
        );
      if (!grant)
        return cut('grant_expired', `the grant for ${facts.host}:${facts.port} expired, and with it this tunnel`);
      timers.push(setTimeout(() => void check(), Math.max(50, grant.expiresAt - state.now())).unref());
    };
    const expiresAt = Date.parse(String(exchange.record.grant?.expiresAt ?? ''));
    timers.push(
      setTimeout(() => void check(), Number.isFinite(expiresAt) ? Math.max(50, expiresAt - state.now()) : 0).unref(),
    );
  }
}

/**
 * An upgraded stream (a WebSocket inside an intercepted tunnel): ends at settings.timeouts.maxLifetime, and on a
 * reload when `redecide` says the new policy would not allow it (its message).
 */
export function guardStream(
  exchange: Exchange,
  what: string,
  redecide: (policy: CompiledPolicy) => string | undefined,
): void {
  const lifetime = exchange.policy.settings.timeouts.maxLifetimeMs;
  const timer = setTimeout(() => {
    if (!exchange.finished)
      exchange.cut(
        'max_lifetime',
        `the ${what} reached settings.timeouts.maxLifetime (${lifetime / 1000} s) and was closed`,
      );
  }, lifetime).unref();
  exchange.onFinish(() => clearTimeout(timer));
  exchange.revalidate = async (policy) => {
    const message = redecide(policy);
    return message === undefined ? undefined : { reason: 'policy_revoked', message };
  };
}

/** Would the tunnel be opened, and opened the same way, under `policy`? A reason to end it when not. */
async function redecide(state: ProxyState, policy: CompiledPolicy, facts: TunnelFacts): Promise<Cut | undefined> {
  const guard = checkAddress(policy.settings.guard, facts.address);
  if (!guard.ok)
    return {
      reason: 'policy_revoked',
      message: `policy revision ${policy.revision}: the address guard now refuses ${guard.message}`,
    };
  const verdict = judge(policy, { method: 'CONNECT', host: facts.host, port: facts.port, agent: facts.agent });
  if (verdict.effect === 'deny') {
    if (
      facts.granted &&
      verdict.reason === 'no_rule' &&
      verdict.request &&
      (await findGrant(state, verdict.request, 'https', undefined).catch(() => undefined))
    )
      return undefined;
    // A tunnel a scope access or an approval opened is still what no rule decides: it stays while the access does.
    if (
      facts.access &&
      verdict.reason === 'no_rule' &&
      !verdict.hostHasRule &&
      (await accessHolds(state, facts, facts.access).catch(() => false)) === true
    )
      return undefined;
    return {
      reason: 'policy_revoked',
      message: `policy revision ${policy.revision} denies this tunnel: ${verdict.message}`,
    };
  }
  if (verdict.intercept && !facts.intercepted) {
    return {
      reason: 'policy_revoked',
      message: `policy revision ${policy.revision} looks inside requests to ${facts.host}:${facts.port}; this spliced tunnel was closed so the next one is intercepted`,
    };
  }
  return undefined;
}

/** Whether the scope access or the approval a tunnel was opened by is still in force. */
async function accessHolds(state: ProxyState, facts: TunnelFacts, access: TunnelAccess): Promise<boolean> {
  const now = state.now();
  if (access.kind === 'scope') {
    const open = await state.scopes.list(
      { scope: access.name, agent: facts.agent, host: facts.host, port: facts.port },
      now,
    );
    return open.some((a) => a.expiresAt > now);
  }
  // `once` admitted exactly this tunnel: it is used, and the tunnel is what it was for.
  if (access.grant === 'once') return true;
  const approval = await state.approvals.get(access.id, now);
  return approval !== undefined && approval.state === 'allowed' && approval.expiresAt > now;
}

function describeAccess(access: TunnelAccess): string {
  return access.kind === 'scope' ? `access of sandbox scope ${access.name}` : `approval ${access.id}`;
}

function tunnelRequest(facts: TunnelFacts) {
  return {
    method: 'CONNECT',
    host: facts.host,
    hostKind: facts.host.includes(':') ? 'ipv6' : /^[\d.]+$/.test(facts.host) ? 'ipv4' : 'name',
    port: facts.port,
    path: undefined,
    ambiguousPath: false,
    agent: facts.agent,
  } as const;
}

/** After a reload: every open exchange that can re-decide itself does, and those now denied are cut. */
export async function revokeOpen(
  state: ProxyState & { readonly open: Set<Exchange> },
  policy: CompiledPolicy,
): Promise<number> {
  let cut = 0;
  await Promise.all(
    [...state.open].map(async (exchange) => {
      if (!exchange.revalidate || exchange.finished) return;
      const verdict = await exchange.revalidate(policy).catch((err: Error) => ({
        reason: 'policy_revoked' as const,
        message: `re-deciding under revision ${policy.revision} failed (${err.message}); closed to fail closed`,
      }));
      if (verdict && !exchange.finished) {
        exchange.cut(verdict.reason, verdict.message);
        cut++;
      }
    }),
  );
  return cut;
}
