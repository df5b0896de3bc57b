// One `leash run`: start leash in this process (or use a running one with --proxy), prepare what the command
// needs to go through it (proxy variables with the agent's credentials, CA trust, the Node fetch preload), set up
// the isolation asked for, run the command, and on exit print one summary line and return the command's code.
// Why in-process: the proxy, its audit log and the counts in the summary belong to this run; a second leash
// process would be one more thing to find, wait for and stop. It is started by the same startServe() as `leash
// serve` (cli/serve.ts), imported from there rather than copied, so the two cannot drift.
// Never: start the command when the isolation asked for, the agent's identity or the CA trust cannot be set up
// (fail closed, with the reason); print the proxy URL (it carries the token); or leave rules, sockets or files
// behind, whatever way the run ends.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { LeashError } from '../errors.js';
import { systemHost, type KernelHost } from '../kernel/system.js';
import { cidrContains } from '../policy/host-pattern.js';
import { policyNeedsInterception } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/policy.js';
import { loadPolicy } from '../policy/watch.js';
import { readAgentTokens } from '../proxy/agent-tokens.js';
import { CA_CERT_FILE, DEFAULT_CERTS_DIR } from '../tls/ca.js';
import { defaultAuditPath } from '../cli/audit-path.js';
import type { CommandIo } from '../cli/io.js';
import { policyPaths } from '../cli/policy-paths.js';
import { startServe, type RunningServe } from '../cli/serve.js';
import { writeCaBundle } from './ca-bundle.js';
import { CommandNotRun, startChild, type Launch } from './child.js';
import { childEnvironment, proxyUrlFor } from './environment.js';
import { agentPlaceholders } from '../secrets/agent-placeholders.js';
import { ANONYMOUS_AGENT } from '../policy/rule.js';
import { netnsUnavailable, relayCommand, startBridge, type Bridge } from './netns.js';
import { writeNodePreload } from './node-preload.js';
import { EMPTY_TALLY, summaryLine, tally, type Ending, type RunTally } from './summary.js';
import { loadUidRules, type LoadedUidRules } from './uid-rules.js';
import { resolveRunUser, type RunUser } from './user.js';
import { openWorkspace, type Workspace } from './workspace.js';

// Every signal whose default action ends the process: leash cleans up (rules, private directory) and stops the command.
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

export type Isolation = 'netns' | 'uid' | 'none';
export const ISOLATIONS: readonly Isolation[] = ['netns', 'uid', 'none'];

export interface RunOptions {
  readonly policy?: string[];
  readonly agent?: string;
  readonly user?: string;
  /** Default: uid with --user, else netns. `none` is the explicit opt-out. */
  readonly isolate?: string;
  /** Use the leash listening here instead of starting one: http://HOST:PORT. */
  readonly proxy?: string;
  readonly audit?: string;
  readonly certs?: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Kernel and user look-ups; tests replace it. */
  readonly host?: KernelHost;
}

function usage(message: string): never {
  throw new LeashError('LEASH_USAGE', message);
}

function refuse(message: string): never {
  throw new LeashError('LEASH_ISOLATION', message);
}

function parseIsolation(options: RunOptions): Isolation {
  const isolate = options.isolate ?? (options.user !== undefined ? 'uid' : 'netns');
  if (!(ISOLATIONS as readonly string[]).includes(isolate))
    usage(`--isolate must be one of ${ISOLATIONS.join(', ')}, got "${isolate}"`);
  if (isolate === 'uid' && options.user === undefined)
    usage('--isolate uid needs --user, the user the command runs as (never the one leash runs as)');
  return isolate as Isolation;
}

/** `--proxy http://HOST:PORT`: where a running leash listens. Credentials come from --agent, never the URL. */
function parseProxyUrl(text: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    usage(`--proxy needs http://HOST:PORT, got "${text}"`);
  }
  if (
    url.protocol !== 'http:' ||
    url.username ||
    url.password ||
    (url.pathname !== '/' && url.pathname !== '') ||
    url.search
  ) {
    usage(
      "--proxy needs http://HOST:PORT with no credentials or path (the agent's token comes from the policy through --agent)",
    );
  }
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80) };
}

/**
 * The agent's credentials for the proxy URL. Refuses when --agent names an agent leash could not recognise as
 * this command: unknown, a token that cannot be read, or no token, no uid that matches --user and no CIDR for
 * loopback.
 */
function agentCredentials(
  policy: CompiledPolicy,
  name: string | undefined,
  user: RunUser | undefined,
  isolation: Isolation,
): { agent: string; token: string } | undefined {
  if (name === undefined) return undefined;
  const agent = policy.agents.get(name);
  if (!agent)
    usage(`--agent ${name}: no such agent in the policy (agents: ${[...policy.agents.keys()].join(', ') || 'none'})`);
  if (agent.token) {
    // Read where the proxy reads them (this process's environment), so the two cannot disagree.
    const { tokens, problems } = readAgentTokens(policy);
    const token = tokens.get(name);
    if (token === undefined)
      throw new LeashError(
        'LEASH_USAGE',
        problems.find((p) => p.startsWith(`agent ${name}:`)) ?? `agent ${name}: its token cannot be read`,
      );
    return { agent: name, token };
  }
  // In a namespace, connections reach leash through its own bridge, so the socket owner is leash, not --user.
  if (user !== undefined && agent.uid === user.uid && isolation !== 'netns') return undefined;
  if (agent.cidrs.some((cidr) => cidrContains(cidr, '127.0.0.1', 'ipv4'))) return undefined;
  usage(
    `--agent ${name}: leash could not tell this command is ${name}: the agent has no token, no uid matching --user (outside a namespace) and no CIDR covering 127.0.0.1`,
  );
}

interface Leash {
  readonly host: string;
  readonly port: number;
  readonly policy: CompiledPolicy | undefined;
  readonly intercepts: boolean;
  readonly auditLog: string | undefined;
  stop(): Promise<void>;
}

async function startLeash(
  options: RunOptions,
  io: CommandIo,
  onRecord: (record: Parameters<typeof tally>[1]) => void,
): Promise<Leash> {
  const certs = options.certs ?? DEFAULT_CERTS_DIR;
  if (options.proxy !== undefined) {
    const { host, port } = parseProxyUrl(options.proxy);
    const policy = options.agent !== undefined ? await loadPolicy(policyPaths(options.policy)) : undefined;
    // The running leash's policy is not ours to read; its CA in --certs says whether it can intercept.
    const intercepts = await readFile(path.join(certs, CA_CERT_FILE)).then(
      () => true,
      () => false,
    );
    return { host, port, policy, intercepts, auditLog: undefined, stop: async () => {} };
  }
  const auditLog = options.audit ?? defaultAuditPath(io.env);
  // This leash's control socket is its own, in a private directory of its own: two runs (or a run beside a leash
  // serve) never fight over /run/leash/admin.sock, and a command run as another user cannot reach it.
  const controlDir = await mkdtemp(path.join(tmpdir(), 'leash-run-control-'));
  let running: RunningServe;
  try {
    running = await startServe(
      {
        policy: options.policy,
        listen: '127.0.0.1:0',
        audit: auditLog,
        certs,
        observe: onRecord,
        control: path.join(controlDir, 'admin.sock'),
      },
      io,
    );
  } catch (err) {
    await rm(controlDir, { recursive: true, force: true });
    throw err;
  }
  return {
    host: running.proxy.host,
    port: running.proxy.port,
    policy: running.proxy.policy,
    intercepts: policyNeedsInterception(running.proxy.policy),
    auditLog: auditLog === '-' ? 'stdout' : path.resolve(auditLog),
    stop: async () => {
      await running.stop();
      await rm(controlDir, { recursive: true, force: true });
    },
  };
}

export async function runSession(options: RunOptions, io: CommandIo): Promise<number> {
  const host = options.host ?? systemHost;
  const isolation = parseIsolation(options);
  // Everything that can refuse without side effects is checked before leash starts.
  const user = options.user !== undefined ? await resolveRunUser(options.user, host) : undefined;
  if (user !== undefined && host.uid() !== 0 && user.uid !== host.uid())
    refuse(`--user ${options.user}: running a command as another user needs root`);
  if (isolation === 'netns') {
    const why = netnsUnavailable();
    if (why) refuse(`--isolate netns: ${why}`);
  }

  // A signal while leash is being set up stops the run before the command starts, with everything cleaned up.
  const early: NodeJS.Signals[] = [];
  const noteSignal = (signal: NodeJS.Signals) => early.push(signal);
  for (const signal of STOP_SIGNALS) process.on(signal, noteSignal);

  let counts: RunTally = EMPTY_TALLY;
  const cleanups: (() => Promise<void>)[] = [];
  let leash: Leash | undefined;
  let ending: Ending | undefined;
  let ran = true;
  try {
    leash = await startLeash(options, io, (record) => (counts = tally(counts, record)));
    cleanups.push(leash.stop);
    const credentials = leash.policy ? agentCredentials(leash.policy, options.agent, user, isolation) : undefined;
    const workspace: Workspace = await openWorkspace();
    cleanups.push(() => workspace.remove());
    const caBundle = leash.intercepts ? workspace.file('ca-bundle.pem') : undefined;
    if (caBundle) await writeCaBundle(caBundle, path.join(options.certs ?? DEFAULT_CERTS_DIR, CA_CERT_FILE), io.env);
    const nodePreload = await writeNodePreload(workspace.file('node-preload.mjs'));
    // In the namespace the relay listens on the proxy's port on the namespace's own loopback.
    const proxyUrl = proxyUrlFor(isolation === 'netns' ? '127.0.0.1' : leash.host, leash.port, credentials);
    // Secret placeholders: the command holds these instead of the secrets (README "Credentials the agent never
    // holds"); they override the variables that hold the real values in leash's own environment.
    const placeholders = leash.policy
      ? await agentPlaceholders(leash.policy, options.agent ?? ANONYMOUS_AGENT, options.certs ?? DEFAULT_CERTS_DIR)
      : {};
    // A command running as leash's own user can read leash's environment (/proc/PID/environ) and the CA key: the
    // placeholders keep the values out of its environment, not out of its reach. Said once, plainly.
    if (user === undefined && Object.keys(placeholders).length > 0) {
      io.err(
        "leash: warning: the command runs as leash's own user, so it could read the secrets' values from leash's process and the CA key; run it as another user (--user) to keep them out of its reach",
      );
    }
    const env = childEnvironment({ base: io.env, proxyUrl, caBundle, nodePreload, placeholders });
    if (user !== undefined)
      await workspace.giveTo(
        user.uid,
        user.gid,
        caBundle ? ['ca-bundle.pem', 'node-preload.mjs'] : ['node-preload.mjs'],
      );

    let relay: Launch['relay'];
    if (isolation === 'netns') {
      const bridge: Bridge = await startBridge(workspace.file('proxy.sock'), leash);
      cleanups.push(() => bridge.close());
      relay = { ...relayCommand(), socket: bridge.path, port: leash.port };
    } else if (isolation === 'uid' && user !== undefined) {
      const rules: LoadedUidRules = await loadUidRules(user, leash, host);
      cleanups.push(() => rules.remove());
    }

    try {
      if (early.length > 0)
        throw new CommandNotRun(
          `${early[0]} while setting up; ${options.command} was not started`,
          128 + (constants.signals[early[0] as NodeJS.Signals] ?? 0),
        );
      const started = await startChild({
        command: options.command,
        args: options.args,
        env,
        uid: user?.uid,
        gid: user?.gid,
        relay,
      });
      ending = await started.ended;
    } catch (err) {
      if (!(err instanceof CommandNotRun)) throw err;
      io.err(`leash: ${err.message}`);
      ending = { code: err.exitCode };
      ran = false;
    }
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, noteSignal);
    // Last in, first out: the rules and the bridge go before the proxy stops; the files go last.
    const failures: string[] = [];
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) => failures.push((err as Error).message));
    }
    for (const failure of failures) io.err(`leash: while cleaning up: ${failure}`);
    if (ending !== undefined && leash !== undefined && ran) {
      io.err(
        summaryLine(
          options.command,
          ending,
          leash.auditLog !== undefined
            ? { auditLog: leash.auditLog, counts }
            : { proxy: proxyUrlFor(leash.host, leash.port) },
        ),
      );
    }
  }
  return ending?.code ?? 1; // ending is set whenever the try block completed
}
