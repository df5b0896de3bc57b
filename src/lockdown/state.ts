// What a lockdown is, as data: an all-agents entry and per-agent entries, each saying why, who asked and since
// when. PURE: the stores keep it, the runtime applies it, and this module answers the one question the proxy asks
// ("is this agent locked down, and why?"), validates what comes from outside (the control API, a state file, Redis)
// and says what changed between two states (which agents' open connections must be cut).
//
// It never decides anything else: a locked agent is refused whatever the policy says; an agent that is not locked
// is decided by the policy as if lockdown did not exist.

export interface LockdownEntry {
  /** The operator's reason text (printable, at most MAX_REASON characters). */
  readonly reason: string;
  /** Who asked: `alice (uid 1000) (control socket)`, `admin-token`, `SIGUSR1`. */
  readonly by: string;
  /** Milliseconds since the epoch. */
  readonly since: number;
}

export interface LockdownState {
  /** Every agent (and unidentified clients) is locked down. */
  readonly all: LockdownEntry | null;
  /** Agents locked down by name. */
  readonly agents: Readonly<Record<string, LockdownEntry>>;
}

/** `lockdown on|off` without --agent means every agent; with it, those named. */
export type LockdownTarget = { readonly all: true } | { readonly agents: readonly string[] };

export const EMPTY_LOCKDOWN: LockdownState = Object.freeze({ all: null, agents: Object.freeze({}) });
export const MAX_REASON = 200;
export const DEFAULT_REASON = 'locked down by an operator';
/** The policy's agent names (policy.schema.json), plus `anonymous` for unidentified clients. */
export const AGENT_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** The entry that locks `agent` down (the all-agents one first), or undefined. */
export function lockdownOf(state: LockdownState, agent: string): LockdownEntry | undefined {
  return state.all ?? (Object.hasOwn(state.agents, agent) ? state.agents[agent] : undefined);
}

/** The refusal message an agent sees, in the body and the Proxy-Status header: who, since when, why. */
export function lockdownMessage(agent: string, entry: LockdownEntry, scope: 'all' | 'agent'): string {
  const whom = scope === 'all' ? 'every agent is' : `agent ${agent} is`;
  return `${whom} locked down since ${new Date(entry.since).toISOString()}: ${entry.reason}`;
}

export function isLocked(state: LockdownState, agent: string): boolean {
  return lockdownOf(state, agent) !== undefined;
}

export function withLock(state: LockdownState, target: LockdownTarget, entry: LockdownEntry): LockdownState {
  if ('all' in target) return { all: entry, agents: state.agents };
  const agents = { ...state.agents };
  for (const name of target.agents) agents[name] = entry;
  return { all: state.all, agents };
}

/** Lifting without --agent lifts every lockdown (the all-agents one and each agent's). */
export function withoutLock(state: LockdownState, target: LockdownTarget): LockdownState {
  if ('all' in target) return EMPTY_LOCKDOWN;
  const agents = { ...state.agents };
  for (const name of target.agents) delete agents[name];
  return { all: state.all, agents };
}

/** Merges an overlay (locks this replica holds that the store has not taken yet) into a state. */
export function mergeLockdown(base: LockdownState, overlay: LockdownState): LockdownState {
  return { all: overlay.all ?? base.all, agents: { ...base.agents, ...overlay.agents } };
}

/**
 * What to cut after a change from `before` to `after`: `all` when every agent became locked, else the agents
 * newly locked. Nothing for lifted locks (they only stop refusing).
 */
export function newlyLocked(before: LockdownState, after: LockdownState): { all: boolean; agents: string[] } {
  if (after.all && !before.all) return { all: true, agents: [] };
  if (after.all) return { all: false, agents: [] };
  return {
    all: false,
    agents: Object.keys(after.agents)
      .filter((a) => !isLocked(before, a))
      .sort(),
  };
}

export function sameLockdown(a: LockdownState, b: LockdownState): boolean {
  return canonical(a) === canonical(b);
}

function canonical(state: LockdownState): string {
  const agents = Object.keys(state.agents)
    .sort()
    .map((name) => [name, state.agents[name]]);
  return JSON.stringify([state.all, agents]);
}

/** The reason text as stored: printable ASCII and common Unicode kept, control characters replaced, bounded. */
export function cleanReason(text: string | undefined): string {
  const cleaned = (text ?? '')
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, ' ')
    .trim()
    .slice(0, MAX_REASON);
  return cleaned === '' ? DEFAULT_REASON : cleaned;
}

/** An entry read from outside (a state file, Redis); undefined when it is not one. */
export function parseEntry(value: unknown): LockdownEntry | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { reason, by, since } = value as Record<string, unknown>;
  if (typeof reason !== 'string' || typeof by !== 'string' || typeof since !== 'number' || !Number.isFinite(since))
    return undefined;
  return { reason: reason.slice(0, MAX_REASON), by: by.slice(0, 120), since };
}

/** A whole state read from outside; a message saying what is wrong when it is not one. */
export function parseLockdownState(
  value: unknown,
): { ok: true; state: LockdownState } | { ok: false; message: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, message: 'not a JSON object' };
  const raw = value as Record<string, unknown>;
  let all: LockdownEntry | null = null;
  if (raw.all !== null && raw.all !== undefined) {
    const entry = parseEntry(raw.all);
    if (!entry) return { ok: false, message: '"all" is not an entry { reason, by, since }' };
    all = entry;
  }
  const agents: Record<string, LockdownEntry> = {};
  if (raw.agents !== undefined) {
    if (typeof raw.agents !== 'object' || raw.agents === null || Array.isArray(raw.agents))
      return { ok: false, message: '"agents" is not an object' };
    for (const [name, v] of Object.entries(raw.agents)) {
      const entry = parseEntry(v);
      if (!AGENT_NAME.test(name) || !entry)
        return {
          ok: false,
          message: `agents.${name.slice(0, 64)} is not an agent name with an entry { reason, by, since }`,
        };
      agents[name] = entry;
    }
  }
  return { ok: true, state: { all, agents } };
}

/** A target from the control API's body (`{ agents?: string[] }`); a message when it is not one. */
export function parseTarget(agents: unknown): { ok: true; target: LockdownTarget } | { ok: false; message: string } {
  if (agents === undefined || agents === null) return { ok: true, target: { all: true } };
  if (!Array.isArray(agents) || agents.length === 0)
    return { ok: false, message: '"agents" must be a non-empty list of agent names (or absent for every agent)' };
  if (agents.length > 1000) return { ok: false, message: '"agents" lists more than 1000 names' };
  for (const name of agents) {
    if (typeof name !== 'string' || !AGENT_NAME.test(name))
      return {
        ok: false,
        message: `"${String(name).slice(0, 64)}" is not an agent name (lower-case letters, digits, - and _, starting with a letter)`,
      };
  }
  return { ok: true, target: { agents: [...new Set(agents as string[])].sort() } };
}
