// The decision: a pure function of (compiled policy, request facts). It reads no clock, opens no socket and keeps
// no state; the proxy gathers facts, asks, and enforces the answer. The first rule that matches decides and no
// match denies, so anything this code does not understand falls through to a deny.

import { candidateRules } from './host-index.js';
import { cidrContains, type HostPattern } from './host-pattern.js';
import { normalizeHost, type HostKind } from './host.js';
import { normalizePath } from './path-glob.js';
import type { CompiledPolicy } from './policy.js';
import { ANONYMOUS_AGENT, type CompiledRule, type Effect } from './rule.js';

export interface RequestFacts {
  readonly method: string;
  /** As the client wrote it; normalised here. */
  readonly host: string;
  readonly port: number;
  /** Request target path and query; absent for CONNECT, which has no path. */
  readonly path?: string;
  readonly agent?: string;
  /**
   * Methods the request asks the origin to apply instead of its own (X-HTTP-Method-Override and kin, `_method`);
   * `*` stands for one the proxy could not read, which could name any method. Each is a method the deciding rule's
   * `methods` must allow, and one a deny rule's `methods` catches.
   */
  readonly methodOverrides?: readonly string[];
}

/** A request after normalisation: what rules are matched against, and what the audit log records. */
export interface NormalizedRequest {
  readonly method: string;
  readonly host: string;
  readonly hostKind: HostKind;
  readonly port: number;
  readonly path: string | undefined;
  /**
   * The path as sent has dot segments, encoded slashes or backslashes, `;parameters` or `//`: spellings origins
   * resolve differently. Deny rules see through them (the normalised path); allow rules on paths refuse them.
   */
  readonly ambiguousPath: boolean;
  readonly agent: string;
  /** Upper-cased; absent when the request asks for none. */
  readonly methodOverrides?: readonly string[];
}

export type PolicyReason = 'allowed_by_rule' | 'denied_by_rule' | 'no_rule' | 'invalid_request' | 'intercepted';

export interface Decision {
  readonly effect: Effect;
  readonly reason: PolicyReason;
  /** One line for the agent and the audit log: what was decided and by which rule. */
  readonly message: string;
  readonly rule: CompiledRule | null;
  /** Absent only when the request could not be normalised (reason `invalid_request`). */
  readonly request: NormalizedRequest | null;
  readonly revision: string;
  /** A tunnel whose deciding rule must see inside: open it, terminate TLS, and decide each request in it. */
  readonly intercept?: boolean;
}

const METHOD = /^[A-Z]{1,20}$/;
// A `.` or `..` segment (literal or %2e), an encoded slash or backslash, a backslash, a `;` or an empty segment.
const AMBIGUOUS_PATH = /(^|\/)(\.|%2e){1,2}(\/|$)|%2f|%5c|\\|;|\/\//i;

export function normalizeRequest(facts: RequestFacts): NormalizedRequest | { error: string } {
  const host = normalizeHost(facts.host);
  if (!host.ok) return { error: host.message };
  if (!Number.isInteger(facts.port) || facts.port < 1 || facts.port > 65535) return { error: `port ${facts.port} is outside 1-65535` };
  if (!METHOD.test(facts.method)) return { error: `"${facts.method.slice(0, 20)}" is not an HTTP method` };
  return {
    method: facts.method,
    host: host.host,
    hostKind: host.kind,
    port: facts.port,
    path: facts.path === undefined ? undefined : normalizePath(facts.path),
    ambiguousPath: facts.path !== undefined && AMBIGUOUS_PATH.test(facts.path.replace(/[?#].*$/s, '')),
    agent: facts.agent ?? ANONYMOUS_AGENT,
    ...(facts.methodOverrides?.length ? { methodOverrides: facts.methodOverrides.map((m) => m.toUpperCase()) } : {}),
  };
}

export function decide(policy: CompiledPolicy, facts: RequestFacts): Decision {
  const request = normalizeRequest(facts);
  if ('error' in request) {
    return { effect: 'deny', reason: 'invalid_request', message: request.error, rule: null, request: null, revision: policy.revision };
  }
  const tunnel = isInterceptable(policy, request);
  for (const i of candidateRules(policy.index, policy.rules, request.host, request.hostKind)) {
    const rule = policy.rules[i] as CompiledRule;
    if (mismatch(rule, request, tunnel) === undefined) return tunnel && needsInterception(rule) ? interceptDecision(policy, rule, request) : ruleDecision(policy, rule, request);
  }
  return noRule(policy, request);
}

/** A CONNECT to a TLS port: leash can terminate its TLS and see each request inside. */
export function isInterceptable(policy: CompiledPolicy, request: NormalizedRequest): boolean {
  return request.path === undefined && request.method === 'CONNECT' && policy.settings.tlsPorts.has(request.port);
}

/** A rule that decides on more than host and port: it can only be enforced by looking inside the tunnel. */
export function needsInterception(rule: CompiledRule): boolean {
  return rule.paths !== null || rule.inspect.length > 0 || (rule.methods !== null && [...rule.methods].some((m) => m !== 'CONNECT'));
}

/** Will some tunnel under this policy be intercepted? Then leash needs its CA. */
export function policyNeedsInterception(policy: CompiledPolicy): boolean {
  const tls = policy.settings.tlsPorts;
  return policy.rules.some((rule) => needsInterception(rule) && (rule.ports === 'any' ? tls.size > 0 : [...rule.ports].some((p) => tls.has(p))));
}

export function interceptDecision(policy: CompiledPolicy, rule: CompiledRule, request: NormalizedRequest): Decision {
  return {
    effect: 'allow',
    reason: 'intercepted',
    message: `${describeRequest(request)} intercepted: rule ${rule.name} decides on each request inside`,
    rule,
    request,
    revision: policy.revision,
    intercept: true,
  };
}

export function ruleDecision(policy: CompiledPolicy, rule: CompiledRule, request: NormalizedRequest): Decision {
  const verb = rule.effect === 'allow' ? 'allowed' : 'denied';
  const why = rule.reason ? ` (${rule.reason})` : '';
  return {
    effect: rule.effect,
    reason: rule.effect === 'allow' ? 'allowed_by_rule' : 'denied_by_rule',
    message: `${describeRequest(request)} ${verb} by rule ${rule.name}${why}`,
    rule,
    request,
    revision: policy.revision,
  };
}

export function noRule(policy: CompiledPolicy, request: NormalizedRequest): Decision {
  return {
    effect: 'deny',
    reason: 'no_rule',
    message: `${describeRequest(request)} denied: no rule allows it (default deny)`,
    rule: null,
    request,
    revision: policy.revision,
  };
}

/**
 * Why `rule` does not match `request` apart from the host, or undefined when it matches. For an interceptable
 * tunnel only ports and agents count: methods and paths are decided later, on each request inside.
 */
export function mismatch(rule: CompiledRule, request: NormalizedRequest, interceptable = false): string | undefined {
  if (rule.ports !== 'any' && !rule.ports.has(request.port)) return `port ${request.port} is not in [${[...rule.ports].join(', ')}]`;
  if (rule.agents && !rule.agents.has(request.agent)) return `agent ${request.agent} is not in [${[...rule.agents].join(', ')}]`;
  if (interceptable) return undefined;
  // Inside a tunnel leash sees no method and no path. An allow rule restricted by them cannot vouch for what the
  // tunnel carries, so it does not match; a deny rule might forbid what the tunnel carries, so it does.
  if (request.path === undefined && rule.effect === 'deny') return undefined;
  if (rule.methods) {
    const methods = rule.methods;
    const listed = `[${[...methods].join(', ')}]`;
    const overrides = request.methodOverrides ?? [];
    // A method override is a method too: an allow rule must allow each one, a deny rule catches any one (and one
    // the proxy could not read, `*`, since it could be anything).
    if (rule.effect === 'deny') {
      if (!methods.has(request.method) && !overrides.some((m) => m === '*' || methods.has(m))) {
        const overridden = overrides.length ? ` (overridden to ${overrides.join(', ')})` : '';
        return `method ${request.method}${overridden} is not in ${listed}`;
      }
    } else {
      if (!methods.has(request.method)) return `method ${request.method} is not in ${listed}`;
      const outside = overrides.find((m) => !methods.has(m));
      if (outside === '*') {
        return `a method override the proxy could not read could name any method, and the rule allows only ${listed}`;
      }
      if (outside !== undefined) return `method override ${outside} is not in ${listed}`;
    }
  }
  if (rule.paths) {
    const path = request.path;
    if (path === undefined) return 'the rule restricts paths and a tunnel has no visible path';
    if (rule.effect === 'allow' && request.ambiguousPath) return 'the path uses dot segments, encoded slashes, backslashes or ;parameters, which origins resolve differently, so an allow rule on paths does not vouch for it';
    if (!rule.paths.some((glob) => glob.regex.test(path))) return `path ${path} matches none of [${rule.paths.map((g) => g.text).join(', ')}]`;
  }
  return undefined;
}

export function hostMatches(pattern: HostPattern, host: string, kind: HostKind): boolean {
  switch (pattern.kind) {
    case 'any':
      return true;
    case 'exact':
      return pattern.host === host;
    case 'wildcard':
      return kind === 'name' && host.endsWith(`.${pattern.suffix}`);
    case 'cidr':
      return cidrContains(pattern, host, kind);
  }
}

export function describeRequest(request: NormalizedRequest): string {
  const host = request.hostKind === 'ipv6' ? `[${request.host}]` : request.host;
  return request.path === undefined ? `${request.method} ${host}:${request.port}` : `${request.method} ${host}:${request.port}${request.path}`;
}
