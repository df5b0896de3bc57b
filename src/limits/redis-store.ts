// Rate-limit and upload-budget counters in Redis, shared by every leash replica pointed at the same `--store`, so
// `rateLimit: 5/1m` means 5 per minute for the fleet, not 5 per replica (the attack it closes: an agent spreading
// its requests over replicas to multiply its budget).
//
// The same token bucket as token-bucket.ts, written once more in Lua so that reading, refilling and taking happen
// in one atomic step in Redis: two replicas taking the last token at the same instant cannot both succeed. One
// hash per key (`leash:rl:<key>`: tokens, time of the last update), expiring when the bucket would be full again,
// so Redis holds only buckets that are in use. Time is Redis `TIME`, read in the script, so replicas whose clocks
// disagree still count one bucket; the `nowMs` argument is ignored unless the store was built with clock `caller`
// (the contract tests, which step time by hand). Redis trouble rejects with StoreUnavailableError (redis.ts).

import type { Rate } from '../policy/duration.js';
import { LUA_NOW, luaScript, type RedisConnection, type StoreClock } from '../store/redis.js';
import type { RateLimitStore, RateOutcome } from './store.js';

// KEYS[1] bucket; ARGV: limit, windowMs, cost, now ('' = Redis TIME). Returns {ok 0|1, retryAfterMs}.
// Mirrors takeToken(): multiply before dividing and allow for rounding; the state is kept at full precision.
const TAKE = luaScript(
  `${LUA_NOW}
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = leash_now(ARGV[4])
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = limit
if saved[1] and saved[2] then
  local elapsed = math.max(0, now - tonumber(saved[2]))
  tokens = math.min(limit, tonumber(saved[1]) + (elapsed * limit) / window)
end
local ok, retry = 0, 0
if tokens >= cost - 1e-9 then
  tokens = math.max(0, tokens - cost)
  ok = 1
else
  retry = math.ceil(((cost - tokens) * window) / limit - 1e-9)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(((limit - tokens) * window) / limit) + 1000)
return {ok, retry}
`,
  'rate_take',
);

export interface RedisRateLimitStoreOptions {
  readonly clock?: StoreClock;
  /** Key prefix (default `leash:`); tests give each store its own. */
  readonly prefix?: string;
}

export class RedisRateLimitStore implements RateLimitStore {
  private readonly clock: StoreClock;
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisConnection,
    options: RedisRateLimitStoreOptions = {},
  ) {
    this.clock = options.clock ?? 'redis';
    this.prefix = `${options.prefix ?? 'leash:'}rl:`;
  }

  async take(key: string, rate: Rate, nowMs: number, cost = 1): Promise<RateOutcome> {
    const now = this.clock === 'caller' ? String(nowMs) : '';
    const reply = (await this.redis.eval(
      TAKE,
      [this.prefix + key],
      [String(rate.limit), String(rate.windowMs), String(cost), now],
    )) as [number, number];
    return { ok: Number(reply[0]) === 1, retryAfterMs: Number(reply[1]) };
  }
}
