// Reason codes are an interface: reviewers' tools and agents branch on them. Each one must be documented, and
// each refusal status must be one an HTTP client understands.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REASONS } from '../../src/proxy/reasons.js';
import { decisionHeader, reasonPhrase } from '../../src/proxy/respond.js';
import { PROXY_STATUS, proxyStatus } from '../../src/proxy/proxy-status.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('the reason catalogue', () => {
  it.each(Object.entries(REASONS))('%s is documented in the README with its status', (code, { status }) => {
    expect(readme).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
  });

  it('the decision header names rule and reason', () => {
    expect(decisionHeader('deny', 'metadata', 'denied_by_rule')).toBe('deny; rule=metadata; reason=denied_by_rule');
    expect(decisionHeader('deny', null, 'no_rule')).toBe('deny; reason=no_rule');
  });

  it.each([
    {
      name: 'a deny rule with a reason',
      rule: 'metadata',
      ruleReason: 'cloud metadata endpoint',
      reason: 'denied_by_rule' as const,
      phrase: 'Blocked by leash (rule metadata: cloud metadata endpoint)',
    },
    {
      name: 'no rule',
      rule: null,
      ruleReason: null,
      reason: 'no_rule' as const,
      phrase: 'Blocked by leash (no rule allows this host)',
    },
    {
      name: 'non-ASCII in the rule reason',
      rule: 'x',
      ruleReason: 'naïve\r\nInjected: header',
      reason: 'denied_by_rule' as const,
      phrase: 'Blocked by leash (rule x: na?ve??Injected: header)',
    },
    {
      name: 'a gateway failure',
      rule: 'api',
      ruleReason: null,
      reason: 'dns_failure' as const,
      phrase: 'leash: the host name could not be resolved (dns_failure)',
    },
  ])('reason phrase for $name is printable ASCII naming the decision', ({ rule, ruleReason, reason, phrase }) => {
    expect(reasonPhrase({ reason, rule, message: '', requestId: 'id' }, ruleReason)).toBe(phrase);
  });
});

describe('Proxy-Status (RFC 9209) on every refusal', () => {
  // RFC 9209 §2.3: the proxy error types registered with IANA.
  const RFC_9209_TYPES = new Set([
    'dns_timeout',
    'dns_error',
    'destination_not_found',
    'destination_unavailable',
    'destination_ip_prohibited',
    'destination_ip_unroutable',
    'connection_refused',
    'connection_terminated',
    'connection_timeout',
    'connection_read_timeout',
    'connection_write_timeout',
    'connection_limit_reached',
    'tls_protocol_error',
    'tls_certificate_error',
    'tls_alert_received',
    'http_request_error',
    'http_request_denied',
    'http_response_incomplete',
    'http_response_header_section_size',
    'http_response_header_size',
    'http_response_body_size',
    'http_response_trailer_section_size',
    'http_response_trailer_size',
    'http_response_transfer_coding',
    'http_response_content_coding',
    'http_response_timeout',
    'http_upgrade_failed',
    'http_protocol_error',
    'proxy_internal_response',
    'proxy_internal_error',
    'proxy_configuration_error',
    'proxy_loop_detected',
  ]);

  it.each(Object.keys(REASONS) as (keyof typeof REASONS)[])(
    '%s has a registered error type and says whether retrying helps',
    (reason) => {
      const value = proxyStatus(reason, 'a "quoted" message with a \\ and ünïcode');
      const m = /^leash; error=([a-z_]+); details="((?:[^"\\]|\\.)*)"$/.exec(value);
      expect(m).not.toBeNull();
      expect(RFC_9209_TYPES.has(m?.[1] as string)).toBe(true);
      expect(m?.[2]).toMatch(
        new RegExp(
          `\\(${reason}; (retrying will not help|retry after the Retry-After seconds|retrying later may help)`,
        ),
      );
      expect(value).toMatch(/^[\x20-\x7e]*$/);
    },
  );

  it.each<[keyof typeof REASONS, string, string]>([
    ['no_rule', 'http_request_denied', 'retrying will not help: this is a policy decision'],
    ['address_denied', 'destination_ip_prohibited', 'retrying will not help'],
    ['rate_limited', 'http_request_denied', 'retry after the Retry-After seconds'],
    ['dns_failure', 'dns_error', 'retrying later may help'],
    ['connect_refused', 'connection_refused', 'retrying later may help'],
    ['upstream_tls', 'tls_certificate_error', 'retrying will not help'],
    ['too_many_connections', 'connection_limit_reached', 'retrying later may help'],
  ])('%s → error=%s, "%s"', (reason, error, retry) => {
    expect(PROXY_STATUS[reason].error).toBe(error);
    expect(proxyStatus(reason, 'm')).toContain(retry);
  });
});
