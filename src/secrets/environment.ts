// The variables an agent is started with instead of its secrets (`leash run` adds them to the child's
// environment; `leash secrets placeholder` prints one): for a secret whose value is `env:NAME`, the variable NAME
// (the one the agent's SDK already reads, OPENAI_API_KEY and the like) holds the placeholder; for a `file:` value,
// which names no variable, LEASH_SECRET_<NAME> does (upper case, `-` as `_`), so the agent's configuration can
// point at it. Never a value: these are what the agent may see.
// PURE: no I/O, no clock, no state.

import type { KeyObject } from 'node:crypto';
import type { CompiledPolicy } from '../policy/policy.js';
import { placeholderFor, placeholderKey } from './placeholder.js';
import type { CompiledSecret } from './spec.js';

/** The variable that carries a secret's placeholder in an agent's environment. */
export function placeholderVariable(secret: CompiledSecret): string {
  return secret.source.kind === 'env'
    ? secret.source.ref
    : `LEASH_SECRET_${secret.name.toUpperCase().replace(/-/g, '_')}`;
}

/** Every secret's placeholder for `agent`, by the variable that carries it. */
export function placeholderEnvironment(
  policy: CompiledPolicy,
  agent: string,
  caKey: KeyObject,
): Record<string, string> {
  const key = placeholderKey(caKey);
  const env: Record<string, string> = {};
  for (const secret of policy.secrets.values())
    env[placeholderVariable(secret)] = placeholderFor(key, agent, secret.name);
  return env;
}
