// `leash serve [--policy PATH]... [--listen HOST:PORT] [--audit PATH|-]`: run the proxy. Audit records go to the
// file or stdout; operational messages (listening, reloads, errors) go to stderr. SIGHUP and file changes reload
// the policy; SIGTERM and SIGINT drain in-flight work, flush the audit log and exit 0. SIGUSR2 reopens the audit
// file (logrotate); `--audit-max-size` rotates it by size. SIGUSR1 locks every agent down (the local fallback of
// `leash lockdown on`). The control API is served on a Unix socket (`--control`), and with LEASH_ADMIN_TOKEN on
// the --admin listener too.

import { randomUUID } from 'node:crypto';
import { openAuditLog, parseRotation, type AuditLog } from '../audit/logger.js';
import { newRecord, type AuditRecord } from '../audit/record.js';
import { MemoryApprovalStore } from '../approvals/memory-store.js';
import { approvalRoutes } from '../approvals/routes.js';
import { MemoryScopeStore } from '../scopes/memory-store.js';
import { scopeRoutes } from '../scopes/routes.js';
import { formatIssue, LeashError } from '../errors.js';
import { loadPolicy, PolicyWatcher, type ReloadOutcome } from '../policy/watch.js';
import { policyNeedsInterception } from '../policy/evaluate.js';
import { readAgentTokens } from '../proxy/agent-tokens.js';
import { readSecretValues } from '../secrets/values.js';
import { caExpiryWarning, DEFAULT_CERTS_DIR, ensureCa } from '../tls/ca.js';
import { startAdmin, type AdminServer, type Readiness } from '../proxy/admin.js';
import { ProxyMetrics } from '../proxy/metrics.js';
import { startProxy, type ProxyServer } from '../proxy/server.js';
import { openSharedStores } from '../store/open.js';
import { indexRoute, type ControlRoute } from '../control/api.js';
import { defaultControlPath } from '../control/client.js';
import { controlHandler, startControlSocket, type ControlSocket } from '../control/server.js';
import { FileLockdownStore, defaultLockdownFile } from '../lockdown/file-store.js';
import { lockdownRoutes, switchOn, type LockdownDeps } from '../lockdown/routes.js';
import { LockdownRuntime } from '../lockdown/runtime.js';
import { lockdownMessage, type LockdownState } from '../lockdown/state.js';
import type { CommandIo } from './io.js';
import { defaultAuditPath } from './audit-path.js';
import { policyPaths } from './policy-paths.js';

export const DEFAULT_LISTEN = '127.0.0.1:3128';

export interface ServeOptions {
  policy?: string[];
  listen?: string;
  audit?: string;
  /** `--audit-max-size` and `--audit-keep`: rotate the audit file by size, keeping N rotated files. */
  auditMaxSize?: string;
  auditKeep?: string;
  /** Clock for rate limits; tests inject one. */
  now?: () => number;
  /** Where leash's CA for TLS interception lives; default certs/. */
  certs?: string;
  /** `--admin HOST:PORT`: a second listener for /metrics, /healthz and /readyz (never the proxy port). */
  admin?: string;
  /** `--store redis://...` (else LEASH_STORE): shared state for a fleet; in memory without it. */
  store?: string;
  /** `--store-timeout` (else LEASH_STORE_TIMEOUT): bound on each store operation, default 250ms. */
  storeTimeout?: string;
  /** Sees each audit record as it is written (`leash run` counts its command's requests with it). */
  observe?: (record: AuditRecord) => void;
  /** `--control PATH` (else LEASH_CONTROL): the control socket; default /run/leash/admin.sock as root, else beside the audit log. */
  control?: string;
}

export interface RunningLockdown {
  readonly runtime: LockdownRuntime;
  readonly deps: LockdownDeps;
}

export interface RunningServe {
  readonly proxy: ProxyServer;
  readonly audit: AuditLog;
  readonly watcher: PolicyWatcher;
  /** The admin listener, with --admin. */
  readonly admin: AdminServer | undefined;
  /** The control socket (always open). */
  readonly control: ControlSocket;
  /** The lockdown in force, and what switches it (the control API, SIGUSR1). */
  readonly lockdown: RunningLockdown;
  stop(): Promise<void>;
}

/** Starts everything `leash serve` runs; used by the command and by tests that need a real leash in-process. */
export async function startServe(options: ServeOptions, io: CommandIo): Promise<RunningServe> {
  const { host, port } = parseListen(options.listen ?? (io.env.LEASH_LISTEN || DEFAULT_LISTEN));
  const paths = policyPaths(options.policy);
  const policy = await loadPolicy(paths);
  for (const warning of policy.warnings) io.err(formatIssue(warning));
  for (const problem of readAgentTokens(policy).problems) io.err(`leash: ${problem}`);
  for (const problem of readSecretValues(policy).problems) io.err(`leash: ${problem}`);
  await (await import('../kernel/loaded.js')).warnIfRestricted(io.err); // a proxy under its own agent rules can reach nothing upstream
  // The CA is made at start when the policy will intercept, so the operator learns where it is before an agent
  // meets it (a reload that starts needing one creates it on first use).
  // A CA that is expired, not valid yet or not matched by its key is refused here, so leash exits 1 at start.
  if (policyNeedsInterception(policy)) {
    const certs = options.certs ?? DEFAULT_CERTS_DIR;
    const warning = caExpiryWarning(await ensureCa(certs, io.err), certs, new Date());
    if (warning) io.err(warning);
  }
  // Metrics count every audit record as it is written, so they cannot disagree with the log.
  let proxyRef: ProxyServer | undefined;
  let written: AuditLog | undefined;
  const metrics = new ProxyMetrics({
    openExchanges: () => proxyRef?.openExchanges ?? 0,
    revision: () => proxyRef?.policy.revision ?? policy.revision,
    auditRecords: () => written?.count ?? 0,
    auditLagMs: () => written?.lagMs?.() ?? 0,
    activeGrants: () => proxyRef?.activeGrants(),
  });
  const storeUrl = options.store ?? io.env.LEASH_STORE;
  const store = storeUrl
    ? await openSharedStores(storeUrl, {
        timeout: options.storeTimeout ?? io.env.LEASH_STORE_TIMEOUT,
        log: io.err,
        now: options.now,
        observe: (op, seconds, ok) => metrics.observeStore(op, seconds, ok),
      })
    : undefined;
  const scopes = store?.scopes ?? new MemoryScopeStore();
  const approvals = store?.approvals ?? new MemoryApprovalStore();
  const auditPath = options.audit ?? defaultAuditPath(io.env);
  // Lockdown is state, not a flag in memory: in the shared store with --store (every replica obeys it), else in a
  // file beside the audit log; either way it survives a restart. An unreadable state file stops leash here.
  let lockdown: LockdownRuntime;
  try {
    lockdown = await LockdownRuntime.open({
      store: store?.lockdown ?? (await FileLockdownStore.open(defaultLockdownFile(auditPath))),
      now: Date.now,
      log: io.err,
      onChange: (_before, after) => cutLocked(after),
    });
  } catch (err) {
    await store?.close();
    throw err;
  }
  const cutLocked = (after: LockdownState) => {
    const cut = proxyRef?.cutAgents('lockdown', (agent) => {
      const lock = lockdown.lockOf(agent);
      return lock && `${lockdownMessage(agent, lock.entry, lock.scope)}; this open connection was cut`;
    });
    if (cut)
      io.err(
        `leash: lockdown: ${cut} open tunnel(s) or connection(s) cut (${after.all ? 'every agent' : Object.keys(after.agents).join(', ')})`,
      );
  };
  written = openAuditLog(auditPath, { ...parseRotation(options.auditMaxSize, options.auditKeep), log: io.err });
  const audit = metrics.counting(options.observe ? observed(written, options.observe) : written);
  let proxy: ProxyServer;
  try {
    proxy = await startProxy({
      policy,
      host,
      port,
      audit,
      log: io.err,
      now: options.now,
      certsDir: options.certs ?? DEFAULT_CERTS_DIR,
      rateLimits: store?.rateLimits,
      grants: store?.grants,
      lockdown,
      scopes,
      approvals,
    });
  } catch (err) {
    lockdown.stop();
    await store?.close();
    await audit.close();
    throw new LeashError('LEASH_LISTEN', `cannot listen on ${host}:${port}: ${(err as Error).message}`, { cause: err });
  }
  proxyRef = proxy;
  // The control API: one route table, served on the control socket and, with --admin, over TCP.
  const routes: ControlRoute[] = [];
  routes.push(
    indexRoute(
      () => routes,
      () => ({ pid: process.pid, revision: proxy.policy.revision }),
    ),
  );
  const lockdownDeps: LockdownDeps = {
    runtime: lockdown,
    audit: (record) => audit.write(record),
    revision: () => proxy.policy.revision,
    agents: () => new Set(proxy.policy.agents.keys()),
    log: io.err,
  };
  routes.push(...lockdownRoutes(lockdownDeps));
  const now = options.now ?? Date.now;
  const record = (r: AuditRecord) => audit.write(r);
  // The watcher is made after the routes; --always reloads through it once it exists.
  let reload: () => Promise<void> = async () => {};
  routes.push(...scopeRoutes({ scopes, policy: () => proxy.policy, now, record }));
  routes.push(
    ...approvalRoutes({
      approvals,
      policy: () => proxy.policy,
      now,
      record,
      policyPaths: paths,
      reload: () => reload(),
    }),
  );
  let control: ControlSocket;
  try {
    control = await startControlSocket(
      options.control ?? (io.env.LEASH_CONTROL || defaultControlPath(auditPath, process.getuid?.())),
      controlHandler(routes, { kind: 'socket' }, io.err),
    );
  } catch (err) {
    lockdown.stop();
    await proxy.close();
    await store?.close();
    await audit.close();
    throw err;
  }
  io.err(`control socket at ${control.path} (mode 0600: leash lockdown and the other control commands)`);
  const adminToken = io.env.LEASH_ADMIN_TOKEN || undefined;
  let admin: AdminServer | undefined;
  if (options.admin) {
    const at = parseListen(options.admin, '--admin');
    if (at.host === host && at.port === proxy.port) {
      await control.close();
      lockdown.stop();
      await proxy.close();
      await store?.close();
      await audit.close();
      throw new LeashError('LEASH_USAGE', "--admin must not be the proxy's address: agents reach the proxy port");
    }
    try {
      admin = await startAdmin({
        ...at,
        metrics,
        ready: () => readiness(audit, store),
        control: controlHandler(routes, { kind: 'tcp', token: adminToken }, io.err),
      });
    } catch (err) {
      await control.close();
      lockdown.stop();
      await proxy.close();
      await store?.close();
      await audit.close();
      throw new LeashError('LEASH_LISTEN', `cannot listen on ${options.admin} for --admin: ${(err as Error).message}`, {
        cause: err,
      });
    }
    io.err(
      `admin on ${at.host.includes(':') ? `[${at.host}]` : at.host}:${admin.port} (GET /metrics, /healthz, /readyz)`,
    );
    io.err(
      adminToken
        ? 'control API also on the admin listener under /v1 (mutating calls need Authorization: Bearer $LEASH_ADMIN_TOKEN)'
        : 'control API over the admin listener is off: LEASH_ADMIN_TOKEN is not set (the control socket works)',
    );
  }
  const watcher = new PolicyWatcher(
    paths,
    () => proxy.policy,
    (outcome) => onReload(outcome, proxy, audit, io),
  );
  watcher.start();
  reload = () => watcher.reload();
  io.err(
    `leash: policy revision ${policy.revision}: ${policy.rules.length} rules from ${policy.files.length} file(s)${policy.settings.mode === 'report' ? ' (report mode: nothing is blocked)' : ''}`,
  );
  const locked = lockdown.state;
  if (locked.all || Object.keys(locked.agents).length > 0)
    io.err(
      `leash: lockdown in force (${lockdown.display}): ${locked.all ? 'every agent' : Object.keys(locked.agents).sort().join(', ')}; leash lockdown status shows why`,
    );
  io.err(`listening on ${host.includes(':') ? `[${host}]` : host}:${proxy.port}`);
  let stopping: Promise<void> | undefined;
  return {
    proxy,
    audit,
    watcher,
    admin,
    control,
    lockdown: { runtime: lockdown, deps: lockdownDeps },
    stop() {
      stopping ??= (async () => {
        watcher.stop();
        await control.close();
        await admin?.close();
        await lockdown.close();
        await proxy.close();
        await store?.close();
        await audit.close();
      })();
      return stopping;
    },
  };
}

function observed(audit: AuditLog, observe: (record: AuditRecord) => void): AuditLog {
  return {
    write: (record) => {
      audit.write(record);
      observe(record);
    },
    flush: () => audit.flush(),
    close: () => audit.close(),
    reopen: () => audit.reopen(),
    get count() {
      return audit.count;
    },
    get head() {
      return audit.head;
    },
  };
}

/** Ready when the audit log takes writes (a flush completes in time) and the shared store, if any, answers. */
async function readiness(audit: AuditLog, store: { reachable(): boolean } | undefined): Promise<Readiness> {
  const problems: string[] = [];
  if (store && !store.reachable()) problems.push('the shared store does not answer');
  const flushed = await Promise.race([
    audit.flush().then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((r) => setTimeout(() => r(false), 1000).unref()),
  ]);
  if (!flushed) problems.push('the audit log does not take writes');
  return { ok: problems.length === 0, problems };
}

function onReload(outcome: ReloadOutcome, proxy: ProxyServer, audit: AuditLog, io: CommandIo): void {
  if (outcome.kind === 'loaded') {
    void proxy.setPolicy(outcome.policy).then((closed) => {
      if (closed > 0)
        io.err(`leash: ${closed} open tunnel(s) or connection(s) the new policy denies were closed (policy_revoked)`);
    });
    for (const warning of outcome.policy.warnings) io.err(formatIssue(warning));
    for (const problem of readAgentTokens(outcome.policy).problems) io.err(`leash: ${problem}`);
    for (const problem of readSecretValues(outcome.policy).problems) io.err(`leash: ${problem}`);
    io.err(
      `leash: policy reloaded: revision ${outcome.previous.revision} -> ${outcome.policy.revision} (${outcome.policy.rules.length} rules)`,
    );
    audit.write(
      newRecord(randomUUID(), 'policy', outcome.policy.revision, {
        agent: '-',
        effect: 'allow',
        reason: 'policy_loaded',
        message: `policy revision ${outcome.policy.revision} in force`,
        previousRevision: outcome.previous.revision,
        files: [...outcome.policy.files],
      }),
    );
  } else if (outcome.kind === 'unchanged') {
    io.err(
      `leash: policy files changed, but the policy they make is the same (revision ${outcome.policy.revision}); nothing to reload`,
    );
  } else if (outcome.kind === 'rejected') {
    io.err(`leash: policy reload rejected; revision ${proxy.policy.revision} stays in force:`);
    for (const line of outcome.errors) io.err(`  ${line}`);
    audit.write(
      newRecord(randomUUID(), 'policy', proxy.policy.revision, {
        agent: '-',
        reason: 'policy_invalid',
        message: 'policy change rejected; the running policy stays in force',
        errors: outcome.errors,
      }),
    );
  }
}

export async function serveCommand(options: ServeOptions, io: CommandIo): Promise<number> {
  const running = await startServe(options, io);
  const reload = () => void running.watcher.reload();
  process.on('SIGHUP', reload);
  // logrotate's postrotate: the file was moved away; write on at the path (records already queued go to the old file).
  const reopen = () =>
    void running.audit.reopen().then(
      () => io.err('leash: SIGUSR2: audit log reopened'),
      (err: unknown) => io.err(`leash: SIGUSR2: cannot reopen the audit log: ${(err as Error).message}`),
    );
  process.on('SIGUSR2', reopen);
  // The local kill switch, for when the control API cannot be reached: every agent, at once, audited.
  const lockAll = () =>
    void switchOn(running.lockdown.deps, { all: true }, 'SIGUSR1', `SIGUSR1 (signal to pid ${process.pid})`).then(
      (outcome) =>
        io.err(
          `leash: SIGUSR1: every agent is locked down${outcome.stored ? '' : ` (${outcome.problem})`}; leash lockdown off lifts it`,
        ),
      (err: unknown) => io.err(`leash: SIGUSR1: lockdown failed: ${(err as Error).message}`),
    );
  process.on('SIGUSR1', lockAll);
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      io.err(`leash: ${signal}: draining in-flight work (up to ${running.proxy.policy.settings.timeouts.drainMs} ms)`);
      running.stop().then(
        () => {
          io.err(`leash: stopped; ${running.audit.count} audit records written`);
          io.err(`leash: audit chain head: seq ${running.audit.head.seq} sha256 ${running.audit.head.hash}`);
          process.off('SIGHUP', reload);
          process.off('SIGUSR2', reopen);
          process.off('SIGUSR1', lockAll);
          resolve(0);
        },
        (err: unknown) => {
          io.err(`leash: error while stopping: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

export function parseListen(text: string, flag = '--listen'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new LeashError('LEASH_USAGE', `${flag} needs HOST:PORT (e.g. 127.0.0.1:3128 or [::1]:3128), got "${text}"`);
  return { host: (m[1] ?? m[2]) as string, port };
}
