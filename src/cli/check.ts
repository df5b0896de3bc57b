// `leash check [--policy PATH]... [--format text|github]`: validate policy files before they are deployed. Prints
// every error and warning with file:line:column, notes on how limits are counted, then `ok: N rules from M files
// (revision <hash>)`; exits 1 on any error. Besides what loading checks, it warns about what only this machine
// can tell (an env: token that is not set here) and about secret-looking literals anywhere in the files.
// `--format github` prints the same findings as GitHub Actions workflow commands, so CI annotates the lines.

import { formatIssue, formatLocation, LeashError, type PolicyIssue } from '../errors.js';
import { redactSecrets } from '../audit/redact.js';
import { compilePolicy, type PolicySource } from '../policy/load.js';
import { policyNotes } from '../policy/notes.js';
import { readPolicySources } from '../policy/read.js';
import type { CommandIo } from './io.js';
import { policyPaths } from './policy-paths.js';

export interface CheckOptions {
  policy?: string[];
  format?: string;
}

export async function checkCommand(options: CheckOptions, io: CommandIo): Promise<number> {
  const format = options.format ?? 'text';
  if (format !== 'text' && format !== 'github')
    throw new LeashError('LEASH_USAGE', `--format needs text or github, got "${format}"`);
  const sources = await readPolicySources(policyPaths(options.policy));
  const result = compilePolicy(sources);
  const issues: PolicyIssue[] = [...result.issues, ...secretLiterals(sources)];
  if (result.policy) {
    // The tokens are read as leash serve would read them here; never printed, only whether they could be.
    for (const agent of result.policy.agents.values()) {
      if (agent.token?.kind !== 'env' || io.env[agent.token.ref]) continue;
      issues.push({
        severity: 'warning',
        location: agent.location,
        field: `agents.${agent.name}.token`,
        message: `environment variable ${agent.token.ref} is not set here; agent ${agent.name} cannot authenticate with a token until it is`,
      });
    }
    for (const secret of result.policy.secrets.values()) {
      if (secret.source.kind !== 'env' || io.env[secret.source.ref]) continue;
      issues.push({
        severity: 'warning',
        location: secret.location,
        field: `secrets.${secret.name}.value`,
        message: `environment variable ${secret.source.ref} is not set here; requests carrying the placeholder of secret ${secret.name} are refused until it is`,
      });
    }
  }
  issues.sort((a, b) =>
    a.location.file === b.location.file
      ? a.location.line - b.location.line || a.location.column - b.location.column
      : 0,
  );
  for (const issue of issues) io.out(format === 'github' ? githubAnnotation(issue) : formatIssue(issue));
  if (!result.policy) {
    const count = issues.filter((i) => i.severity === 'error').length;
    io.out(
      `error: ${count} error${count === 1 ? '' : 's'} in ${sources.length} file${sources.length === 1 ? '' : 's'}; nothing was loaded`,
    );
    return 1;
  }
  if (format === 'text') for (const note of policyNotes(result.policy)) io.out(note);
  const { rules, files, revision } = result.policy;
  io.out(
    `ok: ${rules.length} rule${rules.length === 1 ? '' : 's'} from ${files.length} file${files.length === 1 ? '' : 's'} (revision ${revision})`,
  );
  return 0;
}

/**
 * A line that holds something the audit redaction would hide (a provider key, a bearer token, a JWT, a URL with a
 * password) is a secret written into a policy file, which is read by many and kept in version control.
 */
function secretLiterals(sources: readonly PolicySource[]): PolicyIssue[] {
  const found: PolicyIssue[] = [];
  for (const source of sources) {
    source.text.split('\n').forEach((line, i) => {
      if (redactSecrets(line) === line) return;
      found.push({
        severity: 'warning',
        location: { file: source.file, line: i + 1, column: line.search(/\S/) + 1 },
        field: '(file)',
        message:
          'this line holds what looks like a secret (an API key, a token or a password); keep secrets out of policy files: env:NAME or file:PATH',
      });
    });
  }
  return found;
}

/** GitHub Actions workflow command: `::error file=F,line=L,col=C,title=T::message`, escaped as the runner expects. */
export function githubAnnotation(issue: PolicyIssue): string {
  const property = (text: string) =>
    text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/:/g, '%3A').replace(/,/g, '%2C');
  const data = (text: string) => text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const { file, line, column } = issue.location;
  return `::${issue.severity} file=${property(file)},line=${line},col=${column},title=${property(`leash check: ${issue.field}`)}::${data(`${formatLocation(issue.location)}: ${issue.field}: ${issue.message}`)}`;
}
