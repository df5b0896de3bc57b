// Which references in a trusted response become grants. PURE. Never granted: an IP literal (a response cannot
// hand out raw addresses), a host any deny rule names (deny always wins), a host or URL the request itself
// carried (reflection.ts: an API that echoes its query must not let an agent grant itself an attacker's host), a
// reference outside the rule's `inspect.grant` narrowing, and more distinct hosts per response than
// settings.grants.maxPerResponse. A host the policy already allows, or the response's own host, needs none.
//
// Cost: O(1) per reference apart from the policy lookups, whatever the number of hosts already seen (a response
// naming 200,000 hosts must not make each reference count them all again).

import type { Reference } from '../inspect/reference.js';
import { candidateRules } from '../policy/host-index.js';
import { decide, hostMatches } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { CompiledRule, GrantNarrowing } from '../policy/rule.js';
import type { RequestMaterial } from './reflection.js';

/** Why a reference was not granted; `grant.skipped` in its audit record. A closed catalogue (README). */
export type SkipReason =
  | 'ip_literal'
  | 'deny_rule'
  | 'over_limit'
  | 'reflected'
  | 'request_unseen'
  | 'not_in_grant_hosts'
  | 'not_in_grant_paths';

export const SKIP_REASONS: Readonly<Record<SkipReason, string>> = {
  ip_literal: 'an IP literal is never granted',
  deny_rule: 'a deny rule names this host',
  over_limit: 'more hosts than settings.grants.maxPerResponse in one response',
  reflected:
    'the request that produced the response carried it (its host, or 8 or more characters of its path, query or body)',
  request_unseen:
    'the request body was larger than leash reads (64 KiB) or content-coded, so the response could reflect data ' +
    'leash did not see; only hosts in inspect.grant.hosts are granted then',
  not_in_grant_hosts: "the host matches none of the rule's inspect.grant.hosts",
  not_in_grant_paths: "it was found at none of the rule's inspect.grant.paths",
};

export type Selection =
  | { readonly kind: 'grant'; readonly reference: Reference }
  | { readonly kind: 'skip'; readonly reference: Reference; readonly why: SkipReason; readonly rule?: string }
  | { readonly kind: 'none'; readonly reference: Reference };

/** State of one response's inspection: hosts (and, with scope url, URLs) already decided, so each counts once. */
export interface ResponseGrants {
  /** Decisions that hold for every reference to the host, keyed `scheme://host:port`. */
  readonly hosts: Map<string, Selection['kind']>;
  /** scope url: URLs already granted or skipped. */
  readonly urls: Set<string>;
  readonly responseHost: string;
  readonly responsePort: number;
  /** What the request carried; undefined only where no request exists to reflect (tests of other rules). */
  readonly reflection: RequestMaterial | undefined;
  readonly narrowing: GrantNarrowing | null;
  granted: number;
}

export function newResponseGrants(
  responseHost: string,
  responsePort: number,
  options: { reflection?: RequestMaterial; narrowing?: GrantNarrowing | null } = {},
): ResponseGrants {
  return {
    hosts: new Map(),
    urls: new Set(),
    responseHost,
    responsePort,
    reflection: options.reflection,
    narrowing: options.narrowing ?? null,
    granted: 0,
  };
}

/** The decision for one reference, or undefined when it repeats one already decided for this response. */
export function selectReference(
  policy: CompiledPolicy,
  agent: string,
  reference: Reference,
  state: ResponseGrants,
): Selection | undefined {
  const key = `${reference.scheme}://${reference.host}:${reference.port}`;
  const scopeUrl = policy.settings.grants.scope === 'url';
  const decided = state.hosts.get(key);
  // With scope host, a host granted once is granted; with scope url every URL is its own grant.
  if (decided !== undefined && !(decided === 'grant' && scopeUrl)) return undefined;
  if (scopeUrl && decided === 'grant') {
    if (state.urls.has(reference.url)) return undefined;
  }
  const hostLevel = (selection: Selection): Selection => {
    state.hosts.set(key, selection.kind);
    return selection;
  };

  if (decided === undefined) {
    if (reference.host === state.responseHost && reference.port === state.responsePort)
      return hostLevel({ kind: 'none', reference });
    if (reference.hostKind !== 'name') return hostLevel({ kind: 'skip', reference, why: 'ip_literal' });
    const named = ruleNaming(policy, reference.host);
    if (named?.effect === 'deny') return hostLevel({ kind: 'skip', reference, why: 'deny_rule', rule: named.name });
    // A host the policy names is decided by its rules (an allow limited to some paths, say), never by grants.
    if (named) return hostLevel({ kind: 'none', reference });
    if (
      decide(policy, { method: 'GET', host: reference.host, port: reference.port, path: pathOf(reference.url), agent })
        .effect === 'allow'
    ) {
      return hostLevel({ kind: 'none', reference });
    }
    const hosts = state.narrowing?.hosts;
    const inHosts = hosts
      ? hosts.some((pattern) => hostMatches(pattern, reference.host, reference.hostKind))
      : undefined;
    if (inHosts === false) return hostLevel({ kind: 'skip', reference, why: 'not_in_grant_hosts' });
    const reflection = state.reflection;
    if (reflection && reflection.hostReflected(reference.host))
      return hostLevel({ kind: 'skip', reference, why: 'reflected' });
    if (reflection && !reflection.complete && inHosts !== true)
      return hostLevel({ kind: 'skip', reference, why: 'request_unseen' });
    // Host-wide, but only if the host is not granted yet: the cap counts distinct hosts.
    if (!scopeUrl && reflection?.carriesRun(reference.host))
      return hostLevel({ kind: 'skip', reference, why: 'reflected' });
  }

  // Per reference: where it was found, and (scope url) what its URL carries. Not remembered for the host: the
  // same host found at a listed path, or under a clean URL, may still be granted.
  const paths = state.narrowing?.paths;
  if (paths && !paths.some((pattern) => pattern.matches(reference.found)))
    return { kind: 'skip', reference, why: 'not_in_grant_paths' };
  if (scopeUrl && state.reflection?.carriesRun(reference.url)) {
    state.urls.add(reference.url);
    return { kind: 'skip', reference, why: 'reflected' };
  }
  if (decided === undefined && state.granted >= policy.settings.grants.maxPerResponse)
    return hostLevel({ kind: 'skip', reference, why: 'over_limit' });
  if (decided === undefined) state.granted++;
  if (scopeUrl) state.urls.add(reference.url);
  return hostLevel({ kind: 'grant', reference });
}

/**
 * The first rule (other than a catch-all `*`) whose host pattern matches `host`, on any port, for any agent. A deny
 * rule there means the host is never granted; any other rule means its rules, not grants, decide.
 */
function ruleNaming(policy: CompiledPolicy, host: string): CompiledRule | undefined {
  let named: CompiledRule | undefined;
  for (const i of candidateRules(policy.index, policy.rules, host, 'name')) {
    const rule = policy.rules[i] as CompiledRule;
    if (rule.pattern.kind === 'any') continue;
    if (rule.effect === 'deny') return rule;
    named ??= rule;
  }
  return named;
}

function pathOf(url: string): string {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}
