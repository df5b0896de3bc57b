// A log for the audit report: a few hundred records over six hours that touch every section of the page: four
// agents allowed and denied, deny reasons, one host receiving far more bytes than the rest (the outlier), grants
// issued by a docs rule's responses and used on CDN hosts, rate-limit and bandwidth hits, a policy reload and a
// rejected change. Seeded, so the same records every run; written through the real logger (chained, redacted).

import { BASE } from './known-audit-log.js';
import { prng } from '../bench/prng.js';

export const REPORT_AGENTS = ['research', 'builder', 'support', 'anonymous'] as const;
/** The host the research agent uploads to: about 40 times any other host's bytes out. */
export const EXFIL_HOST = 'paste.attacker.test';
export const REPORT_POLICY_RULES = [
  'openai',
  'github',
  'docs',
  'pypi',
  'block-exfil',
  'legacy-ftp',
  'old-mirror',
] as const;

type Fields = Record<string, unknown>;

export function reportRecords(count = 400, seed = 7): Fields[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const out: Fields[] = [];
  const span = 6 * 3600_000;
  let n = 0;
  const rec = (minuteMs: number, fields: Fields): Fields => ({
    id: `rep-${String(++n).padStart(4, '0')}`,
    time: new Date(BASE + minuteMs).toISOString(),
    event: 'request',
    agent: 'research',
    identity: 'token',
    client: { address: '127.0.0.1', port: 40000 + n },
    method: 'GET',
    scheme: 'http',
    host: null,
    port: 80,
    path: '/',
    effect: 'allow',
    rule: null,
    reason: 'allowed_by_rule',
    status: 200,
    bytesIn: 0,
    bytesOut: 0,
    durationMs: 1,
    resolved: null,
    policyRevision: minuteMs < span / 2 ? 'rev-a' : 'rev-b',
    ...fields,
  });
  const allowed: [string, string][] = [
    ['api.openai.com', 'openai'],
    ['github.com', 'github'],
    ['docs.python.org', 'docs'],
    ['pypi.org', 'pypi'],
    ['files.pythonhosted.org', 'pypi'],
  ];
  for (let i = 0; i < count; i++) {
    const t = Math.floor((i / count) * span);
    const agent = pick(REPORT_AGENTS);
    const roll = random();
    if (roll < 0.55) {
      const [host, rule] = pick(allowed);
      out.push(
        rec(t, {
          agent,
          method: pick(['GET', 'POST']),
          host,
          rule,
          bytesOut: 200 + Math.floor(random() * 800),
          bytesIn: Math.floor(random() * 50_000),
        }),
      );
    } else if (roll < 0.8) {
      const [host, rule, reason] = pick<[string, string | null, string]>([
        ['attacker.test', 'block-exfil', 'denied_by_rule'],
        ['example.com', null, 'no_rule'],
        ['169.254.169.254', null, 'address_denied'],
        ['tracker.example.net', null, 'no_rule'],
      ]);
      out.push(rec(t, { agent, host, rule, effect: 'deny', reason, status: 403 }));
    } else if (roll < 0.87) {
      out.push(
        rec(t, { agent, host: 'api.openai.com', rule: 'openai', effect: 'deny', reason: 'rate_limited', status: 429 }),
      );
    } else if (roll < 0.9) {
      out.push(
        rec(t, {
          agent,
          method: 'POST',
          host: 'github.com',
          rule: 'github',
          effect: 'deny',
          reason: 'bandwidth',
          status: 429,
          bytesOut: 1000,
        }),
      );
    } else {
      // A docs response grants a CDN host; the agent then uses it a few times.
      const cdn = pick(['cdn.jsdelivr.net', 'fonts.gstatic.com', 'img.shields.io']);
      const source = `rep-src-${i}`;
      const grant = {
        source,
        sourceRule: 'docs',
        sourceUrl: 'https://docs.python.org/3/library/',
        found: 'html:img[src]',
        expiresAt: new Date(BASE + t + 300_000).toISOString(),
      };
      out.push(
        rec(t, {
          event: 'grant',
          agent,
          host: cdn,
          rule: 'docs',
          reason: 'granted',
          status: null,
          method: null,
          path: null,
          port: 443,
          scheme: 'https',
          grant: { ...grant, ttlMs: 300_000 },
        }),
      );
      const uses = 1 + Math.floor(random() * 3);
      for (let u = 0; u < uses; u++) {
        out.push(
          rec(t + 1000 * (u + 1), {
            agent,
            host: cdn,
            path: '/asset.js',
            rule: 'grant',
            reason: 'granted',
            bytesOut: 50,
            bytesIn: 30_000,
            grant,
          }),
        );
      }
    }
  }
  // The exfiltration: research posts large bodies to one host an hour in.
  for (let k = 0; k < 4; k++) {
    out.push(
      rec(3600_000 + k * 60_000, {
        agent: 'research',
        method: 'POST',
        host: EXFIL_HOST,
        rule: 'paste',
        path: '/api/paste',
        bytesOut: 250_000,
        bytesIn: 100,
      }),
    );
  }
  const policy = {
    event: 'policy',
    agent: '-',
    identity: 'none',
    client: null,
    method: null,
    scheme: null,
    port: null,
    path: null,
    status: null,
  };
  out.push(
    rec(span / 2, {
      ...policy,
      reason: 'policy_loaded',
      policyRevision: 'rev-b',
      previousRevision: 'rev-a',
      message: 'policy revision rev-b in force',
    }),
  );
  out.push(
    rec(span / 2 + 3600_000, {
      ...policy,
      effect: 'deny',
      reason: 'policy_invalid',
      policyRevision: 'rev-b',
      message: 'policy change rejected; the running policy stays in force',
    }),
  );
  return out.sort((a, b) =>
    (a.time as string) < (b.time as string) ? -1 : (a.time as string) > (b.time as string) ? 1 : 0,
  );
}
