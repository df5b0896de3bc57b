// `leash rules --user NAME|UID... --proxy HOST:PORT --format nft|iptables|pf [--allow HOST:PORT]...
// [--action reject|drop] [--log|--no-log] [--apply|--remove|--status]`: the kernel rules that let the agent's OS
// user reach only the proxy. Prints the ruleset by default; on Linux --apply loads it (one transaction),
// --remove takes it away, --status shows whether it is loaded and its counters (exit 1 when it is not).
// Refuses to restrict the uid running the command: the proxy must run as a user the rules leave alone.
// `--format k8s --agent-selector KEY=VALUE [--namespace NS] [--proxy-selector KEY=VALUE]` prints the agents'
// NetworkPolicy instead, for kubectl apply -f - (leash never talks to a cluster).

import { LeashError } from '../errors.js';
import { parseEndpoint } from '../kernel/endpoint.js';
import { renderIptables } from '../kernel/iptables.js';
import { DEFAULT_PROXY_LABEL, parseLabel, parseNamespace, PROXY_PORT, renderAgentPolicy } from '../kernel/k8s.js';
import { applyRules, readStatus, removeRules } from '../kernel/loaded.js';
import {
  buildRuleset,
  describeUser,
  USER_NAME,
  type AgentUser,
  type Ruleset,
  type RulesAction,
} from '../kernel/model.js';
import { renderNft } from '../kernel/nft.js';
import { renderPf } from '../kernel/pf.js';
import { systemHost, type KernelHost } from '../kernel/system.js';
import type { CommandIo } from './io.js';

export interface RulesFlags {
  user?: string[];
  proxy?: string[];
  format?: string;
  allow?: string[];
  action?: string;
  log?: boolean;
  'no-log'?: boolean;
  apply?: boolean;
  remove?: boolean;
  status?: boolean;
  agentSelector?: string;
  proxySelector?: string;
  namespace?: string;
}

type Format = 'nft' | 'iptables' | 'pf';
const FORMATS: readonly Format[] = ['nft', 'iptables', 'pf'];
const ALL_FORMATS = [...FORMATS, 'k8s'];
const HOST_FLAGS = ['user', 'proxy', 'allow', 'action', 'log', 'no-log'] as const;
const K8S_FLAGS = {
  agentSelector: '--agent-selector',
  proxySelector: '--proxy-selector',
  namespace: '--namespace',
} as const;
const MODES = ['apply', 'remove', 'status'] as const;

function usage(message: string): never {
  throw new LeashError('LEASH_USAGE', message);
}

export async function rulesCommand(flags: RulesFlags, io: CommandIo, host: KernelHost = systemHost): Promise<number> {
  const modes = MODES.filter((m) => flags[m] === true);
  if (modes.length > 1) usage(`--${modes.join(' and --')} cannot be combined`);
  if (flags.format === 'k8s') return k8sRules(flags, modes[0], io);
  const format = parseFormat(flags.format);
  const k8sOnly = Object.entries(K8S_FLAGS).find(([key]) => flags[key as keyof typeof K8S_FLAGS] !== undefined);
  if (k8sOnly !== undefined) usage(`${k8sOnly[1]} goes with --format k8s`);
  const mode = modes[0];
  if (mode !== undefined && format === 'pf')
    usage(
      `--${mode} drives nft and iptables on Linux; for pf, follow the pfctl commands at the head of the --format pf output`,
    );
  if (mode !== undefined && format !== 'pf') {
    if (host.platform !== 'linux')
      usage(`--${mode} needs Linux (nft or iptables); print the rules instead and load them by hand`);
    if (mode === 'apply') {
      for (const line of await applyRules(await rulesetFromFlags(flags, host), format, host)) io.out(line);
      return 0;
    }
    // --remove and --status act on all of leash's rules of the format. They accept (and ignore) the flags --apply
    // takes, so the command that loaded the rules, with --apply replaced, removes them.
    if (mode === 'remove') {
      for (const line of await removeRules(format, host)) io.out(line);
      return 0;
    }
    const status = await readStatus(format, host);
    for (const line of status.lines) io.out(line);
    return status.loaded ? 0 : 1;
  }
  io.out(render(format, await rulesetFromFlags(flags, host)).replace(/\n$/, ''));
  return 0;
}

function k8sRules(flags: RulesFlags, mode: (typeof MODES)[number] | undefined, io: CommandIo): number {
  if (mode !== undefined)
    usage(`--${mode} is for nft and iptables; leash does not touch a cluster: apply it with kubectl apply -f -`);
  const hostOnly = HOST_FLAGS.find((f) => flags[f] !== undefined);
  if (hostOnly !== undefined)
    usage(`--${hostOnly} is for nft, iptables and pf; with --format k8s, agents are chosen by --agent-selector`);
  if (flags.agentSelector === undefined)
    usage("--format k8s needs --agent-selector KEY=VALUE, the label of the agents' pods");
  const text = renderAgentPolicy({
    agent: parseLabel(flags.agentSelector, '--agent-selector'),
    proxy:
      flags.proxySelector === undefined ? DEFAULT_PROXY_LABEL : parseLabel(flags.proxySelector, '--proxy-selector'),
    namespace: flags.namespace === undefined ? undefined : parseNamespace(flags.namespace, '--namespace'),
    port: PROXY_PORT,
  });
  io.out(text.replace(/\n$/, ''));
  return 0;
}

function render(format: Format, ruleset: Ruleset): string {
  switch (format) {
    case 'nft':
      return renderNft(ruleset);
    case 'iptables':
      return renderIptables(ruleset);
    case 'pf':
      return renderPf(ruleset);
  }
}

function parseFormat(text: string | undefined): Format {
  if (text === undefined) usage(`--format is needed: ${ALL_FORMATS.join(', ')}`);
  if (!(FORMATS as readonly string[]).includes(text))
    usage(`--format must be one of ${ALL_FORMATS.join(', ')}, got "${text}"`);
  return text as Format;
}

async function rulesetFromFlags(flags: RulesFlags, host: KernelHost): Promise<Ruleset> {
  if (flags.log === true && flags['no-log'] === true) usage('--log and --no-log cannot both be given');
  const action = flags.action ?? 'reject';
  if (action !== 'reject' && action !== 'drop') usage(`--action must be reject or drop, got "${action}"`);
  const users = await Promise.all((flags.user ?? []).map((u) => resolveUser(u, host)));
  const self = host.uid();
  const own = users.find((u) => u.uid === self);
  if (own) {
    throw new LeashError(
      'LEASH_RULES_OWN_UID',
      `refusing to restrict ${describeUser(own)}: it is the user running this command, and leash serve must run as a user the rules leave alone. Restrict the agent's own user instead.`,
    );
  }
  return buildRuleset({
    users,
    proxies: (flags.proxy ?? []).map((p) => parseEndpoint(p, '--proxy')),
    allow: (flags.allow ?? []).map((a) => parseEndpoint(a, '--allow')),
    action: action as RulesAction,
    log: flags['no-log'] !== true,
  });
}

async function resolveUser(text: string, host: KernelHost): Promise<AgentUser> {
  if (/^\d+$/.test(text)) return { uid: Number(text) };
  if (!USER_NAME.test(text)) usage(`--user: "${text}" is neither a uid nor a valid user name`);
  const uid = await host.lookupUser(text);
  if (uid === undefined)
    throw new LeashError(
      'LEASH_USER_UNKNOWN',
      `--user ${text}: no such user (not in /etc/passwd, and id -u does not know it); give a uid to restrict a user that does not exist yet`,
    );
  return { uid, name: text };
}
