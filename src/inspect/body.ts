// Inspection of a response body as it streams: picks the scanner for the content type, decodes the content coding
// (gzip, deflate, br) and UTF-8, and hands the text to the scanner. The I/O edge of inspect/ (zlib).
//
// It only reads: the caller keeps delivering the original bytes, whatever happens here. Two promises to the caller:
//  - Grant before deliver: write(chunk) resolves only once every byte decoded from that chunk has been scanned,
//    with the references found so far, so the caller can grant them before it forwards the chunk.
//  - Bounded work: at most maxBytes of decoded body are scanned; past that, decoding stops (the decompressor is
//    destroyed from inside its own output callback, so a decompression bomb yields at most one more chunk of
//    DECODE_CHUNK bytes) and later writes resolve [] at once. A decoder error stops inspection quietly; nothing
//    here ever rejects or throws to the caller.

import zlib from 'node:zlib';
import { HtmlReferenceScanner } from './html.js';
import { JsonReferenceScanner } from './json.js';
import type { Reference } from './reference.js';

export type InspectKind = 'json' | 'html';
export type ContentCoding = 'identity' | 'gzip' | 'deflate' | 'br';

export interface ResponseInspector {
  readonly kind: InspectKind;
  write(chunk: Buffer): Promise<Reference[]>;
  end(): Promise<Reference[]>;
  /** Decoded body bytes scanned so far; never more than maxBytes. */
  readonly inspectedBytes: number;
  /** True once the decoded body went past maxBytes and inspection stopped there. */
  readonly truncated: boolean;
  /** Time spent scanning decoded text so far, by the clock given in the options (0 without one). */
  readonly scanMs: number;
  /** Stops inspecting (a budget ran out): frees the decoder; later writes resolve [] at once. */
  abandon(): void;
  /**
   * True once the body is known to be broken: JSON that does not parse or ends inside a value, or a content coding
   * that fails to decode. (HTML is never malformed: browsers read whatever they get.)
   */
  readonly malformed: boolean;
}

export interface InspectOptions {
  kinds: readonly InspectKind[];
  contentType: string | undefined;
  contentEncoding: string | undefined;
  responseUrl: string;
  maxBytes: number;
  /** A clock for scanMs (performance.now at the proxy); inspection itself never reads the time. */
  now?: () => number;
}

/** The size of the pieces the decompressors produce: the most they decode past maxBytes. */
export const DECODE_CHUNK = 16 * 1024;

const JSON_TYPES: ReadonlySet<string> = new Set([
  'application/json',
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
]);
const HTML_TYPES: ReadonlySet<string> = new Set(['text/html', 'application/xhtml+xml']);

/** The kind of scanner for a Content-Type value (parameters and case ignored), or undefined. */
export function contentKind(contentType: string | undefined): InspectKind | undefined {
  if (contentType === undefined) return undefined;
  const semicolon = contentType.indexOf(';');
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (JSON_TYPES.has(type) || (type.endsWith('+json') && type.includes('/'))) return 'json';
  if (HTML_TYPES.has(type)) return 'html';
  return undefined;
}

/**
 * The one content coding to undo for a Content-Encoding value (RFC 9110 §8.4), or undefined when it cannot be
 * inspected: an unknown coding, or several stacked codings (which real servers do not send).
 */
export function contentCoding(contentEncoding: string | undefined): ContentCoding | undefined {
  if (contentEncoding === undefined) return 'identity';
  const codings = contentEncoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return 'identity';
  if (codings.length > 1) return undefined;
  switch (codings[0]) {
    case 'gzip':
    case 'x-gzip': // RFC 9110 §8.4.1.3: a recipient should treat x-gzip as gzip.
      return 'gzip';
    case 'deflate':
      return 'deflate';
    case 'br':
      return 'br';
    default:
      return undefined;
  }
}

/** An inspector for one response body, or undefined when it is not to be (or cannot be) inspected. */
export function inspectResponse(options: InspectOptions): ResponseInspector | undefined {
  const kind = contentKind(options.contentType);
  if (kind === undefined || !options.kinds.includes(kind)) return undefined;
  const coding = contentCoding(options.contentEncoding);
  if (coding === undefined) return undefined;
  const scanner =
    kind === 'json' ? new JsonReferenceScanner(options.responseUrl) : new HtmlReferenceScanner(options.responseUrl);
  return new BodyInspector(scanner, coding, options.maxBytes, kind, options.now);
}

interface TextScanner {
  write(text: string): Reference[];
  end(): Reference[];
  readonly malformed?: boolean;
}

type Decompressor = zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress;

export class BodyInspector implements ResponseInspector {
  readonly #scanner: TextScanner;
  readonly #coding: ContentCoding;
  readonly #maxBytes: number;
  readonly #text = new TextDecoder('utf-8');
  #decompressor: Decompressor | undefined;
  /** deflate: the first bytes, until there are two to tell a zlib header from raw deflate. */
  #head: Buffer | undefined;
  #inspected = 0;
  #decoded = 0;
  #truncated = false;
  /** Truncated, failed or ended: nothing more is decoded or scanned. */
  #stopped = false;
  #found: Reference[] = [];
  /** Writes and the end waiting on the decompressor, resolved early if it fails or is destroyed. */
  readonly #waiting = new Set<() => void>();
  #decodeFailed = false;
  readonly kind: InspectKind;
  readonly #now: (() => number) | undefined;
  #scanMs = 0;

  constructor(
    scanner: TextScanner,
    coding: ContentCoding,
    maxBytes: number,
    kind: InspectKind = 'json',
    now?: () => number,
  ) {
    this.#scanner = scanner;
    this.#coding = coding;
    this.#maxBytes = maxBytes;
    this.kind = kind;
    this.#now = now;
  }

  get scanMs(): number {
    return this.#scanMs;
  }

  abandon(): void {
    this.#stop();
    this.#release();
  }

  /** The scanner's write, timed. */
  #scanText(text: string): void {
    if (!this.#now) return this.#push(this.#scanner.write(text));
    const started = this.#now();
    try {
      this.#push(this.#scanner.write(text));
    } finally {
      this.#scanMs += this.#now() - started;
    }
  }

  get malformed(): boolean {
    return this.#scanner.malformed === true || (this.kind === 'json' && this.#decodeFailed);
  }

  get inspectedBytes(): number {
    return this.#inspected;
  }

  get truncated(): boolean {
    return this.#truncated;
  }

  /** Bytes the decompressor produced, scanned or not: at most one DECODE_CHUNK more than inspectedBytes. */
  get decodedBytes(): number {
    return this.#decoded;
  }

  write(chunk: Buffer): Promise<Reference[]> {
    if (this.#stopped) return Promise.resolve(this.#take());
    if (this.#coding === 'identity') {
      this.#decoded += chunk.length;
      this.#scan(chunk);
      return Promise.resolve(this.#take());
    }
    let input = chunk;
    if (!this.#decompressor) {
      const head = this.#head ? Buffer.concat([this.#head, chunk]) : chunk;
      if (this.#coding === 'deflate' && head.length < 2) {
        this.#head = head;
        return Promise.resolve([]);
      }
      this.#head = undefined;
      this.#decompressor = this.#createDecompressor(head);
      input = head;
    }
    const decompressor = this.#decompressor;
    return this.#waitFor((done) => decompressor.write(input, () => done()));
  }

  end(): Promise<Reference[]> {
    if (this.#stopped) return Promise.resolve(this.#take());
    if (this.#coding === 'identity' || !this.#decompressor) {
      // identity, or deflate that never got its two header bytes (nothing was decoded).
      if (this.#coding === 'identity') this.#finish();
      this.#stopped = true;
      return Promise.resolve(this.#take());
    }
    const decompressor = this.#decompressor;
    // 'end' (all output scanned) comes before 'close'; an error or a destroy goes straight to 'close'.
    decompressor.once('end', () => this.#finish());
    return this.#waitFor((done) => {
      decompressor.once('close', done);
      decompressor.end();
    });
  }

  #waitFor(start: (done: () => void) => void): Promise<Reference[]> {
    return new Promise((resolve) => {
      let settled = false;
      // Called by the write callback, or early by #release; a late second call must not take later references.
      const done = () => {
        if (settled) return;
        settled = true;
        this.#waiting.delete(done);
        resolve(this.#take());
      };
      this.#waiting.add(done);
      try {
        start(done);
      } catch {
        this.#fail();
      }
    });
  }

  #createDecompressor(head: Buffer): Decompressor {
    const zlibOptions = { chunkSize: DECODE_CHUNK, flush: zlib.constants.Z_SYNC_FLUSH };
    let decompressor: Decompressor;
    if (this.#coding === 'br') {
      decompressor = zlib.createBrotliDecompress({
        chunkSize: DECODE_CHUNK,
        flush: zlib.constants.BROTLI_OPERATION_FLUSH,
      });
    } else if (this.#coding === 'gzip') {
      decompressor = zlib.createGunzip(zlibOptions);
    } else {
      // RFC 9110 §8.4.1.2 says deflate is the zlib format (RFC 1950), but some servers send raw deflate (RFC 1951).
      decompressor = isZlibHeader(head) ? zlib.createInflate(zlibOptions) : zlib.createInflateRaw(zlibOptions);
    }
    decompressor.on('data', (data: Buffer) => {
      this.#decoded += data.length;
      this.#scan(data);
    });
    decompressor.on('error', () => {
      this.#decodeFailed = true;
      this.#fail();
    });
    decompressor.on('close', () => this.#release());
    return decompressor;
  }

  /** Scans decoded bytes up to maxBytes; past it, stops decoding. Runs inside the decompressor's output callback. */
  #scan(data: Buffer): void {
    if (this.#stopped) return;
    const budget = this.#maxBytes - this.#inspected;
    const over = data.length > budget;
    const part = over ? data.subarray(0, Math.max(budget, 0)) : data;
    this.#inspected += part.length;
    try {
      const text = this.#text.decode(part, { stream: true });
      if (text.length > 0) this.#scanText(text);
    } catch {
      return this.#fail();
    }
    if (over) {
      this.#truncated = true;
      this.#stop();
    }
  }

  /** The whole body was decoded: flush the text decoder and the scanner. */
  #finish(): void {
    if (this.#stopped) return;
    try {
      const text = this.#text.decode();
      if (text.length > 0) this.#scanText(text);
      this.#push(this.#scanner.end());
    } catch {
      // Stop quietly with what was found.
    }
    this.#stopped = true;
  }

  #push(references: readonly Reference[]): void {
    for (const reference of references) this.#found.push(reference);
  }

  #take(): Reference[] {
    const found = this.#found;
    this.#found = [];
    return found;
  }

  /** A decoder error (corrupt or truncated data): stop quietly, not truncated. */
  #fail(): void {
    this.#stop();
    this.#release();
  }

  #stop(): void {
    this.#stopped = true;
    this.#decompressor?.destroy();
  }

  #release(): void {
    for (const done of [...this.#waiting]) done();
  }
}

/** RFC 1950 §2.2: CM 8 (deflate), CINFO ≤ 7, and the header check bits make CMF·256 + FLG a multiple of 31. */
function isZlibHeader(head: Buffer): boolean {
  const cmf = head[0] ?? 0;
  const flg = head[1] ?? 0;
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | flg) % 31 === 0;
}
