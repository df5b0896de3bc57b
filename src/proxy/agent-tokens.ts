// Reads each agent's token from where the policy says it lives (env:NAME or file:PATH). The policy file never
// holds a secret; this is the one place that touches them, and it never logs one. Called once per policy
// revision (policy-runtime.ts keeps the result for as long as the revision is in use).

import { readFileSync } from 'node:fs';
import type { AgentTokens } from '../policy/identity.js';
import type { CompiledPolicy } from '../policy/policy.js';

/** Tokens by agent, plus one line per agent whose token could not be read (that agent cannot authenticate). */
export function readAgentTokens(
  policy: CompiledPolicy,
  env: NodeJS.ProcessEnv = process.env,
): { tokens: AgentTokens; problems: string[] } {
  const tokens = new Map<string, string>();
  const problems: string[] = [];
  for (const agent of policy.agents.values()) {
    if (!agent.token) continue;
    let value: string | undefined;
    if (agent.token.kind === 'env') {
      value = env[agent.token.ref];
      if (!value)
        problems.push(
          `agent ${agent.name}: environment variable ${agent.token.ref} is not set; it cannot authenticate with a token`,
        );
    } else {
      try {
        value = readFileSync(agent.token.ref, 'utf8').trim();
        if (!value)
          problems.push(
            `agent ${agent.name}: token file ${agent.token.ref} is empty; it cannot authenticate with a token`,
          );
      } catch (err) {
        problems.push(
          `agent ${agent.name}: cannot read token file ${agent.token.ref} (${(err as NodeJS.ErrnoException).code ?? 'error'}); it cannot authenticate with a token`,
        );
      }
    }
    if (value) tokens.set(agent.name, value);
  }
  return { tokens, problems };
}
