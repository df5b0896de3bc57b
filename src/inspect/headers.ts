// References in response headers. PURE.
//
// A redirect from a trusted API is a reference like any other: Location (RFC 9110 §10.2.2), Content-Location
// (§8.7) and every target of Link (RFC 8288 §3) are read on any status. Relative values resolve against the
// response URL. Link parameters (rel, anchor, title*) are skipped, quoted strings included, so a comma or a `<`
// inside a parameter value never starts a new link.

import type { Reference } from './reference.js';
import { resolveReference } from './urls.js';

export type ResponseHeaders = Record<string, string | string[] | undefined>;

const SINGLE_URL_HEADERS: Readonly<Record<string, string>> = {
  location: 'header Location',
  'content-location': 'header Content-Location',
};

export function headerReferences(headers: ResponseHeaders, responseUrl: string): Reference[] {
  const references: Reference[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    const values = Array.isArray(value) ? value : [value];
    const found = SINGLE_URL_HEADERS[lower];
    if (found !== undefined) {
      for (const v of values) {
        const reference = resolveReference(v.trim(), responseUrl, found);
        if (reference) references.push(reference);
      }
    } else if (lower === 'link') {
      for (const v of values) {
        for (const target of linkTargets(v)) {
          const reference = resolveReference(target, responseUrl, 'header Link');
          if (reference) references.push(reference);
        }
      }
    }
  }
  return references;
}

/**
 * The `<uri-reference>` of every link-value in a Link field value (RFC 8288 §3):
 * `Link = #link-value; link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )`.
 * Lenient like a browser: a link-value that does not start with `<` is skipped up to the next top-level comma.
 */
export function linkTargets(value: string): string[] {
  const targets: string[] = [];
  let i = 0;
  const n = value.length;
  while (i < n) {
    while (i < n && (value[i] === ' ' || value[i] === '\t' || value[i] === ',')) i++;
    if (i >= n) break;
    if (value[i] === '<') {
      const close = value.indexOf('>', i + 1);
      if (close === -1) break;
      targets.push(value.slice(i + 1, close).trim());
      i = close + 1;
    }
    // Parameters (or garbage) up to the comma that ends this link-value; quoted strings may hold commas.
    let quoted = false;
    for (; i < n; i++) {
      const c = value[i];
      if (quoted) {
        if (c === '\\') i++;
        else if (c === '"') quoted = false;
      } else if (c === '"') {
        quoted = true;
      } else if (c === ',') {
        break;
      }
    }
  }
  return targets;
}
