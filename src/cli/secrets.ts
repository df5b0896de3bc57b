// `leash secrets placeholder NAME [--agent NAME] [--policy PATH]... [--certs DIR]`: print the placeholder an agent
// holds instead of secret NAME (README "Credentials the agent never holds"). The placeholder is derived from
// leash's CA key, so this reads the CA (it never creates one: a placeholder from a CA no leash uses would be
// refused as forged). Prints the placeholder alone on stdout, for `export OPENAI_API_KEY=$(leash secrets ...)`;
// stderr says which variable the agent reads it from.

import { LeashError } from '../errors.js';
import { loadPolicy } from '../policy/watch.js';
import { ANONYMOUS_AGENT } from '../policy/rule.js';
import { placeholderVariable } from '../secrets/environment.js';
import { placeholderFor, placeholderKey } from '../secrets/placeholder.js';
import { DEFAULT_CERTS_DIR, loadCa } from '../tls/ca.js';
import type { CommandIo } from './io.js';
import { policyPaths } from './policy-paths.js';

export interface SecretsOptions {
  policy?: string[];
  agent?: string;
  certs?: string;
}

export async function secretsCommand(options: SecretsOptions, args: readonly string[], io: CommandIo): Promise<number> {
  const [sub, name, ...rest] = args;
  if (sub !== 'placeholder' || name === undefined || rest.length > 0) {
    throw new LeashError(
      'LEASH_USAGE',
      'usage: leash secrets placeholder NAME [--agent NAME] [--policy PATH]... [--certs DIR]',
    );
  }
  const policy = await loadPolicy(policyPaths(options.policy));
  const secret = policy.secrets.get(name);
  if (!secret) {
    const known = [...policy.secrets.keys()];
    throw new LeashError(
      'LEASH_USAGE',
      `no secret "${name}" in the policy; ${known.length ? `defined: ${known.join(', ')}` : 'it defines no secrets (secrets: in a policy file)'}`,
    );
  }
  const agent = options.agent ?? ANONYMOUS_AGENT;
  if (agent !== ANONYMOUS_AGENT && !policy.agents.has(agent)) {
    throw new LeashError(
      'LEASH_USAGE',
      `no agent "${agent}" in the policy; defined: ${[...policy.agents.keys(), ANONYMOUS_AGENT].join(', ')}`,
    );
  }
  const certs = options.certs ?? DEFAULT_CERTS_DIR;
  const ca = await loadCa(certs);
  if (!ca) {
    throw new LeashError(
      'LEASH_CA_INVALID',
      `no CA in ${certs}/: placeholders are derived from leash's CA key; create it with leash ca init --certs ${certs} (or start leash serve once), and give leash serve the same --certs`,
    );
  }
  io.out(placeholderFor(placeholderKey(ca.key), agent, secret.name));
  io.err(
    `leash: the placeholder of secret ${secret.name} for agent ${agent}; give it to the agent as ${placeholderVariable(secret)}`,
  );
  return 0;
}
