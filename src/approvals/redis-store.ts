// Approvals in Redis, shared by every leash replica pointed at the same `--store`: a request held or refused by one
// replica is approved through any other (the CLI may talk to either), and coalescing holds across the fleet.
//
// Keys: `leash:approval:<id>` the approval as JSON; `leash:approval-key:<agent>\0<host>\0<port>` the id of the
// approval for that question; `leash:approvals` and `leash:approvals:<agent>` sorted sets of ids by expiry (for
// `list` and the per-agent cap). Every key expires a second after its approval, so Redis memory stays bounded.
// Each operation is one Lua script (atomic, one round trip): two replicas can neither make two approvals for one
// question nor both use one `--once`.
//
// Time: with clock `redis` (the default) times are Redis TIME, read in the script, so replicas with skewed clocks
// agree on expiry; they are reported back on the caller's clock. With clock `caller` (contract tests) times are
// taken as given. Redis trouble rejects with StoreUnavailableError (store/redis.ts).

import { LUA_NOW, luaScript, type RedisConnection, type StoreClock } from '../store/redis.js';
import {
  approvalKey,
  MAX_PENDING_PER_AGENT,
  type Approval,
  type ApprovalCandidate,
  type ApprovalDecision,
  type ApprovalStore,
  type Arrival,
} from './store.js';

// Sets an approval's JSON and keeps its key, its coalescing key and its index entries to its expiry.
const LUA_PUT = `
local function leash_put(prefix, a, now)
  local px = math.max(1, math.ceil(a.expiresAt - now) + 1000)
  redis.call('SET', prefix .. 'approval:' .. a.id, cjson.encode(a), 'PX', px)
  redis.call('SET', prefix .. 'approval-key:' .. a.agent .. string.char(0) .. a.host .. string.char(0) .. tostring(a.port), a.id, 'PX', px)
  redis.call('ZADD', prefix .. 'approvals', a.expiresAt, a.id)
  redis.call('ZADD', prefix .. 'approvals:' .. a.agent, a.expiresAt, a.id)
end
local function leash_drop(prefix, a)
  redis.call('DEL', prefix .. 'approval:' .. a.id, prefix .. 'approval-key:' .. a.agent .. string.char(0) .. a.host .. string.char(0) .. tostring(a.port))
  redis.call('ZREM', prefix .. 'approvals', a.id)
  redis.call('ZREM', prefix .. 'approvals:' .. a.agent, a.id)
end
`;

// KEYS: coalescing key, the agent's index. ARGV: now ('' = TIME), expireMs, count '1'|'0', candidate JSON, prefix,
// max per agent. Returns {now, kind, JSON}.
const ARRIVE = luaScript(`${LUA_NOW}${LUA_PUT}
local now = leash_now(ARGV[1])
local nowText = string.format('%.17g', now)
local prefix = ARGV[5]
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local id = redis.call('GET', KEYS[1])
if id then
  local raw = redis.call('GET', prefix .. 'approval:' .. id)
  if raw then
    local a = cjson.decode(raw)
    if a.expiresAt > now then
      if a.state == 'denied' then return {nowText, 'denied', raw} end
      if a.state == 'allowed' then
        if a.grant == 'once' then leash_drop(prefix, a) end
        return {nowText, 'allowed', raw}
      end
      if ARGV[3] == '1' then
        a.requests = a.requests + 1
        raw = cjson.encode(a)
        redis.call('SET', prefix .. 'approval:' .. id, raw, 'PX', math.max(1, redis.call('PTTL', prefix .. 'approval:' .. id)))
      end
      return {nowText, 'pending', raw}
    end
  end
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then return {nowText, 'full', ''} end
local a = cjson.decode(ARGV[4])
a.requests = 1
a.createdAt = now
a.state = 'pending'
a.grant = cjson.null
a.expiresAt = now + tonumber(ARGV[2])
a.decidedBy = cjson.null
a.decidedAt = cjson.null
leash_put(prefix, a, now)
return {nowText, 'created', cjson.encode(a)}
`);

// KEYS: the approval. ARGV: now, grant (once|for|always|deny), forMs, by, expireMs, prefix. Returns {now, JSON?}.
const DECIDE = luaScript(`${LUA_NOW}${LUA_PUT}
local now = leash_now(ARGV[1])
local nowText = string.format('%.17g', now)
local raw = redis.call('GET', KEYS[1])
if not raw then return {nowText} end
local a = cjson.decode(raw)
if a.expiresAt <= now then return {nowText} end
a.decidedBy = ARGV[4]
a.decidedAt = now
if ARGV[2] == 'deny' then
  a.state = 'denied'
  a.grant = cjson.null
  a.expiresAt = now + tonumber(ARGV[5])
elseif ARGV[2] == 'for' then
  a.state = 'allowed'
  a.grant = 'for'
  a.expiresAt = now + tonumber(ARGV[3])
else
  a.state = 'allowed'
  a.grant = ARGV[2]
  a.expiresAt = now + tonumber(ARGV[5])
end
leash_put(ARGV[6], a, now)
return {nowText, cjson.encode(a)}
`);

// KEYS: the index of all approvals. ARGV: now, id ('' = all). Returns {now, JSON...} of those in force.
const READ = luaScript(`${LUA_NOW}
local now = leash_now(ARGV[1])
local out = {string.format('%.17g', now)}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ids = ARGV[2] ~= '' and {ARGV[2]} or redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do
  local raw = redis.call('GET', ARGV[3] .. 'approval:' .. id)
  if raw then
    local a = cjson.decode(raw)
    if a.expiresAt > now then table.insert(out, raw) end
  end
end
return out
`);

export interface RedisApprovalStoreOptions {
  readonly clock?: StoreClock;
  /** Key prefix (default `leash:`); tests give each store its own. */
  readonly prefix?: string;
}

export class RedisApprovalStore implements ApprovalStore {
  private readonly clock: StoreClock;
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisConnection,
    options: RedisApprovalStoreOptions = {},
  ) {
    this.clock = options.clock ?? 'redis';
    this.prefix = options.prefix ?? 'leash:';
  }

  async arrive(candidate: ApprovalCandidate, expireMs: number, nowMs: number, count = true): Promise<Arrival> {
    const keys = [
      `${this.prefix}approval-key:${approvalKey(candidate.agent, candidate.host, candidate.port)}`,
      `${this.prefix}approvals:${candidate.agent}`,
    ];
    const reply = (await this.redis.eval(ARRIVE, keys, [
      this.now(nowMs),
      String(expireMs),
      count ? '1' : '0',
      JSON.stringify(candidate),
      this.prefix,
      String(MAX_PENDING_PER_AGENT),
    ])) as string[];
    const kind = reply[1] as Arrival['kind'];
    if (kind === 'full') return { kind };
    return { kind, approval: this.parse(String(reply[2]), Number(reply[0]), nowMs) };
  }

  async list(nowMs: number): Promise<Approval[]> {
    return this.read('', nowMs);
  }

  async get(id: string, nowMs: number): Promise<Approval | undefined> {
    // An id is what a person typed: only the id alphabet reaches a key name.
    if (!/^[a-z0-9]{1,32}$/.test(id)) return undefined;
    return (await this.read(id, nowMs))[0];
  }

  async decide(id: string, decision: ApprovalDecision, expireMs: number, nowMs: number): Promise<Approval | undefined> {
    if (!/^[a-z0-9]{1,32}$/.test(id)) return undefined;
    const forMs = decision.grant === 'for' ? decision.forMs : 0;
    const reply = (await this.redis.eval(
      DECIDE,
      [`${this.prefix}approval:${id}`],
      [this.now(nowMs), decision.grant, String(forMs), decision.by, String(expireMs), this.prefix],
    )) as string[];
    return reply[1] === undefined ? undefined : this.parse(String(reply[1]), Number(reply[0]), nowMs);
  }

  private async read(id: string, nowMs: number): Promise<Approval[]> {
    const reply = (await this.redis.eval(
      READ,
      [`${this.prefix}approvals`],
      [this.now(nowMs), id, this.prefix],
    )) as string[];
    const redisNow = Number(reply[0]);
    return reply
      .slice(1)
      .map((raw) => this.parse(raw, redisNow, nowMs))
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /** A stored approval, with its times on the caller's clock. */
  private parse(raw: string, redisNow: number, nowMs: number): Approval {
    const a = JSON.parse(raw) as Approval;
    if (this.clock === 'caller') return a;
    const onCaller = (t: number) => nowMs + (t - redisNow);
    return {
      ...a,
      createdAt: onCaller(a.createdAt),
      expiresAt: onCaller(a.expiresAt),
      decidedAt: a.decidedAt === null ? null : onCaller(a.decidedAt),
    };
  }

  private now(nowMs: number): string {
    return this.clock === 'caller' ? String(nowMs) : '';
  }
}
