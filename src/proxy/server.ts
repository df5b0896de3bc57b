// The proxy server: one node:http server whose request, CONNECT, upgrade and parse-error paths all end in a
// decision and an audit record. It enforces the connection-level limits (header size and time, connection count),
// swaps policies atomically on reload, and drains in-flight work on shutdown.

import http from 'node:http';
import type { Socket } from 'node:net';
import httpProxy from 'http-proxy';
import type { AuditLog } from '../audit/logger.js';
import { MemoryGrantStore } from '../grants/memory-store.js';
import type { GrantStore } from '../grants/store.js';
import { MemoryApprovalStore } from '../approvals/memory-store.js';
import type { ApprovalStore } from '../approvals/store.js';
import { MemoryScopeStore } from '../scopes/memory-store.js';
import type { ScopeStore } from '../scopes/store.js';
import { MemoryRateLimitStore } from '../limits/memory-store.js';
import { DEFAULT_CERTS_DIR, ensureCa } from '../tls/ca.js';
import { Interceptor } from './intercept-server.js';
import { LeafMinter } from '../tls/leaf.js';
import { policyNeedsInterception } from '../policy/evaluate.js';
import type { RateLimitStore } from '../limits/store.js';
import type { CompiledPolicy } from '../policy/policy.js';
import { createLeashHttpServer } from './http-server.js';
import { Exchange } from './exchange.js';
import { handleRequest } from './forward.js';
import { attachProxyEvents, newUpstreamAgent } from './upstream.js';
import type { Reason } from './reasons.js';
import type { ProxyState } from './state.js';
import { handleConnect } from './tunnel.js';
import { revokeOpen } from './open-tunnels.js';
import { PolicyRuntimes } from './policy-runtime.js';
import { KeepAliveConnections } from './keep-alive.js';
import { RecentRequests } from '../grants/recent.js';
import { withoutSecretValues } from '../secrets/audit-guard.js';
import type { LockdownView } from '../lockdown/step.js';
import { SocketOwners } from './socket-owner.js';

export interface ProxyOptions {
  readonly policy: CompiledPolicy;
  readonly host: string;
  readonly port: number;
  readonly audit: AuditLog;
  /** Operational messages (stderr in the CLI), never the audit stream. */
  readonly log?: (line: string) => void;
  /** Rate-limit counters; in memory unless a shared store is given. */
  readonly rateLimits?: RateLimitStore;
  /** Grants from inspected responses; in memory unless a shared store is given. */
  readonly grants?: GrantStore;
  /** Sandbox-scope accesses and approvals; in memory unless a shared store is given. */
  readonly scopes?: ScopeStore;
  readonly approvals?: ApprovalStore;
  /** Clock for rate limits (tests inject one). */
  readonly now?: () => number;
  /** Where leash's CA lives (created there on first interception); default certs/. */
  readonly certsDir?: string;
  /** The lockdown in force (leash lockdown); without it no agent is locked down. */
  readonly lockdown?: LockdownView;
}

export interface ProxyServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly policy: CompiledPolicy;
  /**
   * Swaps in a new policy. Requests already in flight finish under the one they started with; open tunnels and
   * upgraded streams are decided again and those the new policy denies are closed. Resolves to how many were.
   */
  setPolicy(policy: CompiledPolicy): Promise<number>;
  /**
   * Cuts every open exchange (tunnel, request, upgraded stream) and idle kept-alive connection of the agents
   * `locked` names, with reason `reason` and the message it returns; each is audited. Resolves to how many.
   */
  cutAgents(reason: Reason, locked: (agent: string) => string | undefined): number;
  /** Stops accepting, lets in-flight work finish for up to `drainMs`, then cuts the rest; all of it audited. */
  close(drainMs?: number): Promise<void>;
  readonly openExchanges: number;
  /** Grants in force now, when the grant store can count them (metrics). */
  activeGrants(): number | undefined;
}

export async function startProxy(options: ProxyOptions): Promise<ProxyServer> {
  const log = options.log ?? (() => {});
  const proxy = httpProxy.createProxyServer({ xfwd: false, changeOrigin: false, ws: false, prependPath: false });
  attachProxyEvents(proxy);
  // http-proxy emits errors without a callback only for requests we did not start; there are none, but an
  // unhandled 'error' event would crash the process.
  proxy.on('error', (err) => log(`http-proxy error: ${err.message}`));
  let interceptor: Promise<Interceptor> | undefined;
  const runtimes = new PolicyRuntimes(options.policy);
  const state: ProxyState = {
    policy: options.policy,
    audit: withoutSecretValues(options.audit, () => runtimes.secretValues()),
    open: new Set(),
    httpProxy: proxy,
    upstreamAgent: newUpstreamAgent(),
    runtimes,
    keepAlive: new KeepAliveConnections(),
    lockdown: options.lockdown,
    recentRequests: new RecentRequests(),
    socketOwners: new SocketOwners(),
    draining: false,
    rateLimits: options.rateLimits ?? new MemoryRateLimitStore(),
    grants: options.grants ?? new MemoryGrantStore(),
    scopes: options.scopes ?? new MemoryScopeStore(),
    approvals: options.approvals ?? new MemoryApprovalStore(),
    now: options.now ?? Date.now,
    interceptor: () => {
      interceptor ??= ensureCa(options.certsDir ?? DEFAULT_CERTS_DIR, log).then(
        async (ca) => new Interceptor(state, ca, await LeafMinter.create(ca), log),
      );
      // A failure (unwritable certs directory, unsafe key) is retried on the next tunnel, once fixed.
      interceptor.catch(() => (interceptor = undefined));
      return interceptor;
    },
  };
  const { timeouts, limits } = options.policy.settings;
  const failClosed = (where: string, exchangeCleanup: () => void) => (err: unknown) => {
    log(`internal error in ${where}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    exchangeCleanup();
  };
  const overLimit = new WeakSet<Socket>();
  const server = createLeashHttpServer(options.policy.settings, {
    request: (req, res) => {
      if (req.url === '/healthz' && req.method === 'GET') {
        res
          .writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' })
          .end(`ok ${state.policy.revision}\n`);
        return;
      }
      handleRequest(state, req, res).catch(failClosed('request', () => res.destroy()));
    },
    upgrade: (req, socket) =>
      refuseEarly(
        state,
        socket,
        'upgrade_denied',
        `protocol upgrade to "${String(req.headers.upgrade).slice(0, 40)}" is not allowed through leash`,
        req,
      ),
    refuse: (socket, reason, message, req) => refuseEarly(state, socket, reason, message, req),
    connect: (req, socket, head) =>
      void handleConnect(state, req, socket, head).catch(failClosed('CONNECT', () => socket.destroy())),
    draining: () => state.draining,
    refused: (socket) => overLimit.has(socket),
  });
  // Connections over limits.maxConnections get the 503 the README promises. Node's own server.maxConnections
  // closes such sockets before anything can be written, so the count is kept here, per process.
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    socket.setTimeout(timeouts.idleMs, () => socket.destroy());
    connections++;
    socket.once('close', () => connections--);
    state.keepAlive.add(socket);
    if (connections > limits.maxConnections) {
      overLimit.add(socket);
      const exchange = new Exchange(state, state.policy, 'connection', socket);
      exchange.refuseOnSocket(
        socket,
        'too_many_connections',
        `connection refused: ${limits.maxConnections} connections already open (limits.maxConnections)`,
      );
    }
  });

  // Set interception up before listening when the policy needs it, so the first intercepted tunnel does not wait
  // for key generation; a failure here is retried by the first tunnel that needs it.
  if (policyNeedsInterception(options.policy)) await state.interceptor().catch(() => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const urlHost = options.host.includes(':') ? `[${options.host}]` : options.host;

  let closing: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    url: `http://${urlHost}:${port}`,
    get policy() {
      return state.policy;
    },
    get openExchanges() {
      return state.open.size;
    },
    activeGrants: () => state.grants.active?.(state.now()),
    setPolicy(policy) {
      state.runtimes.swap(policy);
      state.policy = policy;
      // What is already open is held to the new policy too: tunnels it would not open, and idle kept-alive
      // connections whose last request it denies, are closed (policy_revoked).
      const idle = state.keepAlive.revoke(policy, (socket, facts, message) => {
        const exchange = new Exchange(state, policy, 'connection', socket);
        Object.assign(exchange.record, {
          method: facts.method,
          host: facts.host,
          port: facts.port,
          path: facts.path ?? null,
          agent: facts.agent ?? 'anonymous',
          scheme: 'http',
        });
        exchange.deny('policy_revoked', message);
        exchange.finish();
      });
      return revokeOpen(state, policy).then((tunnels) => tunnels + idle);
    },
    cutAgents(reason, locked) {
      let cut = 0;
      for (const exchange of [...state.open]) {
        // One not identified yet reads as `anonymous`; should it turn out to be a locked agent, the step refuses it.
        if (exchange.finished) continue;
        const message = locked(exchange.record.agent);
        if (message === undefined) continue;
        exchange.cut(reason, message);
        cut++;
      }
      const idle = state.keepAlive.revokeAgents(locked, (socket, facts, message) => {
        const exchange = new Exchange(state, state.policy, 'connection', socket);
        Object.assign(exchange.record, {
          method: facts.method,
          host: facts.host,
          port: facts.port,
          path: facts.path ?? null,
          agent: facts.agent ?? 'anonymous',
          scheme: 'http',
        });
        exchange.deny(reason, message);
        exchange.finish();
      });
      return cut + idle;
    },
    close(drainMs = state.policy.settings.timeouts.drainMs) {
      closing ??= (async () => {
        state.draining = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = Date.now() + drainMs;
        while (state.open.size > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
          server.closeIdleConnections();
        }
        for (const exchange of [...state.open]) {
          exchange.deny('shutting_down', 'leash shut down before the exchange completed');
          exchange.abort();
          exchange.finish();
        }
        server.closeAllConnections();
        state.upstreamAgent.destroy();
        state.runtimes.destroy();
        if (interceptor) (await interceptor.catch(() => undefined))?.close();
        proxy.close();
        await stopped;
      })();
      return closing;
    },
  };
}

function refuseEarly(
  state: ProxyState,
  socket: Socket,
  reason: Reason,
  message: string,
  req?: http.IncomingMessage,
): void {
  const exchange = new Exchange(state, state.policy, 'request', socket);
  if (req) {
    exchange.record.method = req.method ?? null;
    exchange.record.path = (req.url ?? '').slice(0, 2048);
  }
  exchange.refuseOnSocket(socket, reason, message);
}
