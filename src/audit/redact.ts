// Redaction for everything that reaches the audit log: request targets, headers, messages, whole records.
// Why: an agent's traffic carries its credentials (API keys, bearer tokens, signed URLs, cookies); the audit log
// is read by more people and kept longer than any of them, so a secret written there has leaked.
// It must never let a recognisable secret through, never mutate what it is given, and never cost more than one
// regex test on a string with nothing to hide (it runs on every request). It does not guess at long hex or
// base64 runs: too many ids and hashes look like that, and an audit log full of [REDACTED] is useless.
// PURE: no I/O, no clock, no state.

export const REDACTED = '[REDACTED]';

const SENSITIVE_QUERY_KEYS: ReadonlySet<string> = new Set([
  'token', 'access_token', 'refresh_token', 'id_token', 'api_key', 'apikey', 'api-key', 'key', 'secret',
  'client_secret', 'password', 'passwd', 'pwd', 'auth', 'authorization', 'sig', 'signature', 'code', 'session',
  'sessionid', 'sid', 'jwt', 'credential', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token',
  'x-goog-signature',
]);
// `sessid` also catches PHPSESSID, which `session` misses.
// `…_key` / `…-key` / `….key` catches access_key, private_key and Azure's subscription-key without matching `monkey`.
const SENSITIVE_QUERY_KEY_PART = /token|secret|passw|apikey|api_key|api-key|signature|credential|session|sessid|[_.-]key$/;

// Header-like keys whose value is a credential as a whole, whatever its format.
const SECRET_VALUE_KEYS: ReadonlySet<string> = new Set([
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key',
  'x-auth-token', 'x-goog-api-key', 'x-amz-security-token',
]);
// Fields holding a request target, whose query string is redacted by key as well as by pattern.
const TARGET_KEYS: ReadonlySet<string> = new Set(['path', 'url']);

/** `path`, `url` and any key ending in `url` (`sourceUrl`, `responseUrl`) hold a request target. */
function isTargetKey(key: string): boolean {
  const lower = key.toLowerCase();
  return TARGET_KEYS.has(lower) || lower.endsWith('url');
}

interface SecretRule {
  readonly pattern: RegExp;
  readonly replace: (match: string, ...groups: string[]) => string;
}

const whole = () => REDACTED;

// Every rule's match contains a literal that PRECHECK looks for, so a string PRECHECK misses has nothing to redact.
// Each rule is anchored on a literal, never on a free character class, so none can go quadratic on long input.
const RULES: readonly SecretRule[] = [
  // scheme://user:password@host: the greedy run backs off to the last '@' of the authority, as URL parsers do.
  { pattern: /:\/\/[^/?#\s"'<>]*@/g, replace: () => `://${REDACTED}@` },
  // RFC 9110 §11.4 credentials; Basic only when it decodes to user:password, so "Basic usage" stays.
  {
    pattern: /\b(bearer|basic)(\s+)([A-Za-z0-9\-._~+/]+=*)/gi,
    replace: (match, scheme = '', space = '', credential = '') =>
      scheme.toLowerCase() === 'basic' && !Buffer.from(credential, 'base64').toString('latin1').includes(':')
        ? match
        : `${scheme}${space}${REDACTED}`,
  },
  // JWS and JWE compact forms: a base64url JSON header ("eyJ" is '{"') and two or four more segments.
  { pattern: /\beyJ[\w-]*\.[\w-]+\.[\w-]*(?:\.[\w-]*\.[\w-]*)?/g, replace: whole },
  // OpenAI (sk-, sk-proj-, sk-svcacct-) and Anthropic (sk-ant-) keys; a digit keeps slugs like sk-learn-tutorials out.
  { pattern: /\bsk-(?=[\w-]*\d)[\w-]{16,}/g, replace: whole },
  { pattern: /\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}/g, replace: whole }, // Stripe secret and restricted keys
  { pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,})/g, replace: whole },
  { pattern: /\bxox[abprse]-[A-Za-z0-9-]{10,}/g, replace: whole },
  { pattern: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, replace: whole },
  { pattern: /\bAIza[\w-]{35}/g, replace: whole },
];
const PRECHECK =
  /:\/\/[^/?#\s"'<>]*@|bearer|basic|eyJ|sk-|k_live_|k_test_|gh[pousr]_|github_pat_|xox[abprse]-|AKIA|ASIA|AIza/i;

/** Replaces every recognisable secret in free text; keeps the Bearer/Basic scheme word and URL schemes. */
export function redactSecrets(text: string): string {
  if (!PRECHECK.test(text)) return text;
  return RULES.reduce((out, rule) => out.replace(rule.pattern, rule.replace as (match: string) => string), text);
}

/**
 * Redacts a request target: values of sensitive query keys (and of `;key=value` path parameters such as
 * `;jsessionid=`), then patterns everywhere. Key names, order and separators are kept so the log stays useful.
 * The fragment is treated like a query: OAuth implicit flows put access_token there.
 */
export function redactPath(pathWithQuery: string): string {
  if (!/[?#;]/.test(pathWithQuery)) return redactSecrets(pathWithQuery);
  const hashAt = pathWithQuery.indexOf('#');
  const beforeHash = hashAt < 0 ? pathWithQuery : pathWithQuery.slice(0, hashAt);
  const queryAt = beforeHash.indexOf('?');
  const path = queryAt < 0 ? beforeHash : beforeHash.slice(0, queryAt);

  let out = path.replace(/;([^;/=]*)=([^;/]*)/g, (match, key: string) =>
    isSensitiveKey(key) ? `;${key}=${REDACTED}` : match,
  );
  if (queryAt >= 0) out += `?${redactQuery(beforeHash.slice(queryAt + 1))}`;
  if (hashAt >= 0) out += `#${redactQuery(pathWithQuery.slice(hashAt + 1))}`;
  return redactSecrets(out);
}

/**
 * Deep copy of `record` with every string passed through redactSecrets, `path` and `url` fields through
 * redactPath, and credential-carrying keys (authorization, cookie, x-api-key, ...) replaced whole.
 * Binary values cannot be inspected and are replaced whole; Errors keep name and message, never the stack.
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
    else if (typeof value === 'string') out[key] = isTargetKey(key) ? redactPath(value) : redactSecrets(value);
    else if (value === null || typeof value !== 'object') out[key] = value;
    else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) out[key] = value.map((item: string) => redactSecrets(item));
    else out[key] = redactRecord(value);
  }
  return out as T;
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
  return piece;
}

function isSensitiveKey(rawKey: string): boolean {
  const key = percentDecode(rawKey.replace(/\+/g, ' ')).trim().toLowerCase();
  return SENSITIVE_QUERY_KEYS.has(key) || SENSITIVE_QUERY_KEY_PART.test(key);
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

function copy(value: unknown, key: string | undefined, seen: Map<object, unknown>): unknown {
  if (key !== undefined && SECRET_VALUE_KEYS.has(key.toLowerCase())) return redactWhole(value);
  if (typeof value === 'string') {
    return key !== undefined && isTargetKey(key) ? redactPath(value) : redactSecrets(value);
  }
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
  for (const [name, item] of Object.entries(value)) define(out, name, copy(item, name, seen));
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
