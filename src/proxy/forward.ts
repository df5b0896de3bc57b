// Plain HTTP: absolute-form requests (`GET http://host/path`). Decide on host, port, method (and any method the
// request asks for through an override, method-override.ts) and path; resolve and check the address; hand the
// request to upstream.ts, which forwards it to exactly that address. The path leash decides on is the path it
// forwards, byte for byte. A client that sent `Expect: 100-continue` gets its 100 only once the request is allowed.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostForUrl } from '../policy/host.js';
import { admit } from './admission.js';
import { admissionContext, applicantOf, scopeHeader, whileConnected } from './admission-context.js';
import { Exchange, type ExchangeSink } from './exchange.js';
import { gatherOverrides } from './method-override.js';
import { expectation, framingProblem, hostHeaderProblem, unsupportedExpectation } from './headers.js';
import type { Reason } from './reasons.js';
import { refuseResponse } from './respond.js';
import type { ProxyState } from './state.js';
import { sendUpstream } from './upstream.js';
import { bodyCheck } from './secret-misuse.js';

export async function handleRequest(
  state: ProxyState & ExchangeSink,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  await state.keepAlive.started(req.socket);
  if (req.socket.writableEnded || req.socket.destroyed) {
    // Queued behind a refusal that closed the connection: nothing was decided, nothing is forwarded or answered.
    state.keepAlive.finished(req.socket, undefined);
    return;
  }
  const exchange = new Exchange(state, state.policy, 'request', req.socket);
  exchange.onFinish(() => {
    const r = exchange.record;
    const facts =
      r.host !== null && r.port !== null && r.method !== null
        ? { method: r.method, host: r.host, port: r.port, path: r.path ?? '/', agent: r.agent }
        : undefined;
    state.keepAlive.finished(req.socket, facts);
  });
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

async function forwardRequest(
  state: ProxyState & ExchangeSink,
  exchange: Exchange,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const record = exchange.record;
  exchange.abort = () => res.destroy();
  record.method = req.method ?? null;
  record.scheme = 'http';
  const userAgent = req.headers['user-agent'];
  if (userAgent) record.userAgent = userAgent;

  const refuse = (reason: Reason, message: string, retryAfterSeconds?: number) =>
    exchange.refuse(res, reason, message, retryAfterSeconds);

  const target = req.url ?? '';
  if (target.startsWith('/')) {
    record.path = target;
    return refuse(
      'not_a_proxy_request',
      `leash is a forward proxy: send absolute-form requests (set HTTP_PROXY/HTTPS_PROXY to http://${req.headers.host ?? 'this-proxy'})`,
    );
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return refuse('bad_request', 'the request target is not a valid absolute URL');
  }
  if (url.protocol !== 'http:') {
    return refuse(
      'unsupported_scheme',
      `${url.protocol.replace(/:$/, '')}:// cannot be proxied as a plain request; HTTPS goes through CONNECT`,
    );
  }
  const framing = framingProblem(req.rawHeaders);
  if (framing) return refuse('bad_request', `ambiguous request framing: ${framing}`);
  const hosts = hostHeaderProblem(req.rawHeaders);
  if (hosts) return refuse('bad_request', `ambiguous destination: ${hosts}`);
  const expects = expectation(req.httpVersion, req.rawHeaders);
  if (expects === 'unsupported') return refuse('expectation_failed', unsupportedExpectation(req.headers.expect));

  // http-proxy collapses repeated slashes when it builds the outgoing path; do it first so the path decided on
  // is the path forwarded.
  const path = `${url.pathname.replace(/\/{2,}/g, '/')}${url.search}`;
  record.path = path;
  const port = url.port ? Number(url.port) : 80;
  // What was asked for, on record even if the request is refused before a decision names the normalised host.
  record.host = url.hostname;
  record.port = port;
  // The go-ahead for the body (server.ts leaves 100 Continue to leash): once allowed, or earlier when the decision
  // needs the body itself (a form that may carry _method).
  let continued = false;
  const sendContinue = () => {
    if (expects === 'continue' && !continued) res.writeContinue();
    continued = true;
  };
  const { overrides, bodyPrefix } = await gatherOverrides(exchange.policy, req, url.hostname, path, sendContinue);
  const connected = whileConnected(req);
  const admission = await admit(admissionContext(state, exchange.policy), {
    applicant: await applicantOf(state, exchange.policy, req),
    channel: 'http',
    method: req.method ?? '',
    host: url.hostname,
    port,
    path,
    overrides,
    headers: req.headers,
    carried: { rawHeaders: req.rawHeaders, target: req.url ?? '' },
    requestId: exchange.id,
    scope: scopeHeader(req),
    signal: connected.signal,
  }).finally(connected.release);
  exchange.noteAdmission(admission.notes);
  if (!admission.ok) return refuse(admission.reason, admission.message, admission.retryAfterSeconds);
  const destination = admission.request;
  // RFC 9112 §3.2.2: a proxy replaces Host with the authority of the absolute-form target.
  const authority = hostForUrl(destination.host, destination.hostKind);
  sendContinue();
  await sendUpstream(
    state,
    exchange,
    req,
    res,
    {
      protocol: 'http:',
      address: admission.address,
      port,
      hostHeader: url.port ? `${authority}:${port}` : authority,
      path,
      rule: admission.rule,
      agent: destination.agent,
      bodyPrefix,
      bodyCheck: bodyCheck(state.runtimes.of(exchange.policy).secrets, undefined, {
        agent: destination.agent,
        host: destination.host,
        transport: 'http',
      }),
    },
    refuse,
  );
}
