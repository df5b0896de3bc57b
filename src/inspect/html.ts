// References in an HTML response body, read as it streams with htmlparser2's Parser (no DOM is built).
//
// The URL-bearing attributes (href, src, srcset, poster, data-src, action, formaction, cite) of any element,
// `<meta http-equiv=refresh content="N; url=...">`, and `<base href>`, which becomes the base for the relative URLs
// after it (the first one only, as in HTML). Each attribute is handled when its value ends, not when its tag does,
// so a reference is reported by the write() that completes it. Text, comments and script bodies are not read:
// only what a browser would load or navigate to. Never throws: a parser failure stops the scan.

import { Parser } from 'htmlparser2';
import type { Reference } from './reference.js';
import { resolveReference, type HostMemo } from './urls.js';

const URL_ATTRIBUTES: ReadonlySet<string> = new Set(['href', 'src', 'poster', 'data-src', 'action', 'formaction', 'cite']);

interface MetaTag {
  refresh: boolean;
  content: string | undefined;
  done: boolean;
}

export class HtmlReferenceScanner {
  readonly #parser: Parser;
  #base: string;
  #baseSeen = false;
  #tag = '';
  #meta: MetaTag | undefined;
  #found: Reference[] = [];
  #stopped = false;
  readonly #hosts: HostMemo = new Map();

  constructor(responseUrl: string) {
    this.#base = responseUrl;
    this.#parser = new Parser(
      {
        onopentagname: (name) => {
          this.#tag = name;
          this.#meta = name === 'meta' ? { refresh: false, content: undefined, done: false } : undefined;
        },
        onattribute: (name, value) => this.#attribute(name, value),
      },
      { decodeEntities: true },
    );
  }

  /** References in attributes completed by this text. */
  write(text: string): Reference[] {
    if (!this.#stopped) {
      try {
        this.#parser.write(text);
      } catch {
        this.#stopped = true;
      }
    }
    return this.#take();
  }

  end(): Reference[] {
    if (!this.#stopped) {
      try {
        this.#parser.end();
      } catch {
        // Nothing more to find.
      }
      this.#stopped = true;
    }
    return this.#take();
  }

  #take(): Reference[] {
    const found = this.#found;
    this.#found = [];
    return found;
  }

  #attribute(name: string, value: string): void {
    if (URL_ATTRIBUTES.has(name)) {
      const reference = resolveReference(value, this.#base, `html ${this.#tag}[${name}]`, this.#hosts);
      if (reference) this.#found.push(reference);
      // HTML §4.2.3: the first base element with an href sets the document base URL.
      if (this.#tag === 'base' && name === 'href' && !this.#baseSeen) {
        this.#baseSeen = true;
        if (reference) this.#base = reference.url;
      }
    } else if (name === 'srcset') {
      const found = `html ${this.#tag}[srcset]`;
      for (const candidate of srcsetUrls(value)) {
        const reference = resolveReference(candidate, this.#base, found, this.#hosts);
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
        const reference = target === undefined ? undefined : resolveReference(target, this.#base, 'html meta[refresh]', this.#hosts);
        if (reference) this.#found.push(reference);
      }
    }
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
