// Plain HTTP: absolute-form requests (`GET http://host/path`). Decide on host, port, method and path; resolve and
// check the address; forward through http-proxy to exactly that address with hop-by-hop and Proxy-* headers
// removed. The path leash decides on is the path it forwards, byte for byte.

import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type HttpProxy from 'http-proxy';
import { hostForUrl } from '../policy/host.js';
import { admit } from './admit.js';
import { uploadBudget } from './bandwidth.js';
import { Exchange, type ExchangeSink } from './exchange.js';
import { framingProblem, stripHopByHop } from './headers.js';
import type { Reason } from './reasons.js';
import { refuseResponse } from './respond.js';
import type { ProxyState } from './state.js';

/** Per-request state http-proxy's events need; keyed by the incoming request. */
export const forwarding = new WeakMap<IncomingMessage, { exchange: Exchange; connectMs: number; responseMs: number; proxyReq?: http.ClientRequest }>();

export async function handleRequest(state: ProxyState & ExchangeSink, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const exchange = new Exchange(state, state.policy, 'request', req.socket);
  try {
    await forwardRequest(state, exchange, req, res);
  } catch (err) {
    // Fail closed: a bug anywhere above still ends in a refusal and an audit record.
    const message = `internal error: ${(err as Error).message}`;
    exchange.deny('internal_error', message);
    refuseResponse(res, { reason: 'internal_error', rule: exchange.record.rule, message, requestId: exchange.id });
    exchange.finish({ status: res.headersSent ? res.statusCode : null });
    throw err;
  }
}

async function forwardRequest(state: ProxyState & ExchangeSink, exchange: Exchange, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const policy = exchange.policy;
  const record = exchange.record;
  exchange.abort = () => res.destroy();
  record.method = req.method ?? null;
  record.scheme = 'http';
  const userAgent = req.headers['user-agent'];
  if (userAgent) record.userAgent = userAgent;

  const refuse = (reason: Reason, message: string, retryAfterSeconds?: number) => {
    exchange.deny(reason, message);
    refuseResponse(res, { reason, rule: record.rule, message, requestId: exchange.id, retryAfterSeconds }, exchange.ruleReason);
    exchange.finish({ status: res.statusCode });
  };

  const target = req.url ?? '';
  if (target.startsWith('/')) {
    record.path = target;
    return refuse('not_a_proxy_request', `leash is a forward proxy: send absolute-form requests (set HTTP_PROXY/HTTPS_PROXY to http://${req.headers.host ?? 'this-proxy'})`);
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return refuse('bad_request', 'the request target is not a valid absolute URL');
  }
  if (url.protocol !== 'http:') {
    return refuse('unsupported_scheme', `${url.protocol.replace(/:$/, '')}:// cannot be proxied as a plain request; HTTPS goes through CONNECT`);
  }
  const framing = framingProblem(req.rawHeaders);
  if (framing) return refuse('bad_request', `ambiguous request framing: ${framing}`);

  // http-proxy collapses repeated slashes when it builds the outgoing path; do it first so the path decided on
  // is the path forwarded.
  const path = `${url.pathname.replace(/\/{2,}/g, '/')}${url.search}`;
  record.path = path;
  const port = url.port ? Number(url.port) : 80;
  const admission = await admit(state, exchange, req, { method: req.method ?? '', host: url.hostname, port, path });
  if (!admission.ok) return refuse(admission.reason, admission.message, admission.retryAfterSeconds);
  const { request: destination, resolution } = admission;
  const budget = admission.rule && uploadBudget(state, admission.rule, destination.agent, (message) => {
    if (admission.reportOnly) {
      Object.assign(record, { wouldDeny: true, reason: 'bandwidth', message });
      return;
    }
    exchange.deny('bandwidth', message);
    forwarding.get(req)?.proxyReq?.destroy();
    if (!res.headersSent) refuseResponse(res, { reason: 'bandwidth', rule: record.rule, message, requestId: exchange.id }, exchange.ruleReason);
    else res.destroy();
  });
  if (res.destroyed || req.socket.destroyed) return exchange.finish({ status: null, reason: 'client_closed', message: 'the client went away before the request was forwarded' });

  // RFC 9112 §3.2.2: a proxy replaces Host with the authority of the absolute-form target.
  const authority = hostForUrl(destination.host, destination.hostKind);
  req.headers.host = url.port ? `${authority}:${port}` : authority;
  stripHopByHop(req.headers);
  req.url = path;

  forwarding.set(req, { exchange, connectMs: policy.settings.timeouts.connectMs, responseMs: policy.settings.timeouts.responseMs });
  res.on('close', () => {
    if (res.writableFinished) exchange.finish({ status: res.statusCode });
    else exchange.finish({ status: res.headersSent ? res.statusCode : null, reason: exchange.record.effect === 'allow' ? 'client_closed' : exchange.record.reason, message: 'the exchange ended before the response was complete' });
  });
  state.httpProxy.web(req, res, { target: { protocol: 'http:', host: resolution.address, port }, agent: state.upstreamAgent, buffer: budget ? req.pipe(budget) : undefined }, (err: NodeJS.ErrnoException) => {
    // A cut for bandwidth already answered the client and named the reason.
    if (record.reason === 'bandwidth') return;
    const reason = upstreamReason(err);
    const message = `upstream ${authority}:${port} (${resolution.address}): ${describeUpstreamError(err)}`;
    if (res.headersSent) {
      exchange.deny(reason, message);
      res.destroy();
      return;
    }
    refuse(reason, message);
  });
  req.on('data', (chunk: Buffer) => {
    record.bytesOut += chunk.length;
  });
}

/** Wires the per-request upstream timeouts and byte counting into http-proxy's events. */
export function attachProxyEvents(proxy: HttpProxy): void {
  proxy.on('proxyReq', (proxyReq, req) => {
    const entry = forwarding.get(req);
    if (!entry) return;
    entry.proxyReq = proxyReq;
    const socket = proxyReq.socket;
    if (socket?.connecting) {
      const timer = setTimeout(() => proxyReq.destroy(Object.assign(new Error('connect timeout'), { code: 'LEASH_CONNECT_TIMEOUT' })), entry.connectMs);
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    }
    proxyReq.setTimeout(entry.responseMs, () => proxyReq.destroy(Object.assign(new Error('response timeout'), { code: 'LEASH_RESPONSE_TIMEOUT' })));
  });
  proxy.on('proxyRes', (proxyRes, req, res) => {
    const entry = forwarding.get(req);
    stripHopByHop(proxyRes.headers);
    // The client's connection is leash's business, not the upstream's: keep it alive only if the client asked
    // for that and leash is not draining (http-proxy would otherwise copy or invent a Connection header).
    proxyRes.headers.connection = res.shouldKeepAlive ? 'keep-alive' : 'close';
    if (!entry) return;
    proxyRes.on('data', (chunk: Buffer) => {
      entry.exchange.record.bytesIn += chunk.length;
    });
  });
}

export function newUpstreamAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, scheduling: 'lifo' });
}

export function upstreamReason(err: NodeJS.ErrnoException): Reason {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connect_refused';
    case 'LEASH_CONNECT_TIMEOUT':
    case 'LEASH_RESPONSE_TIMEOUT':
    case 'ETIMEDOUT':
      return 'upstream_timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'connect_failed';
    default:
      return 'upstream_error';
  }
}

export function describeUpstreamError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'LEASH_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'LEASH_RESPONSE_TIMEOUT':
      return 'no response in time';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return err.code ? `failed (${err.code})` : 'failed';
  }
}
