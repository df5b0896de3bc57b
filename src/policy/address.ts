// Address guard: classifies the IP addresses a host name resolved to, and refuses the ones an agent must not reach.
// Why: an allowed name can still resolve to 127.0.0.1, a private network or the cloud metadata service (SSRF,
// DNS rebinding); the proxy checks the exact address it is about to dial, after policy allowed the name.
// IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that IPv4 address, so
// `::ffff:169.254.169.254` cannot slip past a rule written for 169.254.169.254.
// PURE: never resolves or dials anything, never reads the clock; unknown or odd input is refused, not guessed at.
import ipaddr from 'ipaddr.js';

export type AddressCategory =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'cgnat'
  | 'multicast'
  | 'unspecified'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'unique_local'
  | 'metadata'
  | 'reserved';

export interface AddressClass {
  /** Canonical form: dotted quad, or RFC 5952 compressed IPv6 (zone id kept, since it is needed to dial). */
  address: string;
  category: AddressCategory;
  /** The IPv4 address an IPv6 form carries, when the category was decided by it. */
  embedded?: string;
}

type Ip = ipaddr.IPv4 | ipaddr.IPv6;

export interface Cidr {
  /** As the policy author wrote it, for messages and audit. */
  readonly text: string;
  readonly network: Ip;
  readonly prefix: number;
}

export interface AddressGuard {
  readonly allow: readonly Cidr[];
  readonly deny: readonly Cidr[];
}

export type AddressVerdict =
  | { ok: true; address: string; category: AddressCategory }
  | { ok: false; address: string; category: AddressCategory; reason: 'address_denied'; message: string };

const PHRASE: Readonly<Record<AddressCategory, string>> = {
  public: 'a public address',
  loopback: 'a loopback address',
  private: 'a private network address',
  link_local: 'a link-local address',
  cgnat: 'a carrier-grade NAT (shared) address',
  multicast: 'a multicast address',
  unspecified: 'an unspecified ("this network") address',
  broadcast: 'the limited broadcast address',
  documentation: 'a documentation-only address',
  benchmarking: 'a benchmarking address',
  unique_local: 'a unique local address',
  metadata: 'a cloud metadata address',
  reserved: 'a reserved special-purpose address',
};

// First match wins, so single metadata hosts come before the ranges that contain them, and the broadcast
// address before 240.0.0.0/4. Sources: IANA IPv4/IPv6 Special-Purpose Address Registries.
const V4_TABLE = table([
  // AWS/GCP/Azure/Oracle IMDS, ECS task credentials, EKS Pod Identity, Azure wireserver (inside public space!),
  // Alibaba Cloud.
  [
    'metadata',
    ['169.254.169.254/32', '169.254.170.2/32', '169.254.170.23/32', '168.63.129.16/32', '100.100.100.200/32'],
  ],
  ['unspecified', ['0.0.0.0/8']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']],
  ['loopback', ['127.0.0.0/8']],
  ['link_local', ['169.254.0.0/16']],
  ['cgnat', ['100.64.0.0/10']],
  ['multicast', ['224.0.0.0/4']],
  ['broadcast', ['255.255.255.255/32']],
  ['documentation', ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24']],
  ['benchmarking', ['198.18.0.0/15']],
  // IETF protocol assignments, deprecated 6to4 relay anycast, AS112, AMT, future use.
  [
    'reserved',
    ['192.0.0.0/24', '192.88.99.0/24', '192.31.196.0/24', '192.52.193.0/24', '192.175.48.0/24', '240.0.0.0/4'],
  ],
]);

const V6_TABLE = table([
  // AWS IMDS and EKS Pod Identity over IPv6.
  ['metadata', ['fd00:ec2::254/128', 'fd00:ec2::23/128']],
  ['unspecified', ['::/128']],
  ['loopback', ['::1/128']],
  ['link_local', ['fe80::/10']],
  ['unique_local', ['fc00::/7']],
  ['multicast', ['ff00::/8']],
  ['documentation', ['2001:db8::/32', '3fff::/20']],
  ['benchmarking', ['2001:2::/48']],
  // IETF protocol assignments (Teredo, ORCHID, AMT, ...), discard-only, site-local, SRv6 SIDs, AS112.
  ['reserved', ['2001::/23', '100::/64', 'fec0::/10', '5f00::/16', '2620:4f:8000::/48']],
]);

// Only 2000::/3 is allocated as global unicast; anything else not named above is unassigned, so it is refused.
const V6_GLOBAL_UNICAST = parseCidrText('2000::/3');

// IPv6 prefixes that carry an IPv4 address, with the byte offset of that address.
const V6_EMBEDDINGS: readonly { range: Cidr; offset: number }[] = [
  { range: parseCidrText('::ffff:0:0/96'), offset: 12 }, // IPv4-mapped, RFC 4291 §2.5.5.2
  { range: parseCidrText('::/96'), offset: 12 }, // IPv4-compatible (deprecated), RFC 4291 §2.5.5.1
  { range: parseCidrText('64:ff9b::/96'), offset: 12 }, // NAT64 well-known prefix, RFC 6052 §2.1
  // RFC 8215 local-use NAT64; only the /96 layout is read. Other layouts fall to 'reserved' below.
  { range: parseCidrText('64:ff9b:1::/96'), offset: 12 },
  { range: parseCidrText('2002::/16'), offset: 2 }, // 6to4, RFC 3056 §2
];

/** Classifies one IP address. Throws TypeError when `ip` is not an IP address in standard notation. */
export function classifyAddress(ip: string): AddressClass {
  return analyse(ip).cls;
}

/** Compiles allow and deny CIDR lists once, at policy load; a bare address means a single host. */
export function compileAddressGuard(allowCidrs: readonly string[], denyCidrs: readonly string[]): AddressGuard {
  const compile = (list: readonly string[], field: string): readonly Cidr[] =>
    Object.freeze(
      list.map((text) => {
        try {
          return parseCidrText(text);
        } catch (err) {
          throw new TypeError(`invalid CIDR ${JSON.stringify(text)} in ${field}: ${(err as Error).message}`, {
            cause: err,
          });
        }
      }),
    );
  return Object.freeze({ allow: compile(allowCidrs, 'allowCidrs'), deny: compile(denyCidrs, 'denyCidrs') });
}

/**
 * Public addresses pass unless denied; every other category is refused unless allowed; deny beats allow.
 * A CIDR applies to an embedding form when it covers either the IPv6 form or the IPv4 address it carries.
 */
export function checkAddress(guard: AddressGuard, ip: string): AddressVerdict {
  const { cls, forms } = analyse(ip);
  const { address, category } = cls;
  const covered = (cidr: Cidr) => forms.some((form) => covers(cidr, form));

  const denied = guard.deny.find(covered);
  if (denied) {
    const message = `${describe(cls)} is ${PHRASE[category]}, refused by deny CIDR ${denied.text}`;
    return { ok: false, address, category, reason: 'address_denied', message };
  }
  if (category === 'public' || guard.allow.some(covered)) return { ok: true, address, category };
  // Says what would allow it: a metadata address never should be, the rest through an exception the operator owns.
  const remedy =
    category === 'metadata' ? 'leash never dials it' : `leash refuses it unless settings.network.allowCidrs lists it`;
  return {
    ok: false,
    address,
    category,
    reason: 'address_denied',
    message: `${describe(cls)} is ${PHRASE[category]}; ${remedy}`,
  };
}

function analyse(ip: string): { cls: AddressClass; forms: Ip[] } {
  const parsed = parseIp(ip);
  if (parsed === undefined) throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);

  if (parsed.kind() === 'ipv4') {
    return { cls: { address: parsed.toString(), category: lookup(V4_TABLE, parsed) ?? 'public' }, forms: [parsed] };
  }
  const v6 = parsed as ipaddr.IPv6;
  const address = v6.toRFC5952String();
  const direct = lookup(V6_TABLE, v6);
  if (direct !== undefined) return { cls: { address, category: direct }, forms: [v6] };

  const embedded = embeddedIpv4(v6);
  if (embedded !== undefined) {
    const category = lookup(V4_TABLE, embedded) ?? 'public';
    return { cls: { address, category, embedded: embedded.toString() }, forms: [v6, embedded] };
  }
  const category = covers(V6_GLOBAL_UNICAST, v6) ? 'public' : 'reserved';
  return { cls: { address, category }, forms: [v6] };
}

function embeddedIpv4(v6: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const embedding = V6_EMBEDDINGS.find(({ range }) => covers(range, v6));
  if (embedding === undefined) return undefined;
  const bytes = v6.toByteArray().slice(embedding.offset, embedding.offset + 4);
  return new ipaddr.IPv4(bytes);
}

/**
 * Strict parser. IPv4 must be a plain dotted quad: `127.1`, `0x7f.1` or `017.0.0.1` are read differently by
 * different resolvers (inet_aton reads octal), so guessing could let a loopback address through as public.
 */
function parseIp(text: string): Ip | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!text.includes(':')) return undefined;

  // ipaddr.js reads `::a.b.c.d` as the mapped `::ffff:a.b.c.d`; rewrite a dotted tail as two hex groups so
  // the IPv4-compatible address keeps its real value (and canonical form) before it is parsed.
  const zoneAt = text.indexOf('%');
  const bare = zoneAt < 0 ? text : text.slice(0, zoneAt);
  const zone = zoneAt < 0 ? '' : text.slice(zoneAt);
  const dotted = /^(.*:)([^:]*\.[^:]*)$/.exec(bare);
  let rewritten = bare;
  if (dotted) {
    const tail = dotted[2] ?? '';
    if (!ipaddr.IPv4.isValidFourPartDecimal(tail)) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(tail).octets;
    rewritten = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  if (!ipaddr.IPv6.isValid(rewritten + zone)) return undefined;
  return ipaddr.IPv6.parse(rewritten + zone);
}

function parseCidrText(text: string): Cidr {
  if (text.includes('%')) throw new TypeError('zone ids are not allowed in a CIDR');
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const network = parseIp(addressText);
  if (network === undefined) {
    throw new TypeError(`${JSON.stringify(addressText)} is not an IPv4 dotted quad or an IPv6 address`);
  }
  const maxPrefix = network.kind() === 'ipv4' ? 32 : 128;
  if (slash < 0) return Object.freeze({ text, network, prefix: maxPrefix });

  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) {
    throw new TypeError(`prefix length ${JSON.stringify(prefixText)} is not a number`);
  }
  const prefix = Number(prefixText);
  if (prefix > maxPrefix) {
    const family = network.kind() === 'ipv4' ? 'IPv4' : 'IPv6';
    throw new TypeError(`prefix length ${prefix} is larger than ${maxPrefix} for an ${family} address`);
  }
  return Object.freeze({ text, network, prefix });
}

function covers(cidr: Cidr, ip: Ip): boolean {
  // ipaddr.js throws when asked to match across families; a v4 rule simply does not cover a v6 address.
  if (ip.kind() !== cidr.network.kind()) return false;
  return ip.match(cidr.network, cidr.prefix);
}

function lookup(entries: readonly (readonly [AddressCategory, Cidr])[], ip: Ip): AddressCategory | undefined {
  return entries.find(([, cidr]) => covers(cidr, ip))?.[0];
}

function table(
  rows: readonly (readonly [AddressCategory, readonly string[]])[],
): readonly (readonly [AddressCategory, Cidr])[] {
  const entries = rows.flatMap(([category, cidrs]) =>
    cidrs.map((text) => Object.freeze([category, parseCidrText(text)] as const)),
  );
  return Object.freeze(entries);
}

function describe(cls: AddressClass): string {
  return cls.embedded === undefined ? cls.address : `${cls.address} (IPv4 ${cls.embedded})`;
}
