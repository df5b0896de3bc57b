// URL extraction and resolution for response inspection. PURE.
//
// Every reference leash may grant goes through resolveReference: the WHATWG URL parser (`new URL`, the parser the
// proxy uses for request targets) and then normalizeHost (the one host normaliser of policy). A host is granted
// in exactly the spelling the policy will later match, so a response cannot mint a grant for an alternative
// spelling (upper case, Unicode, 0x7f.1) that reaches a different host than the one a rule names.
//
// findUrls finds absolute http(s) URLs in free text, including inside longer text ("see https://x/y."), like a
// linkifier: it cuts at whitespace and at characters that cannot appear in a URL as written, and trims trailing
// punctuation. It must never grant more than the text says: a candidate that does not parse is dropped, never
// guessed at.
//
// A control byte (NUL, or any C0 control other than the whitespace that separates words, or DEL) inside or right
// after a URL makes the whole URL no reference: `http://allowed.example\0.attacker.example/` must not grant the part
// before the byte, which a C library, a logger or a resolver may read as the whole host (issue 19 §8).

import { normalizeHost, type NormalizedHost } from '../policy/host.js';
import type { Reference } from './reference.js';

/** A URL found in text: the reference without its location, plus where it sits in the text. */
export interface UrlInText extends Omit<Reference, 'found'> {
  /** Index in the text of its first character. */
  readonly index: number;
  /** Index in the text one past its last character. */
  readonly end: number;
}

/** A URL found in text is never longer than this; a longer one is cut here (its host is still right). */
export const MAX_URL_LENGTH = 8192;

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/**
 * normalizeHost results by WHATWG hostname, owned by one scanner (one response): a results page names the same
 * few CDN hosts thousands of times, and normalizeHost is half the cost of a reference. Bounded by HOST_MEMO_SIZE.
 */
export type HostMemo = Map<string, NormalizedHost>;
const HOST_MEMO_SIZE = 1024;

/** C0 controls other than tab, LF, FF and CR (whitespace in text and markup), and DEL. */
const CONTROL = /[\u0000-\u0008\u000b\u000e-\u001f\u007f]/;

function isControl(code: number): boolean {
  return (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0c && code !== 0x0d) || code === 0x7f;
}

/** A scheme other than http(s) written out: `data:`, `javascript:`, `mailto:`. Rejected before parsing. */
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Resolves `raw` against `base` and returns it as a reference, or undefined when it is not an http(s) URL with a
 * host that policy could name (unparsable, another scheme, no host, a host normalizeHost refuses, port 0).
 */
export function resolveReference(raw: string, base: string, found: string, hosts?: HostMemo): Reference | undefined {
  // The URL parser would strip a leading or trailing control byte and refuse one inside a host; refuse them all.
  if (CONTROL.test(raw)) return undefined;
  const scheme = OTHER_SCHEME.exec(raw);
  // A fast refusal for data: and javascript: URLs, which can be megabytes long in HTML.
  if (scheme && !/^https?:$/i.test(scheme[0])) return undefined;
  const url = parseUrl(raw, base);
  if (!url) return undefined;
  return toReference(url, found, hosts);
}

/**
 * Absolute http(s) URLs in `text`, in order of position, including URLs inside longer text and inside other URLs
 * (`https://r.example/?to=https://t.example/` gives both). With `base`, scheme-relative URLs (`//cdn.example/x`)
 * that start the text or follow whitespace, a quote, `(`, `<` or `[` are resolved against it too.
 */
export function findUrls(text: string, base?: string, hosts?: HostMemo): UrlInText[] {
  const found: UrlInText[] = [];
  for (let slashes = text.indexOf('//'); slashes !== -1; slashes = text.indexOf('//', slashes + 2)) {
    const start = schemeStart(text, slashes);
    let url: UrlInText | undefined;
    if (start !== -1) url = urlAt(text, start, slashes + 2, undefined, hosts);
    else if (base !== undefined && schemeRelativeBoundary(text, slashes))
      url = urlAt(text, slashes, slashes + 2, base, hosts);
    if (url) found.push(url);
  }
  return found;
}

/** findUrls, each match as a reference found at `found`. */
export function referencesInText(text: string, base: string | undefined, found: string, hosts?: HostMemo): Reference[] {
  const references: Reference[] = [];
  for (const u of findUrls(text, base, hosts))
    references.push({ url: u.url, scheme: u.scheme, host: u.host, hostKind: u.hostKind, port: u.port, found });
  return references;
}

/** `http:` or `https:` (any case) right before the `//` at `slashes`: where that URL starts, else -1. */
function schemeStart(text: string, slashes: number): number {
  if (slashes < 5 || text.charCodeAt(slashes - 1) !== 0x3a) return -1;
  if (slashes >= 6 && text.slice(slashes - 6, slashes - 1).toLowerCase() === 'https') return slashes - 6;
  return text.slice(slashes - 5, slashes - 1).toLowerCase() === 'http' ? slashes - 5 : -1;
}

/** The URL whose scheme (or scheme-relative `//`) starts at `index`; `afterSlashes` is where its authority starts. */
function urlAt(
  text: string,
  index: number,
  afterSlashes: number,
  base: string | undefined,
  hosts: HostMemo | undefined,
): UrlInText | undefined {
  let end = extentEnd(text, index);
  // Cut by a control byte: no part of it is a reference.
  if (end < text.length && isControl(text.charCodeAt(end))) return undefined;
  let url = parseCandidate(text, index, afterSlashes, end, base, hosts);
  if (!url) {
    // `https://a.example,https://b.example`: a comma is a legal URL character, so the first candidate runs into
    // the second and its host does not parse. Retry up to the next scheme; the second is found on its own.
    const next = nextScheme(text, afterSlashes, end);
    if (next === -1) return undefined;
    end = next;
    url = parseCandidate(text, index, afterSlashes, end, base, hosts);
  }
  return url;
}

function nextScheme(text: string, from: number, end: number): number {
  for (
    let slashes = text.indexOf('//', from);
    slashes !== -1 && slashes < end;
    slashes = text.indexOf('//', slashes + 2)
  ) {
    const start = schemeStart(text, slashes);
    if (start >= from) return start;
  }
  return -1;
}

function parseCandidate(
  text: string,
  index: number,
  afterSlashes: number,
  end: number,
  base: string | undefined,
  hosts: HostMemo | undefined,
): UrlInText | undefined {
  end = trimEnd(text, index, end);
  // Nothing after the slashes: not a URL.
  if (end <= afterSlashes) return undefined;
  const url = parseUrl(text.slice(index, end), base);
  const reference = url && toReference(url, '', hosts);
  if (!reference) return undefined;
  return {
    url: reference.url,
    scheme: reference.scheme,
    host: reference.host,
    hostKind: reference.hostKind,
    port: reference.port,
    index,
    end,
  };
}

function parseUrl(raw: string, base: string | undefined): URL | undefined {
  try {
    return new URL(raw, base);
  } catch {
    if (base === undefined) return undefined;
  }
  // An unparsable base must not hide an absolute URL.
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

function toReference(url: URL, found: string, hosts: HostMemo | undefined): Reference | undefined {
  const scheme = url.protocol === 'https:' ? 'https' : url.protocol === 'http:' ? 'http' : undefined;
  if (scheme === undefined || url.hostname === '') return undefined;
  const host = hosts ? memoizedHost(url.hostname, hosts) : normalizeHost(url.hostname);
  if (!host.ok) return undefined;
  const port = url.port === '' ? DEFAULT_PORT[scheme] : Number(url.port);
  // The policy refuses port 0; a reference to it could never be used.
  if (port === 0) return undefined;
  return { url: url.href, scheme, host: host.host, hostKind: host.kind, port, found };
}

function memoizedHost(hostname: string, hosts: HostMemo): NormalizedHost {
  let host = hosts.get(hostname);
  if (host === undefined) {
    if (hosts.size >= HOST_MEMO_SIZE) hosts.clear();
    host = normalizeHost(hostname);
    hosts.set(hostname, host);
  }
  return host;
}

/** Characters that end a URL written in text: whitespace, controls, and what RFC 3986 never allows unescaped. */
function isTerminator(code: number): boolean {
  if (code <= 0x20 || code === 0x7f) return true;
  switch (code) {
    case 0x22: // "
    case 0x27: // '
    case 0x3c: // <
    case 0x3e: // >
    case 0x5c: // \
    case 0x5e: // ^
    case 0x60: // `
    case 0x7b: // {
    case 0x7c: // |
    case 0x7d: // }
      return true;
  }
  if (code < 0x80) return false;
  // Unicode spaces and CJK brackets: a URL in running text in another script ends there.
  return (
    code === 0xa0 ||
    (code >= 0x2000 && code <= 0x200b) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff ||
    (code >= 0x3008 && code <= 0x3011) || // 〈〉《》「」『』【】
    code === 0xff08 || // （
    code === 0xff09 || // ）
    code === 0x3001 || // 、
    code === 0xff0c // ，
  );
}

function extentEnd(text: string, index: number): number {
  const limit = Math.min(text.length, index + MAX_URL_LENGTH);
  let i = index;
  while (i < limit && !isTerminator(text.charCodeAt(i))) i++;
  return i;
}

/** Trailing sentence punctuation, and a closing bracket that has no opening one inside the URL. */
function trimEnd(text: string, index: number, end: number): number {
  while (end > index) {
    const c = text.charCodeAt(end - 1);
    if (
      c === 0x2e ||
      c === 0x2c ||
      c === 0x3b ||
      c === 0x3a ||
      c === 0x21 ||
      c === 0x3f ||
      c === 0x2a ||
      c === 0x3002
    ) {
      end--;
    } else if (c === 0x29 && count(text, index, end, 0x28) < count(text, index, end, 0x29)) {
      end--;
    } else if (c === 0x5d && count(text, index, end, 0x5b) < count(text, index, end, 0x5d)) {
      end--;
    } else {
      break;
    }
  }
  return end;
}

function count(text: string, from: number, to: number, code: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === code) n++;
  return n;
}

function schemeRelativeBoundary(text: string, index: number): boolean {
  if (index === 0) return true;
  const c = text.charCodeAt(index - 1);
  return c <= 0x20 || c === 0x22 || c === 0x27 || c === 0x28 || c === 0x3c || c === 0x5b;
}
