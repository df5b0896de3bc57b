// Review probes for `leash policy suggest`: enforce-mode denials (no_rule) are never resolved, so their records
// carry no address; suggest then proposes names that can only mean loopback or cloud metadata, which the address
// guard forbids. The issue: "never proposes a host that a deny rule or the address guard forbids".

import { describe, expect, it } from 'vitest';
import { EvidenceBuilder } from '../../src/policy/suggest/evidence.js';
import { proposePolicy } from '../../src/policy/suggest/propose.js';
import { compile } from '../policy/compile.js';
import { at, grant, grantUse, intercepted, request } from '../policy/suggest/records.js';

const POLICY = `version: 1
agents:
  research: { token: env:LEASH_T_RESEARCH }
rules: []
`;

describe('suggest never proposes a name the address guard would refuse', () => {
  it.each(['localhost', 'api.localhost', 'metadata.google.internal', 'metadata', 'instance-data.ec2.internal'])(
    '%s',
    (host) => {
      const builder = new EvidenceBuilder();
      // Enforce mode: the request was denied by default (no_rule) before any DNS lookup, so `resolved` is null.
      for (let i = 0; i < 3; i++)
        builder.add(
          request(host, { effect: 'deny', wouldDeny: undefined, status: 403, resolved: null, time: at(i) }) as never,
        );
      const suggestion = proposePolicy(builder.result(), compile(POLICY));
      expect(suggestion.rules.map((r) => r.domain)).toEqual([]);
    },
  );
});

describe('suggest never lists in grant.hosts a host the address guard refused', () => {
  it.each([
    {
      name: 'a granted host whose use the address guard refused',
      host: 'intranet.search.test',
      fields: { reason: 'address_denied', effect: 'deny', rule: 'grant', resolved: '10.0.0.7' },
    },
    {
      name: 'a granted host that resolved to cloud metadata',
      host: 'meta.search.test',
      fields: { resolved: '169.254.169.254' },
    },
    { name: 'a granted localhost name', host: 'localhost', fields: {} },
  ])('$name', ({ host, fields }) => {
    const builder = new EvidenceBuilder();
    for (let i = 0; i < 3; i++)
      builder.add(intercepted('api.search.test', '/q', { rule: 'search', time: at(i) }) as never);
    builder.add(grant(host, 'search', 'https://api.search.test/q', '$.results[0].url', { time: at(3) }) as never);
    builder.add(grantUse(host, 'search', { time: at(4), ...fields }) as never);
    const suggestion = proposePolicy(builder.result(), compile(POLICY));
    const granted = suggestion.rules.flatMap((r) => r.inspect?.grant.hosts ?? []);
    expect(granted).not.toContain(host);
  });
});
