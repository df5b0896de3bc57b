// `leash serve --store URL` (or LEASH_STORE): the shared stores a fleet of replicas uses instead of process memory,
// so rate limits, upload budgets and grants hold across every replica behind one Service. Without a store nothing
// here runs and one process needs no Redis.
//
// leash starts whether or not Redis answers: what needs the store is refused (store_unavailable) until it does,
// what does not is decided by the policy alone, and stderr says which it is. Only `display` names the store.

import { LeashError } from '../errors.js';
import type { GrantStore } from '../grants/store.js';
import { RedisGrantStore } from '../grants/redis-store.js';
import { RedisApprovalStore } from '../approvals/redis-store.js';
import type { ApprovalStore } from '../approvals/store.js';
import { RedisScopeStore } from '../scopes/redis-store.js';
import type { ScopeStore } from '../scopes/store.js';
import { RedisRateLimitStore } from '../limits/redis-store.js';
import { RedisLockdownStore } from '../lockdown/redis-store.js';
import type { LockdownStore } from '../lockdown/store.js';
import type { RateLimitStore } from '../limits/store.js';
import { parseDuration } from '../policy/duration.js';
import { DEFAULT_STORE_TIMEOUT_MS, RedisConnection, type StoreObserver } from './redis.js';
import { parseStoreUrl } from './url.js';

export interface SharedStores {
  readonly display: string;
  readonly rateLimits: RateLimitStore;
  readonly grants: GrantStore;
  readonly scopes: ScopeStore;
  readonly approvals: ApprovalStore;
  /** The lockdown state every replica obeys (leash lockdown). */
  readonly lockdown: LockdownStore;
  /** Whether the store answers now (for /readyz). */
  reachable(): boolean;
  close(): Promise<void>;
}

export interface SharedStoreOptions {
  /** `--store-timeout` / LEASH_STORE_TIMEOUT: bound per operation, e.g. `250ms`. */
  readonly timeout?: string;
  readonly log: (line: string) => void;
  /** This replica's clock (tests inject one). */
  readonly now?: () => number;
  /** Told of every operation (metrics). */
  readonly observe?: StoreObserver;
  /** How long to wait for the first connection before serving anyway (it only orders the stderr lines). */
  readonly connectWaitMs?: number;
}

export async function openSharedStores(url: string, options: SharedStoreOptions): Promise<SharedStores> {
  const parsed = parseStoreUrl(url);
  const timeoutMs = options.timeout === undefined ? DEFAULT_STORE_TIMEOUT_MS : parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs < 1 || timeoutMs > 60_000) {
    throw new LeashError(
      'LEASH_USAGE',
      `--store-timeout needs a duration from 1ms to 60s, like 250ms, got "${String(options.timeout).slice(0, 40)}"`,
    );
  }
  const connection = new RedisConnection(parsed, {
    timeoutMs,
    log: options.log,
    ...(options.observe ? { observe: options.observe } : {}),
  });
  options.log(
    `leash: shared state in ${parsed.display} (rate limits, upload budgets, grants, lockdown, scope accesses, approvals); ${timeoutMs} ms per operation`,
  );
  connection.start();
  await connection.ready(options.connectWaitMs ?? 2_000);
  return {
    display: parsed.display,
    rateLimits: new RedisRateLimitStore(connection),
    grants: new RedisGrantStore(connection, { now: options.now }),
    scopes: new RedisScopeStore(connection),
    approvals: new RedisApprovalStore(connection),
    lockdown: new RedisLockdownStore(connection),
    reachable: () => connection.reachable,
    close: () => connection.close(),
  };
}
