// The placeholders `leash run` puts in the environment of the command it wraps: one per secret of the policy, for
// the agent the command runs as, derived from the CA in the certs directory the leash uses (the one it created or
// loaded at start). Never a value: the variables that name a secret's value in leash's own environment are
// overridden with the placeholder, so the command cannot inherit the real one.

import { LeashError } from '../errors.js';
import type { CompiledPolicy } from '../policy/policy.js';
import { loadCa } from '../tls/ca.js';
import { placeholderEnvironment } from './environment.js';

export async function agentPlaceholders(
  policy: CompiledPolicy,
  agent: string,
  certsDir: string,
): Promise<Record<string, string>> {
  if (policy.secrets.size === 0) return {};
  const ca = await loadCa(certsDir);
  if (!ca) {
    throw new LeashError(
      'LEASH_CA_INVALID',
      `the policy has secrets, and there is no CA in ${certsDir}/ to derive their placeholders from; give --certs the directory of the leash's CA`,
    );
  }
  return placeholderEnvironment(policy, agent, ca.key);
}
