// The edge of the admission pipeline: what the server gathers before asking admission.ts. The context binds the
// pipeline to this process's stores and clock and to the policy revision's runtime (its tokens and resolver); the
// applicant is what identifies the client on its connection (Proxy-Authorization, the socket owner's uid when some
// agent is identified by uid, the source address).

import type { KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { CompiledPolicy } from '../policy/policy.js';
import { parseProxyAuthorization, type IdentityFacts } from '../policy/identity.js';
import type { AdmissionContext } from './admission.js';
import { resolveTarget } from './resolve.js';
import { newApprovalId } from '../approvals/id.js';
import { sleep } from '../approvals/step.js';
import { SCOPE_HEADER } from '../scopes/step.js';
import type { ProxyState } from './state.js';

/** @param caKey leash's CA key, where interception is set up (requests inside intercepted tunnels). */
export function admissionContext(state: ProxyState, policy: CompiledPolicy, caKey?: KeyObject): AdmissionContext {
  const runtime = state.runtimes.of(policy);
  return {
    policy,
    tokens: runtime.tokens,
    grants: state.grants,
    rateLimits: state.rateLimits,
    now: state.now,
    resolve: (host, kind) => resolveTarget(host, kind, policy.settings, runtime.resolver),
    ...(runtime.secrets.any ? { secrets: { runtime: runtime.secrets, caKey } } : {}),
    lockdown: state.lockdown,
    scopes: state.scopes,
    approvals: state.approvals,
    record: (record) => state.audit.write(record),
    newId: newApprovalId,
    sleep,
  };
}

/** X-Leash-Scope, once: a header sent twice names no one scope (Node joins repeats with ", ", which no scope is named). */
export function scopeHeader(req: IncomingMessage): string | undefined {
  const value = req.headers[SCOPE_HEADER];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** An AbortSignal that fires when the client's connection closes, and `release` to stop listening. */
export function whileConnected(req: IncomingMessage): { signal: AbortSignal; release: () => void } {
  const gone = new AbortController();
  const abort = () => gone.abort();
  req.socket.once('close', abort);
  return { signal: gone.signal, release: () => req.socket.off('close', abort) };
}

export async function applicantOf(
  state: ProxyState,
  policy: CompiledPolicy,
  req: IncomingMessage,
): Promise<IdentityFacts> {
  return {
    credentials: parseProxyAuthorization(req.headers['proxy-authorization']),
    uid: state.runtimes.of(policy).identifiesByUid ? await state.socketOwners.uidOf(req.socket) : undefined,
    address: req.socket.remoteAddress ?? '',
  };
}
