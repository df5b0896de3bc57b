// What leash builds once per policy revision and keeps only while that revision is in use: the agents' tokens
// (read from env:/file: once, never logged), whether any agent is identified by uid (else the /proc lookup is
// skipped), the DNS resolver for settings.dns.servers, and the HTTPS agent for intercepted requests with its one
// secure context of trusted roots (system roots plus settings.tls.extraCa). Built when a policy is swapped in;
// retired when the next one takes over: its idle upstream connections are closed at once and its busy ones when
// they come free, so a reload neither cuts requests in flight nor keeps old connections for ever.
// State lives here, per revision, and in PolicyRuntimes, per process: never in module scope.

import { promises as dns } from 'node:dns';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { CompiledPolicy } from '../policy/policy.js';
import type { AgentTokens } from '../policy/identity.js';
import { readAgentTokens } from './agent-tokens.js';
import { SecretsRuntime } from '../secrets/runtime.js';

export class PolicyRuntime {
  readonly tokens: AgentTokens;
  /** One line per agent whose token could not be read (that agent cannot authenticate). */
  readonly tokenProblems: readonly string[];
  /** Some agent is identified by the uid owning its socket. */
  readonly identifiesByUid: boolean;
  /** Resolver for settings.dns.servers; undefined means the system resolver. */
  readonly resolver: dns.Resolver | undefined;
  /** `secrets:` values (read once, here) and placeholders. */
  readonly secrets: SecretsRuntime;
  private agent: https.Agent | undefined;
  private retired = false;

  constructor(
    readonly policy: CompiledPolicy,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const tokens = readAgentTokens(policy, env);
    this.tokens = tokens.tokens;
    this.tokenProblems = tokens.problems;
    this.identifiesByUid = [...policy.agents.values()].some((a) => a.uid !== null);
    this.secrets = new SecretsRuntime(policy, env);
    const { dns: settings } = policy.settings;
    if (settings.servers.length > 0) {
      this.resolver = new dns.Resolver({ timeout: Math.max(100, Math.floor(settings.timeoutMs / 2)), tries: 2 });
      this.resolver.setServers([...settings.servers]);
    }
  }

  /**
   * The HTTPS agent for intercepted requests under this revision. One secure context per revision: passing `ca`
   * per request would make Node rebuild a context from ~150 roots for every new upstream connection (~30 ms).
   */
  httpsAgent(): https.Agent {
    if (!this.agent) {
      const secureContext = tls.createSecureContext({ ca: trustedCas(this.policy) });
      this.agent = new https.Agent({
        keepAlive: !this.retired,
        maxSockets: 512,
        maxFreeSockets: 64,
        scheduling: 'lifo',
        secureContext,
        rejectUnauthorized: true,
      });
      if (this.retired) this.closeWhenFree(this.agent);
    }
    return this.agent;
  }

  /** Another revision took over: close idle upstream connections now and busy ones as they come free. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    // The resolver is left alone: lookups of requests still in flight under this revision must finish.
    if (this.agent) this.closeWhenFree(this.agent);
  }

  /** Shutdown: everything goes. */
  destroy(): void {
    this.retired = true;
    this.resolver?.cancel();
    this.agent?.destroy();
  }

  private closeWhenFree(agent: https.Agent): void {
    for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
    agent.on('free', (socket: Socket) => socket.destroy());
  }
}

/** The system's roots plus settings.tls.extraCa. */
export function trustedCas(policy: CompiledPolicy): string[] {
  const cas = [...tls.rootCertificates];
  const extra = policy.settings.tls.extraCa;
  if (extra) {
    try {
      cas.push(readFileSync(extra, 'utf8'));
    } catch {
      // An unreadable extraCa is reported at load; here it only means fewer trusted roots, never fewer checks.
    }
  }
  return cas;
}

/**
 * The runtimes of one process: the current revision's, and those of earlier revisions that requests still in
 * flight may use (an exchange keeps the policy it started under). A request of a revision already dropped gets
 * a fresh runtime of its own, retired at once, so it still completes.
 */
export class PolicyRuntimes {
  private currentRuntime: PolicyRuntime;
  private readonly byPolicy = new WeakMap<CompiledPolicy, PolicyRuntime>();
  private readonly retiring = new Set<PolicyRuntime>();

  constructor(
    policy: CompiledPolicy,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.currentRuntime = new PolicyRuntime(policy, env);
    this.byPolicy.set(policy, this.currentRuntime);
  }

  get current(): PolicyRuntime {
    return this.currentRuntime;
  }

  /** Builds the new revision's runtime and retires the previous one. */
  swap(policy: CompiledPolicy): PolicyRuntime {
    const previous = this.currentRuntime;
    this.currentRuntime = this.byPolicy.get(policy) ?? new PolicyRuntime(policy, this.env);
    this.byPolicy.set(policy, this.currentRuntime);
    if (previous !== this.currentRuntime) {
      previous.retire();
      this.retiring.add(previous);
    }
    return this.currentRuntime;
  }

  of(policy: CompiledPolicy): PolicyRuntime {
    let runtime = this.byPolicy.get(policy);
    if (!runtime) {
      runtime = new PolicyRuntime(policy, this.env);
      runtime.retire();
      this.byPolicy.set(policy, runtime);
      this.retiring.add(runtime);
    }
    return runtime;
  }

  /** Every secret value a revision still in use holds: the audit log removes them from whatever it writes. */
  secretValues(): string[] {
    const values = new Set(this.currentRuntime.secrets.values.values());
    for (const runtime of this.retiring) for (const value of runtime.secrets.values.values()) values.add(value);
    return [...values];
  }

  destroy(): void {
    this.currentRuntime.destroy();
    for (const runtime of this.retiring) runtime.destroy();
    this.retiring.clear();
  }
}
