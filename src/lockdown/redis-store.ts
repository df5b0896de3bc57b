// The lockdown state in the shared Redis store (`--store`), so every replica behind one Service obeys a lockdown
// set through any of them, and it survives restarts of leash (as long as Redis keeps its data). One hash,
// `leash:lockdown`: field `*` for every agent, `a:NAME` per agent, each a JSON entry. Every change is one Lua script
// that also returns the state after it, so a replica never applies half of a change. Replicas notice changes by
// polling (runtime.ts). A field that cannot be read as an entry locks down what it names (failing closed): a
// corrupted `*` locks down every agent.

import type { RedisConnection } from '../store/redis.js';
import { luaScript } from '../store/redis.js';
import { AGENT_NAME, parseEntry, type LockdownEntry, type LockdownState, type LockdownTarget } from './state.js';
import type { LockdownStore } from './store.js';

const READ = luaScript(`return redis.call('HGETALL', KEYS[1])`, 'lockdown_read');
// Every write leaves the marker field: a hash without it, once a replica has seen it, is a Redis that lost its data
// (restarted without persistence, flushed), never a lockdown somebody lifted.
const MARKER = '~';
// ARGV[1] entry JSON, ARGV[2..] fields to set.
const LOCK = luaScript(
  `
for i = 2, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[1]) end
redis.call('HSET', KEYS[1], '${MARKER}', '1')
return redis.call('HGETALL', KEYS[1])
`,
  'lockdown_lock',
);
// ARGV: fields to delete; none: delete every lockdown.
const UNLOCK = luaScript(
  `
if #ARGV == 0 then redis.call('DEL', KEYS[1]) else redis.call('HDEL', KEYS[1], unpack(ARGV)) end
redis.call('HSET', KEYS[1], '${MARKER}', '1')
return redis.call('HGETALL', KEYS[1])
`,
  'lockdown_unlock',
);

/** The shared store no longer holds the lockdown state this replica saw there: the runtime writes it back. */
export class LockdownLostError extends Error {
  constructor(display: string) {
    super(`the store ${display} no longer holds its lockdown state (restarted without persistence, or flushed)`);
    this.name = 'LockdownLostError';
  }
}

const UNREADABLE: LockdownEntry = {
  reason: 'the stored lockdown entry is unreadable; locked down to fail closed',
  by: 'unknown',
  since: 0,
};

export interface RedisLockdownStoreOptions {
  /** Key prefix (default `leash:`); tests give each store its own. */
  readonly prefix?: string;
}

export class RedisLockdownStore implements LockdownStore {
  readonly shared = true;
  readonly display: string;
  private readonly key: string;

  constructor(
    private readonly redis: RedisConnection,
    options: RedisLockdownStoreOptions = {},
  ) {
    this.display = redis.display;
    this.key = `${options.prefix ?? 'leash:'}lockdown`;
  }

  async read(): Promise<LockdownState> {
    return this.seen(await this.redis.eval(READ, [this.key], []));
  }

  async lock(target: LockdownTarget, entry: LockdownEntry): Promise<LockdownState> {
    return this.seen(await this.redis.eval(LOCK, [this.key], [JSON.stringify(entry), ...fields(target)]));
  }

  async unlock(target: LockdownTarget): Promise<LockdownState> {
    return this.seen(await this.redis.eval(UNLOCK, [this.key], 'all' in target ? [] : fields(target)));
  }

  /** Whether a reply carries the marker; a reply without it after one with it means the data is gone. */
  private marked = false;

  private seen(reply: unknown): LockdownState {
    const { state, marker } = parseHash(reply);
    if (marker) this.marked = true;
    else if (this.marked) throw new LockdownLostError(this.display);
    return state;
  }

  /** The connection belongs to the shared stores (store/open.ts), which close it. */
  async close(): Promise<void> {}
}

function fields(target: LockdownTarget): string[] {
  return 'all' in target ? ['*'] : target.agents.map((a) => `a:${a}`);
}

/** HGETALL's reply (a flat array, or a map under RESP3) as a state. */
function parseHash(reply: unknown): { state: LockdownState; marker: boolean } {
  const pairs: [string, string][] = [];
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), String(reply[i + 1])]);
  } else if (reply instanceof Map) {
    for (const [k, v] of reply) pairs.push([String(k), String(v)]);
  } else if (typeof reply === 'object' && reply !== null) {
    for (const [k, v] of Object.entries(reply)) pairs.push([k, String(v)]);
  }
  let all: LockdownEntry | null = null;
  const agents: Record<string, LockdownEntry> = {};
  let marker = false;
  for (const [field, value] of pairs) {
    if (field === MARKER) {
      marker = true;
      continue;
    }
    let entry: LockdownEntry | undefined;
    try {
      entry = parseEntry(JSON.parse(value));
    } catch {
      entry = undefined;
    }
    if (field === '*') all = entry ?? UNREADABLE;
    else if (field.startsWith('a:') && AGENT_NAME.test(field.slice(2))) agents[field.slice(2)] = entry ?? UNREADABLE;
    // A field naming no valid agent can lock nobody down; it is ignored.
  }
  return { state: { all, agents }, marker };
}
