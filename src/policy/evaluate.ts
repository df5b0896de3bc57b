// The decision: a pure function of (compiled policy, request facts). It reads no clock, opens no socket and keeps
// no state; the proxy gathers facts, asks, and enforces the answer. Precedence is what an operator merging policy
// files from several teams means: a matching deny rule always wins, whatever the order of rules and files; among
// allow rules the most specific host pattern that matches the host and port decides, so a broad rule never widens
// what a narrower one restricts; equally specific rules keep file order; no match denies. Anything this code does
// not understand falls through to a deny.

import { candidateRules } from './host-index.js';
import { cidrContains, specificity, type HostPattern } from './host-pattern.js';
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

export type PolicyReason =
  'allowed_by_rule' | 'denied_by_rule' | 'no_rule' | 'invalid_request' | 'intercepted' | 'opaque_tunnel';

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
  /**
   * An allow rule's host pattern matches this host and port, so its rules decide it: a grant never widens them
   * (a grant is for hosts no rule speaks about).
   */
  readonly hostHasRule?: boolean;
}

const METHOD = /^[A-Z]{1,20}$/;
// A `.` or `..` segment (literal or %2e), an encoded slash or backslash, a backslash, a `;` or an empty segment.
const AMBIGUOUS_PATH = /(^|\/)(\.|%2e){1,2}(\/|$)|%2f|%5c|\\|;|\/\//i;

export function normalizeRequest(facts: RequestFacts): NormalizedRequest | { error: string } {
  const host = normalizeHost(facts.host);
  if (!host.ok) return { error: host.message };
  if (!Number.isInteger(facts.port) || facts.port < 1 || facts.port > 65535)
    return { error: `port ${facts.port} is outside 1-65535` };
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
    return {
      effect: 'deny',
      reason: 'invalid_request',
      message: request.error,
      rule: null,
      request: null,
      revision: policy.revision,
    };
  }
  return decideAmong(policy, request, candidateRules(policy.index, policy.rules, request.host, request.hostKind));
}

/** How a rule took part in a decision, for `leash explain`. */
export type Consideration = 'matched' | 'skipped' | 'outranked' | 'inspects';

export type TraceSink = (rule: CompiledRule, how: Consideration, why: string) => void;

/**
 * The decision among `candidates`: indices (ascending) of the rules whose host pattern matches the request's host.
 * `trace`, when given, hears about every candidate and why it did or did not decide (leash explain).
 */
export function decideAmong(
  policy: CompiledPolicy,
  request: NormalizedRequest,
  candidates: readonly number[],
  trace?: TraceSink,
): Decision {
  const rules = policy.rules;
  const tunnel = request.method === 'CONNECT' && request.path === undefined;
  const interceptable = tunnel && policy.settings.tlsPorts.has(request.port);
  const opaque = tunnel && !interceptable;

  // 1. Deny rules win. On an interceptable tunnel, a deny rule limited to methods or paths cannot be judged on the
  //    CONNECT: it makes leash intercept, so it is judged on each request inside.
  let inspectingDeny: CompiledRule | undefined;
  let bestAllow = -1;
  for (const i of candidates) {
    const rule = rules[i] as CompiledRule;
    if (rule.effect === 'allow') {
      if (portMatches(rule, request.port)) bestAllow = Math.max(bestAllow, specificity(rule.pattern));
      continue;
    }
    const why = mismatch(rule, request, interceptable);
    if (why !== undefined) {
      trace?.(rule, 'skipped', why);
      continue;
    }
    if (interceptable && needsInterception(rule)) {
      inspectingDeny ??= rule;
      trace?.(
        rule,
        'inspects',
        `denies some requests inside ${describeRequest(request)}: the tunnel is intercepted so each request can be held to it`,
      );
      continue;
    }
    trace?.(
      rule,
      'matched',
      `${describeRequest(request)} matches deny rule ${rule.name}; a matching deny rule always wins`,
    );
    return ruleDecision(policy, rule, request);
  }

  // 2. The allow rules of the most specific pattern that matches the host and port decide, in file order.
  let nearest: { rule: CompiledRule; why: string } | undefined;
  let opaqueRule: CompiledRule | undefined;
  for (const i of candidates) {
    const rule = rules[i] as CompiledRule;
    if (rule.effect !== 'allow') continue;
    if (!portMatches(rule, request.port)) {
      trace?.(
        rule,
        'skipped',
        `port ${request.port} is not in [${[...(rule.ports as ReadonlySet<number>)].join(', ')}]`,
      );
      continue;
    }
    if (specificity(rule.pattern) < bestAllow) {
      trace?.(
        rule,
        'outranked',
        `a more specific rule for ${request.host} decides; ${rule.pattern.text} cannot widen what it allows`,
      );
      continue;
    }
    // An opaque tunnel is allowed only by a rule that says CONNECT: leash could not hold it to anything else.
    if (opaque && !rule.methods?.has('CONNECT') && mismatch(rule, request, true) === undefined) {
      trace?.(
        rule,
        'skipped',
        `a CONNECT to port ${request.port} (not in settings.tlsPorts) is an opaque tunnel leash cannot see into, and rule ${rule.name} does not name CONNECT in its methods`,
      );
      opaqueRule ??= rule;
      continue;
    }
    const why = mismatch(rule, request, interceptable);
    if (why !== undefined) {
      trace?.(rule, 'skipped', why);
      nearest ??= { rule, why };
      continue;
    }
    if (interceptable && (needsInterception(rule) || inspectingDeny)) {
      trace?.(
        rule,
        'matched',
        `${describeRequest(request)} matches ${rule.name}; ${inspectingDeny && !needsInterception(rule) ? `deny rule ${inspectingDeny.name} looks inside requests` : 'the rule looks inside requests'}, so the tunnel is intercepted and each request in it is decided on its own`,
      );
      return interceptDecision(policy, rule, request);
    }
    trace?.(
      rule,
      'matched',
      `${describeRequest(request)} matches ${rule.name}, the most specific allow rule for this host`,
    );
    return ruleDecision(policy, rule, request);
  }
  if (opaqueRule) return opaqueTunnel(policy, opaqueRule, request);
  const denied = noRule(policy, request, nearest);
  return bestAllow >= 0 ? { ...denied, hostHasRule: true } : denied;
}

function portMatches(rule: CompiledRule, port: number): boolean {
  return rule.ports === 'any' || rule.ports.has(port);
}

/** A CONNECT to a TLS port: leash can terminate its TLS and see each request inside. */
export function isInterceptable(policy: CompiledPolicy, request: NormalizedRequest): boolean {
  return request.path === undefined && request.method === 'CONNECT' && policy.settings.tlsPorts.has(request.port);
}

/** A rule that decides on more than host and port: it can only be enforced by looking inside the tunnel. */
export function needsInterception(rule: CompiledRule): boolean {
  // rateLimit counts requests, so they must be seen; `connections` counts tunnels and needs nothing of the sort.
  return (
    rule.paths !== null ||
    rule.inspect.length > 0 ||
    rule.rateLimit !== null ||
    (rule.methods !== null && [...rule.methods].some((m) => m !== 'CONNECT'))
  );
}

/** Will some tunnel under this policy be intercepted? Then leash needs its CA. */
export function policyNeedsInterception(policy: CompiledPolicy): boolean {
  const tls = policy.settings.tlsPorts;
  // Any inspect rule can grant an https:// host, and tunnels opened through grants are intercepted.
  return policy.rules.some(
    (rule) =>
      rule.inspect.length > 0 ||
      (needsInterception(rule) && (rule.ports === 'any' ? tls.size > 0 : [...rule.ports].some((p) => tls.has(p)))),
  );
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

/** No rule allows the request; `nearest` is the most specific allow rule for the host, and why it did not match. */
export function noRule(
  policy: CompiledPolicy,
  request: NormalizedRequest,
  nearest?: { rule: CompiledRule; why: string },
): Decision {
  return {
    effect: 'deny',
    reason: 'no_rule',
    message: nearest
      ? `${describeRequest(request)} denied: rule ${nearest.rule.name} decides for this host and does not allow it (${nearest.why})`
      : `${describeRequest(request)} denied: no rule allows it (default deny)`,
    rule: null,
    request,
    revision: policy.revision,
  };
}

export function opaqueTunnel(policy: CompiledPolicy, rule: CompiledRule, request: NormalizedRequest): Decision {
  return {
    effect: 'deny',
    reason: 'opaque_tunnel',
    message: `${describeRequest(request)} denied: port ${request.port} is not a TLS port (settings.tlsPorts), so leash could neither see nor audit what the tunnel carries; to allow it, add CONNECT to the methods of rule ${rule.name}, or add the port to settings.tlsPorts if it carries TLS`,
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
  if (rule.ports !== 'any' && !rule.ports.has(request.port))
    return `port ${request.port} is not in [${[...rule.ports].join(', ')}]`;
  if (rule.agents && !rule.agents.has(request.agent))
    return `agent ${request.agent} is not in [${[...rule.agents].join(', ')}]`;
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
    if (rule.effect === 'allow' && request.ambiguousPath)
      return 'the path uses dot segments, encoded slashes, backslashes or ;parameters, which origins resolve differently, so an allow rule on paths does not vouch for it';
    if (!rule.paths.some((glob) => glob.regex.test(path)))
      return `path ${path} matches none of [${rule.paths.map((g) => g.text).join(', ')}]`;
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
  return request.path === undefined
    ? `${request.method} ${host}:${request.port}`
    : `${request.method} ${host}:${request.port}${request.path}`;
}
