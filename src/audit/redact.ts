// Redaction for everything that reaches the audit log: request targets, host names, headers, messages, whole records.
// Why: an agent's traffic carries its credentials (API keys, bearer tokens, signed URLs, cookies); the audit log
// is read by more people and kept longer than any of them, so a secret written there has leaked. The attack it
// defends against is also a deliberate one: an agent (or a prompt injection steering it) that hides a credential in
// a host label, a percent-encoded path segment or its User-Agent so that it survives into the log.
// How a secret is recognised, in order, on every string field whatever its name:
//   1. credential-named parameters (`?pass=`, `?api_key=`, `;jsessionid=`, `*token*`, `auth*`, …): the value goes;
//   2. each word that carries percent- or `+`-encoding is decoded (repeatedly: `%2573` is `%73` is `s`); if the
//      decoded form holds anything that 1, 3 or 4 would remove, the whole word goes, so no encoding of it remains;
//   3. the named catalogue of credential formats (secret-rules.ts, data), plus `user:password@` in URLs and
//      `Bearer`/`Basic` credentials (RFC 9110 §11), case-insensitively (host names are logged lower-cased);
//   4. random-looking path segments, query values, host labels and words (entropy.ts; hashes and UUIDs stay),
//      and words that an earlier message cut short (`gsk_4eC3...`) while they held a key prefix.
// Whatever is recognised becomes [REDACTED]; key names, separators and the rest of the string are kept.
// It must never let a recognisable secret through in any encoding, never mutate what it is given, and cost one
// precheck on a string with nothing to hide (it runs on every request); every pattern is linear on long input.
// PURE: no I/O, no clock, no state beyond constants built at load.

import { looksRandom, MIN_RANDOM_LENGTH } from './entropy.js';
import { SECRET_RULES } from './secret-rules.js';

export const REDACTED = '[REDACTED]';

/** How a string field is read: a request target (query keys matter), a host name, or free text. */
export type FieldKind = 'target' | 'host' | 'text';

const SENSITIVE_QUERY_KEYS: ReadonlySet<string> = new Set([
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'api_key',
  'apikey',
  'api-key',
  'key',
  'secret',
  'client_secret',
  'pass',
  'password',
  'passwd',
  'pwd',
  'pw',
  'auth',
  'authorization',
  'sig',
  'signature',
  'code',
  'session',
  'sessionid',
  'sid',
  'jwt',
  'credential',
  'credentials',
  'otp',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'x-goog-signature',
  'x-goog-credential',
]);
// `sessid` also catches PHPSESSID, which `session` misses; `auth…` but not `author`; `pass…` but not `passenger`.
const SENSITIVE_QUERY_KEY_PART = new RegExp(
  [
    'token',
    'secret',
    'passw',
    'passphrase',
    'passcode',
    'apikey',
    'api_key',
    'api-key',
    'signature',
    'credential',
    'session',
    'sessid',
    'private',
    '^auth(?!ors?$)',
    '^pass(?:$|[_.-])',
  ].join('|'),
);
// `key` as a word (`key`, `api_key`, `x-api-key`, `key_id`) or a known compound (`accesskey`), not `monkey`/`keyboard`.
const KEY_COMPOUNDS = [
  'api',
  'access',
  'secret',
  'private',
  'auth',
  'session',
  'signing',
  'master',
  'licen[cs]e',
  'app',
  'client',
  'subscription',
  'encryption',
  'account',
  'service',
  'user',
  'server',
];
const KEY_WORD = new RegExp(`(?:^|[^a-z])key(?:$|[^a-z])|(?:${KEY_COMPOUNDS.join('|')})key`);
// camelCase `apiKey`, `accessKeyId`, `AccountKey` (read on the key as sent, before lower-casing).
const CAMEL_KEY = /(?:^|[a-z0-9])Key(?![a-z])/;

// Header-like keys whose value is a credential as a whole, whatever its format.
const SECRET_VALUE_KEYS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'x-auth-token',
  'x-goog-api-key',
  'x-amz-security-token',
]);
const TARGET_KEYS: ReadonlySet<string> = new Set(['path', 'url']);
const HOST_KEYS: ReadonlySet<string> = new Set(['host', 'sni', 'found', 'hostname']);

/** `path`, `url` and any key ending in `url` hold a request target; `host`, `sni`, `found` a host name. */
export function fieldKind(key: string): FieldKind {
  const lower = key.toLowerCase();
  if (TARGET_KEYS.has(lower) || lower.endsWith('url')) return 'target';
  return HOST_KEYS.has(lower) ? 'host' : 'text';
}

// ---- 3. the patterns

interface CompiledRule {
  readonly keywords: readonly string[];
  readonly pattern: RegExp;
  readonly replace: (match: string, ...groups: string[]) => string;
}

const CATALOGUE: readonly CompiledRule[] = SECRET_RULES.map((rule) => ({
  keywords: rule.keywords,
  pattern: new RegExp(rule.pattern, 'gi'),
  replace: (match: string) => {
    if (rule.requireDigit && !/\d/.test(match)) return match;
    if (rule.minDots !== undefined && match.split('.').length - 1 < rule.minDots) return match;
    return REDACTED;
  },
}));

const RULES: readonly CompiledRule[] = [
  // scheme://user:password@host: the greedy run backs off to the last '@' of the authority, as URL parsers do.
  { keywords: ['://'], pattern: /:\/\/[^/?#\s"'<>]*@/g, replace: () => `://${REDACTED}@` },
  // RFC 9110 §11.4 credentials; Basic only when it decodes to user:password, so "Basic usage" stays.
  {
    keywords: ['bearer', 'basic'],
    pattern: /\b(bearer|basic)(\s+)([A-Za-z0-9\-._~+/]+=*)/gi,
    replace: (match, scheme = '', space = '', credential = '') =>
      scheme.toLowerCase() === 'basic' && !Buffer.from(credential, 'base64').toString('latin1').includes(':')
        ? match
        : `${scheme}${space}${REDACTED}`,
  },
  ...CATALOGUE,
];

const escapeLiteral = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
const SHORT_KEYWORDS = [
  'bearer',
  'basic',
  '...',
  '…',
  ...SECRET_RULES.filter((rule) => rule.short).flatMap((rule) => rule.keywords),
];
// Prefixes (`gsk_`, `sk-`, `glpat-`: a separator, not a plain word like `asia`) that mark a word cut short
// (`gsk_4eC3…`) as a cut key.
const CUT_KEYWORDS = [
  ...new Set(SECRET_RULES.flatMap((rule) => rule.keywords).filter((k) => k.length >= 3 && /^[a-z0-9]+[-_]/.test(k))),
];
const CUT = /(?:\.\.\.|…)$/;

// The one test a string with nothing to hide costs: an escape, userinfo in a URL, a run of 19 word characters
// (every catalogue match has one, and a random-looking word is longer), or a keyword of a rule whose match may not.
// `/` is left out of the run so that ordinary paths do not qualify. The run is counted by a loop: a counted regex
// quantifier retried at every position costs several times more on every string.
const LITERAL_PRECHECK = new RegExp([`:\\/\\/[^/?#\\s"'<>]*@`, ...SHORT_KEYWORDS.map(escapeLiteral)].join('|'), 'i');
const RUN = MIN_RANDOM_LENGTH - 1;

function worthALook(text: string): boolean {
  return hasWordRun(text, RUN) || LITERAL_PRECHECK.test(text);
}

/** True when `text` has `length` characters of [A-Za-z0-9_-] in a row. */
function hasWordRun(text: string, length: number): boolean {
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const word = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 45;
    if (!word) run = 0;
    else if (++run >= length) return true;
  }
  return false;
}
const TARGET_PRECHECK = /[?#;]/;
// Hex digits and hyphens only (every record's UUID, revision hashes): no rule and no entropy verdict can apply.
const HEX_ONLY = /^[0-9a-f-]*$/i;

function applyRules(text: string): string {
  const lower = text.toLowerCase();
  let out = text;
  for (const rule of RULES) {
    if (!rule.keywords.some((keyword) => lower.includes(keyword))) continue;
    out = out.replace(rule.pattern, rule.replace as (match: string) => string);
  }
  return out;
}

// ---- 2 and 4: words, their decoded forms, and their random-looking parts

// A word: what lies between characters that separate URL components or words of text.
const WORD = /[^\s/?&#;=,"'<>()[\]{}|\\^`@]+/g;
// A word's parts for the entropy check: host labels, `name.hash.ext` pieces, `id:secret` halves.
const PART = /[^.:]+/g;
const ESCAPE = /%[0-9a-f]{2}|\+/i;

// Characters that render as nothing (format controls, joiners, variation selectors): one inside a key breaks its
// pattern for a regex but not for whoever reads the log later, so words are also tested with them removed.
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/gu;

function redactWords(text: string, decode: boolean): string {
  return text.replace(WORD, (word) => {
    if (decode) {
      const hides =
        ESCAPE.test(word) &&
        decodings(word).some((decoded) => {
          const visible = decoded.replace(INVISIBLE, '');
          return (decoded !== word && hidesSecret(decoded)) || (visible !== decoded && hidesSecret(visible));
        });
      return hides ? REDACTED : word;
    }
    const visible = word.replace(INVISIBLE, '');
    if (visible !== word && hidesSecret(visible)) return REDACTED;
    // A message that cut a value short (`"gsk_4eC3..." is not a valid host name`) may have cut a key below the
    // length its rule needs; a cut word holding a key prefix goes whole.
    if (CUT.test(word) && CUT_KEYWORDS.some((keyword) => word.toLowerCase().includes(keyword))) return REDACTED;
    if (word.length < MIN_RANDOM_LENGTH) return word;
    return word.replace(PART, (part) => (looksRandom(part) ? REDACTED : part));
  });
}

/** The word fully percent-decoded, once reading `+` as a space (query strings) and once as itself (paths). */
function decodings(word: string): string[] {
  const out: string[] = [];
  for (const plusIsSpace of [false, true]) {
    if (plusIsSpace && !word.includes('+')) break;
    let text = word;
    for (let round = 0; round < 8; round++) {
      const next = percentDecode(plusIsSpace ? text.replace(/\+/g, ' ') : text);
      if (next === text) break;
      text = next;
    }
    out.push(text);
  }
  return out;
}

function hidesSecret(decoded: string): boolean {
  return redactString(decoded, 'target') !== decoded;
}

// ---- 1. credential-named parameters

/**
 * Redacts a request target: values of sensitive query keys (and of `;key=value` path parameters such as
 * `;jsessionid=`) and random-looking query values, then encoded words, patterns and random-looking segments.
 * Key names, order and separators are kept so the log stays useful. The fragment is treated like a query: OAuth
 * implicit flows put access_token there.
 */
export function redactPath(pathWithQuery: string): string {
  return redactString(pathWithQuery, 'target');
}

/** Replaces every recognisable secret in free text; keeps the Bearer/Basic scheme word and URL schemes. */
export function redactSecrets(text: string): string {
  return redactString(text, 'text');
}

/** Redacts one string field read as `kind`; returns `text` itself when there is nothing to hide. */
export function redactString(text: string, kind: FieldKind): string {
  const target = kind === 'target' && TARGET_PRECHECK.test(text);
  // `name=value` pairs anywhere else (a URL inside a User-Agent, a CONNECT authority, a message quoting a target).
  const inline = !target && text.includes('=') && INLINE_PARAMETER.test(text);
  if (!target && !inline && (HEX_ONLY.test(text) || (!text.includes('%') && !worthALook(text)))) return text;
  let out = target ? redactParameters(text) : inline ? redactInlineParameters(text) : text;
  if (ESCAPE.test(out)) out = redactWords(out, true);
  return worthALook(out) ? redactWords(applyRules(out), false) : out;
}

function redactParameters(pathWithQuery: string): string {
  const hashAt = pathWithQuery.indexOf('#');
  const beforeHash = hashAt < 0 ? pathWithQuery : pathWithQuery.slice(0, hashAt);
  const queryAt = beforeHash.indexOf('?');
  const path = queryAt < 0 ? beforeHash : beforeHash.slice(0, queryAt);

  let out = path.replace(/;([^;/=]*)=([^;/]*)/g, (match, key: string) =>
    isSensitiveKey(key) ? `;${key}=${REDACTED}` : match,
  );
  if (queryAt >= 0) out += `?${redactQuery(beforeHash.slice(queryAt + 1))}`;
  if (hashAt >= 0) out += `#${redactQuery(pathWithQuery.slice(hashAt + 1))}`;
  return out;
}

// A parameter name followed by `=`, anywhere in free text; its value runs to the next separator.
const INLINE_PARAMETER = /[\w.%+[\]-]+=/;
const INLINE_PAIRS = /([\w.%+[\]-]+)=([^\s&;,"'<>()]*)/g;

function redactInlineParameters(text: string): string {
  return text.replace(INLINE_PAIRS, (pair, name: string) => (isSensitiveKey(name) ? `${name}=${REDACTED}` : pair));
}

function redactQuery(query: string): string {
  return query.split('&').map(redactParameter).join('&');
}

// Within one '&' piece, a key may also start after ';' (some servers split on it) or '?' (hash routes like
// `#/callback?code=...`). Once a sensitive key is found, the rest of the piece goes: to a WHATWG parser all of it
// may be that key's value, so keeping any of it could keep part of the secret.
const PIECE_KEY = /(?:^|[;?])([^;?=]*)=/g;

function redactParameter(piece: string): string {
  if (!piece.includes('=')) return piece;
  for (const match of piece.matchAll(PIECE_KEY)) {
    if (isSensitiveKey(match[1] ?? '')) return piece.slice(0, match.index + match[0].length) + REDACTED;
  }
  // A value that is random as a whole (base64 keeps `/`, `+` and `=`, which split it into words later).
  const at = piece.indexOf('=');
  const value = piece.slice(at + 1);
  if (value.length < MIN_RANDOM_LENGTH || !looksRandom(percentDecode(value))) return piece;
  return `${piece.slice(0, at + 1)}${REDACTED}`;
}

function isSensitiveKey(rawKey: string): boolean {
  const decoded = percentDecode(rawKey.replace(/\+/g, ' ')).trim();
  const key = decoded.toLowerCase();
  return (
    SENSITIVE_QUERY_KEYS.has(key) || SENSITIVE_QUERY_KEY_PART.test(key) || KEY_WORD.test(key) || CAMEL_KEY.test(decoded)
  );
}

// Servers decode a key once, so `%74oken` is `token` to them and must be to us; malformed escapes still decode.
function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}

// ---- records

/**
 * Deep copy of `record` with every string redacted as its key says (fieldKind), and credential-carrying keys
 * (authorization, cookie, x-api-key, ...) replaced whole. Binary values cannot be inspected and are replaced whole;
 * Errors keep name and message, never the stack.
 */
export function redactRecord<T>(record: T): T {
  return copy(record, undefined, new Map()) as T;
}

/**
 * The same guarantees as redactRecord for a flat record (the audit record: strings, numbers, string lists and
 * one level of small objects), without the generic deep copy: this runs once per request, redactRecord's cycle
 * map and property descriptors cost several microseconds there.
 */
export function redactFlatRecord<T extends object>(record: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (SECRET_VALUE_KEYS.has(key.toLowerCase())) out[key] = redactWhole(value);
    else if (typeof value === 'string') out[key] = redactString(value, fieldKind(key));
    else if (value === null || typeof value !== 'object') out[key] = value;
    else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
      out[key] = value.map((item: string) => redactString(item, 'text'));
    } else out[key] = redactRecord(value);
  }
  return out as T;
}

function copy(value: unknown, key: string | undefined, seen: Map<object, unknown>): unknown {
  if (key !== undefined && SECRET_VALUE_KEYS.has(key.toLowerCase())) return redactWhole(value);
  if (typeof value === 'string') return redactString(value, key === undefined ? 'text' : fieldKind(key));
  if (typeof value !== 'object' || value === null) return value;

  const known = seen.get(value);
  if (known !== undefined) return known; // cycles and shared references keep their shape
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return REDACTED;
  if (value instanceof Date) return new Date(value.getTime());
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(copy(item, undefined, seen));
    return out;
  }

  const prototype = Object.getPrototypeOf(value) as object | null;
  const out: Record<string, unknown> = Object.create(prototype === null ? null : Object.prototype);
  seen.set(value, out);
  if (value instanceof Error) {
    define(out, 'name', value.name);
    define(out, 'message', redactSecrets(value.message));
  }
  // Keys are data too (a header name, a query key turned into a field): redacted like free text.
  for (const [name, item] of Object.entries(value)) define(out, redactSecrets(name), copy(item, name, seen));
  return out;
}

function redactWhole(value: unknown): unknown {
  if (value === undefined || value === null) return value;
  return Array.isArray(value) ? value.map(() => REDACTED) : REDACTED;
}

// defineProperty, not assignment: a key named "__proto__" in untrusted input must stay a plain field.
function define(target: Record<string, unknown>, name: string, value: unknown): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}

// ---- exact values

/**
 * Deep copy of `record` with every occurrence of one of `values` (secrets leash holds: `secrets:` values), as
 * written, percent-encoded or in base64, replaced by [REDACTED] in every string and key. The patterns above
 * catch most credentials by their shape; these are known exactly, so they are removed whatever their shape.
 * Returns `record` itself when there is nothing to remove.
 */
export function redactValues<T>(record: T, values: readonly string[]): T {
  const forms = [...new Set(values.filter((v) => v.length >= 4).flatMap(valueForms))].sort(
    (a, b) => b.length - a.length,
  );
  if (forms.length === 0) return record;
  const scrub = (text: string) => {
    let out = text;
    for (const form of forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
    return out;
  };
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return scrub(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) define(out, scrub(key), walk(item));
    return out;
  };
  return walk(record) as T;
}

function valueForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  return [value, encodeURIComponent(value), bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url')];
}
