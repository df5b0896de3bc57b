// The error catalogue: every failure leash reports to a person has a stable LEASH_* code, a message written for
// that person, and (where it reaches a client) an HTTP status. Callers branch on `code`, never on message text,
// and nothing here may carry a stack trace or a secret into a client response.

export const ERROR_CODES = {
  LEASH_POLICY_INVALID:
    'the policy files contain errors; each names file:line:column, the field, the bad value and what is allowed',
  LEASH_POLICY_READ:
    'a policy path could not be read (missing file or directory, unreadable, or a directory with no policy files)',
  LEASH_TEST_READ:
    'a policy test path could not be read (missing file or directory, unreadable, or a directory with no *.yaml test files)',
  LEASH_TEST_INVALID:
    'a policy test file is malformed; each error names file:line:column, the field and what is allowed',
  LEASH_USAGE: 'the command line is wrong: unknown flag, missing argument or malformed value',
  LEASH_LISTEN: 'the proxy could not listen on the requested address',
  LEASH_CA_EXISTS:
    'leash ca init found a CA already; replacing it would break every agent that trusts it, so it needs --force',
  LEASH_CA_INVALID: 'the CA files cannot be read or are unsafe (a key readable by group or others)',
  LEASH_CA_EXPIRED:
    'the CA certificate is outside its validity period: expired (make a new one with leash ca init --force), or not valid yet (check the clock)',
  LEASH_CA_KEY_MISMATCH:
    'the CA key file does not belong to the CA certificate, so nothing leash signs with it would verify',
  LEASH_AUDIT: 'an audit log could not be opened, read or written',
  LEASH_USER_UNKNOWN: 'a --user name is not a user of this system (looked up in /etc/passwd, then with id -u)',
  LEASH_RULES_OWN_UID:
    "leash rules would restrict the uid running the command, which is where the proxy runs; restrict the agent's user instead",
  LEASH_KERNEL:
    'nft, iptables-restore or iptables-save failed or is missing while loading, removing or reading kernel rules; the message quotes the tool',
  LEASH_ISOLATION:
    'leash run could not set up the isolation asked for (--isolate netns or uid), so it did not start the command; the message says why',
  LEASH_NOT_RUNNING:
    'nothing answers as leash at the control endpoint a command looked at (--control PATH, --admin URL, $LEASH_CONTROL, $LEASH_ADMIN, else the default socket)',
  LEASH_CONTROL:
    "the running leash refused a control call (a missing or wrong admin token, an invalid value); the message quotes leash's answer",
  LEASH_LOCKDOWN:
    'the lockdown state (leash-lockdown.json beside the audit log, or the shared store) cannot be read or written; leash does not guess that nothing is locked down',
  LEASH_CONNECT_TIMEOUT:
    'the upstream did not accept the connection within settings.timeouts.connect (reason upstream_timeout)',
  LEASH_RESPONSE_TIMEOUT: 'the upstream did not answer within settings.timeouts.response (reason upstream_timeout)',
  LEASH_IMPORT: 'leash policy import could not read the source file or write its output',
  LEASH_STORE_UNAVAILABLE:
    'the shared store (--store, Redis) did not answer in time or is unreachable; what needed it is refused (reason store_unavailable)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class LeashError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'LeashError';
  }
}

/**
 * A shared store (Redis) could not answer in time. Thrown by the stores, caught where the proxy consults them and
 * turned into a refusal with reason `store_unavailable`: nothing is ever allowed because the store was down.
 * The message names the store as `redis://HOST:PORT/DB`, never with credentials.
 */
export class StoreUnavailableError extends LeashError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LEASH_STORE_UNAVAILABLE', message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** A place in a policy file, 1-based like every editor shows it. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}

/** One finding about a policy: `error` blocks loading, `warning` is printed and loading goes on. */
export interface PolicyIssue {
  readonly severity: 'error' | 'warning';
  readonly location: SourceLocation;
  /** Dotted path of the field, e.g. `rules[2].domain`. */
  readonly field: string;
  readonly message: string;
}

export function formatIssue(issue: PolicyIssue): string {
  const prefix = issue.severity === 'warning' ? 'warning: ' : '';
  return `${formatLocation(issue.location)}: ${prefix}${issue.field}: ${issue.message}`;
}

export class PolicyInvalidError extends LeashError {
  readonly issues: readonly PolicyIssue[];

  constructor(issues: readonly PolicyIssue[]) {
    const errors = issues.filter((i) => i.severity === 'error');
    super('LEASH_POLICY_INVALID', errors.map(formatIssue).join('\n'));
    this.issues = issues;
    this.name = 'PolicyInvalidError';
  }
}

/** The upstream took too long to connect or to answer; mapped to reason upstream_timeout (upstream.ts). */
export class UpstreamTimeoutError extends LeashError {
  constructor(code: 'LEASH_CONNECT_TIMEOUT' | 'LEASH_RESPONSE_TIMEOUT') {
    super(code, code === 'LEASH_CONNECT_TIMEOUT' ? 'connect timeout' : 'response timeout');
    this.name = 'UpstreamTimeoutError';
  }
}
