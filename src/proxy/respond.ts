// Answers an agent can act on. A refusal carries the status, an `X-Leash-Decision` header naming the rule and
// reason, a one-line body, and (because many clients show only the status line of a refused CONNECT) a reason
// phrase that says the same. A blocked agent learns at once, nothing hangs: a policy refusal of a bodiless request
// keeps the connection (the next request may well be allowed), everything else closes it.

import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { REASONS, type Reason } from './reasons.js';

export interface Refusal {
  readonly reason: Reason;
  readonly rule: string | null;
  readonly message: string;
  readonly requestId: string;
  /** For 429: whole seconds until a request would pass. */
  readonly retryAfterSeconds?: number;
}

export function statusOf(reason: Reason): number {
  return REASONS[reason].status;
}

export function decisionHeader(effect: 'allow' | 'deny', rule: string | null, reason: Reason): string {
  return rule ? `${effect}; rule=${rule}; reason=${reason}` : `${effect}; reason=${reason}`;
}

/** `Blocked by leash (rule metadata: cloud metadata endpoint)`: printable ASCII only, as RFC 9112 §4 requires. */
export function reasonPhrase(refusal: Refusal, ruleReason: string | null): string {
  const status = statusOf(refusal.reason);
  let detail: string;
  if (status === 403) detail = refusal.rule ? `rule ${refusal.rule}${ruleReason ? `: ${ruleReason}` : ''}` : refusal.reason === 'no_rule' ? 'no rule allows this host' : refusal.reason;
  else detail = refusal.reason;
  const head = status === 403 ? 'Blocked by leash' : `leash: ${REASONS[refusal.reason].text}`;
  return sanitize(`${head} (${detail})`).slice(0, 200);
}

function sanitize(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

// Refusals after which the connection is still in a known state: the request was read whole and judged.
const KEEP_ALIVE_STATUSES = new Set([403, 407, 429]);

function headers(refusal: Refusal, body: string, keepAlive = false): Record<string, string> {
  const retry: Record<string, string> = refusal.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(refusal.retryAfterSeconds) };
  // RFC 9110 §11.7.1: a 407 names the scheme the client should answer with.
  const challenge: Record<string, string> = statusOf(refusal.reason) === 407 ? { 'Proxy-Authenticate': 'Basic realm="leash"' } : {};
  return {
    ...retry,
    ...challenge,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'X-Leash-Decision': decisionHeader('deny', refusal.rule, refusal.reason),
    'X-Leash-Request-Id': refusal.requestId,
    Connection: keepAlive ? 'keep-alive' : 'close',
    'Cache-Control': 'no-store',
  };
}

function bodyOf(refusal: Refusal): string {
  return `leash: ${sanitize(refusal.message)}\n`;
}

export function refuseResponse(res: ServerResponse, refusal: Refusal, ruleReason: string | null = null): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = bodyOf(refusal);
  const request = res.req;
  const bodiless = request.headers['transfer-encoding'] === undefined && (request.headers['content-length'] ?? '0') === '0';
  const keepAlive = res.shouldKeepAlive && bodiless && request.method !== 'CONNECT' && KEEP_ALIVE_STATUSES.has(statusOf(refusal.reason));
  if (!keepAlive) res.shouldKeepAlive = false;
  res.writeHead(statusOf(refusal.reason), reasonPhrase(refusal, ruleReason), headers(refusal, body, keepAlive));
  res.end(body);
}

/** For CONNECT and parse errors, where there is only a socket. */
export function refuseSocket(socket: Duplex, refusal: Refusal, ruleReason: string | null = null): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = bodyOf(refusal);
  const head = [`HTTP/1.1 ${statusOf(refusal.reason)} ${reasonPhrase(refusal, ruleReason)}`];
  for (const [name, value] of Object.entries(headers(refusal, body))) head.push(`${name}: ${value}`);
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  // A client that never reads must not keep the socket (and its buffers) alive.
  setTimeout(() => socket.destroy(), 2000).unref();
}
