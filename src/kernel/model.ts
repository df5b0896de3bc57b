// The kernel ruleset model: what the packet filter must do for the agents' uids, decided once, in one place.
// Why: nftables, iptables and pf output are three spellings of the same ruleset. Building the ruleset here and
// only rendering it in nft.ts, iptables.ts and pf.ts means the formats cannot drift apart in what they allow.
// The threats: a compromised agent ignores HTTPS_PROXY and dials out directly, or leaks data through DNS or ICMP;
// it keeps using a direct connection it opened before the rules were loaded; or, while leash is stopped, it
// listens on the proxy's address and port so that other users' clients hand it their traffic.
// So, per agent uid: packets sent from a proxy's address and port are refused first; then TCP passes only to the
// proxy and the --allow endpoints (whatever conntrack says about the connection, so one opened before the rules
// gets no exemption) and as replies of the agent's own listener at an --allow endpoint; everything else (other
// TCP, open connections included, all UDP including DNS to any resolver, ICMP, other loopback ports, IPv6 unless
// an endpoint is IPv6) is refused, logged first when asked to. Other uids are never matched.
// PURE: no I/O, no clock, no module state. Must never produce a rule that accepts anything but packets to the
// listed endpoints and replies from the --allow endpoints.

import { LeashError } from '../errors.js';
import { formatEndpoint, type Endpoint, type Family } from './endpoint.js';

export type RulesAction = 'reject' | 'drop';

export interface AgentUser {
  readonly uid: number;
  /** The name the operator gave, for comments only; a POSIX portable user name (no quotes, no spaces). */
  readonly name?: string;
}

export interface RulesOptions {
  readonly users: readonly AgentUser[];
  /** Where the proxy listens, as the agent connects to it; several when it listens on IPv4 and IPv6. */
  readonly proxies: readonly Endpoint[];
  readonly allow: readonly Endpoint[];
  readonly action: RulesAction;
  readonly log: boolean;
}

/** What a rule matches, beyond "a packet sent by this uid". */
export type Match =
  /**
   * A TCP packet sent from a proxy's address and port: only a listener there sends those, and while leash is
   * stopped an agent's listener there would pose as the proxy to every other user.
   */
  | { readonly kind: 'tcp-from'; readonly endpoint: Endpoint }
  /**
   * A packet of an established TCP connection whose original destination (conntrack's, not the packet's) is one
   * endpoint: in practice the replies of an agent's own listener at an --allow endpoint.
   */
  | { readonly kind: 'established-to'; readonly endpoint: Endpoint }
  /** A TCP packet to one endpoint, in any conntrack state: new connections and every later packet of them. */
  | { readonly kind: 'tcp-to'; readonly endpoint: Endpoint; readonly why: 'proxy' | 'allow' }
  /** Any other TCP, IPv4 or IPv6. */
  | { readonly kind: 'tcp' }
  /** Anything at all: UDP (DNS included), ICMP, other protocols, both families. */
  | { readonly kind: 'any' };

/**
 * `reject` answers TCP with a reset and everything else with ICMP "administratively prohibited" (RFC 1812
 * §5.2.7.1 code 13; ICMPv6 RFC 4443 §3.1 code 1), so a blocked agent fails at once instead of hanging.
 */
export type Verdict = 'accept' | 'log' | 'reject' | 'drop';

export type KernelRule = {
  readonly match: Match;
  /** One line for the operator reading the ruleset; also stored in the kernel where the format allows. */
  readonly comment: string;
} & (
  | { readonly verdict: 'accept' | 'reject' | 'drop' }
  /** Logs and goes on to the next rule. */
  | { readonly verdict: 'log'; readonly prefix: string; readonly limit: LogLimit }
);

export interface UidChain {
  readonly user: AgentUser;
  /** Evaluated in order; the first accepting, rejecting or dropping rule decides. */
  readonly rules: readonly KernelRule[];
}

export interface LogLimit {
  readonly perMinute: number;
  readonly burst: number;
}

export interface Ruleset {
  readonly users: readonly AgentUser[];
  readonly proxies: readonly Endpoint[];
  readonly allow: readonly Endpoint[];
  readonly action: RulesAction;
  readonly log: LogLimit | null;
  readonly chains: readonly UidChain[];
}

/** Enough to see what an agent tries, never enough to flood the kernel log: per uid. */
export const LOG_LIMIT: LogLimit = { perMinute: 10, burst: 20 };

/** The greppable prefix of every logged refusal: `journalctl -k | grep 'leash-deny uid=1001'`. */
export function logPrefix(uid: number): string {
  return `leash-deny uid=${uid} `;
}

// Linux uids are 32-bit; (uid_t)-1 means "no change" to setresuid and is never a real user.
const MAX_UID = 4294967294;
/** POSIX portable user names (IEEE 1003.1 §3.437), plus the trailing `$` of Samba machine accounts. */
export const USER_NAME = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}\$?$/;

export function buildRuleset(options: RulesOptions): Ruleset {
  if (options.users.length === 0)
    throw new LeashError(
      'LEASH_USAGE',
      "at least one --user is needed: the agent's OS user, whose traffic the rules restrict",
    );
  if (options.proxies.length === 0)
    throw new LeashError('LEASH_USAGE', '--proxy HOST:PORT is needed: the address where the agent reaches leash');
  for (const user of options.users) {
    if (!Number.isInteger(user.uid) || user.uid < 0 || user.uid > MAX_UID)
      throw new LeashError('LEASH_USAGE', `--user: ${user.uid} is not a valid uid (0-${MAX_UID})`);
    // Names end up inside quoted comments of three rule languages; a quote or newline would break out of them.
    if (user.name !== undefined && !USER_NAME.test(user.name))
      throw new LeashError('LEASH_USAGE', `--user: "${user.name}" is not a valid user name`);
  }
  const users = dedupe(options.users, (u) => String(u.uid)).sort((a, b) => a.uid - b.uid);
  const proxies = dedupe(options.proxies, formatEndpoint);
  const proxyKeys = new Set(proxies.map(formatEndpoint));
  const allow = dedupe(options.allow, formatEndpoint).filter((e) => !proxyKeys.has(formatEndpoint(e)));
  const log = options.log ? LOG_LIMIT : null;
  const chains = users.map((user) => ({ user, rules: uidRules(user, proxies, allow, options.action, log) }));
  return { users, proxies, allow, action: options.action, log, chains };
}

function uidRules(
  user: AgentUser,
  proxies: readonly Endpoint[],
  allow: readonly Endpoint[],
  action: RulesAction,
  log: LogLimit | null,
): KernelRule[] {
  const refuse = action === 'reject' ? 'reject' : 'drop';
  const rules: KernelRule[] = [];
  // First, before any accept: a packet from a proxy's address and port may also be addressed to an endpoint (a
  // client whose ephemeral port equals an --allow port), and must be refused all the same.
  for (const endpoint of proxies) {
    const match: Match = { kind: 'tcp-from', endpoint };
    if (log)
      rules.push({
        match,
        verdict: 'log',
        prefix: logPrefix(user.uid),
        limit: log,
        comment: `log packets from the proxy ${formatEndpoint(endpoint)} as ${logPrefix(user.uid).trim()}, at most ${log.perMinute}/minute`,
      });
    rules.push({
      match,
      verdict: refuse,
      comment: `sent from the proxy ${formatEndpoint(endpoint)}: a listener posing as leash while it is stopped; no one gets a handshake`,
    });
  }
  rules.push(
    ...allow.map((endpoint): KernelRule => ({
      match: { kind: 'established-to', endpoint },
      verdict: 'accept',
      comment: `replies of a listener of this uid at --allow ${formatEndpoint(endpoint)} (connections opened to it)`,
    })),
    ...proxies.map((endpoint): KernelRule => ({
      match: { kind: 'tcp-to', endpoint, why: 'proxy' },
      verdict: 'accept',
      comment: `the proxy ${formatEndpoint(endpoint)}`,
    })),
    ...allow.map((endpoint): KernelRule => ({
      match: { kind: 'tcp-to', endpoint, why: 'allow' },
      verdict: 'accept',
      comment: `--allow ${formatEndpoint(endpoint)}`,
    })),
  );
  if (log) {
    rules.push({
      match: { kind: 'any' },
      verdict: 'log',
      prefix: logPrefix(user.uid),
      limit: log,
      comment: `log what is refused below as ${logPrefix(user.uid).trim()}, at most ${log.perMinute}/minute`,
    });
  }
  if (action === 'reject') {
    rules.push({
      match: { kind: 'tcp' },
      verdict: 'reject',
      comment: 'any other TCP, connections already open, loopback and IPv6 included: reset, so the agent fails at once',
    });
    rules.push({
      match: { kind: 'any' },
      verdict: 'reject',
      comment: 'UDP (DNS to any resolver included), ICMP, all else: ICMP admin-prohibited',
    });
  } else {
    rules.push({
      match: { kind: 'any' },
      verdict: 'drop',
      comment:
        'any other TCP (connections already open too), UDP (DNS to any resolver included), ICMP, all else: dropped',
    });
  }
  return rules;
}

/** The families in which the agents can reach something; the other family is refused outright. */
export function reachableFamilies(ruleset: Ruleset): Family[] {
  const families = new Set([...ruleset.proxies, ...ruleset.allow].map((e) => e.family));
  return ([4, 6] as const).filter((f) => families.has(f));
}

export function describeUser(user: AgentUser): string {
  return user.name !== undefined && user.name !== String(user.uid)
    ? `uid ${user.uid} (${user.name})`
    : `uid ${user.uid}`;
}

/**
 * What a rule language can express. pf cannot match ICMP by user, nor rate-limit or prefix its log, and it passes
 * the packets of a connection it keeps state for without evaluating rules, so it cannot cut open connections.
 */
export interface FormatLimits {
  readonly icmpByUid: boolean;
  readonly logPrefixAndLimit: boolean;
  readonly cutsOpenConnections: boolean;
}

const FULL: FormatLimits = { icmpByUid: true, logPrefixAndLimit: true, cutsOpenConnections: true };

/**
 * What the ruleset does, in plain words, for the head of every format's output. The operator reviews this and
 * the rules under it; both come from the same model.
 */
export function describeRuleset(ruleset: Ruleset, limits: FormatLimits = FULL): string[] {
  const families = reachableFamilies(ruleset);
  const reach = [
    ...ruleset.proxies.map((e) => `the proxy ${formatEndpoint(e)}`),
    ...ruleset.allow.map((e) => `${formatEndpoint(e)} (--allow)`),
  ];
  const ipv6 = families.includes(6) ? 'IPv6 except the endpoints above' : 'all IPv6 (no endpoint is IPv6)';
  const icmp = limits.icmpByUid ? 'ICMP, ' : '';
  const action =
    ruleset.action === 'reject'
      ? 'rejected (TCP reset, ICMP admin-prohibited), so the agent fails at once'
      : 'dropped silently';
  const logged = limits.logPrefixAndLimit
    ? `Logged: each refusal as "leash-deny uid=N", at most ${ruleset.log?.perMinute}/minute (bursts of ${ruleset.log?.burst}) per uid and rule.`
    : 'Logged: each refusal, to pflog0 (see the limits of pf below).';
  const servers =
    ruleset.allow.length > 0
      ? ' Servers they run answer no one, except at the --allow endpoints.'
      : ' Servers they run answer no one.';
  const open = limits.cutsOpenConnections
    ? 'Connections they opened before the rules were loaded get no exemption: any other one is cut at its next packet.' +
      servers
    : 'Connections they opened before the rules were loaded are not cut (see the limits of pf below).';
  const paragraphs = [
    `Restricted: ${ruleset.users.map(describeUser).join(', ')}.`,
    `They may use TCP connections only to ${joinList(reach)}. ${open}`,
    'Refused: every other TCP and UDP destination (DNS to any resolver, local stubs such as 127.0.0.53 included), ' +
      `other loopback ports, ${icmp}and ${ipv6}. Refusals are ${action}.`,
    `While leash is stopped, a listener of theirs on ${joinList(ruleset.proxies.map(formatEndpoint))} cannot pose as the proxy: ` +
      "what they send from that address and port is refused, so other users' clients get no handshake.",
    ...(limits.icmpByUid
      ? []
      : ['Not refused: ICMP and ICMPv6, which pf cannot match by user (see the limits of pf below).']),
    ruleset.log ? logged : 'Logged: nothing (--no-log).',
    'Other users, root and the user leash serve runs as included, are not matched and pass untouched.',
  ];
  return paragraphs.flatMap((p) => wrap(p, DESCRIPTION_WIDTH));
}

const DESCRIPTION_WIDTH = 110;

/** Greedy word wrap; continuation lines are indented by two spaces. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = `  ${word}`;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** The `leash rules` invocation that reproduces this ruleset, with uids rather than names. */
export function rulesCommandLine(ruleset: Ruleset, format: string): string {
  return [
    'leash rules',
    ...ruleset.users.map((u) => `--user ${u.uid}`),
    ...ruleset.proxies.map((e) => `--proxy ${formatEndpoint(e)}`),
    `--format ${format}`,
    ...ruleset.allow.map((e) => `--allow ${formatEndpoint(e)}`),
    ...(ruleset.action === 'drop' ? ['--action drop'] : []),
    ...(ruleset.log ? [] : ['--no-log']),
  ].join(' ');
}

function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function dedupe<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
