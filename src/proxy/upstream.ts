// Sending an admitted request to its upstream through http-proxy, for plain HTTP and for requests inside an
// intercepted tunnel alike: to exactly the address that was checked, with hop-by-hop and Proxy-* headers removed,
// upload budgets applied, upstream timeouts enforced, and every outcome mapped to a reason. HTTPS upstreams are
// verified against the system store plus settings.tls.extraCa; verification is never switched off.

import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type HttpProxy from 'http-proxy';
import type { CompiledPolicy } from '../policy/policy.js';
import type { CompiledRule } from '../policy/rule.js';
import type { Transform } from 'node:stream';
import { Reflection } from '../grants/reflection.js';
import { inspectForGrants, type InspectedResponse } from './grants.js';
import { chargeRequestHead, requestHeadBytes, uploadBudget } from './bandwidth.js';
import type { Exchange } from './exchange.js';
import { stripHopByHop } from './headers.js';
import { prefixedBody } from './method-override.js';
import type { Reason } from './reasons.js';
import { refuseResponse } from './respond.js';
import { reported } from './verdict.js';
import { injectSecrets, scrubResponseHeaders, type Injection } from '../secrets/inject.js';
import { BodyWatch, PlaceholderObjection } from '../secrets/body-watch.js';
import type { ProxyState } from './state.js';
import { UpstreamTimeoutError } from '../errors.js';

/**
 * Per-request state http-proxy's events need, carried by the request itself: http-proxy's events are wired once
 * per process and hand back only the request.
 */
const FORWARDING = Symbol('leash.forwarding');

interface ForwardedRequest extends IncomingMessage {
  [FORWARDING]?: ForwardingEntry;
}

function forwardingOf(req: IncomingMessage): ForwardingEntry | undefined {
  return (req as ForwardedRequest)[FORWARDING];
}

interface ForwardingEntry {
  readonly exchange: Exchange;
  readonly connectMs: number;
  readonly responseMs: number;
  proxyReq?: http.ClientRequest;
  /** Set for responses leash reads (inspect rules): it writes them to the client itself, grants first. */
  readonly deliver?: (proxyRes: IncomingMessage, res: ServerResponse) => void;
  /** Secrets whose values went into the request: the response headers get their placeholders back. */
  injected?: readonly Injection[];
}

export interface UpstreamTarget {
  readonly protocol: 'http:' | 'https:';
  /** The checked address: dialled as is, never looked up again. */
  readonly address: string;
  readonly port: number;
  /** The Host header the upstream gets (and, for HTTPS, the name its certificate must carry). */
  readonly hostHeader: string;
  /** The path decided on, which is the path forwarded. */
  readonly path: string;
  readonly rule: CompiledRule | null;
  readonly agent: string;
  /** Body bytes leash already read (a form checked for `_method`): forwarded first, unchanged. */
  readonly bodyPrefix?: Buffer;
  /**
   * Secrets whose values replace their placeholders (the admission's secrets step named them): applied to what
   * goes upstream only, after everything that records or inspects the request has taken its copy.
   */
  readonly injections?: readonly Injection[];
  /** Placeholders in the body (secret-misuse.ts bodyCheck): an objection cuts the request before they leave. */
  readonly bodyCheck?: ConstructorParameters<typeof BodyWatch>[0];
}

export async function sendUpstream(
  state: ProxyState,
  exchange: Exchange,
  req: IncomingMessage,
  res: ServerResponse,
  target: UpstreamTarget,
  refuse: (reason: Reason, message: string) => void,
): Promise<void> {
  const record = exchange.record;
  const policy = exchange.policy;
  if (target.rule?.bandwidth) {
    const over = await chargeRequestHead(
      state,
      target.rule,
      target.agent,
      requestHeadBytes(req.method ?? '', target.path, req.headers),
    );
    if (over && !reported(policy, over.reason)) return refuse(over.reason, over.message);
    if (over) Object.assign(record, { wouldDeny: true, reason: over.reason, message: over.message });
  }
  const budget =
    target.rule &&
    uploadBudget(state, target.rule, target.agent, (message, reason) => {
      if (reported(policy, reason)) {
        Object.assign(record, { wouldDeny: true, reason, message });
        return;
      }
      exchange.deny(reason, message);
      forwardingOf(req)?.proxyReq?.destroy();
      if (!res.headersSent)
        refuseResponse(res, { reason, rule: record.rule, message, requestId: exchange.id }, exchange.ruleReason);
      else res.destroy();
    });
  if (res.destroyed || req.socket.destroyed) {
    exchange.finish({
      status: null,
      reason: 'client_closed',
      message: 'the client went away before the request was forwarded',
    });
    return;
  }

  req.headers.host = target.hostHeader;
  stripHopByHop(req.headers);
  // Leash answered 100 Continue to the client itself, once the request was allowed; forwarded, Expect would also
  // make http-proxy skip the proxyReq event that arms leash's upstream timeouts.
  delete req.headers.expect;
  req.url = target.path;

  const inspect = target.rule !== null && target.rule.inspect.length > 0;
  const responseUrl = `${target.protocol}//${target.hostHeader}${target.path}`;
  // What the upstream receives, so no grant from its response hands it back out (the body is added as it streams).
  const reflection = inspect ? new Reflection(target.path, req.headers) : undefined;
  // An API that stores input hands it back later: responses are checked against this agent's recent requests too.
  const recentKey = `${target.agent}\u0000${target.rule?.name ?? ''}`;
  if (reflection) state.recentRequests.remember(recentKey, reflection, state.now());
  (req as ForwardedRequest)[FORWARDING] = {
    exchange,
    connectMs: policy.settings.timeouts.connectMs,
    responseMs: policy.settings.timeouts.responseMs,
    ...(inspect && target.rule && reflection
      ? {
          deliver: (proxyRes, response) =>
            void deliverInspected(
              state,
              {
                exchange,
                rule: target.rule as CompiledRule,
                agent: target.agent,
                responseUrl,
                host: hostOf(target.hostHeader),
                port: target.port,
                reflection: state.recentRequests.with(recentKey, reflection, state.now()),
              },
              proxyRes,
              response,
            ),
        }
      : {}),
  };
  res.on('close', () => {
    // A client that leaves must not leave an upstream request behind.
    if (!res.writableFinished) forwardingOf(req)?.proxyReq?.destroy();
    if (res.writableFinished) exchange.finish({ status: res.statusCode });
    // A cut (lockdown, bandwidth) already says why; only a client that left is described here.
    else if (record.effect === 'allow')
      exchange.finish({
        status: res.headersSent ? res.statusCode : null,
        reason: 'client_closed',
        message: 'the exchange ended before the response was complete',
      });
    else exchange.finish({ status: res.headersSent ? res.statusCode : null });
  });
  const prefixed = target.bodyPrefix ? prefixedBody(req, target.bodyPrefix) : undefined;
  if (target.bodyPrefix) record.bytesOut += target.bodyPrefix.length;
  const check = target.bodyCheck;
  const watch =
    check &&
    new BodyWatch((found) => {
      const objection = check(found);
      // Report mode records what enforce mode would have cut, and lets the body through.
      if (!objection || !reported(policy, 'secret_misuse')) return objection;
      if (objection.secret) record.secret = objection.secret;
      Object.assign(record, { wouldDeny: true, reason: 'secret_misuse', message: objection.message });
      return undefined;
    });
  watch?.on('error', (err) => {
    if (!(err instanceof PlaceholderObjection)) return;
    const { secret, message } = err.objection;
    if (secret) record.secret = secret;
    // No rule decided this: the body carried what it must not, whatever rule allowed the request.
    record.rule = null;
    exchange.ruleReason = null;
    forwardingOf(req)?.proxyReq?.destroy();
    if (!res.headersSent) return exchange.refuse(res, 'secret_misuse', message);
    exchange.deny('secret_misuse', message);
    res.destroy();
  });
  const body = watch ? (prefixed ?? req).pipe(watch) : prefixed;
  if (target.injections?.length) {
    const injected = injectSecrets(req.headers, target.path, target.injections);
    Object.assign(req.headers, injected.headers);
    req.url = injected.path;
    if (injected.injected.length > 0) {
      record.injected = [...injected.injected];
      const entry = forwardingOf(req);
      if (entry) entry.injected = target.injections;
    }
  }
  const https = target.protocol === 'https:';
  const options: HttpProxy.ServerOptions = {
    target: { protocol: target.protocol, host: target.address, port: target.port },
    // The HTTPS agent carries the trusted CAs; its options take precedence over the request's.
    agent: https ? httpsAgentFor(state, policy) : state.upstreamAgent,
    secure: true,
    buffer: budget ? (body ?? req).pipe(budget) : body,
    selfHandleResponse: inspect,
  };
  state.httpProxy.web(req, res, options, (err: NodeJS.ErrnoException) => {
    // A cut for bandwidth (or a budget the store could not check) already answered the client and named the reason.
    if (record.reason === 'bandwidth' || record.reason === 'store_unavailable' || record.reason === 'secret_misuse')
      return;
    const reason = upstreamReason(err);
    const message = `upstream ${target.hostHeader} (${target.address}): ${describeUpstreamError(err)}`;
    if (res.headersSent) {
      exchange.deny(reason, message);
      res.destroy();
      return;
    }
    refuse(reason, message);
  });
  req.on('data', (chunk: Buffer) => {
    record.bytesOut += chunk.length;
    // Synchronously, in the same emit that hands the chunk on: the upstream never holds bytes the capture lacks.
    reflection?.addBody(chunk);
  });
}

/** An upgrade (WebSocket) on its way upstream: its exchange notes when the upstream answers with 101. */
export function trackUpgrade(req: IncomingMessage, exchange: Exchange, policy: CompiledPolicy): void {
  (req as ForwardedRequest)[FORWARDING] = {
    exchange,
    connectMs: policy.settings.timeouts.connectMs,
    responseMs: policy.settings.timeouts.responseMs,
  };
}

/** Wires the per-request upstream timeouts and byte counting into http-proxy's events. */
export function attachProxyEvents(proxy: HttpProxy): void {
  proxy.on('proxyReqWs', (proxyReq, req) => {
    const entry = forwardingOf(req);
    if (entry) proxyReq.once('upgrade', () => entry.exchange.noteUpstream());
  });
  proxy.on('proxyReq', (proxyReq, req) => {
    const entry = forwardingOf(req);
    if (!entry) return;
    entry.proxyReq = proxyReq;
    const socket = proxyReq.socket;
    if (socket?.connecting) {
      const timer = setTimeout(
        () => proxyReq.destroy(new UpstreamTimeoutError('LEASH_CONNECT_TIMEOUT')),
        entry.connectMs,
      );
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    }
    proxyReq.setTimeout(entry.responseMs, () => proxyReq.destroy(new UpstreamTimeoutError('LEASH_RESPONSE_TIMEOUT')));
  });
  proxy.on('proxyRes', (proxyRes, req, res) => {
    const entry = forwardingOf(req);
    // Node's client accepts status lines its server refuses to write (status 000, control bytes in the reason);
    // passing one on would throw outside any handler and take leash down with it.
    const status = proxyRes.statusCode ?? 0;
    if (status < 100 || status > 599) {
      proxyRes.statusCode = 502;
      proxyRes.statusMessage = 'Bad Gateway (leash: invalid upstream status)';
    } else if (proxyRes.statusMessage && !/^[\t\x20-\x7e]*$/.test(proxyRes.statusMessage)) {
      proxyRes.statusMessage = proxyRes.statusMessage.replace(/[^\t\x20-\x7e]/g, '?');
    }
    stripHopByHop(proxyRes.headers);
    // The client's connection is leash's business, not the upstream's: keep it alive only if the client asked
    // for that and leash is not draining (http-proxy would otherwise copy or invent a Connection header).
    proxyRes.headers.connection = res.shouldKeepAlive ? 'keep-alive' : 'close';
    if (!entry) return;
    if (entry.injected) scrubResponseHeaders(proxyRes.headers, entry.injected);
    entry.exchange.noteUpstream();
    if (entry.deliver) return entry.deliver(proxyRes, res);
    countBytesIn(entry.exchange, proxyRes);
  });
}

function countBytesIn(exchange: Exchange, proxyRes: IncomingMessage): void {
  proxyRes.on('data', (chunk: Buffer) => {
    exchange.record.bytesIn += chunk.length;
  });
}

/**
 * Writes an inspected response to the client: the grants its headers carry are stored before the status line
 * goes out, and each body chunk passes only once the grants it carries are stored. Inspection can only add
 * grants, so when it fails the response is still delivered unchanged.
 */
async function deliverInspected(
  state: ProxyState,
  response: InspectedResponse,
  proxyRes: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    await writeInspected(state, response, proxyRes, res);
  } catch {
    // Never an unhandled rejection: a response that cannot be written ends the exchange.
    proxyRes.destroy();
    res.destroy();
  }
}

async function writeInspected(
  state: ProxyState,
  response: InspectedResponse,
  proxyRes: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let body: Transform | undefined;
  try {
    body = await inspectForGrants(state, response, proxyRes);
  } catch {
    body = undefined;
  }
  if (res.destroyed) {
    proxyRes.destroy();
    return;
  }
  res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, proxyRes.headers);
  const source = body ? proxyRes.pipe(body) : proxyRes;
  source.pipe(res);
  countBytesIn(response.exchange, proxyRes);
  proxyRes.on('error', () => res.destroy());
}

function hostOf(hostHeader: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:]+))/.exec(hostHeader);
  return (m?.[1] ?? m?.[2] ?? hostHeader).toLowerCase();
}

export function newUpstreamAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, scheduling: 'lifo' });
}

/** The HTTPS agent of the policy revision a request was decided under (see policy-runtime.ts). */
export function httpsAgentFor(state: ProxyState, policy: CompiledPolicy): https.Agent {
  return state.runtimes.of(policy).httpsAgent();
}

const TLS_VERIFY_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO|ALTNAME|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME_MISMATCH/;

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
      return err.code && TLS_VERIFY_ERRORS.test(err.code) ? 'upstream_tls' : 'upstream_error';
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
      if (err.code && TLS_VERIFY_ERRORS.test(err.code)) return `its TLS certificate failed verification (${err.code})`;
      return err.code ? `failed (${err.code})` : 'failed';
  }
}
