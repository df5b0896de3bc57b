// Which agent is asking. PURE: the proxy gathers the facts (the Proxy-Authorization credentials, the uid that owns
// the client socket, the source address) and the tokens it read at load time; this decides. Nothing an agent can
// forge without a secret or a kernel's help counts: a token is compared in constant time, a uid comes from the
// kernel, and a token and a uid that name different agents are refused rather than reconciled.

import { createHash, timingSafeEqual } from 'node:crypto';
import { cidrContains } from './host-pattern.js';
import { normalizeHost } from './host.js';
import type { CompiledPolicy } from './policy.js';
import { ANONYMOUS_AGENT } from './rule.js';

export interface IdentityFacts {
  /** From `Proxy-Authorization: Basic`; `malformed` when the header is there but unreadable. */
  readonly credentials: { readonly user: string; readonly password: string } | 'malformed' | undefined;
  /** Owner of the client socket, when the client is on this machine (Linux). */
  readonly uid: number | undefined;
  readonly address: string;
}

export type IdentityMethod = 'token' | 'uid' | 'token+uid' | 'cidr' | 'none';

export type Identity =
  | { readonly ok: true; readonly agent: string; readonly method: IdentityMethod }
  | {
      readonly ok: false;
      readonly reason: 'auth_required' | 'auth_failed' | 'identity_mismatch';
      readonly message: string;
    };

/** Agent name → token, as read from env:/file: sources. Agents whose token could not be read are absent. */
export type AgentTokens = ReadonlyMap<string, string>;

export function identify(policy: CompiledPolicy, facts: IdentityFacts, tokens: AgentTokens): Identity {
  let byToken: string | undefined;
  if (facts.credentials === 'malformed') {
    return { ok: false, reason: 'auth_failed', message: 'Proxy-Authorization must be Basic with agent:token' };
  }
  if (facts.credentials) {
    const expected = tokens.get(facts.credentials.user);
    // Compare digests so neither the length nor the content of the token leaks through timing.
    if (expected === undefined || !timingSafeEqual(digest(expected), digest(facts.credentials.password))) {
      return { ok: false, reason: 'auth_failed', message: 'unknown agent or wrong token in Proxy-Authorization' };
    }
    byToken = facts.credentials.user;
  }

  let byUid: string | undefined;
  if (facts.uid !== undefined) {
    for (const agent of policy.agents.values()) if (agent.uid === facts.uid) byUid = agent.name;
  }

  if (byToken && byUid && byToken !== byUid) {
    return {
      ok: false,
      reason: 'identity_mismatch',
      message: `the proxy credentials name agent ${byToken} but the connection belongs to uid ${facts.uid} (agent ${byUid})`,
    };
  }
  if (byToken) return { ok: true, agent: byToken, method: byUid ? 'token+uid' : 'token' };
  if (byUid) return { ok: true, agent: byUid, method: 'uid' };

  const address = hasCidrAgents(policy) ? normalizeHost(facts.address) : undefined;
  if (address?.ok && address.kind !== 'name') {
    let best: { agent: string; bits: number } | undefined;
    for (const agent of policy.agents.values()) {
      for (const cidr of agent.cidrs) {
        if (cidrContains(cidr, address.host, address.kind) && (!best || cidr.range[1] > best.bits))
          best = { agent: agent.name, bits: cidr.range[1] };
      }
    }
    if (best) return { ok: true, agent: best.agent, method: 'cidr' };
  }

  if (policy.settings.requireAgent) {
    return {
      ok: false,
      reason: 'auth_required',
      message: 'this proxy requires agent credentials (HTTPS_PROXY=http://AGENT:TOKEN@host:port)',
    };
  }
  return { ok: true, agent: ANONYMOUS_AGENT, method: 'none' };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Reads `Proxy-Authorization: Basic base64(user:password)` (RFC 7617). */
export function parseProxyAuthorization(header: string | undefined): IdentityFacts['credentials'] {
  if (header === undefined) return undefined;
  const m = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (!m) return 'malformed';
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return 'malformed';
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function hasCidrAgents(policy: CompiledPolicy): boolean {
  for (const agent of policy.agents.values()) if (agent.cidrs.length > 0) return true;
  return false;
}
