// How a refusal speaks to software as well as to people. Besides leash's own `X-Leash-Decision`, every refusal
// carries the standard `Proxy-Status` field (RFC 9209 §2), whose error types HTTP clients and agent frameworks can
// branch on without knowing leash (`destination_ip_prohibited`, `dns_error`, `http_request_denied`, ...), and says
// whether retrying can help: a policy decision will not change by asking again, a rate limit passes after
// Retry-After, a network failure may pass later. A closed table: the type checker refuses a reason without a row.

import type { Reason } from './reasons.js';

/** RFC 9209 §2.3 proxy error types leash uses. */
export type ProxyErrorType =
  | 'http_request_denied'
  | 'http_request_error'
  | 'destination_ip_prohibited'
  | 'dns_error'
  | 'connection_refused'
  | 'destination_unavailable'
  | 'connection_timeout'
  | 'connection_terminated'
  | 'tls_certificate_error'
  | 'connection_limit_reached'
  | 'proxy_internal_response'
  | 'proxy_configuration_error'
  | 'proxy_internal_error';

/** Whether sending the same request again can succeed: never, after Retry-After, or perhaps later. */
export type Retry = 'no' | 'after-retry-after' | 'later';

const DENIED = { error: 'http_request_denied', retry: 'no' } as const;
const MALFORMED = { error: 'http_request_error', retry: 'no' } as const;

export const PROXY_STATUS: Readonly<Record<Reason, { readonly error: ProxyErrorType; readonly retry: Retry }>> = {
  allowed_by_rule: { error: 'proxy_internal_response', retry: 'no' },
  granted: { error: 'proxy_internal_response', retry: 'no' },
  intercepted: { error: 'proxy_internal_response', retry: 'no' },
  scope: { error: 'proxy_internal_response', retry: 'no' },
  approved: { error: 'proxy_internal_response', retry: 'no' },
  scope_full: DENIED,
  scope_denied: DENIED,
  // Once a human answers, the same request passes: retrying later is exactly what helps.
  pending_approval: { error: 'http_request_denied', retry: 'later' },
  approval_denied: DENIED,
  denied_by_rule: DENIED,
  no_rule: DENIED,
  opaque_tunnel: DENIED,
  policy_revoked: DENIED,
  access_ended: DENIED,
  grant_expired: DENIED,
  lockdown: DENIED,
  max_lifetime: { error: 'connection_terminated', retry: 'later' },
  method_override: DENIED,
  secret_misuse: DENIED,
  secret_unavailable: { error: 'proxy_configuration_error', retry: 'later' },
  invalid_request: MALFORMED,
  address_denied: { error: 'destination_ip_prohibited', retry: 'no' },
  dns_failure: { error: 'dns_error', retry: 'later' },
  connect_refused: { error: 'connection_refused', retry: 'later' },
  connect_failed: { error: 'destination_unavailable', retry: 'later' },
  upstream_timeout: { error: 'connection_timeout', retry: 'later' },
  upstream_error: { error: 'connection_terminated', retry: 'later' },
  auth_required: DENIED,
  auth_failed: DENIED,
  identity_mismatch: DENIED,
  rate_limited: { error: 'http_request_denied', retry: 'after-retry-after' },
  bandwidth: { error: 'http_request_denied', retry: 'after-retry-after' },
  upstream_tls: { error: 'tls_certificate_error', retry: 'no' },
  host_mismatch: DENIED,
  sni_mismatch: DENIED,
  sni_missing: DENIED,
  not_tls: MALFORMED,
  hello_timeout: MALFORMED,
  bad_request: MALFORMED,
  expectation_failed: MALFORMED,
  not_a_proxy_request: MALFORMED,
  unsupported_scheme: MALFORMED,
  upgrade_denied: DENIED,
  header_too_large: MALFORMED,
  client_timeout: MALFORMED,
  store_unavailable: { error: 'proxy_internal_error', retry: 'later' },
  too_many_connections: { error: 'connection_limit_reached', retry: 'later' },
  shutting_down: { error: 'proxy_internal_response', retry: 'later' },
  internal_error: { error: 'proxy_internal_error', retry: 'later' },
  client_closed: { error: 'proxy_internal_response', retry: 'no' },
};

const RETRY_TEXT: Readonly<Record<Retry, string>> = {
  no: 'retrying will not help: this is a policy decision',
  'after-retry-after': 'retry after the Retry-After seconds',
  later: 'retrying later may help',
};

export function retryText(reason: Reason): string {
  return RETRY_TEXT[PROXY_STATUS[reason].retry];
}

/** `leash; error=http_request_denied; details="..."` (a Structured Field list member, RFC 8941 §3.3.3 strings). */
export function proxyStatus(reason: Reason, message: string): string {
  const details = `${message} (${reason}; ${retryText(reason)})`
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .slice(0, 1024);
  return `leash; error=${PROXY_STATUS[reason].error}; details="${details}"`;
}
