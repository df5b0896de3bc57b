// `leash audit report` as a reviewer runs it, on real files: it writes one page whose data block holds the figures
// (read back here as JSON), applies the filters of `leash audit` while verifying the chain over every record,
// reads rotated and gzipped inputs, names a broken chain and unreadable lines (exit 1, the page still written),
// takes the policy for "rules never hit", and refuses a command line it cannot honour (exit 2).

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ReportData } from '../../src/audit/report.js';
import { main } from '../../src/main.js';
import { tempDir } from '../helpers/audit-sink.js';
import { KNOWN, writeKnownLog } from '../helpers/known-audit-log.js';

interface Result {
  code: number;
  out: string[];
  err: string[];
}

async function leash(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (t) => out.push(...t.split('\n')),
    err: (t) => err.push(...t.split('\n')),
    env,
  });
  return { code, out, err };
}

async function pageData(
  file: string,
): Promise<{ data: ReportData; meta: { filters: string[]; inputs: string[]; policy: string[] | null } }> {
  const html = await readFile(file, 'utf8');
  const block = /<script type="application\/json" id="leash-data">(.*?)<\/script>/s.exec(html);
  if (!block) throw new Error('no data block in the page');
  return JSON.parse(block[1] as string);
}

let dir: string;
let log: string;
let policy: string;

beforeAll(async () => {
  dir = await tempDir('leash-report-cli-');
  log = await writeKnownLog(dir);
  policy = path.join(dir, 'policy.yaml');
  await writeFile(
    policy,
    'version: 1\nrules:\n' +
      ['openai', 'docs', 'block-exfil', 'legacy']
        .map((r) => `  - name: ${r}\n    domain: ${r}.example.test\n    effect: allow\n`)
        .join(''),
  );
});

describe('leash audit report', () => {
  it('writes one self-contained page and says what it holds', async () => {
    const out = path.join(dir, 'all.html');
    const r = await leash(['audit', 'report', log, '--policy', policy, '-o', out]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([`wrote ${out}: 14 records, 3 agents; hash chain verified`]);
    const html = await readFile(out, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i); // nothing loaded from anywhere
    const { data, meta } = await pageData(out);
    expect(data.chain).toMatchObject({ state: 'verified', records: 14, head: { seq: 14 } });
    expect(data.rulesNeverHit).toEqual(['legacy']);
    expect(meta.policy).toEqual([policy]);
  });

  it('applies the filters of leash audit; the chain is still verified over every record', async () => {
    const out = path.join(dir, 'builder.html');
    const r = await leash([
      'audit',
      'report',
      log,
      '--agent',
      'builder',
      '--since',
      '2026-11-22T01:00Z',
      '--output',
      out,
    ]);
    expect(r.code).toBe(0);
    const { data, meta } = await pageData(out);
    expect(data.records).toBe(3);
    expect(data.agents).toEqual(['builder']);
    expect(data.chain).toMatchObject({ state: 'verified', records: 14 });
    expect(meta.filters).toEqual(['--agent builder', '--since 2026-11-22T01:00Z']);
  });

  it('keeps the policy reloads of the period on the timeline whatever agent is asked for', async () => {
    const out = path.join(dir, 'builder-all-day.html');
    expect((await leash(['audit', 'report', log, '--agent', 'builder', '-o', out])).code).toBe(0);
    const { data } = await pageData(out);
    expect(data.policyEvents.map((e) => [e.time, e.reason])).toEqual([['2026-11-22T00:30:00.000Z', 'policy_loaded']]);
    expect(data.agents).toEqual(['builder']);
  });

  it('reads rotated and gzipped files in time order as one chain', async () => {
    const rotated = await tempDir('leash-report-rot-');
    const lines = (await readFile(log, 'utf8')).split('\n').slice(0, -1);
    await writeFile(path.join(rotated, 'audit.log.2.gz'), gzipSync(`${lines.slice(0, 6).join('\n')}\n`));
    await writeFile(path.join(rotated, 'audit.log.1'), `${lines.slice(6, 10).join('\n')}\n`);
    await writeFile(path.join(rotated, 'audit.log'), `${lines.slice(10).join('\n')}\n`);
    const out = path.join(dir, 'rotated.html');
    const r = await leash(['audit', 'report', rotated, '-o', out]);
    expect(r.code).toBe(0);
    const { data } = await pageData(out);
    expect(data.records).toBe(14);
    expect(data.chain.state).toBe('verified');
  });

  it('a record edited after the fact: the chain is broken at the next seq, exit 1, the page still written', async () => {
    const edited = path.join(await tempDir('leash-report-edit-'), 'audit.log');
    const text = await readFile(log, 'utf8');
    await writeFile(
      edited,
      text.replace(
        '"effect":"deny","rule":"openai","reason":"rate_limited"',
        '"effect":"allow","rule":"openai","reason":"rate_limited"',
      ),
    );
    const out = path.join(dir, 'edited.html');
    const r = await leash(['audit', 'report', edited, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toMatch(/: broken link: prev is not the hash of the record before it/);
    const { data } = await pageData(out);
    expect(data.chain).toMatchObject({ state: 'broken', brokenAtSeq: 6 });
    expect(data.records).toBe(14); // the figures still cover every record
  });

  it('a record deleted: the chain is broken at the seq after the gap (verify names a gap one record late)', async () => {
    const cut = path.join(await tempDir('leash-report-cut-'), 'audit.log');
    const lines = (await readFile(log, 'utf8')).split('\n');
    await writeFile(cut, [...lines.slice(0, 4), ...lines.slice(5)].join('\n'));
    const out = path.join(dir, 'cut.html');
    const r = await leash(['audit', 'report', cut, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toMatch(/gap: seq jumps from 4 .* to 6: 1 record missing/);
    expect((await pageData(out)).data.chain).toMatchObject({ state: 'broken', brokenAtSeq: 6 });
  });

  it('an unreadable line is named on stderr, exit 1; records from before the chain are "not chained"', async () => {
    const bad = path.join(await tempDir('leash-report-bad-'), 'audit.log');
    await writeFile(bad, `${JSON.stringify({ ...KNOWN[0], v: 1 })}\nnot json\n`);
    const out = path.join(dir, 'bad.html');
    const r = await leash(['audit', 'report', bad, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/audit\.log:2: not a JSON record, skipped$/);
    const { data } = await pageData(out);
    expect(data.chain.state).toBe('not_chained');
    expect(data.records).toBe(1);
  });

  it('without --policy, the default policy (./policies) gives the rule names', async () => {
    const out = path.join(dir, 'default-policy.html');
    expect((await leash(['audit', 'report', log, '-o', out])).code).toBe(0);
    const { data } = await pageData(out);
    expect(data.policyRules).toBeGreaterThan(5);
    expect(data.rulesNeverHit).toContain('metadata');
  });

  it.each<[name: string, argv: string[], code: number, message: RegExp]>([
    ['no -o', ['audit', 'report', '$LOG'], 2, /required option '-o, --output <file>' not specified/],
    [
      '--format',
      ['audit', 'report', '$LOG', '--format', 'json', '-o', 'x.html'],
      2,
      /not --format, --summary or --follow/,
    ],
    ['--summary', ['audit', 'report', '$LOG', '--summary', '-o', 'x.html'], 2, /not --format, --summary or --follow/],
    ['-o on plain leash audit', ['audit', '$LOG', '-o', 'x.html'], 2, /unknown option '-o'/],
    [
      'a bad filter',
      ['audit', 'report', '$LOG', '--effect', 'maybe', '-o', 'x.html'],
      2,
      /--effect needs allow or deny/,
    ],
    [
      'a policy with errors',
      ['audit', 'report', '$LOG', '--policy', '$BADPOLICY', '-o', 'x.html'],
      1,
      /1 error; run leash check/,
    ],
    [
      'an output that cannot be written',
      ['audit', 'report', '$LOG', '-o', '/nonexistent-dir/x.html'],
      1,
      /cannot write \/nonexistent-dir\/x\.html: ENOENT/,
    ],
  ])('%s', async (_name, argv, code, message) => {
    const badPolicy = path.join(dir, 'bad-policy.yaml');
    await writeFile(badPolicy, 'version: 1\nrules:\n  - name: x\n    effect: sometimes\n    domain: a.test\n');
    const r = await leash(argv.map((a) => (a === '$LOG' ? log : a === '$BADPOLICY' ? badPolicy : a)));
    expect(r.code).toBe(code);
    expect(r.err[0]).toMatch(message);
  });
});
