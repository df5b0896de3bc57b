// `leash check [--policy PATH]...`: validate policy files before they are deployed. Prints every error and
// warning with file:line:column, notes on how limits are counted, then `ok: N rules from M files (revision
// <hash>)`; exits 1 on any error.

import { formatIssue } from '../errors.js';
import { compilePolicy } from '../policy/load.js';
import { policyNotes } from '../policy/notes.js';
import { readPolicySources } from '../policy/read.js';
import type { CommandIo } from './io.js';
import { policyPaths } from './policy-paths.js';

export async function checkCommand(options: { policy?: string[] }, io: CommandIo): Promise<number> {
  const sources = await readPolicySources(policyPaths(options.policy));
  const result = compilePolicy(sources);
  for (const issue of result.issues) io.out(formatIssue(issue));
  if (!result.policy) {
    const count = result.issues.filter((i) => i.severity === 'error').length;
    io.out(`error: ${count} error${count === 1 ? '' : 's'} in ${sources.length} file${sources.length === 1 ? '' : 's'}; nothing was loaded`);
    return 1;
  }
  for (const note of policyNotes(result.policy)) io.out(note);
  const { rules, files, revision } = result.policy;
  io.out(`ok: ${rules.length} rule${rules.length === 1 ? '' : 's'} from ${files.length} file${files.length === 1 ? '' : 's'} (revision ${revision})`);
  return 0;
}
