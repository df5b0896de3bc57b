// Test helper: compile a policy written inline. A policy that does not load cleanly is a broken test, so any
// error or warning fails loudly with every issue printed, rather than surfacing later as a puzzling decision.

import { formatIssue, type PolicyIssue } from '../../src/errors.js';
import { compilePolicy } from '../../src/policy/load.js';
import type { CompiledPolicy } from '../../src/policy/policy.js';

export function compile(text: string, file = 't.yaml'): CompiledPolicy {
  const { policy, issues } = compilePolicy([{ file, text }]);
  if (!policy || issues.length > 0) {
    throw new Error(`test policy ${file} does not load cleanly:\n${issues.map(formatIssue).join('\n')}`);
  }
  return policy;
}

/** Compiles and returns the issues, for tests about validation itself. */
export function issuesOf(text: string, file = 't.yaml'): readonly PolicyIssue[] {
  return compilePolicy([{ file, text }]).issues;
}
