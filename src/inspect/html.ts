// References in an HTML response body, read as it streams with htmlparser2's Tokenizer. PURE.
//
// The URL-bearing attributes (href, src, srcset, poster, data-src, action, formaction, cite) of any element,
// `<meta http-equiv=refresh content="N; url=...">`, and `<base href>`, which becomes the base for the relative URLs
// after it (the first one only, as in HTML). Each attribute is handled when its value ends, not when its tag does,
// so a reference is reported by the write() that completes it. Text, comments and script bodies are not read:
// only what a browser would load or navigate to. Never throws: a tokenizer failure stops the scan.
//
// Linear in the input (issue 19): htmlparser2's Parser keeps a stack of open elements with Array.unshift and
// searches it on every close tag, so 10 MiB of nested `<div>` took minutes. Finding references needs no element
// tree, so this drives the Tokenizer directly and keeps no stack at all.
//
// A `<base href>` on another origin than the response does not become the base (issue 11 §2): a relative URL
// is never resolved against a host the response merely named, so `<base href=//attacker.example/>` followed by
// `<img src=SECRET>` cannot turn into a grant of attacker.example/SECRET. The base's own URL is a reference.

import { Tokenizer } from 'htmlparser2';
import type { Reference } from './reference.js';
import { resolveReference, type HostMemo } from './urls.js';

const URL_ATTRIBUTES: ReadonlySet<string> = new Set([
  'href',
  'src',
  'poster',
  'data-src',
  'action',
  'formaction',
  'cite',
]);
/** Tokenizer quote type for an attribute without a value (`<a href>`). */
const NO_VALUE = 0;

interface MetaTag {
  refresh: boolean;
  content: string | undefined;
  done: boolean;
}

export class HtmlReferenceScanner {
  readonly #tokenizer: Tokenizer;
  readonly #responseUrl: string;
  #base: string;
  /** False after a cross-origin `<base href>`: relative URLs then resolve to nothing. */
  #relativeAllowed = true;
  #baseSeen = false;
  #tag = '';
  #attribute = '';
  #value = '';
  #meta: MetaTag | undefined;
  #found: Reference[] = [];
  #stopped = false;
  readonly #hosts: HostMemo = new Map();
  /** The text written and not yet consumed, as the Tokenizer's indexes count it. */
  readonly #buffers: string[] = [];
  #bufferOffset = 0;

  constructor(responseUrl: string) {
    this.#responseUrl = responseUrl;
    this.#base = responseUrl;
    const ignore = () => {};
    this.#tokenizer = new Tokenizer(
      { decodeEntities: true },
      {
        onopentagname: (start, end) => {
          this.#tag = this.#slice(start, end).toLowerCase();
          this.#meta = this.#tag === 'meta' ? { refresh: false, content: undefined, done: false } : undefined;
        },
        onattribname: (start, end) => {
          this.#attribute = this.#slice(start, end).toLowerCase();
          this.#value = '';
        },
        onattribdata: (start, end) => {
          this.#value += this.#slice(start, end);
        },
        onattribentity: (codepoint) => {
          this.#value += String.fromCodePoint(codepoint);
        },
        onattribend: (quote) => {
          const value = quote === NO_VALUE ? '' : this.#value;
          this.#value = '';
          this.#handleAttribute(this.#attribute, value);
        },
        ontext: (start) => this.#release(start),
        oncomment: (start) => this.#release(start),
        oncdata: (start) => this.#release(start),
        onopentagend: ignore,
        onselfclosingtag: ignore,
        onclosetag: (start) => this.#release(start),
        ondeclaration: ignore,
        onprocessinginstruction: ignore,
        ontextentity: ignore,
        onend: ignore,
      },
    );
  }

  /** References in attributes completed by this text. */
  write(text: string): Reference[] {
    if (!this.#stopped && text.length > 0) {
      try {
        this.#buffers.push(text);
        this.#tokenizer.write(text);
      } catch {
        this.#stop();
      }
    }
    return this.#take();
  }

  end(): Reference[] {
    if (!this.#stopped) {
      try {
        this.#tokenizer.end();
      } catch {
        // Nothing more to find.
      }
      this.#stop();
    }
    return this.#take();
  }

  /** Characters held for tokens that span writes; at most the longest tag or attribute seen so far. */
  get heldLength(): number {
    let n = 0;
    for (const b of this.#buffers) n += b.length;
    return n;
  }

  #stop(): void {
    this.#stopped = true;
    this.#buffers.length = 0;
  }

  #take(): Reference[] {
    const found = this.#found;
    this.#found = [];
    return found;
  }

  /** The text between two Tokenizer indexes, across writes. */
  #slice(start: number, end: number): string {
    if (start >= end) return '';
    this.#release(start);
    let out = '';
    let offset = this.#bufferOffset;
    for (const buffer of this.#buffers) {
      const from = Math.max(start - offset, 0);
      const to = Math.min(end - offset, buffer.length);
      if (from < to) out += buffer.slice(from, to);
      offset += buffer.length;
      if (offset >= end) break;
    }
    return out;
  }

  /** Drops the writes that lie wholly before `index`: no later token reaches back into them. */
  #release(index: number): void {
    while (this.#buffers.length > 1 && this.#bufferOffset + (this.#buffers[0] as string).length <= index) {
      this.#bufferOffset += (this.#buffers.shift() as string).length;
    }
  }

  #resolve(raw: string, found: string): Reference | undefined {
    if (!this.#relativeAllowed && !isAbsolute(raw)) return undefined;
    return resolveReference(raw, this.#base, found, this.#hosts);
  }

  #handleAttribute(name: string, value: string): void {
    const tag = this.#tag;
    if (URL_ATTRIBUTES.has(name)) {
      const reference = this.#resolve(value, `html ${tag}[${name}]`);
      if (reference) this.#found.push(reference);
      // HTML §4.2.3: the first base element with an href sets the document base URL.
      if (tag === 'base' && name === 'href' && !this.#baseSeen) {
        this.#baseSeen = true;
        if (reference) {
          if (sameOrigin(reference.url, this.#responseUrl)) this.#base = reference.url;
          else this.#relativeAllowed = false;
        }
      }
    } else if (name === 'srcset') {
      const found = `html ${tag}[srcset]`;
      for (const candidate of srcsetUrls(value)) {
        const reference = this.#resolve(candidate, found);
        if (reference) this.#found.push(reference);
      }
    } else if (this.#meta && !this.#meta.done) {
      // http-equiv and content may come in either order; the reference is complete when both have.
      if (name === 'http-equiv') this.#meta.refresh = value.trim().toLowerCase() === 'refresh';
      else if (name === 'content') this.#meta.content ??= value;
      else return;
      if (this.#meta.refresh && this.#meta.content !== undefined) {
        this.#meta.done = true;
        const target = refreshUrl(this.#meta.content);
        const reference = target === undefined ? undefined : this.#resolve(target, 'html meta[refresh]');
        if (reference) this.#found.push(reference);
      }
    }
  }
}

/** `http:` / `https:` (or any scheme) written out: not resolved against the base. Scheme-relative is relative. */
function isAbsolute(raw: string): boolean {
  return /^[\s\u0000-\u001f]*[a-z][a-z0-9+.-]*:/i.test(raw);
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f';

/**
 * The URLs of a srcset value, every candidate (HTML §4.8.4.3.10, "parse a srcset attribute"): a URL runs to
 * whitespace; a URL ending in commas has no descriptors; otherwise descriptors run to a comma outside parentheses.
 * URLs may themselves contain commas (`/w_100,h_100/a.jpg 1x`).
 */
export function srcsetUrls(value: string): string[] {
  const urls: string[] = [];
  const n = value.length;
  let i = 0;
  while (i < n) {
    while (i < n && (isSpace(value[i]) || value[i] === ',')) i++;
    if (i >= n) break;
    const start = i;
    while (i < n && !isSpace(value[i])) i++;
    const url = value.slice(start, i);
    if (url.endsWith(',')) {
      urls.push(url.replace(/,+$/, ''));
      continue;
    }
    urls.push(url);
    let inParens = false;
    for (; i < n; i++) {
      const c = value[i];
      if (c === '(') inParens = true;
      else if (c === ')') inParens = false;
      else if (c === ',' && !inParens) break;
    }
  }
  return urls.filter((url) => url.length > 0);
}

/**
 * The URL of a `<meta http-equiv=refresh>` content value, or undefined when it refreshes the page itself or does
 * not parse (HTML §4.2.5.3, "shared declarative refresh steps"): `5; url='https://x/'`, `0;URL=/next`, `3, /x`.
 */
export function refreshUrl(content: string): string | undefined {
  const n = content.length;
  let i = 0;
  const skipSpace = () => {
    while (i < n && isSpace(content[i])) i++;
  };
  skipSpace();
  const timeStart = i;
  while (i < n && isDigit(content.charCodeAt(i))) i++;
  if (i === timeStart && content[i] !== '.') return undefined;
  while (i < n && (isDigit(content.charCodeAt(i)) || content[i] === '.')) i++;
  if (i < n) {
    const c = content[i];
    if (c !== ';' && c !== ',' && !isSpace(c)) return undefined;
    skipSpace();
    if (content[i] === ';' || content[i] === ',') i++;
    skipSpace();
  }
  if (i >= n) return undefined;
  let urlStart = i;
  parse: {
    if (content[i] !== 'u' && content[i] !== 'U') break parse;
    i++;
    if (content[i] !== 'r' && content[i] !== 'R') break parse;
    i++;
    if (content[i] !== 'l' && content[i] !== 'L') break parse;
    i++;
    skipSpace();
    if (content[i] !== '=') break parse;
    i++;
    skipSpace();
    urlStart = i;
  }
  // Skip quotes: `url='x'` and `'x'` alike.
  let url = content.slice(urlStart);
  const quote = url[0];
  if (quote === '"' || quote === "'") {
    url = url.slice(1);
    const close = url.indexOf(quote);
    if (close !== -1) url = url.slice(0, close);
  }
  return url;
}
