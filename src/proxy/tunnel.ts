// CONNECT tunnels. Decide on host and port, resolve and check the address, dial exactly it, and only then answer
// 200 (so DNS and connection failures reach the client as real statuses). On a TLS port the first client bytes
// must be a ClientHello whose SNI names the CONNECT host: a different name is domain fronting or a policy bypass,
// and nothing is forwarded until the check passes. Then bytes are spliced both ways (splice.ts).

import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { splitAuthority } from '../policy/host.js';
import { readClientHello, type HelloResult } from '../tls/client-hello.js';
import { sniProblem } from '../tls/sni.js';
import { admit } from './admission.js';
import { admissionContext, applicantOf, scopeHeader, whileConnected } from './admission-context.js';
import { uploadBudget } from './bandwidth.js';
import { Exchange, type ExchangeSink } from './exchange.js';
import { guardTunnel, type TunnelAccess } from './open-tunnels.js';
import type { AuditRecord } from '../audit/record.js';
import { describeUpstreamError, upstreamReason } from './upstream.js';
import type { Reason } from './reasons.js';
import { refuseSocket } from './respond.js';
import { dialTunnelUpstream } from './splice.js';
import type { ProxyState } from './state.js';
import { UpstreamTimeoutError } from '../errors.js';
import { reported } from './verdict.js';

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

export async function handleConnect(
  state: ProxyState & ExchangeSink,
  req: IncomingMessage,
  client: net.Socket,
  head: Buffer,
): Promise<void> {
  const exchange = new Exchange(state, state.policy, 'tunnel', req.socket);
  try {
    await openTunnel(state, exchange, req, client, head);
  } catch (err) {
    // Fail closed: a bug anywhere above still ends in a refusal and an audit record.
    const message = `internal error: ${(err as Error).message}`;
    exchange.deny('internal_error', message);
    if (exchange.record.status === null) {
      refuseSocket(client, { reason: 'internal_error', rule: exchange.record.rule, message, requestId: exchange.id });
      client.once('close', () => exchange.abort());
    } else {
      exchange.abort();
    }
    exchange.finish();
    throw err;
  }
}

async function openTunnel(
  state: ProxyState & ExchangeSink,
  exchange: Exchange,
  req: IncomingMessage,
  client: net.Socket,
  head: Buffer,
): Promise<void> {
  const policy = exchange.policy;
  const { timeouts, tlsPorts } = policy.settings;
  const record = exchange.record;
  record.method = 'CONNECT';
  record.scheme = 'tunnel';
  const userAgent = req.headers['user-agent'];
  if (userAgent) record.userAgent = userAgent;
  client.on('error', () => client.destroy());
  let upstream: net.Socket | undefined;
  exchange.abort = () => {
    client.destroy();
    upstream?.destroy();
  };

  const refuse = (reason: Reason, message: string, retryAfterSeconds?: number) =>
    exchange.refuseOnSocket(client, reason, message, retryAfterSeconds);

  const authority = splitAuthority(req.url ?? '');
  if (!authority) return refuse('bad_request', `CONNECT needs host:port, got "${(req.url ?? '').slice(0, 100)}"`);
  record.host = authority.host;
  record.port = authority.port;
  const held = whileConnected(req);
  const admission = await admit(admissionContext(state, policy), {
    applicant: await applicantOf(state, policy, req),
    channel: 'tunnel',
    method: 'CONNECT',
    host: authority.host,
    port: authority.port,
    carried: { rawHeaders: req.rawHeaders, target: req.url ?? '' },
    requestId: exchange.id,
    scope: scopeHeader(req),
    signal: held.signal,
  }).finally(held.release);
  exchange.noteAdmission(admission.notes);
  if (!admission.ok) return refuse(admission.reason, admission.message, admission.retryAfterSeconds);
  const target = admission.request;
  const resolution = { address: admission.address, family: admission.family };
  if (admission.intercept) {
    let interceptor;
    try {
      interceptor = await state.interceptor();
    } catch (err) {
      return refuse('internal_error', `TLS interception is unavailable: ${(err as Error).message}`);
    }
    if (client.destroyed)
      return exchange.finish({ reason: 'client_closed', message: 'the client went away before the tunnel was opened' });
    client.write(ESTABLISHED);
    record.status = 200;
    guardTunnel(state, exchange, {
      host: target.host,
      port: target.port,
      agent: target.agent,
      address: resolution.address,
      intercepted: true,
      granted: record.rule === 'grant',
      ...accessOf(record),
    });
    interceptor.start(
      {
        tunnel: exchange,
        policy,
        host: target.host,
        hostKind: target.hostKind,
        port: target.port,
        address: resolution.address,
        agent: target.agent,
        identity: record.identity,
        client,
        requests: 0,
        scope: scopeHeader(req),
      },
      client,
      head,
    );
    return;
  }
  const budget =
    admission.rule &&
    uploadBudget(state, admission.rule, target.agent, (message, reason) => {
      if (reported(policy, reason)) {
        Object.assign(record, { wouldDeny: true, reason, message });
        return;
      }
      exchange.deny(reason, message);
      exchange.abort();
    });
  if (client.destroyed)
    return exchange.finish({ reason: 'client_closed', message: 'the client went away before the tunnel was opened' });

  const link = dialTunnelUpstream(resolution.address, target.port, resolution.family);
  const socket = link.socket;
  upstream = socket;
  const connected = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(new UpstreamTimeoutError('LEASH_CONNECT_TIMEOUT')), timeouts.connectMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
  if (connected) {
    socket.destroy();
    return refuse(
      upstreamReason(connected),
      `upstream ${req.url} (${resolution.address}): ${describeUpstreamError(connected)}`,
    );
  }
  exchange.noteUpstream();
  socket.on('error', () => exchange.abort());
  if (client.destroyed) {
    socket.destroy();
    return exchange.finish({ reason: 'client_closed', message: 'the client went away before the tunnel was opened' });
  }
  client.write(ESTABLISHED);
  record.status = 200;
  guardTunnel(state, exchange, {
    host: target.host,
    port: target.port,
    agent: target.agent,
    address: resolution.address,
    intercepted: false,
    granted: record.rule === 'grant',
    ...accessOf(record),
  });

  let first = head;
  if (tlsPorts.has(target.port)) {
    const hello = await readHello(client, head, timeouts.headersMs);
    const problem = helloProblem(hello.result, target.host, target.hostKind);
    if (hello.result.kind === 'hello') record.sni = hello.result.serverName ?? null;
    if (problem) {
      exchange.deny(problem.reason, problem.message);
      if (reported(policy, problem.reason)) {
        record.effect = 'allow';
        record.wouldDeny = true;
      } else {
        exchange.abort();
        return exchange.finish();
      }
    }
    first = hello.buffered;
  }

  link.splice(exchange, client, { idleMs: timeouts.idleMs, first, ...(budget ? { budget } : {}) });
}

async function readHello(
  client: Duplex,
  head: Buffer,
  timeoutMs: number,
): Promise<{ result: HelloResult; buffered: Buffer }> {
  let buffered = head;
  let result = readClientHello(buffered);
  if (result.kind !== 'need_more') return { result, buffered };
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      client.off('data', onData);
      client.off('close', finish);
      client.off('end', finish);
      client.pause();
      resolve({ result, buffered });
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      result = readClientHello(buffered);
      if (result.kind !== 'need_more') finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    client.on('data', onData);
    client.once('close', finish);
    // The proxy's sockets allow half-open: a client that sends FIN before any ClientHello ends, it does not close.
    client.once('end', finish);
  });
}

function helloProblem(
  result: HelloResult,
  host: string,
  kind: 'name' | 'ipv4' | 'ipv6',
): { reason: Reason; message: string } | undefined {
  switch (result.kind) {
    case 'need_more':
      return { reason: 'hello_timeout', message: `no complete TLS ClientHello arrived for ${host}` };
    case 'not_tls':
    case 'malformed':
      return { reason: 'not_tls', message: `tunnel to ${host} on a TLS port: ${result.message}` };
    case 'hello':
      return sniProblem(result.serverName, host, kind);
  }
}

/** The scope access or approval that let this tunnel through, from its record (admission notes it). */
function accessOf(record: AuditRecord): { access?: TunnelAccess } {
  if (record.reason === 'scope' && record.scope) return { access: { kind: 'scope', name: record.scope.name } };
  if (record.reason === 'approved' && record.approval)
    return { access: { kind: 'approval', id: record.approval.id, grant: record.approval.grant ?? null } };
  return {};
}
