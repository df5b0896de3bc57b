// Answers an agent can act on. A refusal carries the status, an `X-Leash-Decision` header naming the rule and
// reason, a one-line body, and (because many clients show only the status line of a refused CONNECT) a reason
// phrase that says the same. Every refusal closes the connection: a blocked agent learns at once, nothing hangs.

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

function headers(refusal: Refusal, body: string): Record<string, string> {
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
    Connection: 'close',
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
  res.shouldKeepAlive = false;
  res.writeHead(statusOf(refusal.reason), reasonPhrase(refusal, ruleReason), headers(refusal, body));
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
