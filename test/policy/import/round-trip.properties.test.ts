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
const RUNS = { seed: Number(process.env.IMPORT_SEED ?? 20261203), numRuns: Number(process.env.IMPORT_RUNS ?? 80) };

/** sandbox-runtime and smokescreen match alike: an exact host, or `*.suffix` for subdomains at any depth. */
function globMatches(glob: string, host: string): boolean {
  return glob.startsWith('*.') ? host.endsWith(glob.slice(1)) : glob === host;
}

function loadWithText(format: 'srt' | 'smokescreen' | 'squid', text: string): { policy: CompiledPolicy; yaml: string } {
  const imported = importPolicy(format, 'source', text);
  if (!imported.ok) throw new Error(imported.issues.map((i) => i.message).join('\n'));
  const loaded = compilePolicy([{ file: 'imported.yaml', text: imported.yaml }]);
  if (!loaded.policy)
    throw new Error(`does not load:\n${loaded.issues.map((i) => i.message).join('\n')}\n${imported.yaml}`);
  return { policy: loaded.policy, yaml: imported.yaml };
}

const load = (format: 'srt' | 'smokescreen', text: string): CompiledPolicy => loadWithText(format, text).policy;

function hostPort(request: string): { host: string; port: number } {
  const target = (request.split(' ')[1] as string).replace(/^http:\/\//, '').replace(/\/.*$/, '');
  const at = target.lastIndexOf(':');
  return { host: target.slice(0, at), port: Number(target.slice(at + 1)) };
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

  // squid: first match wins, then the opposite of the last line. Where leash cannot say the same, the import says
  // so in a comment ("differs:", "not carried over:"); without such a comment the decisions must be identical.
  const term = fc.record({ acl: fc.constantFrom('d1', 'd2', 'ssl', 'web', 'CONNECT', 'all'), negated: fc.boolean() });
  const line = fc.record({ allow: fc.boolean(), terms: fc.array(term, { minLength: 1, maxLength: 2 }) });
  const domains = fc.uniqueArray(
    fc.constantFrom(...PATTERNS.filter((p) => !p.startsWith('*')).flatMap((p) => [p, `.${p}`])),
    { minLength: 1, maxLength: 3 },
  );
  it('squid: first matching http_access line, then the opposite of the last; exact wherever no comment says otherwise', () => {
    let exact = 0;
    fc.assert(
      fc.property(domains, domains, fc.array(line, { minLength: 1, maxLength: 4 }), (d1, d2, lines) => {
        const text =
          `acl d1 dstdomain ${d1.join(' ')}\nacl d2 dstdomain ${d2.join(' ')}\nacl ssl port 443\nacl web port 80 443 8080\n` +
          `acl CONNECT method CONNECT\n` +
          lines
            .map(
              (l) =>
                `http_access ${l.allow ? 'allow' : 'deny'} ${l.terms.map((t) => `${t.negated ? '!' : ''}${t.acl}`).join(' ')}`,
            )
            .join('\n') +
          '\n';
        const { policy, yaml } = loadWithText('squid', text);
        if (/differs:|not carried over:/.test(yaml)) return;
        exact++;
        const domainHit = (values: string[], host: string) =>
          values.some((v) => (v.startsWith('.') ? host === v.slice(1) || host.endsWith(v) : host === v));
        for (const request of REQUESTS) {
          const { host, port } = hostPort(request);
          const method = request.split(' ')[0] as string;
          const matches = (acl: string): boolean =>
            acl === 'd1'
              ? domainHit(d1, host)
              : acl === 'd2'
                ? domainHit(d2, host)
                : acl === 'ssl'
                  ? port === 443
                  : acl === 'web'
                    ? [80, 443, 8080].includes(port)
                    : acl === 'CONNECT'
                      ? method === 'CONNECT'
                      : true;
          const hit = lines.find((l) => l.terms.every((t) => matches(t.acl) !== t.negated));
          const last = lines[lines.length - 1] as (typeof lines)[number];
          const squid = hit ? (hit.allow ? 'allow' : 'deny') : last.allow ? 'deny' : 'allow';
          expect([request, leashVerdict(policy, request)]).toEqual([request, squid]);
        }
      }),
      RUNS,
    );
    // The property says something only if most generated configurations import exactly.
    expect(exact).toBeGreaterThan(RUNS.numRuns / 2);
  });
});
