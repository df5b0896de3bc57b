// What `leash policy suggest` learns from an audit log: an accumulator fed one parsed record at a time, holding per
// host, port and agent how much was used, how (spliced tunnels, visible requests and their methods, path prefixes
// per host), the busiest minute, first and last seen; and per host what must keep it out of any suggestion (a deny
// rule refused it, the address guard refused it, it was reached through a grant).
// The log is untrusted input (an agent chose every host and path in it, and a file can be edited): a field that is
// not exactly what leash writes (a normalised host, an agent name the policy schema accepts, an upper-case method)
// drops the record, so nothing that could break out of a YAML value or comment reaches the writer.
// PURE, and bounded: memory grows with the distinct host/port/agent triples (at most MAX_USES, the rest counted),
// never with the number of records; path prefixes are capped per host and port.

import { classifyAddress } from '../address.js';
import { normalizeHost } from '../host.js';
import { normalizePath } from '../path-glob.js';

/** A parsed audit line, read as untrusted data. */
export type SuggestRecord = Readonly<Record<string, unknown>>;

export const MAX_USES = 100_000;
export const MAX_PREFIXES = 32;
export const MAX_METHODS = 16;
/** Hosts remembered per grant source rule (for `inspect.grant.hosts`). */
export const MAX_GRANTED_HOSTS = 64;
/** Hosts remembered as refused (deny, address guard, grant): beyond it, a host never refused may not be known. */
export const MAX_FLAGGED_HOSTS = 100_000;

/**
 * How each reason code counts. `use`: the agent reached (or, refused only for lack of a rule, asked for) the host:
 * evidence for a rule. `deny` and `guard`: a deny rule or the address guard refused it: never suggested. `grant`:
 * it concerns a grant: the host counts as reached through one. Anything else (protocol refusals, identity failures,
 * a host that never answered, reasons this code does not know) is no evidence at all.
 */
export const REASON_USE: Readonly<Record<string, 'use' | 'deny' | 'guard' | 'grant'>> = {
  allowed_by_rule: 'use',
  intercepted: 'use',
  no_rule: 'use',
  opaque_tunnel: 'use',
  rate_limited: 'use',
  bandwidth: 'use',
  max_lifetime: 'use',
  client_closed: 'use',
  upstream_timeout: 'use',
  upstream_error: 'use',
  denied_by_rule: 'deny',
  address_denied: 'guard',
  // Runtime control: what a sandbox scope opened or a human approved is what a reviewer promotes to a rule; what
  // no rule allowed and a scope or approval refused is evidence like a no_rule denial. A host a human refused, or
  // one an agent sent a secret's placeholder to, is never proposed.
  scope: 'use',
  approved: 'use',
  access_ended: 'use',
  scope_full: 'use',
  scope_denied: 'use',
  pending_approval: 'use',
  approval_denied: 'deny',
  secret_misuse: 'deny',
  granted: 'grant',
  grant_expired: 'grant',
  grant_skipped: 'grant',
  grant_revoked: 'grant',
};

/** How a refusal that names no rule is shown among a host's deny reasons. */
const DENIED_WITHOUT_RULE: Readonly<Record<string, string>> = {
  approval_denied: 'an approval a human denied',
  secret_misuse: "a secret's placeholder sent there",
};

/** Use of one host and port by one agent. */
export interface Use {
  readonly host: string;
  readonly port: number;
  readonly agent: string;
  /** Tunnels and plain or intercepted requests. */
  requests: number;
  /** CONNECT records; `spliced` of them were not intercepted, so what they carried was not seen. */
  tunnels: number;
  spliced: number;
  /** Requests whose method and path leash saw (plain HTTP, or inside an intercepted tunnel). */
  visible: number;
  /** Requests allowed by a rule (not through a grant): the only evidence that counts for a host also granted. */
  byRule: number;
  readonly methods: Set<string>;
  first: string;
  last: string;
  /** Visible requests per minute (`YYYY-MM-DDTHH:MM`): the busiest minute, and the minute being counted. */
  peak: number;
  minute: string;
  inMinute: number;
  /** The same for tunnels (CONNECTs), for `connections:`. */
  tunnelPeak: number;
  tunnelMinute: string;
  tunnelsInMinute: number;
}

/** Path prefixes seen on one host and port (`/v1/**`), and what could not be written as one. */
export interface Prefixes {
  readonly counts: Map<string, number>;
  /** More than MAX_PREFIXES distinct prefixes: a `paths:` list would not be minimal, nor short. */
  overflow: boolean;
  /** Requests whose first segment is not a plain name (encoded, redacted, odd characters). */
  unlisted: number;
}

/** Why a host is kept out of every suggestion, with the evidence. */
export interface HostFlags {
  /** Deny rules that refused it (names as the records give them). */
  readonly deniedBy: Set<string>;
  guardRefused: number;
  /** Records about a grant for this host (granted, used, skipped, revoked, expired). */
  granted: number;
  /** Addresses outside public space it resolved to (at most 4): the address guard in force must still accept them. */
  readonly resolvedSpecial: Set<string>;
}

/** What an inspect rule granted: where its responses came from, how they were read, which hosts they named. */
export interface GrantSource {
  readonly rule: string;
  /** `host:port` of the responses that made the grants (from grant.sourceUrl). */
  readonly from: Set<string>;
  /** `json` / `html`, from where the references were found (`$.…` or `html …`). */
  readonly types: Set<'json' | 'html'>;
  readonly hosts: Set<string>;
  hostsOverflow: boolean;
  grants: number;
}

export interface Evidence {
  readonly records: number;
  /** Records that counted as evidence of use. */
  readonly used: number;
  /** Records dropped because a field was not what leash writes. */
  readonly malformed: number;
  /** Use records about host/port/agent triples beyond MAX_USES. */
  readonly notTracked: number;
  readonly firstTime: string | null;
  readonly lastTime: string | null;
  readonly agents: ReadonlySet<string>;
  readonly uses: readonly Use[];
  /** By host, then port. */
  readonly prefixes: ReadonlyMap<string, ReadonlyMap<number, Prefixes>>;
  readonly flags: ReadonlyMap<string, HostFlags>;
  readonly grantSources: ReadonlyMap<string, GrantSource>;
}

const AGENT = /^[a-z][a-z0-9_-]{0,62}$/;
const METHOD = /^[A-Z]{1,20}$/;
const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const SEGMENT = /^[A-Za-z0-9._~-]{1,64}$/;
const NEEDS_NORMALIZING = /%|\\|;|\/\/|\/\.\.?(\/|$)/;

export const hostPortKey = (host: string, port: number): string => `${host} ${port}`;

/** Accumulates evidence one record at a time; result() can be called at any point. */
export class EvidenceBuilder {
  private records = 0;
  private used = 0;
  private malformed = 0;
  private notTracked = 0;
  private firstTime: string | null = null;
  private lastTime: string | null = null;
  private readonly agents = new Set<string>();
  private readonly uses: Use[] = [];
  // Nested by host, port and agent rather than keyed by a joined string: a joined key is a new string to hash on
  // every record, which cost more than the rest of the record's accounting.
  private readonly byHost = new Map<string, Map<number, Map<string, Use>>>();
  private readonly prefixes = new Map<string, Map<number, Prefixes>>();
  private readonly flags = new Map<string, HostFlags>();
  private readonly grantSources = new Map<string, GrantSource>();
  /** Hosts already found canonical: most records name a host seen before, and normalising costs a URL parse. */
  private readonly canonical = new Set<string>();
  /** Resolved addresses already found public, for the same reason. */
  private readonly publicAddresses = new Set<string>();

  add(record: SuggestRecord): void {
    this.records++;
    const event = record.event;
    if (event !== 'request' && event !== 'tunnel' && event !== 'grant') return;
    const kind =
      typeof record.reason === 'string' && Object.hasOwn(REASON_USE, record.reason)
        ? REASON_USE[record.reason]
        : undefined;
    const viaGrant = record.rule === 'grant';
    if (kind === undefined && !viaGrant) return;
    const host = typeof record.host === 'string' ? this.canonicalHost(record.host) : undefined;
    const time = typeof record.time === 'string' && ISO_TIME.test(record.time) ? record.time : undefined;
    if (host === undefined || time === undefined) {
      this.malformed++;
      return;
    }
    if (kind === 'deny') {
      const flags = this.flag(host);
      const by =
        typeof record.rule === 'string' && RULE_NAME.test(record.rule)
          ? record.rule
          : DENIED_WITHOUT_RULE[record.reason as string];
      if (flags && by !== undefined && flags.deniedBy.size < 8) flags.deniedBy.add(by);
      return;
    }
    if (kind === 'guard') {
      const flags = this.flag(host);
      if (flags) flags.guardRefused++;
      return;
    }
    if (kind === 'grant' || viaGrant || event === 'grant') {
      const flags = this.flag(host);
      if (flags) flags.granted++;
      // Where a granted host led counts too: one that resolved to a special address is never granted on.
      if (typeof record.resolved === 'string') this.resolved(host, record.resolved);
      if (event === 'grant' && record.reason === 'granted') this.grantSource(record, host);
      if (kind !== 'use' || event === 'grant') return;
    }

    const port = record.port;
    const agent = record.agent;
    const method = record.method;
    if (
      typeof port !== 'number' ||
      !Number.isInteger(port) ||
      port < 1 ||
      port > 65535 ||
      typeof agent !== 'string' ||
      !AGENT.test(agent) ||
      typeof method !== 'string' ||
      !METHOD.test(method)
    ) {
      this.malformed++;
      return;
    }
    const tunnel = event === 'tunnel';
    if (tunnel !== (method === 'CONNECT')) {
      this.malformed++;
      return;
    }
    let use = this.byHost.get(host)?.get(port)?.get(agent);
    if (!use) {
      if (this.uses.length >= MAX_USES) {
        this.notTracked++;
        return;
      }
      use = {
        host,
        port,
        agent,
        requests: 0,
        tunnels: 0,
        spliced: 0,
        visible: 0,
        byRule: 0,
        methods: new Set(),
        first: time,
        last: time,
        peak: 0,
        minute: '',
        inMinute: 0,
        tunnelPeak: 0,
        tunnelMinute: '',
        tunnelsInMinute: 0,
      };
      this.uses.push(use);
      let ports = this.byHost.get(host);
      if (!ports) this.byHost.set(host, (ports = new Map()));
      let agents = ports.get(port);
      if (!agents) ports.set(port, (agents = new Map()));
      agents.set(agent, use);
    }
    this.used++;
    this.agents.add(agent);
    if (typeof record.resolved === 'string') this.resolved(host, record.resolved);
    if (this.firstTime === null || time < this.firstTime) this.firstTime = time;
    if (this.lastTime === null || time > this.lastTime) this.lastTime = time;
    if (time < use.first) use.first = time;
    if (time > use.last) use.last = time;
    use.requests++;
    if (!viaGrant && (record.reason === 'allowed_by_rule' || record.reason === 'intercepted')) use.byRule++;
    const minute = time.slice(0, 16);
    if (tunnel) {
      use.tunnels++;
      if (record.reason !== 'intercepted') use.spliced++;
      // Records arrive about in time order; one from an earlier minute counts in the current one (an overestimate).
      if (minute > use.tunnelMinute) {
        use.tunnelMinute = minute;
        use.tunnelsInMinute = 0;
      }
      use.tunnelPeak = Math.max(use.tunnelPeak, ++use.tunnelsInMinute);
      return;
    }
    use.visible++;
    if (use.methods.size < MAX_METHODS) use.methods.add(method);
    if (minute > use.minute) {
      use.minute = minute;
      use.inMinute = 0;
    }
    use.peak = Math.max(use.peak, ++use.inMinute);
    this.addPrefix(host, port, record.path);
  }

  result(): Evidence {
    return {
      records: this.records,
      used: this.used,
      malformed: this.malformed,
      notTracked: this.notTracked,
      firstTime: this.firstTime,
      lastTime: this.lastTime,
      agents: this.agents,
      uses: this.uses,
      prefixes: this.prefixes,
      flags: this.flags,
      grantSources: this.grantSources,
    };
  }

  /** A name that resolved to a private, loopback or other special address is remembered with that address. */
  private resolved(host: string, address: string): void {
    if (this.publicAddresses.has(address)) return;
    let category: string;
    try {
      category = classifyAddress(address).category;
    } catch {
      return;
    }
    if (category === 'public') {
      if (this.publicAddresses.size < MAX_USES) this.publicAddresses.add(address);
      return;
    }
    const flags = this.flag(host);
    if (flags && flags.resolvedSpecial.size < 4) flags.resolvedSpecial.add(address);
  }

  private canonicalHost(raw: string): string | undefined {
    if (this.canonical.has(raw)) return raw;
    const host = canonicalHost(raw);
    if (host !== undefined && this.canonical.size < MAX_USES) this.canonical.add(host);
    return host;
  }

  private addPrefix(host: string, port: number, path: unknown): void {
    let ports = this.prefixes.get(host);
    if (!ports) this.prefixes.set(host, (ports = new Map()));
    let entry = ports.get(port);
    if (!entry) ports.set(port, (entry = { counts: new Map(), overflow: false, unlisted: 0 }));
    const prefix = typeof path === 'string' ? pathPrefix(path) : undefined;
    if (prefix === undefined) {
      entry.unlisted++;
      return;
    }
    const count = entry.counts.get(prefix);
    if (count !== undefined) entry.counts.set(prefix, count + 1);
    else if (entry.counts.size < MAX_PREFIXES) entry.counts.set(prefix, 1);
    else entry.overflow = true;
  }

  private flag(host: string): HostFlags | undefined {
    let flags = this.flags.get(host);
    if (!flags) {
      if (this.flags.size >= MAX_FLAGGED_HOSTS) return undefined;
      flags = { deniedBy: new Set(), guardRefused: 0, granted: 0, resolvedSpecial: new Set() };
      this.flags.set(host, flags);
    }
    return flags;
  }

  private grantSource(record: SuggestRecord, host: string): void {
    const grant = record.grant as Readonly<Record<string, unknown>> | undefined;
    const rule = grant?.sourceRule;
    if (typeof rule !== 'string' || !RULE_NAME.test(rule)) return;
    let source = this.grantSources.get(rule);
    if (!source) {
      if (this.grantSources.size >= 1000) return;
      source = { rule, from: new Set(), types: new Set(), hosts: new Set(), hostsOverflow: false, grants: 0 };
      this.grantSources.set(rule, source);
    }
    source.grants++;
    const from = typeof grant?.sourceUrl === 'string' ? urlHostPort(grant.sourceUrl) : undefined;
    if (from && source.from.size < 8) source.from.add(from);
    const found = grant?.found;
    if (typeof found === 'string') {
      if (found.startsWith('$')) source.types.add('json');
      else if (found.startsWith('html ')) source.types.add('html');
    }
    if (source.hosts.has(host)) return;
    if (source.hosts.size < MAX_GRANTED_HOSTS) source.hosts.add(host);
    else source.hostsOverflow = true;
  }
}

/** The host as leash writes it in records (normalised), or undefined when the record's host is anything else. */
export function canonicalHost(raw: string): string | undefined {
  const normalized = normalizeHost(raw);
  return normalized.ok && normalized.host === raw ? raw : undefined;
}

/**
 * The path prefix a rule would list for a path: its first segment as `/segment/**` (which also matches
 * `/segment` itself), or `/` for the root. Undefined when the first segment is not a plain name: a percent-encoded,
 * redacted or odd segment is no prefix to write into a policy.
 */
export function pathPrefix(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  // Most paths need no normalising (no dot segments, encodings, backslashes, parameters or `//`): their first
  // segment is read directly, which spares the normalisation's several passes on every record of a large log.
  const end = path.search(/[?#]/);
  const bare = end < 0 ? path : path.slice(0, end);
  const normalized = NEEDS_NORMALIZING.test(bare) ? normalizePath(path) : bare;
  if (normalized === '/') return '/';
  const first = normalized.split('/')[1] as string;
  if (!SEGMENT.test(first) || first === '.' || first === '..') return undefined;
  return `/${first}/**`;
}

/** `host:port` of an http(s) URL whose host is a normalised name (grant sources), else undefined. */
function urlHostPort(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const host = canonicalHost(url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname);
  if (host === undefined) return undefined;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return hostPortKey(host, port);
}
