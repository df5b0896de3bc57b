// Response body inspection: which responses are inspected, content codings undone for reading only, and the two
// promises to the proxy: every reference in a chunk is found before write(chunk) resolves (grant before deliver),
// and no more than maxBytes of decoded body is ever scanned, decompression bombs included.

import { once } from 'node:events';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  BodyInspector,
  contentCoding,
  contentKind,
  DECODE_CHUNK,
  inspectResponse,
  type ContentCoding,
  type InspectKind,
  type ResponseInspector,
} from '../../src/inspect/body.js';
import { HtmlReferenceScanner } from '../../src/inspect/html.js';
import { JsonReferenceScanner } from '../../src/inspect/json.js';
import type { Reference } from '../../src/inspect/reference.js';

const RESPONSE = 'https://search.example.com/v1/search?q=cats';
const MiB = 1024 * 1024;

const JSON_BODY = JSON.stringify({
  results: Array.from({ length: 300 }, (_, i) => ({
    title: `Result ${i}`,
    url: `https://cdn${i % 17}.example.com/img/${i}.jpg`,
    snippet: `Cats ${'and more cats '.repeat(i % 5)}at https://pages${i % 13}.example.org/p/${i}. End.`,
  })),
});
const HTML_BODY = `<!doctype html><html><body>${Array.from(
  { length: 300 },
  (_, i) =>
    `<div class="r"><a href="https://pages${i % 13}.example.org/p/${i}">Result ${i}</a><img src="https://cdn${i % 17}.example.com/img/${i}.jpg" srcset="https://cdn${i % 17}.example.com/img/${i}@2x.jpg 2x"><p>${'Cats. '.repeat(i % 7)}</p></div>`,
).join('\n')}</body></html>`;

type Encoding = 'identity' | 'gzip' | 'x-gzip' | 'deflate' | 'deflate (raw)' | 'br';
const ENCODINGS: readonly Encoding[] = ['identity', 'gzip', 'x-gzip', 'deflate', 'deflate (raw)', 'br'];

function encode(body: string | Buffer, encoding: Encoding): { bytes: Buffer; header: string | undefined } {
  const raw = Buffer.from(body);
  switch (encoding) {
    case 'identity':
      return { bytes: raw, header: undefined };
    case 'gzip':
    case 'x-gzip':
      return { bytes: zlib.gzipSync(raw), header: encoding };
    case 'deflate':
      return { bytes: zlib.deflateSync(raw), header: 'deflate' };
    case 'deflate (raw)':
      return { bytes: zlib.deflateRawSync(raw), header: 'deflate' };
    case 'br':
      return { bytes: zlib.brotliCompressSync(raw), header: 'br' };
  }
}

/** What can be decoded from a prefix of the encoded bytes: the oracle for "everything from this chunk". */
function decodablePrefix(bytes: Buffer, encoding: Encoding): string {
  const sync = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
  try {
    switch (encoding) {
      case 'identity':
        return bytes.toString('latin1');
      case 'gzip':
      case 'x-gzip':
        return zlib.gunzipSync(bytes, sync).toString('latin1');
      case 'deflate':
        return zlib.inflateSync(bytes, sync).toString('latin1');
      case 'deflate (raw)':
        return zlib.inflateRawSync(bytes, sync).toString('latin1');
      case 'br':
        return zlib
          .brotliDecompressSync(bytes, { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH })
          .toString('latin1');
    }
  } catch {
    // Too short to decode anything yet (a partial header).
    return '';
  }
}

function inspector(kind: InspectKind, encoding: string | undefined, maxBytes = 4 * MiB): ResponseInspector {
  const contentType = kind === 'json' ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8';
  const made = inspectResponse({
    kinds: ['json', 'html'],
    contentType,
    contentEncoding: encoding,
    responseUrl: RESPONSE,
    maxBytes,
  });
  if (!made) throw new Error(`no inspector for ${kind} ${encoding}`);
  return made;
}

function split(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

async function inspectAll(ins: ResponseInspector, chunks: readonly Buffer[]): Promise<Reference[]> {
  const found: Reference[] = [];
  for (const chunk of chunks) found.push(...(await ins.write(chunk)));
  found.push(...(await ins.end()));
  return found;
}

function referencesIn(kind: InspectKind, text: string, end: boolean): string[] {
  const scanner = kind === 'json' ? new JsonReferenceScanner(RESPONSE) : new HtmlReferenceScanner(RESPONSE);
  const found = [...scanner.write(text), ...(end ? scanner.end() : [])];
  return found.map((r) => `${r.found} ${r.url}`);
}

const show = (refs: readonly Reference[]) => refs.map((r) => `${r.found} ${r.url}`);

describe('which responses are inspected', () => {
  it.each<[contentType: string | undefined, kind: InspectKind | undefined]>([
    ['application/json', 'json'],
    ['application/json; charset=utf-8', 'json'],
    ['Application/JSON ; charset=UTF-8', 'json'],
    ['application/problem+json', 'json'],
    ['application/vnd.api+json', 'json'],
    ['application/ld+json; profile="x"', 'json'],
    ['application/x-ndjson', 'json'],
    ['application/ndjson', 'json'],
    ['application/jsonl', 'json'],
    ['text/html', 'html'],
    ['text/html;charset=iso-8859-1', 'html'],
    ['application/xhtml+xml', 'html'],
    ['text/plain', undefined],
    ['text/javascript', undefined],
    ['application/octet-stream', undefined],
    ['image/svg+xml', undefined],
    ['+json', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('Content-Type %j → %s', (contentType, kind) => {
    expect(contentKind(contentType)).toBe(kind);
  });

  it.each<[encoding: string | undefined, coding: ContentCoding | undefined]>([
    [undefined, 'identity'],
    ['', 'identity'],
    ['identity', 'identity'],
    ['gzip', 'gzip'],
    ['GZIP', 'gzip'],
    ['x-gzip', 'gzip'],
    [' gzip ', 'gzip'],
    ['gzip, identity', 'gzip'],
    ['deflate', 'deflate'],
    ['br', 'br'],
    ['compress', undefined],
    ['zstd', undefined],
    ['gzip, br', undefined],
    ['snappy', undefined],
  ])('Content-Encoding %j → %s', (encoding, coding) => {
    expect(contentCoding(encoding)).toBe(coding);
  });

  it.each<
    [
      name: string,
      kinds: InspectKind[],
      contentType: string | undefined,
      encoding: string | undefined,
      inspected: boolean,
    ]
  >([
    ['JSON, json listed', ['json'], 'application/json', undefined, true],
    ['JSON, only html listed', ['html'], 'application/json', undefined, false],
    ['HTML, html listed', ['html'], 'text/html', 'gzip', true],
    ['HTML, only json listed', ['json'], 'text/html', undefined, false],
    ['both listed, NDJSON', ['json', 'html'], 'application/x-ndjson', 'br', true],
    ['nothing listed', [], 'application/json', undefined, false],
    ['a type that is never inspected', ['json', 'html'], 'text/plain', undefined, false],
    ['no Content-Type', ['json', 'html'], undefined, undefined, false],
    ['an unknown encoding is not inspected', ['json'], 'application/json', 'compress', false],
    ['zstd is not inspected', ['json'], 'application/json', 'zstd', false],
    ['stacked encodings are not inspected', ['json'], 'application/json', 'deflate, gzip', false],
  ])('%s', (_name, kinds, contentType, encoding, inspected) => {
    const made = inspectResponse({
      kinds,
      contentType,
      contentEncoding: encoding,
      responseUrl: RESPONSE,
      maxBytes: MiB,
    });
    expect(made !== undefined).toBe(inspected);
  });
});

describe('content codings are decoded for inspection', () => {
  const kinds: [InspectKind, string][] = [
    ['json', JSON_BODY],
    ['html', HTML_BODY],
  ];
  const cases = kinds.flatMap(([kind, body]) =>
    ENCODINGS.flatMap((encoding) => [1, 7, 4096, 1e9].map((size) => [kind, encoding, size, body] as const)),
  );

  it.each(cases)('%s, %s, in chunks of %i bytes', async (kind, encoding, size, body) => {
    const { bytes, header } = encode(body, encoding);
    const ins = inspector(kind, header);
    const found = await inspectAll(ins, split(bytes, size));
    expect(show(found)).toEqual(referencesIn(kind, body, true));
    expect(found.length).toBeGreaterThan(500);
    expect(ins.inspectedBytes).toBe(Buffer.byteLength(body));
    expect(ins.truncated).toBe(false);
  });

  it('UTF-8 split inside multi-byte characters, one byte at a time', async () => {
    const body = JSON.stringify({ a: '😀 https://bücher.example/ü', b: ['ÿ', 'https://例え.テスト/パス'] });
    const found = await inspectAll(inspector('json', undefined), split(Buffer.from(body), 1));
    expect(show(found)).toEqual([
      '$.a https://xn--bcher-kva.example/%C3%BC',
      '$.b[1] https://xn--r8jz45g.xn--zckzah/%E3%83%91%E3%82%B9',
    ]);
  });
});

describe('grant before deliver: write(chunk) resolves after every reference decoded from that chunk is found', () => {
  const cases = (['json', 'html'] as const).flatMap((kind) => ENCODINGS.map((encoding) => [kind, encoding] as const));

  it.each(cases)('%s, %s: after each write, everything decodable so far has been scanned', async (kind, encoding) => {
    const body = kind === 'json' ? JSON_BODY : HTML_BODY;
    const { bytes, header } = encode(body, encoding);
    const ins = inspector(kind, header);
    const found: Reference[] = [];
    // Uneven chunks, so boundaries fall everywhere: inside URLs, tags, escapes and compressed blocks.
    const sizes = [1, 2, 3, 50, 333, 1000, 4096];
    let offset = 0;
    for (let i = 0; offset < bytes.length; i++) {
      const end = Math.min(bytes.length, offset + (sizes[i % sizes.length] as number));
      found.push(...(await ins.write(bytes.subarray(offset, end))));
      offset = end;
      expect(show(found), `after ${end} of ${bytes.length} bytes`).toEqual(
        referencesIn(kind, decodablePrefix(bytes.subarray(0, end), encoding), false),
      );
    }
    found.push(...(await ins.end()));
    expect(show(found)).toEqual(referencesIn(kind, body, true));
  });

  it('a URL completed by a chunk is in that chunk’s result, before the next chunk is written', async () => {
    const { bytes } = encode('{"a":"https://first.example/x","b":"https://second.example/y"}', 'gzip');
    const ins = inspector('json', 'gzip');
    // Compressed data is opaque; find the shortest prefix whose decoding completes the first string.
    const cut = [...Array(bytes.length).keys()].find((n) =>
      decodablePrefix(bytes.subarray(0, n), 'gzip').includes('x",'),
    ) as number;
    expect(show(await ins.write(bytes.subarray(0, cut)))).toEqual(['$.a https://first.example/x']);
    expect(show(await ins.write(bytes.subarray(cut)))).toEqual(['$.b https://second.example/y']);
    expect(await ins.end()).toEqual([]);
  });

  it('writes issued without waiting still resolve in order with everything found', async () => {
    const { bytes } = encode(JSON_BODY, 'br');
    const ins = inspector('json', 'br');
    const results = await Promise.all(split(bytes, 512).map((chunk) => ins.write(chunk)));
    const found = [...results.flat(), ...(await ins.end())];
    expect(show(found)).toEqual(referencesIn('json', JSON_BODY, true));
  });
});

describe('bounded: at most maxBytes of decoded body is scanned', () => {
  it.each(ENCODINGS)('%s: stops at maxBytes, truncated, and later writes find nothing', async (encoding) => {
    const body = `[${Array.from({ length: 20_000 }, (_, i) => `"https://h${i}.example/"`).join(',')}]`;
    const { bytes, header } = encode(body, encoding);
    const maxBytes = 100_000;
    const ins = inspector('json', header, maxBytes) as BodyInspector;
    const found = await inspectAll(ins, split(bytes, 1000));
    expect(ins.truncated).toBe(true);
    expect(ins.inspectedBytes).toBe(maxBytes);
    expect(ins.decodedBytes).toBeLessThanOrEqual(maxBytes + DECODE_CHUNK + 1000);
    // Exactly the references wholly inside the first maxBytes.
    expect(show(found)).toEqual(referencesIn('json', body.slice(0, maxBytes), false));
    expect(await ins.write(Buffer.from('"https://after.example/"'))).toEqual([]);
  });

  it('a body of exactly maxBytes is not truncated', async () => {
    const body = '["https://a.example/"]';
    const ins = inspector('json', undefined, body.length);
    expect(show(await inspectAll(ins, [Buffer.from(body)]))).toEqual(['$[0] https://a.example/']);
    expect(ins.truncated).toBe(false);
  });

  /** A compressed stream of `total` bytes of `fill`, made without holding the decompressed bytes. */
  async function bomb(coding: 'gzip' | 'br', total: number, prefix: string, fill: string): Promise<Buffer> {
    const compressor =
      coding === 'gzip'
        ? zlib.createGzip({ level: 9 })
        : zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });
    const parts: Buffer[] = [];
    compressor.on('data', (d: Buffer) => parts.push(d));
    const block = Buffer.from(fill.repeat(MiB / fill.length));
    compressor.write(prefix);
    for (let written = 0; written < total; written += block.length) {
      if (!compressor.write(block)) await once(compressor, 'drain');
    }
    compressor.end();
    await once(compressor, 'end');
    return Buffer.concat(parts);
  }

  it.each<[name: string, kind: InspectKind, coding: 'gzip' | 'br', prefix: string, fill: string]>([
    ['gzip of zeros as HTML', 'html', 'gzip', '<a href="https://before.example/">', '\u0000'],
    ['gzip of one 50 MB JSON string', 'json', 'gzip', '{"a":"https://before.example/ ', 'a'],
    ['brotli of repeated tags', 'html', 'br', '<a href="https://before.example/">', '<a href="x">'],
  ])(
    'a 50 MB decompression bomb (%s) decodes little more than maxBytes and holds little memory',
    async (_name, kind, coding, prefix, fill) => {
      const compressed = await bomb(coding, 50 * MiB, prefix, fill);
      expect(compressed.length).toBeLessThan(MiB);
      const maxBytes = MiB;
      const ins = inspector(kind, coding, maxBytes) as BodyInspector;
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const found: Reference[] = [];
      const started = performance.now();
      for (const chunk of split(compressed, 16 * 1024)) {
        found.push(...(await ins.write(chunk)));
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }
      found.push(...(await ins.end()));
      expect(show(found)[0]).toMatch(/ https:\/\/before\.example\/$/);
      expect(ins.truncated).toBe(true);
      expect(ins.inspectedBytes).toBeLessThanOrEqual(maxBytes);
      expect(ins.decodedBytes).toBeLessThanOrEqual(maxBytes + DECODE_CHUNK);
      expect(rssPeak - rssBefore).toBeLessThan(32 * MiB);
      expect(performance.now() - started).toBeLessThan(5_000);
    },
  );
});

describe('decoder errors stop inspection quietly', () => {
  it.each<[name: string, encoding: string, chunks: () => Buffer[], found: string[]]>([
    ['not gzip at all', 'gzip', () => [Buffer.from('{"a":"https://a.example/"}')], []],
    ['not brotli at all', 'br', () => [Buffer.from('{"a":"https://a.example/"}')], []],
    ['not deflate at all', 'deflate', () => [Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])], []],
    [
      'gzip with a corrupt trailer (CRC error after all the data)',
      'gzip',
      () => {
        const good = zlib.gzipSync('{"a":"https://a.example/","b":"https://b.example/"}');
        return [good.subarray(0, good.length - 8), Buffer.alloc(8, 0xff)];
      },
      ['$.a https://a.example/', '$.b https://b.example/'],
    ],
    [
      'gzip cut short (no trailer)',
      'gzip',
      () => {
        const good = zlib.gzipSync('{"a":"https://a.example/","b":"https://b.example/"}');
        return [good.subarray(0, good.length - 8)];
      },
      ['$.a https://a.example/', '$.b https://b.example/'],
    ],
    ['deflate with a single byte then the end', 'deflate', () => [Buffer.from([0x78])], []],
  ])('%s: no throw, no rejection, what was found', async (_name, encoding, chunks, found) => {
    const ins = inspector('json', encoding);
    const all = await inspectAll(ins, chunks());
    expect(show(all)).toEqual(found);
    expect(ins.truncated).toBe(false);
    expect(await ins.write(Buffer.from('more'))).toEqual([]);
    expect(await ins.end()).toEqual([]);
  });

  it('brotli corrupted in the middle: what came before is found, then it stops', async () => {
    // Brotli may turn garbage into static-dictionary words before it notices: the scan sees them like any text, so
    // only the references decoded from the good part are asserted.
    const good = zlib.brotliCompressSync(JSON_BODY);
    const before = referencesIn('json', decodablePrefix(good.subarray(0, 2000), 'br'), false);
    const ins = inspector('json', 'br');
    const all = show(await inspectAll(ins, [good.subarray(0, 2000), Buffer.alloc(200, 0xff), good.subarray(2200)]));
    expect(before.length).toBeGreaterThan(10);
    expect(all.slice(0, before.length)).toEqual(before);
    expect(all.length).toBeLessThan(referencesIn('json', JSON_BODY, true).length);
    expect(ins.truncated).toBe(false);
  });

  it('malformed JSON returns what it found and keeps resolving', async () => {
    const ins = inspector('json', undefined);
    expect(show(await ins.write(Buffer.from('{"a":"https://a.example/"}}')))).toEqual(['$.a https://a.example/']);
    expect(await ins.write(Buffer.from('{"b":"https://b.example/"}'))).toEqual([]);
    expect(await ins.end()).toEqual([]);
  });
});

describe('budgets and malformed bodies, for the proxy', () => {
  it.each(['identity', 'gzip'] as const)(
    '%s: scanMs counts only scanning, by the clock given; abandon() stops at once',
    async (encoding) => {
      let ticks = 0;
      const { bytes, header } = encode(JSON_BODY, encoding);
      const inspector = inspectResponse({
        kinds: ['json'],
        contentType: 'application/json',
        contentEncoding: header,
        responseUrl: RESPONSE,
        maxBytes: MiB,
        now: () => ticks++,
      }) as ResponseInspector;
      const found = await inspector.write(bytes.subarray(0, bytes.length >> 1));
      expect(found.length).toBeGreaterThan(0);
      // Each scanner write reads the clock twice and counts the difference: 1 per write here.
      expect(inspector.scanMs).toBeGreaterThan(0);
      expect(inspector.scanMs).toBe(ticks / 2);
      inspector.abandon();
      expect(await inspector.write(bytes.subarray(bytes.length >> 1))).toEqual([]);
      expect(await inspector.end()).toEqual([]);
    },
  );

  it.each<[name: string, body: string | Buffer, encoding: Encoding, malformed: boolean]>([
    ['valid JSON', JSON_BODY, 'identity', false],
    ['truncated JSON', JSON_BODY.slice(0, 500), 'identity', true],
    ['valid gzip JSON', JSON_BODY, 'gzip', false],
  ])('malformed: %s → %s', async (_name, body, encoding, malformed) => {
    const { bytes, header } = encode(body, encoding);
    const inspector = inspectResponse({
      kinds: ['json'],
      contentType: 'application/json',
      contentEncoding: header,
      responseUrl: RESPONSE,
      maxBytes: MiB,
    }) as ResponseInspector;
    await inspector.write(bytes);
    await inspector.end();
    expect(inspector.malformed).toBe(malformed);
    expect(inspector.kind).toBe('json');
  });

  it('a corrupt gzip JSON body is malformed; a corrupt gzip HTML body is not (HTML never is)', async () => {
    const corrupt = Buffer.concat([zlib.gzipSync(Buffer.from(JSON_BODY)).subarray(0, 200), Buffer.alloc(64, 0xff)]);
    for (const [kind, type, expected] of [
      ['json', 'application/json', true],
      ['html', 'text/html', false],
    ] as const) {
      const inspector = inspectResponse({
        kinds: [kind],
        contentType: type,
        contentEncoding: 'gzip',
        responseUrl: RESPONSE,
        maxBytes: MiB,
      }) as ResponseInspector;
      await inspector.write(corrupt);
      await inspector.end();
      expect(inspector.malformed, kind).toBe(expected);
    }
  });
});
