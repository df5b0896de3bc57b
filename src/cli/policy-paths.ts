// Which policy to load when the operator names none: ./policies if it exists, else the policy shipped with leash.

import { existsSync } from 'node:fs';
import { embeddedPolicyDir } from '../policy/read.js';

export const DEFAULT_POLICY_DIR = 'policies';

export function policyPaths(given: readonly string[] | undefined): string[] {
  if (given && given.length > 0) return [...given];
  return [existsSync(DEFAULT_POLICY_DIR) ? DEFAULT_POLICY_DIR : embeddedPolicyDir()];
}
