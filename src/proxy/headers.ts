// Header hygiene at the proxy boundary (RFC 9110 §7.6.1): hop-by-hop headers and everything addressed to the
// proxy (Proxy-Authorization above all) stop here, and leash adds nothing that identifies the agent upstream.
// Also the framing checks that refuse request-smuggling shapes before anything is forwarded (RFC 9112 §6.3), and
// the Host check: a request with two Host headers names two destinations, and a proxy and an origin may each
// believe a different one (RFC 9112 §3.2 makes it a 400). And Expect (RFC 9110 §10.1.1): leash, not Node, answers
// 100 Continue, and only once the request is allowed, so a denied request's body is never asked for.

import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];

export function stripHopByHop(
  headers: IncomingHttpHeaders | Record<string, unknown>,
  keep: readonly string[] = [],
): void {
  const listed = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '' && !keep.includes(h));
  for (const name of [...HOP_BY_HOP, ...listed]) if (!keep.includes(name)) delete headers[name];
  for (const name of Object.keys(headers)) if (name.startsWith('proxy-')) delete headers[name];
  // Addressed to leash, like Proxy-*: the sandbox scope an agent activates (scopes/step.ts) is nobody else's business.
  delete headers['x-leash-scope'];
}

/** Why a request's framing is ambiguous, or undefined when it is sound. Reads raw headers: Node joins duplicates. */
export function framingProblem(rawHeaders: readonly string[]): string | undefined {
  const lengths: string[] = [];
  let transferEncoding: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    const value = (rawHeaders[i + 1] ?? '').trim();
    if (name === 'content-length') lengths.push(value);
    else if (name === 'transfer-encoding') {
      if (transferEncoding !== undefined) return 'Transfer-Encoding appears twice';
      transferEncoding = value.toLowerCase();
    }
  }
  if (transferEncoding !== undefined && lengths.length > 0)
    return 'both Content-Length and Transfer-Encoding are present';
  if (transferEncoding !== undefined && transferEncoding !== 'chunked')
    return `Transfer-Encoding "${transferEncoding}" is not plain chunked`;
  if (lengths.length > 1) return 'Content-Length appears more than once';
  if (lengths.length === 1 && !/^\d{1,15}$/.test(lengths[0] as string))
    return `Content-Length "${lengths[0]}" is not a number`;
  return undefined;
}

/** Why the request's Host header is ambiguous, or undefined. Reads raw headers: Node keeps only the first Host. */
export function hostHeaderProblem(rawHeaders: readonly string[]): string | undefined {
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if ((rawHeaders[i] ?? '').toLowerCase() === 'host') hosts++;
  return hosts > 1 ? `more than one Host header (${hosts}); RFC 9112 §3.2 allows exactly one` : undefined;
}

/**
 * What the client expects before it sends its body (RFC 9110 §10.1.1), from every Expect header: `continue` when
 * each member is 100-continue, `unsupported` when any other is present (answered with 417), `none` otherwise. An
 * HTTP/1.0 request's expectations are ignored, as the RFC requires: its client does not understand 1xx.
 */
export function expectation(httpVersion: string, rawHeaders: readonly string[]): 'none' | 'continue' | 'unsupported' {
  if (httpVersion !== '1.1') return 'none';
  const members: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] ?? '').toLowerCase() !== 'expect') continue;
    for (const member of (rawHeaders[i + 1] ?? '').split(',')) {
      if (member.trim() !== '') members.push(member.trim().toLowerCase());
    }
  }
  if (members.length === 0) return 'none';
  return members.every((m) => m === '100-continue') ? 'continue' : 'unsupported';
}

export function unsupportedExpectation(expect: string | undefined): string {
  return `Expect "${String(expect).slice(0, 60)}" is not supported; leash understands only 100-continue`;
}
