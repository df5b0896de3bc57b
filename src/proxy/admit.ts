// The steps every request and tunnel goes through before leash dials anything, in the order that keeps the
// promises: identify the agent, decide (fail closed), hold to the rate limit, then resolve and check the address.
// An unidentified client under requireAgent never reaches the policy; a denied name is never resolved; a
// throttled request never reaches DNS or the upstream.

import type { IncomingMessage } from 'node:http';
import type { NormalizedRequest, RequestFacts } from '../policy/evaluate.js';
import type { CompiledRule } from '../policy/rule.js';
import { identify, parseProxyAuthorization } from '../policy/identity.js';
import { withGrant } from './grants.js';
import type { Exchange } from './exchange.js';
import { overRateLimit } from './rate-limit.js';
import type { Reason } from './reasons.js';
import { resolveTarget, type Resolution } from './resolve.js';
import { socketOwnerUid } from './socket-owner.js';
import type { ProxyState } from './state.js';
import { judge, type Verdict } from './verdict.js';
import type { AuditRecord } from '../audit/record.js';
import { newApprovalId } from '../approvals/id.js';
import { approvalFor, sleep } from '../approvals/step.js';
import { SCOPE_HEADER, scopeFor, type ScopeOpening } from '../scopes/step.js';

export type Admission =
  | { ok: true; request: NormalizedRequest; rule: CompiledRule | null; resolution: Extract<Resolution, { ok: true }>; reportOnly: boolean; intercept: boolean }
  | { ok: false; reason: Reason; message: string; retryAfterSeconds?: number };

export async function admit(state: ProxyState, exchange: Exchange, req: IncomingMessage, facts: Omit<RequestFacts, 'agent'>): Promise<Admission> {
  const policy = exchange.policy;
  const runtime = state.runtimes.of(policy);
  const identity = identify(
    policy,
    {
      credentials: parseProxyAuthorization(req.headers['proxy-authorization']),
      uid: runtime.identifiesByUid ? await socketOwnerUid(req.socket) : undefined,
      address: req.socket.remoteAddress ?? '',
    },
    runtime.tokens,
  );
  if (!identity.ok) return { ok: false, reason: identity.reason, message: identity.message };
  exchange.record.agent = identity.agent;
  exchange.record.identity = identity.method;

  let verdict = judge(policy, { ...facts, agent: identity.agent });
  exchange.applyVerdict(verdict);
  if (verdict.request) {
    const tunnel = verdict.request.method === 'CONNECT';
    // A tunnel to a non-TLS port could carry any method, so a GET-only grant never opens one.
    verdict = await withGrant(state, exchange, verdict, !tunnel ? 'http' : policy.settings.tlsPorts.has(verdict.request.port) ? 'https' : undefined, facts.path, tunnel ? undefined : req.headers);
  }
  let opening: ScopeOpening | undefined;
  if (verdict.effect === 'deny' && verdict.request) ({ verdict, opening } = await unknownHost(state, exchange, req, verdict));
  if (verdict.effect === 'deny' || !verdict.request) return { ok: false, reason: verdict.reason, message: verdict.message };

  const limited = await overRateLimit(state, verdict);
  if (limited) {
    if (policy.settings.mode !== 'report') return { ok: false, ...limited };
    Object.assign(exchange.record, { wouldDeny: true, reason: limited.reason, message: limited.message });
  }

  let resolution: Resolution;
  try {
    resolution = await resolveTarget(verdict.request.host, verdict.request.hostKind, policy.settings, runtime.resolver);
  } catch (err) {
    await opening?.undo();
    return { ok: false, reason: 'internal_error', message: `internal error while resolving: ${(err as Error).message}` };
  }
  if (!resolution.ok) {
    await opening?.undo();
    return { ok: false, reason: resolution.reason, message: resolution.message };
  }
  if (opening) state.audit.write(opening.record);
  exchange.record.resolved = resolution.address;
  return { ok: true, request: verdict.request, rule: verdict.rule, resolution, reportOnly: policy.settings.mode === 'report', intercept: verdict.intercept };
}

/**
 * The scope step, then the approval step, for a request no rule allows and no deny rule matches (scopes/step.ts,
 * approvals/step.ts). X-Leash-Scope comes from this request, or for a request inside an intercepted tunnel from
 * the CONNECT that opened it (`tunnelScope`). The client going away releases a request held for an approval.
 */
export async function unknownHost(state: ProxyState, exchange: Exchange, req: IncomingMessage, verdict: Verdict, tunnelScope?: string): Promise<{ verdict: Verdict; opening?: ScopeOpening }> {
  const record = (r: AuditRecord) => state.audit.write(r);
  const header = scopeHeader(req.headers[SCOPE_HEADER]) ?? tunnelScope;
  const scoped = await scopeFor({ policy: exchange.policy, scopes: state.scopes, now: state.now }, verdict, { header, requestId: exchange.id, identity: exchange.record.identity });
  if (scoped.scope) exchange.record.scope = scoped.scope;
  if (scoped.kind !== 'none') {
    exchange.applyVerdict(scoped.verdict);
    return { verdict: scoped.verdict, ...(scoped.kind === 'allowed' && scoped.opening ? { opening: scoped.opening } : {}) };
  }
  if (scoped.message) verdict = { ...verdict, message: scoped.message };
  const gone = new AbortController();
  const release = () => gone.abort();
  req.socket.once('close', release);
  try {
    const asked = await approvalFor({ policy: exchange.policy, approvals: state.approvals, now: state.now, record, newId: newApprovalId, sleep }, verdict, { requestId: exchange.id, identity: exchange.record.identity, signal: gone.signal });
    if (asked.kind === 'none') return { verdict };
    if (asked.approval) exchange.record.approval = asked.approval;
    exchange.applyVerdict(asked.verdict);
    return { verdict: asked.verdict };
  } finally {
    req.socket.off('close', release);
  }
}

/** X-Leash-Scope, once: a header sent twice names no one scope. */
export function scopeHeader(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : value.join(',');
  return value;
}
