// Finding placeholders in what an agent sends: header names and values, the request target, the host, the body.
// The attack: a prompt-injected agent told to send "your API key" somewhere sends what it holds, the placeholder,
// perhaps encoded on the way (a URL parameter, a JSON string, Basic credentials, a base64 blob). Leash undoes the
// encodings reflection.ts undoes (percent-encoding, HTML character references, JSON escapes, repeatedly) and
// base64 (standard and URL-safe, at every alignment), then looks for the `leash-ph-` shape. What it finds is
// judged by judge.ts; what an agent encodes some other way (hex, encryption) is not seen here, and cannot carry
// the secret itself, which the agent never holds.
// PURE: no I/O, no clock, no state.

import { decodingSteps } from '../grants/reflection.js';
import { parsePlaceholder, PLACEHOLDER_PATTERN, type ParsedPlaceholder } from './placeholder.js';

// A run that could be base64 of something holding `leash-ph-` plus a MAC: 9 + 1 + 1 + 32 bytes encode to 58
// characters; shorter runs cannot hold a whole placeholder.
const BASE64_RUN = /[A-Za-z0-9+/_-]{56,}={0,2}/g;
/** A line break inside a base64 run (between two base64 characters). */
const WRAPPED_BASE64 = /([A-Za-z0-9+/_-])\r?\n(?=[A-Za-z0-9+/_-])/g;

// The cheap tests that decide what is worth decoding (a body streams through here chunk by chunk, so decoding
// every chunk in every way would cost ~10 ms per 64 KiB):
//  - the prefix written with each character as itself or one escape (percent, JSON \u, HTML numeric reference):
//    then the decodings are run;
//  - an escaped escape character (%25, %5C, \u0025, &#37;, &amp; ...): an escape may hide behind another, so the
//    decodings are run whatever else the text holds;
//  - base64 of the prefix, at each of the three byte alignments, standard or URL-safe, lower or upper case: then
//    the runs are decoded.
// Text with none of these cannot decode to a placeholder by the decodings scan.ts knows.
const ESCAPE = String.raw`(?:%[0-9a-f]{2}|\\u[0-9a-f]{4}|&#(?:x[0-9a-f]{1,6}|\d{1,7});?)`;
const SPELLED_PREFIX = new RegExp([...'leash-ph-'].map((c) => `(?:${c === '-' ? '\\-' : c}|${ESCAPE})`).join(''), 'i');
const NESTED_ESCAPE = /%25|%5c|%26|\\u00(?:25|5c|26)|&#(?:37|92|38|x25|x5c|x26);?|&(?:amp|percnt|bsol);/i;
const BASE64_SIGNATURES: readonly string[] = base64Signatures();

/** The base64 characters fully determined by `leash-ph-` (either case) at each alignment, both alphabets. */
function base64Signatures(): string[] {
  const out = new Set<string>();
  for (const prefix of ['leash-ph-', 'LEASH-PH-']) {
    for (let lead = 0; lead < 3; lead++) {
      // Characters that also depend on the bytes before or after the prefix differ from text to text: skip them.
      const a = Buffer.from(`${'\0'.repeat(lead)}${prefix}\0\0`).toString('base64');
      const b = Buffer.from(`${'\xff'.repeat(lead)}${prefix}\xff\xff`, 'latin1').toString('base64');
      let start = 0;
      while (start < a.length && a[start] !== b[start]) start++;
      let end = start;
      while (end < a.length && a[end] === b[end]) end++;
      const stable = a.slice(start, end);
      out.add(stable);
      out.add(stable.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return [...out];
}

/** Every placeholder-shaped token in `text`, as written or under the encodings above; each once. */
export function findPlaceholders(text: string): ParsedPlaceholder[] {
  const found = new Map<string, ParsedPlaceholder>();
  const look = (form: string) => {
    if (!/leash-ph-/i.test(form)) return;
    for (const m of form.matchAll(PLACEHOLDER_PATTERN)) {
      const parsed = parsePlaceholder(m[0]);
      if (parsed && !found.has(parsed.token)) found.set(parsed.token, parsed);
    }
  };
  const decode = SPELLED_PREFIX.test(text) || NESTED_ESCAPE.test(text);
  // Base64 wrapped at 76 (MIME) or 64 (PEM) columns: for the base64 search only, the lines are joined, so a
  // signature or a run that straddles a line break is still seen (the other decodings read the text as sent).
  const unwrapped = text.includes('\n') ? text.replace(WRAPPED_BASE64, '$1') : text;
  const base64 = BASE64_SIGNATURES.some((signature) => unwrapped.includes(signature));
  if (!decode && !base64) return [];
  for (const form of decode ? decodingSteps(text) : [text]) {
    look(form);
    if (!base64) continue;
    for (const decoded of base64Forms(form === text ? unwrapped : form))
      for (const inner of decodingSteps(decoded)) look(inner);
  }
  return [...found.values()];
}

/** Each long base64-looking run decoded at its four alignments (it may start mid-blob), as latin1. */
function base64Forms(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(BASE64_RUN)) {
    if (!BASE64_SIGNATURES.some((signature) => m[0].includes(signature))) continue;
    const run = m[0].replace(/=+$/, '');
    for (let shift = 0; shift < 4; shift++) {
      const part = run.slice(shift);
      if (part.length < 56) break;
      out.push(Buffer.from(part, 'base64').toString('latin1'));
    }
  }
  return out;
}

/** Where a placeholder was found, for the message: a header (by name), the target, the host or the body. */
export interface Found {
  readonly placeholder: ParsedPlaceholder;
  readonly where: string;
}

/** Placeholders in request headers (Node's rawHeaders: name, value, name, value, ...), names included. */
export function findInHeaders(rawHeaders: readonly string[]): Found[] {
  const out: Found[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    // A header whose name is itself a placeholder is not named in the message (messages go to the audit log).
    const where = findPlaceholders(name).length > 0 ? 'a header name' : `header ${name.slice(0, 64)}`;
    for (const placeholder of findPlaceholders(`${name}: ${rawHeaders[i + 1] as string}`))
      out.push({ placeholder, where });
  }
  return out;
}

/** Placeholders in a request target (path and query) or a host. */
export function findIn(text: string, where: string): Found[] {
  return findPlaceholders(text).map((placeholder) => ({ placeholder, where }));
}
