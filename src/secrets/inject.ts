// Putting a secret's real value where the agent put its placeholder, on a request already decided, judged free of
// misuse (judge.ts) and about to be forwarded over a verified TLS connection to one of the secret's hosts. Only the
// secret's target is touched: the named header (its whole value becomes `format` when one is given), the named
// query parameter, or, when the secret names neither, every header that carries the placeholder (Basic
// credentials included: `user:placeholder` is decoded, replaced and encoded again). A placeholder anywhere else in
// a request to the secret's own host is forwarded as it is. The result goes upstream only: callers keep the
// original target for the audit record, which never sees a value.
// PURE: no I/O, no clock, no state.

import type { CompiledSecret } from './spec.js';

export type RequestHeaders = Record<string, string | string[] | undefined>;

export interface Injection {
  readonly secret: CompiledSecret;
  /** This agent's placeholder of the secret. */
  readonly placeholder: string;
  readonly value: string;
}

export interface Injected {
  readonly headers: RequestHeaders;
  readonly path: string;
  /** The secrets whose value went in. */
  readonly injected: readonly string[];
}

export function injectSecrets(headers: RequestHeaders, path: string, injections: readonly Injection[]): Injected {
  let outHeaders: RequestHeaders = headers;
  let outPath = path;
  const injected: string[] = [];
  for (const injection of injections) {
    const target = injection.secret.target;
    if (target.kind === 'query') {
      const next = injectQuery(outPath, target.name, injection);
      if (next !== outPath) injected.push(injection.secret.name);
      outPath = next;
      continue;
    }
    const copy: RequestHeaders = { ...outHeaders };
    let changed = false;
    for (const [name, value] of Object.entries(outHeaders)) {
      if (value === undefined || name === 'host') continue;
      if (target.kind === 'header' && name !== target.name) continue;
      const replaced = Array.isArray(value) ? value.map((v) => replaceIn(v, injection)) : replaceIn(value, injection);
      const same = Array.isArray(value) ? value.every((v, i) => v === (replaced as string[])[i]) : value === replaced;
      if (same) continue;
      changed = true;
      copy[name] =
        target.kind === 'header' && target.format !== null
          ? target.format.replace('{}', () => injection.value)
          : replaced;
    }
    if (changed) injected.push(injection.secret.name);
    outHeaders = copy;
  }
  return { headers: outHeaders, path: outPath, injected };
}

function replaceIn(text: string, injection: Injection): string {
  const pattern = placeholderPattern(injection.placeholder);
  if (carries(text, injection)) return text.replace(pattern, () => injection.value);
  // RFC 7617: Basic credentials are base64 of user:password; the placeholder may be either half.
  const basic = /^(\s*basic\s+)([A-Za-z0-9+/]+=*)(\s*)$/i.exec(text);
  if (basic) {
    const decoded = Buffer.from(basic[2] as string, 'base64').toString('utf8');
    if (carries(decoded, injection)) {
      const credentials = Buffer.from(
        decoded.replace(pattern, () => injection.value),
        'utf8',
      ).toString('base64');
      return `${basic[1] as string}${credentials}${basic[3] as string}`;
    }
  }
  return text;
}

function injectQuery(path: string, name: string, injection: Injection): string {
  const q = path.indexOf('?');
  if (q < 0) return path;
  const hash = path.indexOf('#', q);
  const query = path.slice(q + 1, hash < 0 ? undefined : hash);
  const pattern = placeholderPattern(injection.placeholder);
  const pieces = query.split('&').map((piece) => {
    const eq = piece.indexOf('=');
    if (eq < 0 || decode(piece.slice(0, eq)) !== name) return piece;
    const value = decode(piece.slice(eq + 1));
    if (!carries(value, injection)) return piece;
    return `${piece.slice(0, eq + 1)}${encodeURIComponent(value.replace(pattern, () => injection.value))}`;
  });
  return `${path.slice(0, q + 1)}${pieces.join('&')}${hash < 0 ? '' : path.slice(hash)}`;
}

function carries(text: string, injection: Injection): boolean {
  return text.toLowerCase().includes(injection.placeholder.toLowerCase());
}

function placeholderPattern(placeholder: string): RegExp {
  // A placeholder is [a-z0-9_-] only: nothing to escape but the hyphens, which are literal outside a class.
  return new RegExp(placeholder, 'gi');
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/**
 * The response headers with every injected value put back as its placeholder. Without a named header a value goes
 * wherever the placeholder was, and APIs copy some request headers into their response (Origin into
 * Access-Control-Allow-Origin, X-Request-Id): the agent must get its placeholder back, never the value.
 */
export function scrubResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  injections: readonly Injection[],
): void {
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const scrub = (v: string) =>
      injections.reduce((text, i) => (i.value.length > 0 ? text.split(i.value).join(i.placeholder) : text), v);
    headers[name] = Array.isArray(value) ? value.map(scrub) : scrub(value);
  }
}
