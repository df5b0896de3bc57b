// The compiled domain matcher. Exact hosts and wildcard suffixes live in hash maps, so finding the rules that can
// match a host costs one lookup per label of the host, whatever the number of rules; only "*" and CIDR rules are
// scanned, and policies have few of those.

import { cidrContains } from './host-pattern.js';
import type { HostKind } from './host.js';
import type { CompiledRule } from './rule.js';

export interface HostIndex {
  readonly exact: ReadonlyMap<string, readonly number[]>;
  readonly wildcard: ReadonlyMap<string, readonly number[]>;
  readonly any: readonly number[];
  readonly cidr: readonly number[];
}

const NONE: readonly number[] = Object.freeze([]);

export function buildHostIndex(rules: readonly CompiledRule[]): HostIndex {
  const exact = new Map<string, number[]>();
  const wildcard = new Map<string, number[]>();
  const any: number[] = [];
  const cidr: number[] = [];
  const add = (map: Map<string, number[]>, key: string, index: number) => {
    const list = map.get(key);
    if (list) list.push(index);
    else map.set(key, [index]);
  };
  for (const rule of rules) {
    const p = rule.pattern;
    if (p.kind === 'exact') add(exact, p.host, rule.index);
    else if (p.kind === 'wildcard') add(wildcard, p.suffix, rule.index);
    else if (p.kind === 'any') any.push(rule.index);
    else cidr.push(rule.index);
  }
  return { exact, wildcard, any, cidr };
}

/** Indices of the rules whose host pattern matches `host` (normalised), ascending. */
export function candidateRules(
  index: HostIndex,
  rules: readonly CompiledRule[],
  host: string,
  kind: HostKind,
): readonly number[] {
  const lists: (readonly number[])[] = [];
  const exact = index.exact.get(host);
  if (exact) lists.push(exact);
  if (kind === 'name') {
    for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
      const hit = index.wildcard.get(host.slice(dot + 1));
      if (hit) lists.push(hit);
    }
  } else if (index.cidr.length > 0) {
    const hits = index.cidr.filter((i) => {
      const p = (rules[i] as CompiledRule).pattern;
      return p.kind === 'cidr' && cidrContains(p, host, kind);
    });
    if (hits.length > 0) lists.push(hits);
  }
  if (index.any.length > 0) lists.push(index.any);
  if (lists.length === 0) return NONE;
  if (lists.length === 1) return lists[0] as readonly number[];
  return lists.flat().sort((a, b) => a - b);
}
