// The invariant behind every importer: whatever the source policy, the imported leash policy decides each request
// as the source tool does. Random sandbox-runtime settings and smokescreen ACLs over a small world of hosts (so
// patterns nest, overlap and shadow each other often) are imported, loaded, and compared with reference deciders
// written from each tool's documented semantics, on every host of the world, several ports and both kinds of
// request. The seed is fixed so a failure reproduces; fast-check prints the counterexample.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/load.js';
import { importPolicy } from '../../../src/policy/import/formats.js';
import type { CompiledPolicy } from '../../../src/policy/policy.js';
import { leashVerdict } from './round-trip.js';

const HOSTS = ['a.test', 'b.a.test', 'c.b.a.test', 'x.test', 'a.x.test', 'other.example'];
const PATTERNS = [
  'a.test',
  'b.a.test',
  'c.b.a.test',
  'x.test',
  'a.x.test',
  '*.a.test',
  '*.b.a.test',
  '*.x.test',
  '*.test',
];
const PORTS = [443, 80, 8080, 22];
const REQUESTS = HOSTS.flatMap((host) =>
  PORTS.flatMap((port) => [`CONNECT ${host}:${port}`, `GET http://${host}:${port}/`]),
);
const RUNS = { seed: 20261203, numRuns: 80 };

/** sandbox-runtime and smokescreen match alike: an exact host, or `*.suffix` for subdomains at any depth. */
function globMatches(glob: string, host: string): boolean {
  return glob.startsWith('*.') ? host.endsWith(glob.slice(1)) : glob === host;
}

function load(format: 'srt' | 'smokescreen', text: string): CompiledPolicy {
  const imported = importPolicy(format, 'source', text);
  if (!imported.ok) throw new Error(imported.issues.map((i) => i.message).join('\n'));
  const loaded = compilePolicy([{ file: 'imported.yaml', text: imported.yaml }]);
  if (!loaded.policy)
    throw new Error(`does not load:\n${loaded.issues.map((i) => i.message).join('\n')}\n${imported.yaml}`);
  return loaded.policy;
}

function hostPort(request: string): { host: string; port: number } {
  const target = request.split(' ')[1] as string;
  const url = new URL(target.startsWith('http') ? target : `http://${target}`);
  return { host: url.hostname, port: Number(url.port) };
}

describe('an imported policy decides as its source tool', () => {
  const srtEntry = fc.tuple(fc.constantFrom(...PATTERNS), fc.option(fc.constantFrom(443, 8080), { nil: undefined }));
  it('sandbox-runtime: deniedDomains first, then allowedDomains, else deny; no :port is every port', () => {
    fc.assert(
      fc.property(fc.array(srtEntry, { maxLength: 5 }), fc.array(srtEntry, { maxLength: 3 }), (allowed, denied) => {
        const text = (entries: typeof allowed) => entries.map(([p, port]) => (port ? `${p}:${port}` : p));
        const policy = load(
          'srt',
          JSON.stringify({ network: { allowedDomains: text(allowed), deniedDomains: text(denied) } }),
        );
        const hit = (entries: typeof allowed, host: string, port: number) =>
          entries.some(([p, only]) => globMatches(p, host) && (only === undefined || only === port));
        for (const request of REQUESTS) {
          const { host, port } = hostPort(request);
          const srt = hit(denied, host, port) ? 'deny' : hit(allowed, host, port) ? 'allow' : 'deny';
          expect([request, leashVerdict(policy, request)]).toEqual([request, srt]);
        }
      }),
      RUNS,
    );
  });

  const role = fc.record({
    action: fc.constantFrom('open', 'enforce', 'report'),
    globs: fc.uniqueArray(fc.constantFrom(...PATTERNS), { maxLength: 3 }),
  });
  it("smokescreen: the role's allowed_domains, then global_deny_list, then global_allow_list, then the role's action", () => {
    fc.assert(
      fc.property(
        fc.array(role, { minLength: 1, maxLength: 3 }),
        fc.option(role, { nil: undefined }),
        fc.uniqueArray(fc.constantFrom(...PATTERNS), { maxLength: 2 }),
        fc.uniqueArray(fc.constantFrom(...PATTERNS), { maxLength: 2 }),
        (roles, fallback, globalDeny, globalAllow) => {
          const service = (r: { action: string; globs: string[] }, name: string) =>
            `  - name: ${name}\n    action: ${r.action}\n    allowed_domains: [${r.globs.map((g) => JSON.stringify(g)).join(', ')}]\n`;
          const text =
            `version: v1\nservices:\n${roles.map((r, i) => service(r, `svc${i}`)).join('')}` +
            (fallback
              ? `default:\n    action: ${fallback.action}\n    allowed_domains: [${fallback.globs.map((g) => JSON.stringify(g)).join(', ')}]\n`
              : '') +
            `global_deny_list: [${globalDeny.map((g) => JSON.stringify(g)).join(', ')}]\n` +
            `global_allow_list: [${globalAllow.map((g) => JSON.stringify(g)).join(', ')}]\n`;
          const policy = load('smokescreen', text);
          const report =
            [...roles, ...(fallback ? [fallback] : [])].every((r) => r.action === 'report') &&
            fallback !== undefined &&
            globalDeny.length === 0;
          const decide = (r: { action: string; globs: string[] } | undefined, host: string): string => {
            if (!r) return 'deny';
            if (r.globs.some((g) => globMatches(g, host))) return 'allow';
            if (globalDeny.some((g) => globMatches(g, host))) return 'deny';
            if (globalAllow.some((g) => globMatches(g, host))) return 'allow';
            if (r.action === 'enforce') return 'deny';
            return r.action === 'report' && report ? 'report' : 'allow';
          };
          const agents: [string, { action: string; globs: string[] } | undefined][] = [
            ...roles.map((r, i) => [`svc${i}`, r] as [string, typeof r]),
            ['anonymous', fallback],
          ];
          for (const [agent, r] of agents) {
            for (const request of REQUESTS) {
              const expected = decide(r, hostPort(request).host);
              expect([agent, request, leashVerdict(policy, request, agent)]).toEqual([agent, request, expected]);
            }
          }
        },
      ),
      RUNS,
    );
  });
});
