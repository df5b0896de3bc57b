// One connection to the Redis that a fleet of leash replicas shares (`--store`), used by the Redis rate-limit and
// grant stores. It exists to make Redis trouble fail closed and loudly, in one place:
//   - every operation is one Lua script (EVALSHA; EVAL once after Redis lost its script cache), so it is atomic in
//     Redis and costs at most one round trip on the request path;
//   - every operation is bounded (`timeoutMs`, 250 ms by default): a slow or unreachable Redis rejects with
//     StoreUnavailableError, never hangs a request, and never answers "allowed";
//   - while disconnected, operations fail at once (no offline queue: a queued rate-limit check answered a minute
//     later would be worse than a refusal now) and node-redis reconnects by itself with capped exponential backoff;
//   - an 'error' event never crashes the process; stderr gets one line when the store goes down and one when it is
//     back, not one per request;
//   - the store is only ever named by its `display` form (no credentials), and error texts are scrubbed of the
//     password in case a library ever echoed it.
//
// Client library: node-redis (`@redis/client`, the core package without the module add-ons), the client the Redis
// maintainers recommend (ioredis is in best-effort maintenance); pinned exactly in package.json.

import { createHash } from 'node:crypto';
import { createClient, type RedisClientType } from '@redis/client';
import { StoreUnavailableError } from '../errors.js';
import type { StoreUrl } from './url.js';

export const DEFAULT_STORE_TIMEOUT_MS = 250;
/** Reconnect backoff: 50 ms doubling to this cap (plus jitter), for ever. */
const MAX_RECONNECT_DELAY_MS = 2_000;

export interface LuaScript {
  readonly source: string;
  readonly sha1: string;
  /** What it does, for metrics (`grant_find`, `rate_take`, ...): a bounded label. */
  readonly name: string;
}

export function luaScript(source: string, name = 'script'): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex'), name };
}

/** Told of every store operation: which, how long it took, and whether Redis answered. */
export type StoreObserver = (operation: string, seconds: number, ok: boolean) => void;

/**
 * The clock a script decides with: `redis` (Redis `TIME`, read inside the script, so replicas with skewed clocks
 * agree: the default) or `caller` (the `nowMs` the caller passed; for contract tests that step time by hand).
 */
export type StoreClock = 'redis' | 'caller';

/** Lua: `now` in milliseconds from Redis TIME, unless the caller passed one (clock `caller`). */
export const LUA_NOW = `
local function leash_now(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

export interface RedisConnectionOptions {
  /** Per-operation bound; past it the operation rejects with StoreUnavailableError. */
  readonly timeoutMs?: number;
  /** Operational messages (stderr in the CLI). */
  readonly log?: (line: string) => void;
  readonly observe?: StoreObserver;
}

export class RedisConnection {
  readonly display: string;
  readonly timeoutMs: number;
  private readonly client: RedisClientType;
  private readonly log: (line: string) => void;
  private readonly observe: StoreObserver | undefined;
  private readonly password: string | undefined;
  /** undefined until the first connection or failure; then whether the last news was bad. */
  private down: boolean | undefined;
  private closed = false;

  constructor(url: StoreUrl, options: RedisConnectionOptions = {}) {
    this.display = url.display;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    this.observe = options.observe;
    this.log = options.log ?? (() => {});
    this.password = url.password;
    this.client = createClient({
      socket: {
        host: url.host,
        port: url.port,
        ...(url.tls ? { tls: true as const, servername: url.host } : {}),
        connectTimeout: Math.max(1_000, this.timeoutMs),
        // Never give up: a replica whose Redis comes back must serve again without a restart.
        reconnectStrategy: (retries: number) =>
          Math.min(50 * 2 ** Math.min(retries, 10), MAX_RECONNECT_DELAY_MS) + Math.floor(Math.random() * 100),
      },
      username: url.username,
      password: url.password,
      database: url.db,
      disableOfflineQueue: true,
    }) as unknown as RedisClientType;
    this.client.on('error', (err: Error) => this.markDown(err.message));
    this.client.on('ready', () => this.markUp());
  }

  /** Connected and answering, as far as the last operation or connection event knows (readiness probes). */
  get reachable(): boolean {
    return !this.closed && this.client.isReady && this.down !== true;
  }

  /** Starts connecting in the background; operations before the first connection fail as unavailable. */
  start(): void {
    this.client.connect().catch((err: Error) => this.markDown(err.message));
  }

  /** Resolves once connected, or false after `waitMs` (leash serves either way; this only tells the operator). */
  async ready(waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    while (!this.client.isReady && !this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.client.isReady;
  }

  /** Runs one script atomically; rejects with StoreUnavailableError if Redis cannot answer within the bound. */
  async eval(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    if (this.closed) throw new StoreUnavailableError(`store ${this.display} is closed`);
    let timer: NodeJS.Timeout | undefined;
    const started = performance.now();
    let ok = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`store ${this.display} did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      const reply = await Promise.race([this.send(script, keys, args), timeout]);
      this.markUp();
      ok = true;
      return reply;
    } catch (err) {
      const unavailable =
        err instanceof StoreUnavailableError
          ? err
          : new StoreUnavailableError(`store ${this.display} unavailable: ${this.scrub((err as Error).message)}`, {
              cause: err,
            });
      this.markDown(unavailable.message.replace(/^store \S+ (unavailable: )?/, ''));
      throw unavailable;
    } finally {
      clearTimeout(timer);
      this.observe?.(script.name, (performance.now() - started) / 1000, ok);
    }
  }

  /** Closes the connection: politely (pending replies first) for up to one operation bound, then at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.client.isOpen) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), this.timeoutMs)));
    const outcome = await Promise.race([
      this.client.close().then(
        () => 'closed' as const,
        () => 'failed' as const,
      ),
      late,
    ]);
    clearTimeout(timer);
    // A Redis that answers nothing must not hold up leash's shutdown.
    if (outcome !== 'closed' && this.client.isOpen) this.client.destroy();
  }

  private async send(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.client.sendCommand(['EVALSHA', script.sha1, ...tail]);
    } catch (err) {
      // Redis restarted or its scripts were flushed: load it by sending it whole, once.
      if (!(err as Error).message?.startsWith('NOSCRIPT')) throw err;
      return this.client.sendCommand(['EVAL', script.source, ...tail]);
    }
  }

  private markDown(cause: string): void {
    if (this.closed || this.down === true) return;
    this.down = true;
    this.log(
      `leash: store ${this.display} unavailable (${this.scrub(cause)}): requests that need it are refused (store_unavailable) until it is back`,
    );
  }

  private markUp(): void {
    if (this.closed || this.down === false) return;
    const first = this.down === undefined;
    this.down = false;
    this.log(first ? `leash: store ${this.display} connected` : `leash: store ${this.display} is back`);
  }

  private scrub(text: string): string {
    return this.password ? text.split(this.password).join('***') : text;
  }
}
