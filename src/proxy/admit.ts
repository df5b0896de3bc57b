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
import { checkSecrets } from './secret-misuse.js';
import { socketOwnerUid } from './socket-owner.js';
import type { ProxyState } from './state.js';
import { judge } from './verdict.js';

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
    // A placeholder on its way here is misuse whatever the rules say: plain HTTP and CONNECT never carry a secret.
    const tunnel = verdict.request.method === 'CONNECT';
    const secrets = checkSecrets(runtime.secrets, undefined, { agent: identity.agent, host: verdict.request.host, transport: tunnel ? 'tunnel' : 'http', rawHeaders: req.rawHeaders, target: req.url ?? '' });
    if (!secrets.ok) {
      if (secrets.secret) exchange.record.secret = secrets.secret;
      if (policy.settings.mode !== 'report') {
        // No rule decided this refusal: the request carried what it must not, whatever rule would have allowed it.
        exchange.record.rule = null;
        exchange.ruleReason = null;
        return { ok: false, reason: secrets.reason, message: secrets.message };
      }
      Object.assign(exchange.record, { wouldDeny: true, reason: secrets.reason, message: secrets.message });
    }
  }
  if (verdict.request) {
    const tunnel = verdict.request.method === 'CONNECT';
    // A tunnel to a non-TLS port could carry any method, so a GET-only grant never opens one.
    verdict = await withGrant(state, exchange, verdict, !tunnel ? 'http' : policy.settings.tlsPorts.has(verdict.request.port) ? 'https' : undefined, facts.path, tunnel ? undefined : req.headers);
  }
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
    return { ok: false, reason: 'internal_error', message: `internal error while resolving: ${(err as Error).message}` };
  }
  if (!resolution.ok) return { ok: false, reason: resolution.reason, message: resolution.message };
  exchange.record.resolved = resolution.address;
  return { ok: true, request: verdict.request, rule: verdict.rule, resolution, reportOnly: policy.settings.mode === 'report', intercept: verdict.intercept };
}
