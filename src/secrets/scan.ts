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
// Anything that could hide or spell the prefix: the prefix itself, an escape, or a run long enough to be base64.
const PRECHECK = /leash-ph-|%|&|\\|[A-Za-z0-9+/_-]{56}/i;

/** Every placeholder-shaped token in `text`, as written or under the encodings above; each once. */
export function findPlaceholders(text: string): ParsedPlaceholder[] {
  if (!PRECHECK.test(text)) return [];
  const found = new Map<string, ParsedPlaceholder>();
  const look = (form: string) => {
    if (!/leash-ph-/i.test(form)) return;
    for (const m of form.matchAll(PLACEHOLDER_PATTERN)) {
      const parsed = parsePlaceholder(m[0]);
      if (parsed && !found.has(parsed.token)) found.set(parsed.token, parsed);
    }
  };
  for (const form of decodingSteps(text)) {
    look(form);
    for (const decoded of base64Forms(form)) for (const inner of decodingSteps(decoded)) look(inner);
  }
  return [...found.values()];
}

/** Each long base64-looking run decoded at its four alignments (it may start mid-blob), as latin1. */
function base64Forms(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(BASE64_RUN)) {
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
    for (const placeholder of findPlaceholders(`${name}: ${rawHeaders[i + 1] as string}`)) out.push({ placeholder, where });
  }
  return out;
}

/** Placeholders in a request target (path and query) or a host. */
export function findIn(text: string, where: string): Found[] {
  return findPlaceholders(text).map((placeholder) => ({ placeholder, where }));
}
