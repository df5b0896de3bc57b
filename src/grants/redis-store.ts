// Grants in Redis, shared by every leash replica pointed at the same `--store`: a host referenced by a trusted
// response fetched through one replica may be fetched through any other, by that agent only.
//
// One hash per (agent, scheme, host, port), `leash:grant:<agent>\0<scheme>\0<host>\0<port>`, holding the host
// grant (field `host`) and each exact-URL grant (`url:<URL>`, settings.grants.scope url) apart, each with its own
// expiry and source. So a grant means what it says: a reference to one URL never extends, shortens or resurrects
// another URL's grant (the attack: a trickle of references to /a keeping an old /secret-path alive), and revoking
// one removes only that one, and only if it still names the source that is revoking it. Each operation is one Lua
// script (atomic, one round trip); each add prunes expired entries, caps URL grants per host (the one expiring
// first goes) and sets the hash to expire with its last grant, so Redis memory stays bounded.
//
// Time: with clock `redis` (the default) expiry is kept in Redis time: add turns `expiresAt` into a lifetime from
// now (by `now()`, this replica's clock) and the script adds it to Redis TIME; find compares with Redis TIME and
// reports `expiresAt` back on the caller's clock (its `nowMs` plus what is left), so replicas with skewed clocks
// agree on when a grant ends. With clock `caller` (contract tests) times are taken as given.
//
// Values are "<expiry> <seq> <JSON of agent, scheme, host, port, source>"; seq numbers URL grants as first seen.
// Redis trouble rejects with StoreUnavailableError (store/redis.ts).

import { LUA_NOW, luaScript, type RedisConnection, type StoreClock } from '../store/redis.js';
import { MAX_URLS_PER_GRANT } from './memory-store.js';
import { grantKey, type Grant, type GrantKey, type GrantStore } from './store.js';

const LUA_ENTRY = `
local function leash_entry(v)
  local e, s, j = string.match(v, '^(%S+) (%S+) (.*)$')
  return tonumber(e), tonumber(s), j
end
`;

// KEYS[1] hash; ARGV: now ('' = TIME), lifetime (ms from now), JSON, max URL grants, then the URLs (none: the host
// grant). A later expiry replaces an entry; an earlier one changes nothing.
const ADD = luaScript(
  `${LUA_NOW}${LUA_ENTRY}
local now = leash_now(ARGV[1])
local expiry = now + tonumber(ARGV[2])
if expiry <= now then return 0 end
local json, max = ARGV[3], tonumber(ARGV[4])
local urls, soonest, soonestField = 0, nil, nil
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local field = all[i]
  if field ~= 'seq' then
    local e = leash_entry(all[i + 1])
    if e <= now then
      redis.call('HDEL', KEYS[1], field)
    elseif string.sub(field, 1, 4) == 'url:' then
      urls = urls + 1
      if soonest == nil or e < soonest then soonest, soonestField = e, field end
    end
  end
end
local function put(field)
  local old = redis.call('HGET', KEYS[1], field)
  local seq = 0
  if old then
    local e, s = leash_entry(old)
    if e >= expiry then return end
    seq = s
  elseif field ~= 'host' then
    if urls >= max and soonestField then
      redis.call('HDEL', KEYS[1], soonestField)
      soonest, soonestField = nil, nil
    else
      urls = urls + 1
    end
    seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  end
  redis.call('HSET', KEYS[1], field, string.format('%.17g %d ', expiry, seq) .. json)
end
if #ARGV == 4 then
  put('host')
else
  for i = 5, #ARGV do put('url:' .. ARGV[i]) end
end
local ttl = redis.call('PTTL', KEYS[1])
local wanted = math.ceil(expiry - now) + 1000
if ttl < wanted then redis.call('PEXPIRE', KEYS[1], wanted) end
return 1
`,
  'grant_add',
);

// KEYS[1] hash; ARGV: now ('' = TIME), URL ('' = any). Returns {now, kind, expiry, seq, JSON, URL}: kind 'host'
// (the host grant in force), 'url' (the grant of that URL, or without one the URL grant lasting longest), 'none'.
const FIND = luaScript(
  `${LUA_NOW}${LUA_ENTRY}
local now = leash_now(ARGV[1])
local nowText = string.format('%.17g', now)
local host = redis.call('HGET', KEYS[1], 'host')
if host then
  local e, s, j = leash_entry(host)
  if e > now then return {nowText, 'host', string.format('%.17g', e), s, j, ''} end
end
if ARGV[2] ~= '' then
  local v = redis.call('HGET', KEYS[1], 'url:' .. ARGV[2])
  if v then
    local e, s, j = leash_entry(v)
    if e > now then return {nowText, 'url', string.format('%.17g', e), s, j, ARGV[2]} end
  end
  return {nowText, 'none'}
end
local best = nil
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 4) == 'url:' then
    local e, s, j = leash_entry(all[i + 1])
    if e > now and (best == nil or e > best[1]) then best = {e, s, j, string.sub(all[i], 5)} end
  end
end
if best == nil then return {nowText, 'none'} end
return {nowText, 'url', string.format('%.17g', best[1]), best[2], best[3], best[4]}
`,
  'grant_find',
);

// KEYS[1] hash; ARGV: field, source request id. Removes the entry only if it still names that source.
const REVOKE = luaScript(
  `${LUA_ENTRY}
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local e, s, j = leash_entry(v)
local ok, grant = pcall(cjson.decode, j)
if not ok or type(grant) ~= 'table' or type(grant.source) ~= 'table' or grant.source.requestId ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`,
  'grant_revoke',
);

export interface RedisGrantStoreOptions {
  readonly clock?: StoreClock;
  /** Key prefix (default `leash:`); tests give each store its own. */
  readonly prefix?: string;
  /** This replica's clock, to turn `expiresAt` into a lifetime (clock `redis`); default Date.now. */
  readonly now?: () => number;
}

type Stored = Pick<Grant, 'agent' | 'scheme' | 'host' | 'port' | 'source'>;

export class RedisGrantStore implements GrantStore {
  private readonly clock: StoreClock;
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisConnection,
    options: RedisGrantStoreOptions = {},
  ) {
    this.clock = options.clock ?? 'redis';
    this.prefix = `${options.prefix ?? 'leash:'}grant:`;
    this.now = options.now ?? Date.now;
  }

  async add(grant: Grant): Promise<void> {
    const stored: Stored = {
      agent: grant.agent,
      scheme: grant.scheme,
      host: grant.host,
      port: grant.port,
      source: grant.source,
    };
    const [now, lifetime] = this.clock === 'caller' ? ['0', grant.expiresAt] : ['', grant.expiresAt - this.now()];
    await this.redis.eval(
      ADD,
      [this.key(grant)],
      [
        now,
        String(lifetime),
        JSON.stringify(stored),
        String(MAX_URLS_PER_GRANT),
        ...(grant.url === null ? [] : [grant.url]),
      ],
    );
  }

  /**
   * The grant in force for (agent, scheme, host, port): the host grant if there is one; else, with `url`, the grant
   * of exactly that URL; else the URL grant lasting longest (what a tunnel to the host may use).
   */
  async find(
    agent: string,
    scheme: 'http' | 'https',
    host: string,
    port: number,
    nowMs: number,
    url?: string,
  ): Promise<Grant | undefined> {
    const reply = (await this.redis.eval(
      FIND,
      [this.key({ agent, scheme, host, port })],
      [this.clock === 'caller' ? String(nowMs) : '', url ?? ''],
    )) as string[];
    if (reply[1] !== 'host' && reply[1] !== 'url') return undefined;
    // On the caller's clock: what is left of the grant, from the caller's now.
    const expiry = Number(reply[2]);
    const expiresAt = this.clock === 'caller' ? expiry : nowMs + (expiry - Number(reply[0]));
    return {
      ...(JSON.parse(String(reply[4])) as Stored),
      expiresAt,
      url: reply[1] === 'host' ? null : String(reply[5]),
    };
  }

  /** Removes the grant with this key if it still names `sourceRequestId` (a later response may have made it its own). */
  async revoke(key: GrantKey, sourceRequestId: string): Promise<boolean> {
    const reply = await this.redis.eval(
      REVOKE,
      [this.key(key)],
      [key.url === null ? 'host' : `url:${key.url}`, sourceRequestId],
    );
    return Number(reply) === 1;
  }

  private key(g: { agent: string; scheme: string; host: string; port: number }): string {
    return this.prefix + grantKey(g.agent, g.scheme, g.host, g.port);
  }
}
