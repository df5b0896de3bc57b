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
  };
}

export async function applicantOf(state: ProxyState, policy: CompiledPolicy, req: IncomingMessage): Promise<IdentityFacts> {
  return {
    credentials: parseProxyAuthorization(req.headers['proxy-authorization']),
    uid: state.runtimes.of(policy).identifiesByUid ? await state.socketOwners.uidOf(req.socket) : undefined,
    address: req.socket.remoteAddress ?? '',
  };
}
