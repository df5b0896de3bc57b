// Response inspection benchmark. The requirement: `npm run bench` reports inspection throughput (MB/s for
// JSON and HTML). Measured here on generated ~20 MB search-API-like bodies, through inspectResponse exactly as the
// proxy drives it (64 KiB Buffer chunks, each write awaited), with maxBytes above the body size so the whole body
// is scanned (the default maxInspectBytes of 4 MiB would stop early).
// Baselines in the same run, on the same bytes: JSON.parse of the body (UTF-8 decoding included), htmlparser2's
// Parser with no handlers, and zlib's gunzip alone for the gzip lines. Cases alternate round by round so JIT
// warm-up, frequency scaling and GC affect them alike; every loop is bounded in rounds and in time.
// The added latency of an inspected response against the same response uninspected is measured with the proxy.
// Issue 19's two shapes are measured too: JSON naming 200,000 distinct hosts (against JSON.parse) and 10 MiB of
// nested <div> (against htmlparser2's Tokenizer with no handlers: its Parser is itself quadratic on deep nesting,
// Array.unshift on its element stack, which is why the scanner no longer uses it).

import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import { Parser, Tokenizer } from 'htmlparser2';
import { inspectResponse } from '../../src/inspect/body.js';
import type { BenchLine } from './report.js';
import { prng } from './prng.js';

const SUITE = 'inspect';
const BODY_BYTES = Number(process.env.LEASH_BENCH_INSPECT_BYTES ?? 20 * 1024 * 1024);
const CHUNK = 64 * 1024;
const MAX_ROUNDS = 7;
const BUDGET_MS = 12_000;
const RESPONSE_URL = 'https://search.example.com/v1/search?q=cats';

const WORDS = [
  'cat',
  'kitten',
  'whiskers',
  'purr',
  'tabby',
  'meow',
  'feline',
  'siamese',
  'café',
  'naïve',
  '猫',
  'Katze',
];

function words(random: () => number, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(random() * WORDS.length)] as string);
  return out.join(' ');
}

/** A search API's JSON: results with URLs as values, inside text, escaped (`\/`), nested, and many plain strings. */
export function generateJson(bytes: number, seed: number): Buffer {
  const random = prng(seed);
  const results: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const cdn = `cdn${Math.floor(random() * 500)}.example.com`;
    const result = JSON.stringify({
      id: i,
      title: words(random, 6),
      url: `https://site${Math.floor(random() * 5000)}.example.org/articles/${i}?ref=search`,
      snippet: `${words(random, 25)} — see https://${cdn}/p/${i} and ${words(random, 10)}.`,
      thumbnail: { src: `https://${cdn}/img/${i}.jpg`, width: 320, height: 240 },
      tags: [words(random, 1), words(random, 1), words(random, 1)],
      score: random(),
      fresh: random() < 0.5,
    }).replace(/\//g, i % 4 === 0 ? '\\/' : '/');
    results.push(result);
    size += result.length + 1;
  }
  return Buffer.from(`{"query":"cats","results":[${results.join(',')}]}`);
}

/** A search results page: links, images with srcset, scripts and text. */
export function generateHtml(bytes: number, seed: number): Buffer {
  const random = prng(seed);
  const parts = [
    '<!doctype html><html><head><meta charset="utf-8"><title>cats</title><link rel="stylesheet" href="https://static.example.com/s.css"></head><body>',
  ];
  let size = parts[0]?.length ?? 0;
  for (let i = 0; size < bytes; i++) {
    const cdn = `cdn${Math.floor(random() * 500)}.example.com`;
    const part =
      `<div class="result" data-id="${i}"><h3><a href="https://site${Math.floor(random() * 5000)}.example.org/articles/${i}?ref=search&amp;p=1">${words(random, 6)}</a></h3>` +
      `<img src="https://${cdn}/img/${i}.jpg" srcset="https://${cdn}/img/${i}.jpg 1x, https://${cdn}/img/${i}@2x.jpg 2x" alt="${words(random, 3)}" loading="lazy">` +
      `<p class="snippet">${words(random, 30)}</p><a href="/search?q=${i}&amp;page=2">more</a></div>\n`;
    parts.push(part);
    size += part.length;
  }
  parts.push('<script>window.x = 1;</script></body></html>');
  return Buffer.from(parts.join(''));
}

/** Issue 19: a JSON body naming this many distinct hosts (about 8.7 MB). */
export function generateManyHosts(hosts = 200_000): Buffer {
  return Buffer.from(
    JSON.stringify({
      results: Array.from({ length: hosts }, (_, i) => ({ u: `https://h${i}.cdn-${i % 97}.example/` })),
    }),
  );
}

/** Issue 19: nested <div> elements, never closed, `bytes` long. */
export function generateNestedDivs(bytes = 10 * 1024 * 1024): Buffer {
  return Buffer.from('<div>'.repeat(Math.floor(bytes / 5)));
}

function tokenizerAlone(body: Buffer): number {
  const noop = () => {};
  const tokenizer = new Tokenizer(
    { decodeEntities: true },
    {
      onattribdata: noop,
      onattribentity: noop,
      onattribend: noop,
      onattribname: noop,
      oncdata: noop,
      onclosetag: noop,
      oncomment: noop,
      ondeclaration: noop,
      onend: noop,
      onopentagend: noop,
      onopentagname: noop,
      onprocessinginstruction: noop,
      onselfclosingtag: noop,
      ontext: noop,
      ontextentity: noop,
    },
  );
  const decoder = new TextDecoder();
  for (const chunk of chunks(body)) tokenizer.write(decoder.decode(chunk, { stream: true }));
  tokenizer.end();
  return 1;
}

function chunks(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += CHUNK) out.push(bytes.subarray(i, i + CHUNK));
  return out;
}

async function inspectBody(
  kind: 'json' | 'html',
  encoded: readonly Buffer[],
  encoding: string | undefined,
  decodedBytes: number,
): Promise<number> {
  const inspector = inspectResponse({
    kinds: [kind],
    contentType: kind === 'json' ? 'application/json' : 'text/html; charset=utf-8',
    contentEncoding: encoding,
    responseUrl: RESPONSE_URL,
    maxBytes: decodedBytes + 1,
  });
  if (!inspector) throw new Error(`bench: no inspector for ${kind}`);
  let found = 0;
  for (const chunk of encoded) found += (await inspector.write(chunk)).length;
  found += (await inspector.end()).length;
  if (inspector.inspectedBytes !== decodedBytes || inspector.truncated)
    throw new Error(`bench: ${kind} inspected ${inspector.inspectedBytes} of ${decodedBytes} bytes`);
  return found;
}

async function gunzipAlone(encoded: readonly Buffer[]): Promise<number> {
  const gunzip = zlib.createGunzip();
  let bytes = 0;
  gunzip.on('data', (d: Buffer) => (bytes += d.length));
  for (const chunk of encoded)
    await new Promise<void>((resolve, reject) => gunzip.write(chunk, (err) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve) => gunzip.end(resolve));
  return bytes;
}

function htmlparser2Alone(body: Buffer): number {
  const parser = new Parser({});
  const decoder = new TextDecoder();
  for (const chunk of chunks(body)) parser.write(decoder.decode(chunk, { stream: true }));
  parser.end();
  return 1;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs the cases alternately, round by round; returns each case's median time in ms. The first round warms up. */
async function compareRounds(cases: readonly (() => unknown)[]): Promise<number[]> {
  const samples: number[][] = cases.map(() => []);
  const start = performance.now();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    for (let c = 0; c < cases.length; c++) {
      const t0 = performance.now();
      await (cases[c] as () => unknown)();
      const elapsed = performance.now() - t0;
      if (round > 0) (samples[c] as number[]).push(elapsed);
    }
    if (round >= 3 && performance.now() - start > BUDGET_MS) break;
  }
  return samples.map(median);
}

export async function inspectBench(): Promise<BenchLine[]> {
  const json = generateJson(BODY_BYTES, 1);
  const html = generateHtml(BODY_BYTES, 2);
  const jsonChunks = chunks(json);
  const htmlChunks = chunks(html);
  const jsonGzip = chunks(zlib.gzipSync(json));
  const htmlGzip = chunks(zlib.gzipSync(html));
  const mb = (bytes: number, ms: number) => bytes / (1024 * 1024) / (ms / 1000);
  const size = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(0)} MB`;

  const jsonRefs = await inspectBody('json', jsonChunks, undefined, json.length);
  const htmlRefs = await inspectBody('html', htmlChunks, undefined, html.length);

  const [jsonMs, jsonGzipMs, parseMs, gunzipJsonMs] = (await compareRounds([
    () => inspectBody('json', jsonChunks, undefined, json.length),
    () => inspectBody('json', jsonGzip, 'gzip', json.length),
    () => JSON.parse(json.toString('utf8')),
    () => gunzipAlone(jsonGzip),
  ])) as [number, number, number, number];
  const [htmlMs, htmlGzipMs, parserMs, gunzipHtmlMs] = (await compareRounds([
    () => inspectBody('html', htmlChunks, undefined, html.length),
    () => inspectBody('html', htmlGzip, 'gzip', html.length),
    () => htmlparser2Alone(html),
    () => gunzipAlone(htmlGzip),
  ])) as [number, number, number, number];

  const many = generateManyHosts();
  const divs = generateNestedDivs();
  const manyChunks = chunks(many);
  const divChunks = chunks(divs);
  const manyRefs = await inspectBody('json', manyChunks, undefined, many.length);
  const [manyMs, manyParseMs] = (await compareRounds([
    () => inspectBody('json', manyChunks, undefined, many.length),
    () => JSON.parse(many.toString('utf8')),
  ])) as [number, number];
  const [divMs, tokenizerMs] = (await compareRounds([
    () => inspectBody('html', divChunks, undefined, divs.length),
    () => tokenizerAlone(divs),
  ])) as [number, number];

  const parseName = `JSON.parse of the same ${size(json.length)} (baseline)`;
  const jsonName = `JSON inspection, ${size(json.length)}, ${jsonRefs.toLocaleString('en')} references`;
  const parserName = `htmlparser2, no handlers, the same ${size(html.length)} (baseline)`;
  const htmlName = `HTML inspection, ${size(html.length)}, ${htmlRefs.toLocaleString('en')} references`;
  // The gzip lines compare with the same inspection uncompressed: what decoding adds. gunzip alone for reference.
  return [
    { suite: SUITE, name: parseName, value: mb(json.length, parseMs), unit: 'MB/s' },
    {
      suite: SUITE,
      name: jsonName,
      value: mb(json.length, jsonMs),
      unit: 'MB/s',
      ratio: parseMs / jsonMs,
      ratioOf: parseName,
    },
    {
      suite: SUITE,
      name: 'JSON inspection, gzip (MB decoded)',
      value: mb(json.length, jsonGzipMs),
      unit: 'MB/s',
      ratio: jsonMs / jsonGzipMs,
      ratioOf: jsonName,
    },
    { suite: SUITE, name: '  gunzip alone, the same JSON', value: mb(json.length, gunzipJsonMs), unit: 'MB/s' },
    { suite: SUITE, name: parserName, value: mb(html.length, parserMs), unit: 'MB/s' },
    {
      suite: SUITE,
      name: htmlName,
      value: mb(html.length, htmlMs),
      unit: 'MB/s',
      ratio: parserMs / htmlMs,
      ratioOf: parserName,
    },
    {
      suite: SUITE,
      name: 'HTML inspection, gzip (MB decoded)',
      value: mb(html.length, htmlGzipMs),
      unit: 'MB/s',
      ratio: htmlMs / htmlGzipMs,
      ratioOf: htmlName,
    },
    { suite: SUITE, name: '  gunzip alone, the same HTML', value: mb(html.length, gunzipHtmlMs), unit: 'MB/s' },
    {
      suite: SUITE,
      name: `issue 19: JSON.parse, ${size(many.length)} naming 200,000 hosts (baseline)`,
      value: manyParseMs,
      unit: 'ms',
    },
    {
      suite: SUITE,
      name: `issue 19: JSON inspection of it, ${manyRefs.toLocaleString('en')} references`,
      value: manyMs,
      unit: 'ms',
      ratio: manyMs / manyParseMs,
      ratioOf: `issue 19: JSON.parse, ${size(many.length)} naming 200,000 hosts (baseline)`,
      target: 'linear (was 19 s)',
    },
    {
      suite: SUITE,
      name: `issue 19: htmlparser2 Tokenizer alone, ${size(divs.length)} of nested <div> (baseline)`,
      value: tokenizerMs,
      unit: 'ms',
    },
    {
      suite: SUITE,
      name: 'issue 19: HTML inspection of it',
      value: divMs,
      unit: 'ms',
      ratio: divMs / tokenizerMs,
      ratioOf: `issue 19: htmlparser2 Tokenizer alone, ${size(divs.length)} of nested <div> (baseline)`,
      target: 'linear (was 507 s)',
    },
  ];
}
