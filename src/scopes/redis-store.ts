// Scope accesses in Redis, shared by every leash replica pointed at the same `--store`: a host a scope opened for
// an agent through one replica is open through every other, until the same expiry, and `maxHosts` counts the
// accesses of the whole fleet (the attack it closes: spreading requests over replicas to open more hosts).
//
// One hash per (scope, agent), `leash:scope:<scope>\0<agent>`, one field per `<host>\0<port>`, valued
// "<openedAt> <expiresAt> <JSON of scope, agent, host, port, openedBy>", and a set `leash:scope-index` of those
// hashes for `list` and `revoke`. `admit` is one Lua script (atomic, one round trip): prune what expired, return the
// access in force, else count and open. The hash expires with its last access, so Redis memory stays bounded by
// what is open. `list` and `revoke` walk the index inside their script (keys it names, not KEYS: a single Redis
// endpoint, as the README says; Cluster is not supported).
//
// Time: with clock `redis` (the default) times are Redis TIME, read in the script, so replicas with skewed clocks
// agree on when an access ends; they are reported back on the caller's clock (its `nowMs` plus what is left). With
// clock `caller` (contract tests) times are taken as given. Redis trouble rejects with StoreUnavailableError.

import { LUA_NOW, luaScript, type RedisConnection, type StoreClock } from '../store/redis.js';
import {
  byOpening,
  matchesScopeFilter,
  type ScopeAccess,
  type ScopeAdmission,
  type ScopeFilter,
  type ScopeRequest,
  type ScopeStore,
} from './store.js';

// KEYS[1] the (scope, agent) hash, KEYS[2] the index; ARGV: now ('' = TIME), ttl ms, maxHosts, field, JSON.
// Returns {now, 'open'|'opened', value} or {now, 'full', count}.
const ADMIT = luaScript(`${LUA_NOW}
local now = leash_now(ARGV[1])
local nowText = string.format('%.17g', now)
local ttl, max, field, json = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local count = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local e = tonumber(string.match(all[i + 1], '^%S+ (%S+) '))
  if e == nil or e <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] == field then
    return {nowText, 'open', all[i + 1]}
  else
    count = count + 1
  end
end
if count >= max then return {nowText, 'full', tostring(count)} end
local value = string.format('%.17g %.17g ', now, now + ttl) .. json
redis.call('HSET', KEYS[1], field, value)
if redis.call('PTTL', KEYS[1]) < ttl + 1000 then redis.call('PEXPIRE', KEYS[1], ttl + 1000) end
redis.call('SADD', KEYS[2], KEYS[1])
return {nowText, 'opened', value}
`);

// Walks the index: drops hashes that expired, returns the values in force. With ARGV[2] = '1', removes those that
// match the filter in ARGV[3..6] (scope, agent, host, port; '' = any) and returns only them.
const WALK = luaScript(`${LUA_NOW}
local now = leash_now(ARGV[1])
local out = {string.format('%.17g', now)}
local remove = ARGV[2] == '1'
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local all = redis.call('HGETALL', hash)
  if #all == 0 then redis.call('SREM', KEYS[1], hash) end
  for i = 1, #all, 2 do
    local e, j = string.match(all[i + 1], '^%S+ (%S+) (.*)$')
    if tonumber(e) == nil or tonumber(e) <= now then
      redis.call('HDEL', hash, all[i])
    elseif not remove then
      table.insert(out, all[i + 1])
    else
      local ok, a = pcall(cjson.decode, j)
      if ok and type(a) == 'table'
        and (ARGV[3] == '' or a.scope == ARGV[3]) and (ARGV[4] == '' or a.agent == ARGV[4])
        and (ARGV[5] == '' or a.host == ARGV[5]) and (ARGV[6] == '' or tostring(a.port) == ARGV[6]) then
        redis.call('HDEL', hash, all[i])
        table.insert(out, all[i + 1])
      end
    end
  end
end
return out
`);

export interface RedisScopeStoreOptions {
  readonly clock?: StoreClock;
  /** Key prefix (default `leash:`); tests give each store its own. */
  readonly prefix?: string;
}

type Stored = Pick<ScopeAccess, 'scope' | 'agent' | 'host' | 'port' | 'openedBy'>;

export class RedisScopeStore implements ScopeStore {
  private readonly clock: StoreClock;
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisConnection,
    options: RedisScopeStoreOptions = {},
  ) {
    this.clock = options.clock ?? 'redis';
    this.prefix = options.prefix ?? 'leash:';
  }

  async admit(
    request: ScopeRequest,
    limits: { ttlMs: number; maxHosts: number },
    nowMs: number,
  ): Promise<ScopeAdmission> {
    const stored: Stored = {
      scope: request.scope,
      agent: request.agent,
      host: request.host,
      port: request.port,
      openedBy: request.openedBy,
    };
    const reply = (await this.redis.eval(
      ADMIT,
      [`${this.prefix}scope:${request.scope}\u0000${request.agent}`, this.index()],
      [
        this.now(nowMs),
        String(limits.ttlMs),
        String(limits.maxHosts),
        `${request.host}\u0000${request.port}`,
        JSON.stringify(stored),
      ],
    )) as string[];
    if (reply[1] === 'full') return { kind: 'full', open: Number(reply[2]) };
    return {
      kind: reply[1] === 'opened' ? 'opened' : 'open',
      access: this.parse(String(reply[2]), Number(reply[0]), nowMs),
    };
  }

  async list(filter: ScopeFilter, nowMs: number): Promise<ScopeAccess[]> {
    const reply = (await this.redis.eval(WALK, [this.index()], [this.now(nowMs), '0'])) as string[];
    return this.accesses(reply, nowMs).filter((a) => matchesScopeFilter(a, filter));
  }

  async revoke(filter: ScopeFilter, nowMs: number): Promise<ScopeAccess[]> {
    const args = [
      filter.scope ?? '',
      filter.agent ?? '',
      filter.host ?? '',
      filter.port === undefined ? '' : String(filter.port),
    ];
    const reply = (await this.redis.eval(WALK, [this.index()], [this.now(nowMs), '1', ...args])) as string[];
    return this.accesses(reply, nowMs);
  }

  private accesses(reply: string[], nowMs: number): ScopeAccess[] {
    const redisNow = Number(reply[0]);
    return reply
      .slice(1)
      .map((value) => this.parse(value, redisNow, nowMs))
      .sort(byOpening);
  }

  /** A stored value, with its times on the caller's clock. */
  private parse(value: string, redisNow: number, nowMs: number): ScopeAccess {
    const m = /^(\S+) (\S+) (.*)$/s.exec(value);
    if (!m) throw new Error('a scope access in the store is malformed');
    const onCaller = (t: number) => (this.clock === 'caller' ? t : nowMs + (t - redisNow));
    return {
      ...(JSON.parse(m[3] as string) as Stored),
      openedAt: onCaller(Number(m[1])),
      expiresAt: onCaller(Number(m[2])),
    };
  }

  private now(nowMs: number): string {
    return this.clock === 'caller' ? String(nowMs) : '';
  }

  private index(): string {
    return `${this.prefix}scope-index`;
  }
}
