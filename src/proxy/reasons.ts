// Every reason leash gives for a decision or a failure, with the status the client sees. A closed catalogue: the
// audit log, the X-Leash-Decision header and the README all use these codes, and a test fails if one is not
// documented. Distinct failures get distinct codes so an agent (and a reviewer) can tell a policy block from a
// network failure.

export const REASONS = {
  allowed_by_rule: { status: 200, text: 'a rule allowed the request' },
  granted: {
    status: 200,
    text: 'no rule matched, but a trusted response referenced this host for this agent moments ago (a grant)',
  },
  intercepted: {
    status: 200,
    text: 'a tunnel opened with TLS interception: each request inside is decided on its own',
  },
  scope: {
    status: 200,
    text: "no rule allows the host and no deny rule matches, and the agent's active sandbox scope opened (or had open) time-bound access to it",
  },
  approved: {
    status: 200,
    text: 'no rule allows the host and no deny rule matches, and a human approved it (leash approvals allow)',
  },
  denied_by_rule: { status: 403, text: 'a deny rule matched' },
  no_rule: {
    status: 403,
    text: 'no rule allows the request (default deny), or the most specific rule for the host does not allow this method, path or agent',
  },
  opaque_tunnel: {
    status: 403,
    text: 'a CONNECT to a port outside settings.tlsPorts, which leash cannot see into, and no rule naming CONNECT in its methods allows it',
  },
  scope_full: {
    status: 403,
    text: "the agent's sandbox scope already has maxHosts open accesses; a new host is refused until one expires or is revoked",
  },
  scope_denied: {
    status: 403,
    text: 'X-Leash-Scope names a scope that does not exist or does not list this agent, on a request no rule allows',
  },
  pending_approval: {
    status: 403,
    text: 'no rule allows the host and no deny rule matches: a pending approval was made; the body names the command that approves it',
  },
  approval_denied: {
    status: 403,
    text: 'a human denied the approval for this host (leash approvals deny); it is refused until the denial expires',
  },
  policy_revoked: {
    status: 403,
    text: 'a policy reload denies what this open tunnel or connection was allowed; it was closed',
  },
  access_ended: {
    status: 403,
    text: 'the sandbox-scope access or approval that opened this tunnel ended (expired, revoked or denied); the tunnel was closed',
  },
  grant_expired: { status: 403, text: 'the grant that opened this tunnel expired; the tunnel was closed' },
  lockdown: {
    status: 403,
    text: 'an operator locked this agent (or every agent) down with leash lockdown or SIGUSR1: new requests and tunnels are refused and open ones were cut; the message says who, since when and why',
  },
  max_lifetime: { status: 403, text: 'the tunnel or WebSocket reached settings.timeouts.maxLifetime and was closed' },
  method_override: {
    status: 403,
    text: 'the request asks, through X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override or _method, for a method the rules do not allow, or its form is too long to check for _method',
  },
  secret_misuse: {
    status: 403,
    text: "a secret's placeholder was on its way to a host the secret does not belong to, over plain HTTP, or from another agent; the origin never saw it",
  },
  secret_unavailable: {
    status: 503,
    text: "the request carries a secret's placeholder, and the secret's value could not be read when the policy was loaded",
  },
  invalid_request: { status: 400, text: 'the host, port or method cannot be normalised' },
  address_denied: {
    status: 403,
    text: 'the host resolved to an address the address guard refuses (private, loopback, metadata, ...)',
  },
  dns_failure: { status: 502, text: 'the host name could not be resolved' },
  connect_refused: { status: 502, text: 'the upstream refused the connection' },
  connect_failed: { status: 502, text: 'the upstream could not be reached (unreachable, reset)' },
  upstream_timeout: { status: 504, text: 'the upstream did not connect or answer in time' },
  upstream_error: { status: 502, text: 'the upstream broke the exchange (reset, malformed response)' },
  auth_required: { status: 407, text: 'requireAgent is on and nothing identified the client' },
  auth_failed: {
    status: 407,
    text: 'the Proxy-Authorization credentials are malformed, name no agent, or carry the wrong token',
  },
  identity_mismatch: { status: 407, text: 'the proxy credentials and the socket owner uid name different agents' },
  rate_limited: { status: 429, text: "the agent exceeded the rule's rateLimit; Retry-After says when to try again" },
  bandwidth: { status: 429, text: "the agent exceeded the rule's upload budget; the request or tunnel was cut" },
  upstream_tls: { status: 502, text: "the upstream's TLS certificate failed verification (intercepted tunnels)" },
  host_mismatch: {
    status: 403,
    text: 'inside an intercepted tunnel, the Host header or target names another host than the CONNECT (domain fronting)',
  },
  sni_mismatch: { status: 403, text: 'the TLS server name differs from the CONNECT host' },
  sni_missing: { status: 403, text: 'a tunnel to a host name sent no TLS server name' },
  not_tls: { status: 403, text: 'a tunnel to a TLS port carried something other than TLS' },
  hello_timeout: { status: 408, text: 'the client sent no TLS ClientHello in time' },
  bad_request: { status: 400, text: 'malformed or ambiguous HTTP (request smuggling shapes, invalid headers)' },
  expectation_failed: { status: 417, text: 'the request carries an Expect other than 100-continue' },
  not_a_proxy_request: { status: 400, text: 'an origin-form request: leash is a forward proxy' },
  unsupported_scheme: { status: 400, text: 'only http:// requests and CONNECT tunnels are proxied' },
  upgrade_denied: { status: 403, text: 'protocol upgrades (WebSocket) are not allowed through plain HTTP' },
  header_too_large: { status: 431, text: 'request headers exceed the size limit' },
  client_timeout: { status: 408, text: 'the client did not send complete request headers in time' },
  store_unavailable: {
    status: 503,
    text: 'the shared store (--store) did not answer in time: a request that needs a rate-limit, upload-budget or grant check is refused, never allowed',
  },
  too_many_connections: { status: 503, text: 'the connection limit was reached' },
  shutting_down: { status: 503, text: 'leash is shutting down' },
  internal_error: { status: 500, text: 'leash failed while deciding; failing closed' },
  client_closed: { status: 499, text: 'the client went away before the exchange completed' },
} as const;

export type Reason = keyof typeof REASONS;

/**
 * Reasons that appear only in audit records, never in a response: policy changes and what response inspection
 * did. Documented in the README's reason table with status `—` (test/grants/readme.test.ts checks the grant ones).
 */
export const AUDIT_REASONS = {
  policy_loaded: 'a reload put a new revision in force',
  policy_invalid: 'a reload was rejected; the running policy stays',
  grant_skipped: 'a referenced host or URL was not granted; grant.skipped says why',
  grant_revoked: 'a grant was withdrawn: the JSON body that made it turned out malformed or was cut short',
  lockdown_on: 'an operator switched a lockdown on (agent `*`: every agent); lockdown.by says who asked',
  lockdown_off: 'an operator lifted a lockdown (agent `*`: every lockdown); lockdown.by says who asked',
  inspection_stopped:
    'inspection of one response stopped at its reference or time budget; the rest was delivered uninspected',
  scope_opened: 'a sandbox scope opened time-bound access to a host for an agent; scope.openedBy names the request',
  scope_revoked: 'an operator ended scope accesses (leash scopes revoke)',
  approval_requested: 'a request no rule allows made a pending approval; approval.id names it',
  approval_decided:
    'an operator answered an approval (leash approvals allow or deny); approval.grant and approval.by say how and who',
} as const;

export type AuditReason = keyof typeof AUDIT_REASONS;
