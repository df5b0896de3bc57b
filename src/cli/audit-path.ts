// The one default audit file, shared by the command that writes the log and the commands that read it, so
// `leash serve` and `leash audit` find each other with no flag: $LEASH_AUDIT when set, else ./leash-audit.log.

export const DEFAULT_AUDIT_FILE = 'leash-audit.log';

export function defaultAuditPath(env: NodeJS.ProcessEnv): string {
  return env.LEASH_AUDIT || DEFAULT_AUDIT_FILE;
}
