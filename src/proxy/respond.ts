// Answers an agent can act on. A refusal carries the status, an `X-Leash-Decision` header naming the rule and
// reason, the standard `Proxy-Status` (RFC 9209) with whether retrying can help, a short body (JSON when the
// client asks for JSON), and (because many clients show only the status line of a refused CONNECT) a reason
// phrase that says the same. A blocked agent learns at once, nothing hangs: a policy refusal of a bodiless request
// keeps the connection (the next request may well be allowed), everything else closes it.
//
// Closing is a lingering close (RFC 9112 §9.6): the refusal is written, the sending side is shut (FIN), leash stops
// reading, and the socket is destroyed only after a grace period. Closing at once while a client is still
// uploading a body leash will never read makes the kernel answer with a reset, and a reset can make the client
// throw away the refusal unread. Leash never drains the body meanwhile: the kernel buffers fill and the client
// stalls, so a 10 GiB upload costs leash at most the socket buffers.

import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { PROXY_STATUS, proxyStatus, retryText } from './proxy-status.js';
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
  // The address guard decided, whatever rule allowed the name: name the address, its class and the way out.
  // So does a lockdown: who, since when, and the operator's reason, since no rule decided.
  if (refusal.reason === 'address_denied' || refusal.reason === 'lockdown') detail = refusal.message;
  // Many clients show only the status line of a refused CONNECT: it must carry the command that approves it.
  else if (refusal.reason === 'pending_approval') detail = pendingDetail(refusal.message);
  else if (status === 403)
    detail = refusal.rule
      ? `rule ${refusal.rule}${ruleReason ? `: ${ruleReason}` : ''}`
      : refusal.reason === 'no_rule'
        ? noRuleDetail(refusal.message)
        : refusal.reason;
  else detail = refusal.reason;
  const head = status === 403 ? 'Blocked by leash' : `leash: ${REASONS[refusal.reason].text}`;
  return sanitize(`${head} (${detail})`).slice(0, 200);
}

/** What decided a no_rule refusal: the rule that decides the host and why it refused, or that none allows it. */
function noRuleDetail(message: string): string {
  const decided = /denied: rule (\S+) decides for this host and does not allow it \((.*)\)$/.exec(message);
  if (decided) return `rule ${decided[1]} does not allow this: ${decided[2]}`;
  const grant = / not granted: (.*) \(grant from the response to request [^)]*\)$/.exec(message);
  return grant ? `not granted: ${grant[1]}` : 'no rule allows this host';
}

/** `pending approval k7c2...: leash approvals allow k7c2...`, from the message approvals/step.ts writes. */
function pendingDetail(message: string): string {
  const command = /leash approvals allow [a-z0-9]+/.exec(message);
  return command
    ? `pending approval ${command[0].slice('leash approvals allow '.length)}: ${command[0]}`
    : 'pending approval';
}

function sanitize(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

// Refusals after which the connection is still in a known state: the request was read whole and judged.
const KEEP_ALIVE_STATUSES: ReadonlySet<number> = new Set([403, 407, 429]);

function headers(refusal: Refusal, body: string, keepAlive = false, json = false): Record<string, string> {
  const retry: Record<string, string> =
    refusal.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(refusal.retryAfterSeconds) };
  // RFC 9110 §11.7.1: a 407 names the scheme the client should answer with.
  const challenge: Record<string, string> =
    statusOf(refusal.reason) === 407 ? { 'Proxy-Authenticate': 'Basic realm="leash"' } : {};
  return {
    ...retry,
    ...challenge,
    'Content-Type': json ? 'application/json' : 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Proxy-Status': proxyStatus(refusal.reason, refusal.message),
    'X-Leash-Decision': decisionHeader('deny', refusal.rule, refusal.reason),
    'X-Leash-Request-Id': refusal.requestId,
    Connection: keepAlive ? 'keep-alive' : 'close',
    'Cache-Control': 'no-store',
  };
}

function bodyOf(refusal: Refusal, json = false): string {
  if (json) {
    const { error, retry } = PROXY_STATUS[refusal.reason];
    return `${JSON.stringify({ leash: { reason: refusal.reason, rule: refusal.rule, message: refusal.message, error, retry, requestId: refusal.requestId, ...(refusal.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: refusal.retryAfterSeconds }) } })}\n`;
  }
  return `leash: ${sanitize(refusal.message)}; ${retryText(refusal.reason)}\n`;
}

/** A client that asks for JSON (and not for text first) gets the refusal as JSON. */
function wantsJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const json = accept.search(/application\/(?:[\w.+-]*\+)?json/i);
  const text = accept.search(/text\/plain/i);
  return json !== -1 && (text === -1 || json < text);
}

export function refuseResponse(res: ServerResponse, refusal: Refusal, ruleReason: string | null = null): void {
  if (res.headersSent) {
    // A refusal already on its way out (lingering) must not be cut short; anything else cannot be answered now.
    if (!res.socket?.writableEnded) res.destroy();
    return;
  }
  const request = res.req;
  const json = wantsJson(request.headers.accept);
  const body = bodyOf(refusal, json);
  const bodiless =
    request.headers['transfer-encoding'] === undefined && (request.headers['content-length'] ?? '0') === '0';
  const keepAlive =
    res.shouldKeepAlive &&
    bodiless &&
    request.method !== 'CONNECT' &&
    KEEP_ALIVE_STATUSES.has(statusOf(refusal.reason));
  if (!keepAlive) res.shouldKeepAlive = false;
  res.writeHead(statusOf(refusal.reason), reasonPhrase(refusal, ruleReason), headers(refusal, body, keepAlive, json));
  const socket = res.socket;
  if (keepAlive || !socket) {
    // Kept alive; or not this response's turn on the connection yet (pipelining): Node writes it when it is.
    res.end(body);
    return;
  }
  // Not res.end(): Node would then read the unread body to discard it and destroy the socket once the response is
  // flushed, which is the reset this avoids. The response is complete as written (Content-Length); a HEAD
  // response has no body, so its head is flushed alone.
  if (request.method === 'HEAD') res.flushHeaders();
  else res.write(body);
  request.unpipe();
  request.pause();
  lingeringClose(socket);
}

/** For CONNECT and parse errors, where there is only a socket. */
export function refuseSocket(socket: Duplex, refusal: Refusal, ruleReason: string | null = null): void {
  if (socket.destroyed || !socket.writable) {
    if (!socket.writableEnded) socket.destroy();
    return;
  }
  const body = bodyOf(refusal);
  const head = [`HTTP/1.1 ${statusOf(refusal.reason)} ${reasonPhrase(refusal, ruleReason)}`];
  for (const [name, value] of Object.entries(headers(refusal, body))) head.push(`${name}: ${value}`);
  socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  lingeringClose(socket);
}

/** How long a refused connection stays half-closed before it is destroyed (RFC 9112 §9.6). */
export const LINGER_MS = 2000;

/**
 * Shuts the sending side after what was written, stops reading, and destroys the socket after LINGER_MS: long
 * enough for the client to read the response before any reset, short enough that a client that never reads
 * cannot keep the socket (and its buffers) alive.
 */
function lingeringClose(socket: Duplex): void {
  socket.end();
  socket.pause();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
