// One request inside an intercepted tunnel. The tunnel fixed the destination (host, port, checked address) and
// the agent; each request is decided on its own method (method overrides included) and path, held to the rate
// limit, and forwarded to the address checked when the tunnel opened, over a verified TLS connection from the
// current policy's pool (upstream.ts, httpsAgentFor). A Host header or absolute target naming any other host is
// domain fronting and is refused; two Host headers are a 400.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HostKind } from '../policy/host.js';
import { hostForUrl, normalizeHost } from '../policy/host.js';
import type { IdentityMethod } from '../policy/identity.js';
import type { CompiledPolicy } from '../policy/policy.js';
import { Exchange, type ExchangeSink } from './exchange.js';
import { expectation, framingProblem, hostHeaderProblem, unsupportedExpectation } from './headers.js';
import { gatherOverrides, headerOverrides, queryOverrides } from './method-override.js';
import type { Reason } from './reasons.js';
import type { ProxyState } from './state.js';
import { describeUpstreamError, httpsAgentFor, sendUpstream, trackUpgrade, upstreamReason } from './upstream.js';
import { judge } from './verdict.js';
import { admit } from './admission.js';
import { admissionContext, scopeHeader, whileConnected } from './admission-context.js';
import { SCOPE_HEADER } from '../scopes/step.js';
import { guardStream } from './open-tunnels.js';
import { bodyCheck } from './secret-misuse.js';
import { injectSecrets } from '../secrets/inject.js';

export interface InterceptSession {
  readonly tunnel: Exchange;
  /** The policy the tunnel opened under (its timeouts); each request inside is decided by the policy in force. */
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
  /** X-Leash-Scope of the CONNECT: the sandbox scope of every request inside that does not name its own. */
  readonly scope?: string;
}

export async function handleInterceptedRequest(
  state: ProxyState & ExchangeSink,
  session: InterceptSession,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  session.requests++;
  // The policy in force now, not the one the tunnel opened under: a keep-alive tunnel must not outlive a reload.
  const policy = state.policy;
  const exchange = new Exchange(state, policy, 'request', session.client);
  const record = exchange.record;
  exchange.abort = () => res.destroy();
  Object.assign(record, {
    method: req.method ?? null,
    scheme: 'https',
    tls: 'intercepted',
    host: session.host,
    port: session.port,
    agent: session.agent,
    identity: session.identity,
    resolved: session.address,
  });
  const userAgent = req.headers['user-agent'];
  if (userAgent) record.userAgent = userAgent;
  const refuse = (reason: Reason, message: string, retryAfterSeconds?: number) =>
    exchange.refuse(res, reason, message, retryAfterSeconds);
  try {
    // Before the destination check, which reads the one Host header Node kept.
    const hosts = hostHeaderProblem(req.rawHeaders);
    if (hosts) return refuse('bad_request', `ambiguous destination: ${hosts}`);
    const destination = checkDestination(req, session);
    if ('reason' in destination) return refuse(destination.reason, destination.message);
    const rawPath = destination.path;
    const framing = framingProblem(req.rawHeaders);
    if (framing) return refuse('bad_request', `ambiguous request framing: ${framing}`);
    const expects = expectation(req.httpVersion, req.rawHeaders);
    if (expects === 'unsupported') return refuse('expectation_failed', unsupportedExpectation(req.headers.expect));

    const path = rawPath.replace(/^([^?]*)/, (p) => p.replace(/\/{2,}/g, '/'));
    record.path = path;
    // The go-ahead for the body: once allowed, or earlier when the decision needs the body (a form with _method).
    let continued = false;
    const sendContinue = () => {
      if (expects === 'continue' && !continued) res.writeContinue();
      continued = true;
    };
    const { overrides, bodyPrefix } = await gatherOverrides(policy, req, session.host, path, sendContinue);
    const connected = whileConnected(req);
    // Placeholders derive from leash's CA key, loaded since the tunnel was intercepted.
    const caKey = (await state.interceptor()).ca.key;
    const admission = await admit(admissionContext(state, policy, caKey), {
      ...inTunnel(session, req),
      requestId: exchange.id,
      signal: connected.signal,
      method: req.method ?? '',
      path,
      overrides,
      headers: req.headers,
      carried: { rawHeaders: req.rawHeaders, target: rawPath },
    }).finally(connected.release);
    exchange.noteAdmission(admission.notes);
    if (!admission.ok) return refuse(admission.reason, admission.message, admission.retryAfterSeconds);
    const name = hostForUrl(session.host, session.hostKind);
    sendContinue();
    await sendUpstream(
      state,
      exchange,
      req,
      res,
      {
        protocol: 'https:',
        address: session.address,
        port: session.port,
        hostHeader: session.port === 443 ? name : `${name}:${session.port}`,
        path,
        rule: admission.rule,
        agent: session.agent,
        bodyPrefix,
        injections: admission.injections,
        bodyCheck: bodyCheck(state.runtimes.of(policy).secrets, caKey, {
          agent: session.agent,
          host: session.host,
          transport: 'https',
        }),
      },
      refuse,
    );
  } catch (err) {
    // Fail closed: a bug anywhere above still ends in a refusal and an audit record.
    if (!exchange.finished) refuse('internal_error', `internal error: ${(err as Error).message}`);
    throw err;
  }
}

/** The path of a request inside the tunnel, once its target and Host header are shown to name the tunnel's host. */
function checkDestination(
  req: IncomingMessage,
  session: InterceptSession,
): { path: string } | { reason: Reason; message: string } {
  const target = req.url ?? '';
  let path = target;
  if (!target.startsWith('/')) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return { reason: 'bad_request', message: 'the request target is neither a path nor an absolute URL' };
    }
    if (!sameDestination(url.hostname, url.port ? Number(url.port) : defaultPort(url.protocol), session)) {
      return {
        reason: 'host_mismatch',
        message: `the request targets ${url.host}, but the tunnel was opened to ${describe(session)}`,
      };
    }
    path = `${url.pathname}${url.search}`;
  }
  const hostHeader = req.headers.host;
  if (hostHeader === undefined) return { reason: 'bad_request', message: 'HTTP/1.1 requests need a Host header' };
  const authority = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(hostHeader);
  if (
    !authority ||
    !sameDestination(authority[1] as string, authority[2] ? Number(authority[2]) : session.port, session)
  ) {
    return {
      reason: 'host_mismatch',
      message: `Host "${hostHeader.slice(0, 100)}" names another host than the tunnel's ${describe(session)}`,
    };
  }
  return { path: path.replace(/^([^?]*)/, (p) => p.replace(/\/{2,}/g, '/')) };
}

/**
 * A WebSocket upgrade inside an intercepted tunnel: allowed only when the GET is allowed by a rule with
 * `websocket: true`; then the upgraded stream is spliced to the origin and audited as one record when it closes.
 */
export async function handleInterceptedUpgrade(
  state: ProxyState & ExchangeSink,
  session: InterceptSession,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): Promise<void> {
  session.requests++;
  // The policy in force now, not the one the tunnel opened under: a keep-alive tunnel must not outlive a reload.
  const policy = state.policy;
  const exchange = new Exchange(state, policy, 'request', session.client);
  const record = exchange.record;
  Object.assign(record, {
    method: req.method ?? null,
    scheme: 'https',
    tls: 'intercepted',
    host: session.host,
    port: session.port,
    agent: session.agent,
    identity: session.identity,
    resolved: session.address,
    upgrade: 'websocket',
  });
  exchange.abort = () => socket.destroy();
  const refuse = (reason: Reason, message: string) => exchange.refuseOnSocket(socket, reason, message);
  const hosts = hostHeaderProblem(req.rawHeaders);
  if (hosts) return refuse('bad_request', `ambiguous destination: ${hosts}`);
  const destination = checkDestination(req, session);
  if ('reason' in destination) return refuse(destination.reason, destination.message);
  record.path = destination.path;
  // An upgrade carries no body: only header and query overrides.
  const overrides = [...headerOverrides(req.rawHeaders), ...queryOverrides(destination.path)];
  const upgrade = String(req.headers.upgrade ?? '');
  const caKey = (await state.interceptor()).ca.key;
  const admission = await admit(admissionContext(state, policy, caKey), {
    ...inTunnel(session, req),
    requestId: exchange.id,
    method: req.method ?? '',
    path: destination.path,
    overrides,
    upgrade,
    carried: { rawHeaders: req.rawHeaders, target: destination.path },
  });
  exchange.noteAdmission(admission.notes);
  if (!admission.ok)
    return exchange.refuseOnSocket(socket, admission.reason, admission.message, admission.retryAfterSeconds);
  const facts = {
    method: req.method ?? '',
    host: session.host,
    port: session.port,
    path: destination.path,
    agent: session.agent,
    methodOverrides: overrides.map((o) => o.method),
  };
  const name = hostForUrl(session.host, session.hostKind);
  req.headers.host = session.port === 443 ? name : `${name}:${session.port}`;
  req.url = destination.path;
  // Addressed to leash (scopes/step.ts), never to the origin; http-proxy's ws() forwards the headers as they are.
  delete req.headers[SCOPE_HEADER];
  if (admission.injections.length > 0) {
    const injected = injectSecrets(req.headers, destination.path, admission.injections);
    Object.assign(req.headers, injected.headers);
    req.url = injected.path;
    if (injected.injected.length > 0) record.injected = [...injected.injected];
  }
  socket.once('close', () =>
    exchange.finish({ status: 101, bytesOut: socket.bytesRead, bytesIn: socket.bytesWritten }),
  );
  guardStream(exchange, 'WebSocket', (next) => {
    const again = judge(next, facts);
    if (again.effect === 'deny') return `policy revision ${next.revision} denies this WebSocket: ${again.message}`;
    if (!again.rule?.websocket)
      return `policy revision ${next.revision} no longer allows WebSocket upgrades here (no rule with websocket: true decides ${describe(session)}${destination.path})`;
    return undefined;
  });
  trackUpgrade(req, exchange, policy);
  state.httpProxy.ws(
    req,
    socket,
    head,
    {
      target: { protocol: 'https:', host: session.address, port: session.port },
      agent: httpsAgentFor(state, policy),
      secure: true,
    },
    (err: NodeJS.ErrnoException) => {
      exchange.deny(
        upstreamReason(err),
        `upstream ${req.headers.host} (${session.address}): ${describeUpstreamError(err)}`,
      );
      socket.destroy();
    },
  );
}

/** What the tunnel fixed for every request inside it: who asks, where to, and the address checked at CONNECT. */
function inTunnel(session: InterceptSession, req: IncomingMessage) {
  const scope = scopeHeader(req) ?? session.scope;
  return {
    applicant: { agent: session.agent, identity: session.identity },
    channel: 'intercepted' as const,
    host: session.host,
    port: session.port,
    address: session.address,
    ...(scope !== undefined ? { scope } : {}),
  };
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
