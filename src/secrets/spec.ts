// The `secrets:` section of a policy: credentials the agent never holds. Each names where its real value lives
// (env:NAME or file:PATH, read when the policy is loaded, never written in the file), the hosts it belongs to, and
// where in a request it goes (a header, with an optional format, or a query parameter). This module validates and
// compiles the section; the compiled form carries only where the value lives, never the value, so it can be
// printed by `leash check` and `leash explain` and hashed into the revision without leaking anything.
// PURE: no I/O, no clock, no state.

import type { PolicyIssue, SourceLocation } from '../errors.js';
import { compileHostPattern, type HostPattern } from '../policy/host-pattern.js';
import { fieldName } from '../policy/schema.js';
import type { ParsedYaml } from '../policy/yaml.js';

/** Where a secret goes in a request that carries its placeholder. */
export type SecretTarget =
  /** Wherever the placeholder stands in the request headers. */
  | { readonly kind: 'headers' }
  /** In this header only (lower-cased); with `format`, the header's whole value becomes it, `{}` the secret. */
  | { readonly kind: 'header'; readonly name: string; readonly format: string | null }
  /** In this query parameter's value. */
  | { readonly kind: 'query'; readonly name: string };

export interface SecretHost {
  readonly pattern: Exclude<HostPattern, { kind: 'any' } | { kind: 'cidr' }>;
  readonly location: SourceLocation;
}

export interface CompiledSecret {
  readonly name: string;
  /** Where the real value lives. The value itself is read per policy revision (values.ts), never kept here. */
  readonly source: { readonly kind: 'env' | 'file'; readonly ref: string };
  readonly hosts: readonly SecretHost[];
  readonly target: SecretTarget;
  readonly location: SourceLocation;
}

interface RawSecret {
  value: string;
  hosts: string[];
  header?: string;
  format?: string;
  query?: string;
}

// Headers that frame the message or talk to the proxy: a secret placed there would change what the request is, or
// never reach the origin (RFC 9110 §7.6.1, RFC 9112 §6).
const FRAMING_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

export function collectSecrets(files: readonly ParsedYaml[], issues: PolicyIssue[]): Map<string, CompiledSecret> {
  const secrets = new Map<string, CompiledSecret>();
  for (const file of files) {
    const raw = (file.value as { secrets?: Record<string, RawSecret> }).secrets ?? {};
    for (const [name, spec] of Object.entries(raw)) {
      const before = issues.length;
      const at = (path: (string | number)[]) => ['secrets', name, ...path];
      const fail = (path: (string | number)[], message: string) =>
        issues.push({
          severity: 'error',
          location: file.locate(at(path), path.length ? 'value' : 'key'),
          field: fieldName(at(path)),
          message,
        });
      const location = file.locate(['secrets', name], 'key');
      const first = secrets.get(name);
      if (first) {
        fail([], `is defined twice; first at ${first.location.file}:${first.location.line}:${first.location.column}`);
        continue;
      }
      const hosts: SecretHost[] = [];
      spec.hosts.forEach((text, i) => {
        const compiled = compileHostPattern(text);
        if (!compiled.ok) return fail(['hosts', i], compiled.message);
        const pattern = compiled.pattern;
        if (pattern.kind === 'any' || pattern.kind === 'cidr') {
          return fail(
            ['hosts', i],
            `"${text}" is a whole range of hosts; a secret belongs to the hosts of one service: name them`,
          );
        }
        if (pattern.kind === 'wildcard' && pattern.publicSuffix) {
          return fail(
            ['hosts', i],
            `"${text}" covers a whole public suffix, whose subdomains belong to different owners; name the service's hosts`,
          );
        }
        hosts.push({ pattern, location: file.locate(at(['hosts', i])) });
      });
      if (spec.header !== undefined && spec.query !== undefined) {
        fail(['query'], 'a secret goes in one place: a header or a query parameter, not both');
      }
      if (spec.format !== undefined && spec.header === undefined) {
        fail(
          ['format'],
          'says what leash writes into a header; name that header with header: (e.g. header: Authorization)',
        );
      }
      const header = spec.header?.toLowerCase();
      if (header !== undefined && (FRAMING_HEADERS.has(header) || header.startsWith('proxy-'))) {
        fail(['header'], `"${spec.header}" frames the message or speaks to the proxy; a secret cannot go there`);
      }
      if (issues.length > before) continue;
      const target: SecretTarget =
        header !== undefined
          ? { kind: 'header', name: header, format: spec.format ?? null }
          : spec.query !== undefined
            ? { kind: 'query', name: spec.query }
            : { kind: 'headers' };
      const kind = spec.value.startsWith('env:') ? ('env' as const) : ('file' as const);
      secrets.set(
        name,
        Object.freeze({
          name,
          source: { kind, ref: spec.value.slice(spec.value.indexOf(':') + 1) },
          hosts: Object.freeze(hosts),
          target,
          location,
        }),
      );
    }
  }
  return secrets;
}

/** Does the secret belong to this normalised host? */
export function belongsTo(secret: CompiledSecret, host: string): boolean {
  return secret.hosts.some(({ pattern }) =>
    pattern.kind === 'exact' ? pattern.host === host : host.endsWith(`.${pattern.suffix}`),
  );
}

/** Does any secret of the policy belong to this normalised host? (Without secrets: no, at once.) */
export function isSecretHost(policy: { readonly secrets: ReadonlyMap<string, CompiledSecret> }, host: string): boolean {
  if (policy.secrets.size === 0) return false;
  for (const secret of policy.secrets.values()) if (belongsTo(secret, host)) return true;
  return false;
}
