// References in a JSON (or NDJSON) response body, read as it streams. PURE.
//
// A small incremental tokenizer, not a parser: it builds no values, only keeps the path to where it is (a stack of
// keys and array indexes) and the current string. Every string value at any depth (object values, array items and
// top-level strings; never keys) is searched for absolute http(s) URLs by urls.ts, so a URL split across two
// writes is still found whole, and `found` names its JSON path (`$.results[3].url`).
//
// Memory is constant apart from the current string, and that is capped: a string longer than maxStringBytes is
// searched in windows that overlap by MAX_URL_LENGTH, so a 50 MB string costs no more than a short one and a URL
// anywhere in it is still found. Nesting deeper than MAX_DEPTH, or any malformed input, stops the scan: write()
// then returns what was already found and never throws, because the caller delivers the body whatever we make of it.

import type { Reference } from './reference.js';
import { findUrls, MAX_URL_LENGTH, type HostMemo } from './urls.js';

/** Deeper nesting stops the scan (no API nests this deep; the path stack must not grow without bound). */
export const MAX_DEPTH = 512;
/** Default cap on the part of one string value held in memory (UTF-16 code units of decoded text). */
export const DEFAULT_MAX_STRING = 64 * 1024;
/** Keys longer than this are kept truncated: they only name the path. */
const MAX_KEY = 256;
const MAX_LITERAL = 512;
const LITERAL = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)$/;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

// Tokenizer states.
/** Expecting a value: at top level (whitespace or another value: NDJSON), after `:`, `[` or `,` in an array. */
const VALUE = 0;
/** Expecting a key (or `}` right after `{`). */
const KEY = 1;
const COLON = 2;
/** After a value inside a container: `,` or the closing bracket. */
const AFTER_VALUE = 3;
const STRING = 4;
const ESCAPE = 5;
const UNICODE = 6;
const LITERAL_CHARS = 7;
const STOPPED = 8;

interface Frame {
  readonly array: boolean;
  /** The key of the value being read (objects), or the index of the item being read (arrays). */
  key: string;
  index: number;
}

export class JsonReferenceScanner {
  readonly #base: string;
  readonly #maxString: number;
  readonly #hosts: HostMemo = new Map();
  #state: number = VALUE;
  readonly #stack: Frame[] = [];
  #inKey = false;
  #keyTruncated = false;
  #text = '';
  #unicode = 0;
  #unicodeDigits = 0;
  #literal = '';
  #found: Reference[] = [];
  // Positions of the next `"` and `\` in the chunk being scanned, so each string costs one pass whatever its length.
  #nextQuote = -1;
  #nextBackslash = -1;
  #malformed = false;

  /** @param maxStringBytes cap on the held part of one string value, at least 2 × MAX_URL_LENGTH. */
  constructor(responseUrl: string, maxStringBytes: number = DEFAULT_MAX_STRING) {
    this.#base = responseUrl;
    this.#maxString = Math.max(maxStringBytes, 2 * MAX_URL_LENGTH);
  }

  /** References in string values completed by this text. */
  write(text: string): Reference[] {
    if (this.#state !== STOPPED) {
      try {
        this.#scan(text);
      } catch {
        this.#state = STOPPED;
      }
    }
    return this.#take();
  }

  /** The end of the body: finishes a trailing top-level number. A value left open is malformed, not an error. */
  end(): Reference[] {
    if (this.#state === LITERAL_CHARS) this.#endLiteral();
    if (this.#state !== STOPPED && (this.#state !== VALUE || this.#stack.length > 0)) this.#malformed = true;
    this.#state = STOPPED;
    this.#text = '';
    return this.#take();
  }

  /** False once malformed input or excessive nesting stopped the scan. */
  get scanning(): boolean {
    return this.#state !== STOPPED;
  }

  /**
   * True once the body is known not to be JSON: invalid input, or (after end()) a value left open, i.e. truncated.
   * Nesting deeper than MAX_DEPTH stops the scan without saying the body is malformed.
   */
  get malformed(): boolean {
    return this.#malformed;
  }

  /** The length of the current string as held in memory; never far above maxStringBytes. */
  get heldStringLength(): number {
    return this.#text.length;
  }

  #take(): Reference[] {
    const found = this.#found;
    this.#found = [];
    return found;
  }

  #scan(text: string): void {
    const n = text.length;
    this.#nextQuote = -1;
    this.#nextBackslash = -1;
    let i = 0;
    while (i < n) {
      switch (this.#state) {
        case STRING:
          i = this.#stringChars(text, i);
          break;
        case ESCAPE:
          this.#escape(text.charCodeAt(i));
          i++;
          break;
        case UNICODE: {
          const digit = hexValue(text.charCodeAt(i));
          if (digit < 0) return this.#stop();
          this.#unicode = this.#unicode * 16 + digit;
          if (++this.#unicodeDigits === 4) {
            this.#append(String.fromCharCode(this.#unicode));
            this.#state = STRING;
          }
          i++;
          break;
        }
        case LITERAL_CHARS: {
          const start = i;
          while (i < n && isLiteralChar(text.charCodeAt(i))) i++;
          this.#literal += text.slice(start, i);
          if (this.#literal.length > MAX_LITERAL) return this.#stop();
          // The literal ends at the first other character, which the next state reads.
          if (i < n) this.#endLiteral();
          break;
        }
        case STOPPED:
          return;
        default:
          this.#structural(text.charCodeAt(i));
          i++;
      }
    }
  }

  #structural(c: number): void {
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xfeff) return;
    const top = this.#stack[this.#stack.length - 1];
    switch (this.#state) {
      case VALUE:
        if (c === 0x22) {
          this.#beginValue(top);
          this.#beginString(false);
        } else if (c === 0x7b || c === 0x5b) {
          this.#beginValue(top);
          if (this.#stack.length >= MAX_DEPTH) return this.#stop(false);
          this.#stack.push({ array: c === 0x5b, key: '', index: -1 });
          this.#state = c === 0x5b ? VALUE : KEY;
        } else if (c === 0x5d && top?.array) {
          // `[]`, or lenient about `[1,]`.
          this.#stack.pop();
          this.#endValue();
        } else if (isLiteralChar(c)) {
          this.#beginValue(top);
          this.#literal = String.fromCharCode(c);
          this.#state = LITERAL_CHARS;
        } else {
          this.#stop();
        }
        return;
      case KEY:
        if (c === 0x22) this.#beginString(true);
        else if (c === 0x7d && top && !top.array) {
          this.#stack.pop();
          this.#endValue();
        } else this.#stop();
        return;
      case COLON:
        if (c === 0x3a) this.#state = VALUE;
        else this.#stop();
        return;
      case AFTER_VALUE:
        if (c === 0x2c && top) this.#state = top.array ? VALUE : KEY;
        else if ((c === 0x5d && top?.array) || (c === 0x7d && top && !top.array)) {
          this.#stack.pop();
          this.#endValue();
        } else this.#stop();
        return;
      default:
        this.#stop();
    }
  }

  #beginValue(top: Frame | undefined): void {
    if (top?.array) top.index++;
  }

  #endValue(): void {
    this.#state = this.#stack.length === 0 ? VALUE : AFTER_VALUE;
  }

  #beginString(key: boolean): void {
    this.#inKey = key;
    this.#keyTruncated = false;
    this.#text = '';
    this.#state = STRING;
  }

  #stringChars(text: string, i: number): number {
    const n = text.length;
    if (this.#nextQuote < i) this.#nextQuote = indexOrEnd(text, '"', i);
    if (this.#nextBackslash < i) this.#nextBackslash = indexOrEnd(text, '\\', i);
    const stop = Math.min(this.#nextQuote, this.#nextBackslash);
    if (stop > i) this.#append(text.slice(i, stop));
    if (stop === n) return n;
    if (stop === this.#nextQuote) this.#endString();
    else this.#state = ESCAPE;
    return stop + 1;
  }

  #escape(c: number): void {
    let decoded: string;
    switch (c) {
      case 0x22:
        decoded = '"';
        break;
      case 0x5c:
        decoded = '\\';
        break;
      case 0x2f:
        decoded = '/';
        break;
      case 0x62:
        decoded = '\b';
        break;
      case 0x66:
        decoded = '\f';
        break;
      case 0x6e:
        decoded = '\n';
        break;
      case 0x72:
        decoded = '\r';
        break;
      case 0x74:
        decoded = '\t';
        break;
      case 0x75:
        this.#unicode = 0;
        this.#unicodeDigits = 0;
        this.#state = UNICODE;
        return;
      default:
        return this.#stop();
    }
    this.#append(decoded);
    this.#state = STRING;
  }

  #append(part: string): void {
    if (this.#inKey) {
      const room = MAX_KEY - this.#text.length;
      if (part.length > room) this.#keyTruncated = true;
      if (room > 0) this.#text += part.length > room ? part.slice(0, room) : part;
      return;
    }
    // Append in pieces so the held text never grows past the cap by more than one piece.
    let from = 0;
    while (from < part.length) {
      const take = Math.max(1, this.#maxString + 1 - this.#text.length);
      this.#text += from === 0 && take >= part.length ? part : part.slice(from, from + take);
      from += take;
      if (this.#text.length > this.#maxString) this.#searchWindow();
    }
  }

  /**
   * The string outgrew the cap: report the URLs that start before its last MAX_URL_LENGTH characters (they are
   * complete: a URL found in text is never longer than that) and keep only the rest.
   */
  #searchWindow(): void {
    const text = this.#text;
    const keepFrom = text.length - MAX_URL_LENGTH;
    let cut = keepFrom;
    let path: string | undefined;
    for (const url of findUrls(text, this.#base, this.#hosts)) {
      if (url.index >= keepFrom) break;
      path ??= this.#path();
      this.#report(url, path);
      if (url.end > cut) cut = url.end;
    }
    this.#text = text.slice(cut);
  }

  #endString(): void {
    const text = this.#text;
    this.#text = '';
    if (this.#inKey) {
      const top = this.#stack[this.#stack.length - 1] as Frame;
      top.key = this.#keyTruncated ? `${text}…` : text;
      this.#state = COLON;
      return;
    }
    const urls = findUrls(text, this.#base, this.#hosts);
    if (urls.length > 0) {
      const path = this.#path();
      for (const url of urls) this.#report(url, path);
    }
    this.#endValue();
  }

  #endLiteral(): void {
    const literal = this.#literal;
    this.#literal = '';
    if (!LITERAL.test(literal)) return this.#stop();
    this.#endValue();
  }

  #report(url: ReturnType<typeof findUrls>[number], found: string): void {
    this.#found.push({
      url: url.url,
      scheme: url.scheme,
      host: url.host,
      hostKind: url.hostKind,
      port: url.port,
      found,
    });
  }

  #path(): string {
    let path = '$';
    for (const frame of this.#stack) {
      if (frame.array) path += `[${frame.index}]`;
      else path += IDENTIFIER.test(frame.key) ? `.${frame.key}` : `[${JSON.stringify(frame.key)}]`;
    }
    return path;
  }

  #stop(malformed = true): void {
    if (malformed && this.#state !== STOPPED) this.#malformed = true;
    this.#state = STOPPED;
    this.#text = '';
    this.#stack.length = 0;
  }
}

function indexOrEnd(text: string, char: string, from: number): number {
  const at = text.indexOf(char, from);
  return at === -1 ? text.length : at;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Characters of true, false, null and numbers (and of their malformed neighbours, rejected at the end). */
function isLiteralChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    c === 0x2d ||
    c === 0x2b ||
    c === 0x2e
  );
}
