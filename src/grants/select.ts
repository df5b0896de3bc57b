// Which references in a trusted response become grants. PURE. Never granted: an IP literal (a response cannot
// hand out raw addresses), a host any deny rule names (deny always wins), and more distinct hosts per response
// than settings.grants.maxPerResponse. A host the policy already allows, or the response's own host, needs none.

import type { Reference } from '../inspect/reference.js';
import { candidateRules } from '../policy/host-index.js';
import { decide } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { CompiledRule } from '../policy/rule.js';

export type SkipReason = 'ip_literal' | 'deny_rule' | 'over_limit';

export type Selection =
  | { readonly kind: 'grant'; readonly reference: Reference }
  | { readonly kind: 'skip'; readonly reference: Reference; readonly why: SkipReason; readonly rule?: string }
  | { readonly kind: 'none'; readonly reference: Reference };

/** State of one response's inspection: hosts already granted or skipped, so each counts once. */
export interface ResponseGrants {
  readonly seen: Map<string, Selection['kind']>;
  readonly responseHost: string;
  readonly responsePort: number;
}

export function newResponseGrants(responseHost: string, responsePort: number): ResponseGrants {
  return { seen: new Map(), responseHost, responsePort };
}

export function selectReference(policy: CompiledPolicy, agent: string, reference: Reference, state: ResponseGrants): Selection | undefined {
  const key = `${reference.scheme}://${reference.host}:${reference.port}`;
  const scopeUrl = policy.settings.grants.scope === 'url';
  // With scope url every URL matters; with scope host, a host decided once is decided.
  if (state.seen.has(key) && !(scopeUrl && state.seen.get(key) === 'grant')) return undefined;
  let selection: Selection;
  if (reference.host === state.responseHost && reference.port === state.responsePort) {
    selection = { kind: 'none', reference };
  } else if (reference.hostKind !== 'name') {
    selection = { kind: 'skip', reference, why: 'ip_literal' };
  } else {
    const named = ruleNaming(policy, reference.host);
    if (named?.effect === 'deny') {
      selection = { kind: 'skip', reference, why: 'deny_rule', rule: named.name };
    } else if (named) {
      // A host the policy names is decided by its rules (an allow limited to some paths, say), never by grants.
      selection = { kind: 'none', reference };
    } else if (decide(policy, { method: 'GET', host: reference.host, port: reference.port, path: pathOf(reference.url), agent }).effect === 'allow') {
      selection = { kind: 'none', reference };
    } else if (!state.seen.has(key) && grantedHosts(state) >= policy.settings.grants.maxPerResponse) {
      selection = { kind: 'skip', reference, why: 'over_limit' };
    } else {
      selection = { kind: 'grant', reference };
    }
  }
  state.seen.set(key, selection.kind);
  return selection;
}

function grantedHosts(state: ResponseGrants): number {
  let n = 0;
  for (const kind of state.seen.values()) if (kind === 'grant') n++;
  return n;
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
