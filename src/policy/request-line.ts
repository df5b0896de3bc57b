// A request as an operator writes it (`GET https://api.openai.com/v1/models`, `CONNECT host:443`) and the order in
// which `leash serve` decides it. One module for `leash explain`, `leash test` and `leash policy replay`, so the three
// cannot disagree with each other or with serve: an https:// URL is first the CONNECT leash sees; only when that
// tunnel is opened with interception is the request inside decided on its own method and path. A test written
// against the inner request alone would pass where serve refuses (or allows) the tunnel whole.
// PURE: no I/O, no clock.

import type { Decision, RequestFacts } from './evaluate.js';
import { splitAuthority } from './host.js';

export interface RequestLine {
  /** What leash sees first: the request itself, or for https:// the CONNECT carrying it. */
  readonly facts: RequestFacts;
  /** https:// only: the request inside the tunnel, decided on its own when the tunnel is intercepted. */
  readonly inner?: RequestFacts;
}

export type ParsedRequestLine = { ok: true; line: RequestLine } | { ok: false; message: string };

/** `METHOD URL` or `CONNECT host:port`, split on whitespace. */
export function parseRequestText(text: string, agent?: string): ParsedRequestLine {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0] === '')
    return {
      ok: false,
      message: `"${clip(text)}" is not METHOD URL (GET https://api.example.com/v1) or CONNECT host:port`,
    };
  return parseRequestLine(parts[0] as string, parts[1] as string, agent);
}

export function parseRequestLine(methodText: string, target: string, agent?: string): ParsedRequestLine {
  const method = methodText.toUpperCase();
  if (method === 'CONNECT') {
    const authority = splitAuthority(target);
    if (!authority) return { ok: false, message: `CONNECT needs host:port, got "${clip(target)}"` };
    return { ok: true, line: { facts: { method, host: authority.host, port: authority.port, agent } } };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { ok: false, message: `"${clip(target)}" is not an absolute http:// or https:// URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, message: `"${clip(target)}": only http:// and https:// URLs are requests leash decides` };
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const host = url.hostname;
  const path = `${url.pathname}${url.search}`;
  if (url.protocol === 'https:')
    return {
      ok: true,
      line: { facts: { method: 'CONNECT', host, port, agent }, inner: { method, host, port, path, agent } },
    };
  return { ok: true, line: { facts: { method, host, port, path, agent } } };
}

export interface Served<T> {
  /** https:// only: the decision on the CONNECT. */
  readonly tunnel?: T;
  /** What serve does with the request: the inner request's decision when the tunnel is opened, else the tunnel's. */
  readonly result: T;
  /** The tunnel was opened and the request inside decided on its own. */
  readonly intercepted: boolean;
}

/**
 * Decides `line` as serve does, with `judge` (decide, or explain for a trace). `opens` says whether a tunnel
 * decision lets the inner request be decided on its own; by default, an intercepted tunnel (a grant opens one too,
 * which replay says through `opens`).
 */
export function asServed<T extends { readonly decision: Decision }>(
  line: RequestLine,
  judge: (facts: RequestFacts) => T,
  opens: (tunnel: T) => boolean = (t) => t.decision.intercept === true,
): Served<T> {
  const first = judge(line.facts);
  if (line.inner === undefined) return { result: first, intercepted: false };
  if (!opens(first)) return { tunnel: first, result: first, intercepted: false };
  return { tunnel: first, result: judge(line.inner), intercepted: true };
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
