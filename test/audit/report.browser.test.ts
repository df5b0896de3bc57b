// The audit report as a reviewer sees it, in a real headless Chromium (playwright-core driving /usr/bin/chromium,
// never a downloaded browser): generated from a log that touches every section, opened from file://, it must load
// with no console error and no request other than the page itself (it is self-contained: charts, script and data
// inline), draw its charts (canvases with painted pixels), say the chain is verified, flag the upload outlier, and
// change what it shows when an agent is picked or an effect is unticked. It saves the first screen to
// docs/report.png for the README.
// Needs chromium (`apt-get install chromium`; .ci/run installs it). Under CI=true a missing chromium fails the test;
// elsewhere the suite is skipped and says why.

import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportCommand } from '../../src/cli/audit-report.js';
import { tempDir } from '../helpers/audit-sink.js';
import { BASE, writeKnownLog } from '../helpers/known-audit-log.js';
import { EXFIL_HOST, REPORT_POLICY_RULES, reportRecords } from '../helpers/report-audit-log.js';

const CHROMIUM = process.env.LEASH_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
if (!hasChromium && !inCi)
  console.warn(
    `report.browser.test: skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set LEASH_CHROMIUM)`,
  );

interface Canvas {
  width: number;
  height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe.skipIf(!hasChromium && !inCi)('leash audit report in a real headless Chromium', () => {
  let context: BrowserContext | undefined;
  let page: Page;
  let url: string;
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  const records = reportRecords();

  beforeAll(async () => {
    expect(hasChromium, `chromium is required under CI=true (looked for ${CHROMIUM}); .ci/run installs it`).toBe(true);
    const dir = await tempDir('leash-report-');
    const log = await writeKnownLog(dir, records as never);
    const policy = path.join(dir, 'policy.yaml');
    await writeFile(
      policy,
      `version: 1\nrules:\n${REPORT_POLICY_RULES.map((r) => `  - name: ${r}\n    domain: ${r}.example.test\n    effect: allow\n`).join('')}`,
    );
    const out = path.join(dir, 'report.html');
    const io = { out: () => {}, err: (t: string) => console.error(t), env: {} };
    // A fixed "now", so the page (and the screenshot) is the same every run.
    expect(await reportCommand({ output: out, policy: [policy] }, [log], io, BASE + 7 * 3600_000)).toBe(0);
    url = pathToFileURL(out).href;
    context = await chromium.launchPersistentContext(await tempDir('leash-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 800 },
      timeout: 30_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 10_000 });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
  });

  it('loads with no console error and requests nothing but itself', () => {
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([url]);
  });

  it('says at the top that the hash chain is verified', async () => {
    expect(await page.textContent('#chain')).toMatch(/^Hash chain verified.*chain intact: 481 records, seq 1\.\.481/);
  });

  it('draws its charts: each canvas has painted pixels', async () => {
    const painted = await page.$$eval('canvas', (canvases) =>
      canvases.map((element) => {
        // No DOM types in this project's tsconfig: the little of a canvas this needs, spelled out.
        const c = element as unknown as Canvas;
        const data = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? [];
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if ((data[i] as number) > 0) n++;
        return { id: element.closest('.chart')?.id, n };
      }),
    );
    expect(painted.map((p) => p.id).sort()).toEqual([
      'chart-agents',
      'chart-bytes',
      'chart-denied',
      'chart-grants',
      'chart-timeline',
    ]);
    for (const p of painted) expect(p.n, `${p.id} has painted pixels`).toBeGreaterThan(500);
  });

  it('flags the host receiving the large uploads as an outlier', async () => {
    expect(
      await page.$$eval('#table-bytes tr.outlier td:first-child', (tds) => tds.map((td) => td.textContent)),
    ).toEqual([EXFIL_HOST]);
    expect(await page.textContent('#bytes-note')).toMatch(/median \+ 3·MAD/);
  });

  it('lists the grants from the docs rule to the CDN hosts, and the rules never hit', async () => {
    const grants = await page.$$eval('#table-grants tr', (trs) =>
      trs.slice(1).map((tr) =>
        [...tr.querySelectorAll('td')]
          .slice(0, 3)
          .map((td) => td.textContent)
          .join(' '),
      ),
    );
    expect(grants.sort()).toEqual([
      'docs docs.python.org cdn.jsdelivr.net',
      'docs docs.python.org fonts.gstatic.com',
      'docs docs.python.org img.shields.io',
    ]);
    expect(await page.$$eval('#table-never td', (tds) => tds.map((td) => td.textContent))).toEqual([
      'legacy-ftp',
      'old-mirror',
    ]);
    expect(await page.textContent('#table-events')).toMatch(/reload.*rev-b.*rev-a/);
  });

  it('saves the first screen to docs/report.png', async () => {
    await mkdir('docs', { recursive: true });
    const png = await page.screenshot({ path: 'docs/report.png' });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });

  it('picking an agent shows that agent only', async () => {
    const kpi = (name: string) => page.textContent(`[data-kpi="${name}"] b`);
    const builderRequests = records.filter(
      (r) => r.agent === 'builder' && (r.event === 'request' || r.event === 'tunnel'),
    ).length;
    expect(Number((await kpi('requests'))?.replace(/,/g, ''))).toBe(
      records.filter((r) => r.event === 'request').length,
    );
    await page.selectOption('#agent', 'builder');
    expect(Number((await kpi('requests'))?.replace(/,/g, ''))).toBe(builderRequests);
    expect(await page.textContent('#table-bytes')).not.toContain(EXFIL_HOST);
    expect(
      (await page.$$eval('#chart-agents .u-legend .u-series .u-label', (ls) => ls.map((l) => l.textContent))).slice(1),
    ).toEqual(['builder']);
    await page.selectOption('#agent', '*');
    expect(await page.textContent('#table-bytes')).toContain(EXFIL_HOST);
  });

  it('shows hostile log text as text: no script runs, nothing is fetched; an empty log gives an empty page, no error', async () => {
    const dir = await tempDir('leash-report-hostile-');
    const hostile = '<img src="http://x.test/i.png" onerror="alert(1)"></script><script>alert(2)</script>';
    const log = await writeKnownLog(dir, [
      { ...records[0], agent: hostile, host: hostile, effect: 'deny', reason: 'no_rule' },
    ] as never);
    const io = { out: () => {}, err: () => {}, env: {} };
    const pages: [string, string][] = [];
    for (const [name, input] of [
      ['hostile', log],
      ['empty', path.join(dir, 'empty.log')],
    ] as const) {
      if (name === 'empty') await writeFile(input, '');
      const out = path.join(dir, `${name}.html`);
      expect(await reportCommand({ output: out }, [input], io, BASE)).toBe(0);
      pages.push([name, pathToFileURL(out).href]);
    }
    const second = await (context as BrowserContext).newPage();
    const seen: string[] = [];
    const errors: string[] = [];
    second.on('request', (r) => seen.push(r.url()));
    second.on('dialog', (d) => errors.push(`dialog: ${d.message()}`));
    second.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    second.on('pageerror', (e) => errors.push(String(e)));
    for (const [name, href] of pages) {
      await second.goto(href);
      await second.waitForSelector('body[data-ready="1"]', { timeout: 10_000 });
      if (name === 'hostile') {
        expect(await second.textContent('#table-denied')).toContain(hostile);
        expect(await second.$$eval('#agent option', (os) => os.map((o) => o.textContent))).toContain(hostile);
        expect(await second.$$('img')).toHaveLength(0);
      } else {
        expect(await second.textContent('#chain')).toMatch(/^No records/);
      }
    }
    await second.close();
    expect(errors).toEqual([]);
    expect(seen).toEqual(pages.map(([, href]) => href));
  });

  it('unticking "denied" takes the denied series off the timeline', async () => {
    const legend = async () =>
      (await page.$$eval('#chart-timeline .u-legend .u-series .u-label', (ls) => ls.map((l) => l.textContent))).slice(
        1,
      );
    expect(await legend()).toEqual(['allowed', 'denied', 'rate-limited / bandwidth']);
    await page.uncheck('#show-deny');
    expect(await legend()).toEqual(['allowed']);
    await page.check('#show-deny');
    expect(consoleErrors).toEqual([]);
  });
});
