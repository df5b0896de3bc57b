// Warnings where a policy says something it cannot mean: rules whose words leash will keep, but not in the way the
// author probably expects. Each names the rule's file:line and says what to write instead. PURE.

import type { PolicyIssue } from '../errors.js';
import type { CompiledPolicy } from './policy.js';

/** Plain HTTP's port: methods and paths there are seen in every request, no TLS involved. */
const PLAIN_HTTP_PORT = 80;

export function intentWarnings(policy: Pick<CompiledPolicy, 'rules' | 'settings'>): PolicyIssue[] {
  const warnings: PolicyIssue[] = [];
  const tls = policy.settings.tlsPorts;
  for (const rule of policy.rules) {
    const warn = (message: string) =>
      warnings.push({ severity: 'warning', location: rule.location, field: `rules (${rule.name})`, message });
    const looksInside =
      rule.paths !== null || (rule.methods !== null && [...rule.methods].some((m) => m !== 'CONNECT'));
    if (looksInside && rule.effect === 'allow' && rule.ports !== 'any') {
      const opaque = [...rule.ports].filter((p) => !tls.has(p) && p !== PLAIN_HTTP_PORT);
      if (opaque.length > 0) {
        const list = opaque.join(', ');
        const what = rule.paths ? 'paths' : 'methods';
        warn(
          rule.methods?.has('CONNECT')
            ? `${what} on port${opaque.length === 1 ? '' : 's'} ${list} hold plain http:// requests only: an https:// tunnel to ${list} (not in settings.tlsPorts) is opaque, and this rule allows it whole because its methods name CONNECT. If ${list} carr${opaque.length === 1 ? 'ies' : 'y'} TLS, add ${opaque.length === 1 ? 'it' : 'them'} to settings.tlsPorts so leash intercepts and holds each request to the rule`
            : `${what} on port${opaque.length === 1 ? '' : 's'} ${list}: leash sees them in plain http:// requests, but an https:// client tunnels to ${list}, which is not in settings.tlsPorts, so its tunnels are refused (opaque_tunnel). If ${list} carr${opaque.length === 1 ? 'ies' : 'y'} TLS, add ${opaque.length === 1 ? 'it' : 'them'} to settings.tlsPorts so leash intercepts and holds each request to this rule`,
        );
      }
    }
    if (rule.inspect.length > 0 && rule.effect === 'deny') {
      warn(
        'inspect on a deny rule does nothing: leash reads the responses of requests it allows, and this rule allows none',
      );
    }
    if (rule.websocket && rule.methods && !rule.methods.has('GET')) {
      warn(
        `websocket: true allows the upgrade of a GET, and this rule's methods [${[...rule.methods].join(', ')}] do not include GET, so no WebSocket can open`,
      );
    }
    if (rule.websocket && rule.effect === 'deny') {
      warn('websocket: true on a deny rule does nothing: it only lets allowed GETs upgrade');
    }
  }
  return warnings;
}
