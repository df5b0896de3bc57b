// Recognises a random-looking token (an opaque API key, a session id, a bearer token with no known prefix) by its
// shape, for redaction (redact.ts) of path segments, query values, host labels and words of free text.
// Why: the named catalogue (secret-rules.ts) only knows formats with a prefix; many providers issue bare random
// strings, and an agent can put one anywhere in a URL.
// The promise about false positives, chosen over marking: ordinary identifiers stay READABLE, unmarked. Hex runs
// (git commit SHAs, content hashes such as `app.3f9a8c1b2d4e.js`, SHA-256 digests), UUIDs, digests after a
// `sha256-`/`sha512-`/`md5-` prefix (Subresource Integrity, content-addressed stores), numbers, words, camelCase
// and kebab-case names, version strings and short tokens (under 20 characters) are never called random. The price:
// a secret made only of hex digits, or a short one, is caught only by a named rule or a credential-named parameter.
// PURE: no I/O, no clock, no state.

/** Shortest token the check considers; shorter random ids (YouTube ids, short links) stay readable. */
export const MIN_RANDOM_LENGTH = 20;

const TOKEN_CHARS = /^[A-Za-z0-9_+/=~-]+$/;
const HEX_OR_UUID = /^[0-9a-f-]+$/i;
const DIGEST_PREFIX = /^(?:sha(?:1|224|256|384|512)|md5|blake2b?|b3)[-_]/i;
// Runs of letters that read as words: a capital followed by lower case, or four or more lower case.
const WORDS = /[A-Z]?[a-z]{3,}/g;

/** Shannon entropy of `text` in bits per character. */
export function shannonEntropy(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * True when `part` (a path segment, query value or host label, already split at `/ ? & = . :` and the like) looks
 * like a random credential: at least 20 characters of base64/base62/base32 alphabet with digits and letters, not
 * hex, and either, for mixed case, at least 3.6 bits of entropy per character (4.0 from 32 characters) with less
 * than 40% of it in word-like runs; or, case aside (host names are lower-cased), at least 24 characters, 3.9 bits (4.2
 * from 40), no `+/=~` and few vowels, as random letters have (a fifth of them) and names do not (a third; from
 * 36 characters and 4.3 bits, fewer than 38%).
 */
export function looksRandom(part: string): boolean {
  if (part.length < MIN_RANDOM_LENGTH || !TOKEN_CHARS.test(part)) return false;
  if (HEX_OR_UUID.test(part) || DIGEST_PREFIX.test(part)) return false;
  const lower = /[a-z]/.test(part);
  const upper = /[A-Z]/.test(part);
  if (!/[0-9]/.test(part) || !(lower || upper)) return false;
  if (lower && upper && mixedCaseRandom(part)) return true;
  // Lower-cased (host names) or nearly so (a key glued to a capital): judged on its letters, case aside.
  return singleCaseRandom(part.toLowerCase());
}

function mixedCaseRandom(part: string): boolean {
  if (shannonEntropy(part) < (part.length >= 32 ? 4.0 : 3.6)) return false;
  let wordy = 0;
  for (const m of part.matchAll(WORDS)) if (m[0].length >= 4) wordy += m[0].length;
  return wordy / part.length < 0.4;
}

function singleCaseRandom(part: string): boolean {
  if (part.length < 24 || !/^[a-z0-9_-]+$/.test(part)) return false;
  const bits = shannonEntropy(part);
  if (bits < (part.length >= 40 ? 4.2 : 3.9)) return false;
  const letters = part.replace(/[^a-z]/g, '');
  const vowels = letters.replace(/[^aeiou]/g, '').length / letters.length;
  // Long and dense enough, few vowels is not needed as strictly: names without separators are rarely this long.
  return vowels < 0.3 || (part.length >= 36 && bits >= 4.3 && vowels < 0.38);
}
