// Test helper: compile an inline policy whose inspect rules may lack grant.hosts (a warning, expected here);
// errors still fail loudly.

import { compilePolicy } from '../../src/policy/load.js';
import type { CompiledPolicy } from '../../src/policy/policy.js';

export function compileWithWarnings(text: string): CompiledPolicy {
  const { policy, issues } = compilePolicy([{ file: 't.yaml', text }]);
  const errors = issues.filter((i) => i.severity === 'error');
  if (!policy || errors.length > 0) throw new Error(`test policy does not load: ${JSON.stringify(errors)}`);
  return policy;
}
