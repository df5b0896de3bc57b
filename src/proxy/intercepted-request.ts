// One request inside an intercepted tunnel. The tunnel fixed the destination (host, port, checked address) and
// the agent; each request is decided on its own method and path, held to the rate limit, and forwarded over a
// new, verified TLS connection to the address checked when the tunnel opened. A Host header or absolute target
// naming any other host is domain fronting and is refused.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HostKind } from '../policy/host.js';
import { hostForUrl, normalizeHost } from '../policy/host.js';
import type { IdentityMethod } from '../policy/identity.js';
import type { CompiledPolicy } from '../policy/policy.js';
import { Exchange, type ExchangeSink } from './exchange.js';
import { framingProblem } from './headers.js';
import { overRateLimit } from './rate-limit.js';
import type { Reason } from './reasons.js';
import { refuseResponse } from './respond.js';
import type { ProxyState } from './state.js';
import { sendUpstream } from './upstream.js';
import { judge } from './verdict.js';

export interface InterceptSession {
  readonly tunnel: Exchange;
  readonly policy: CompiledPolicy;
  readonly host: string;
  readonly hostKind: HostKind;
  readonly port: number;
  readonly address: string;
  readonly agent: string;
  readonly identity: IdentityMethod;
  /** The agent's TCP connection, for the client address in records. */
  readonly client: Socket;
  requests: number;
}

export async function handleInterceptedRequest(state: ProxyState & ExchangeSink, session: InterceptSession, req: IncomingMessage, res: ServerResponse): Promise<void> {
  session.requests++;
  const exchange = new Exchange(state, session.policy, 'request', session.client);
  const record = exchange.record;
  exchange.abort = () => res.destroy();
  Object.assign(record, { method: req.method ?? null, scheme: 'https', tls: 'intercepted', host: session.host, port: session.port, agent: session.agent, identity: session.identity, resolved: session.address });
  const userAgent = req.headers['user-agent'];
  if (userAgent) record.userAgent = userAgent;
  const refuse = (reason: Reason, message: string, retryAfterSeconds?: number) => {
    exchange.deny(reason, message);
    refuseResponse(res, { reason, rule: record.rule, message, requestId: exchange.id, retryAfterSeconds }, exchange.ruleReason);
    exchange.finish({ status: res.statusCode });
  };
  try {
    const target = req.url ?? '';
    let rawPath = target;
    if (!target.startsWith('/')) {
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        return refuse('bad_request', 'the request target is neither a path nor an absolute URL');
      }
      if (!sameDestination(url.hostname, url.port ? Number(url.port) : defaultPort(url.protocol), session)) {
        return refuse('host_mismatch', `the request targets ${url.host}, but the tunnel was opened to ${describe(session)}`);
      }
      rawPath = `${url.pathname}${url.search}`;
    }
    const hostHeader = req.headers.host;
    if (hostHeader === undefined) return refuse('bad_request', 'HTTP/1.1 requests need a Host header');
    const authority = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(hostHeader);
    if (!authority || !sameDestination(authority[1] as string, authority[2] ? Number(authority[2]) : session.port, session)) {
      return refuse('host_mismatch', `Host "${hostHeader.slice(0, 100)}" names another host than the tunnel's ${describe(session)}`);
    }
    const framing = framingProblem(req.rawHeaders);
    if (framing) return refuse('bad_request', `ambiguous request framing: ${framing}`);

    const path = rawPath.replace(/^([^?]*)/, (p) => p.replace(/\/{2,}/g, '/'));
    record.path = path;
    const verdict = judge(session.policy, { method: req.method ?? '', host: session.host, port: session.port, path, agent: session.agent });
    exchange.applyVerdict(verdict);
    if (verdict.effect === 'deny' || !verdict.request) return refuse(verdict.reason, verdict.message);
    const limited = await overRateLimit(state, verdict);
    if (limited) {
      if (session.policy.settings.mode !== 'report') return refuse('rate_limited', limited.message, limited.retryAfterSeconds);
      Object.assign(record, { wouldDeny: true, reason: 'rate_limited', message: limited.message });
    }
    const name = hostForUrl(session.host, session.hostKind);
    sendUpstream(state, exchange, req, res, {
      protocol: 'https:',
      address: session.address,
      port: session.port,
      hostHeader: session.port === 443 ? name : `${name}:${session.port}`,
      path,
      rule: verdict.rule,
      agent: session.agent,
      reportOnly: session.policy.settings.mode === 'report',
    }, refuse);
  } catch (err) {
    // Fail closed: a bug anywhere above still ends in a refusal and an audit record.
    if (!exchange.finished) refuse('internal_error', `internal error: ${(err as Error).message}`);
    throw err;
  }
}

function sameDestination(host: string, port: number, session: InterceptSession): boolean {
  const normalized = normalizeHost(host);
  return normalized.ok && normalized.host === session.host && port === session.port;
}

function defaultPort(protocol: string): number {
  return protocol === 'http:' ? 80 : 443;
}

function describe(session: InterceptSession): string {
  return `${hostForUrl(session.host, session.hostKind)}:${session.port}`;
}
