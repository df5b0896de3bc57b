// smokescreen ACL → leash: the imported policy decides the fixture's requests as smokescreen would for each role
// (the role's allowed_domains, then global_deny_list, then global_allow_list, then the role's action; roles
// without a rule get the default rule, which leash gives unidentified clients).

import { describe, expect, it } from 'vitest';
import { importSmokescreen } from '../../../src/policy/import/smokescreen.js';
import { importFixture, leashVerdict, type SourceVerdict } from './round-trip.js';

interface Row {
  readonly name: string;
  readonly role: string;
  readonly request: string;
  readonly smokescreen: SourceVerdict;
}

describe('leash policy import --from smokescreen', () => {
  const { policy, yaml } = importFixture('smokescreen', 'smokescreen-acl.yaml');

  it.each<Row>([
    {
      name: "a host in the role's allowed_domains",
      role: 'billing',
      request: 'CONNECT api.stripe.com:443',
      smokescreen: 'allow',
    },
    {
      name: 'the same host for another enforce role (the default)',
      role: 'anonymous',
      request: 'CONNECT api.stripe.com:443',
      smokescreen: 'deny',
    },
    {
      name: 'any port: the ACL names none',
      role: 'billing',
      request: 'CONNECT api.stripe.com:8080',
      smokescreen: 'allow',
    },
    {
      name: 'a subdomain of an allowed glob',
      role: 'billing',
      request: 'GET http://www.example.com/',
      smokescreen: 'allow',
    },
    { name: 'not the apex of a glob', role: 'billing', request: 'CONNECT example.com:443', smokescreen: 'deny' },
    {
      name: "a role's own list beats the global deny list",
      role: 'billing',
      request: 'CONNECT bad.example.org:443',
      smokescreen: 'allow',
    },
    {
      name: 'the global deny list beats an open role',
      role: 'crawler',
      request: 'CONNECT bad.example.org:443',
      smokescreen: 'deny',
    },
    {
      name: 'a global deny glob beats an open role',
      role: 'crawler',
      request: 'CONNECT x.evil.example.com:443',
      smokescreen: 'deny',
    },
    {
      name: "a role's own glob beats a global deny glob under it",
      role: 'billing',
      request: 'CONNECT x.evil.example.com:443',
      smokescreen: 'allow',
    },
    {
      name: 'an open role reaches an unlisted host',
      role: 'crawler',
      request: 'CONNECT example.net:443',
      smokescreen: 'allow',
    },
    {
      name: 'an open role on a host another role names',
      role: 'crawler',
      request: 'CONNECT api.stripe.com:443',
      smokescreen: 'allow',
    },
    {
      name: 'an open role on a non-TLS port',
      role: 'crawler',
      request: 'CONNECT example.org:22',
      smokescreen: 'allow',
    },
    {
      name: 'a report role on an unlisted host (allowed, reported)',
      role: 'reporter-svc',
      request: 'CONNECT unlisted.example:443',
      smokescreen: 'allow',
    },
    {
      name: 'the global allow list for an enforce role',
      role: 'billing',
      request: 'CONNECT time.example.org:443',
      smokescreen: 'allow',
    },
    {
      name: 'an enforce role on an unlisted host',
      role: 'billing',
      request: 'CONNECT example.net:443',
      smokescreen: 'deny',
    },
    {
      name: "the default rule's own host for unidentified clients",
      role: 'anonymous',
      request: 'CONNECT status.example.com:443',
      smokescreen: 'allow',
    },
    { name: 'the default rule is enforce', role: 'anonymous', request: 'CONNECT example.net:443', smokescreen: 'deny' },
  ])('$name: $role $request → $smokescreen', ({ role, request, smokescreen }) => {
    expect(leashVerdict(policy, request, role)).toBe(smokescreen);
  });

  it('declares each role as an agent, renamed where leash needs it, and says report is per role', () => {
    expect(yaml).toMatch(/^ {2}billing: \{\}$/m);
    expect(yaml).toMatch(/service Reporter\.Svc .*renamed/);
    expect(yaml).toMatch(/^ {2}reporter-svc: \{\}$/m);
    expect(yaml).toMatch(/a role with action report becomes an allow rule/);
  });

  describe('every role reports', () => {
    const { policy: report, yaml: reportYaml } = importFixture('smokescreen', 'smokescreen-report.yaml');
    it.each<Row>([
      { name: 'an allowed host', role: 'agent-a', request: 'CONNECT api.example.com:443', smokescreen: 'allow' },
      {
        name: 'an unlisted host, let through and reported',
        role: 'agent-a',
        request: 'CONNECT other.example:443',
        smokescreen: 'report',
      },
      {
        name: 'the global allow list',
        role: 'anonymous',
        request: 'CONNECT files.pypi.example:443',
        smokescreen: 'allow',
      },
      {
        name: 'the default rule reports too',
        role: 'anonymous',
        request: 'CONNECT api.example.com:443',
        smokescreen: 'report',
      },
    ])('$name: $role $request → $smokescreen', ({ role, request, smokescreen }) => {
      expect(leashVerdict(report, request, role)).toBe(smokescreen);
    });
    it('uses leash report mode', () => expect(reportYaml).toMatch(/^settings:\n {2}mode: report$/m));
  });

  it.each([
    ['a version other than v1', 'version: v2\nservices: []\n', 1, /expected version "v1"/],
    [
      'an unknown action',
      'version: v1\nservices:\n  - name: a\n    action: block\n',
      4,
      /action must be open, report or enforce/,
    ],
    [
      'a glob matching everything',
      'version: v1\nservices:\n  - name: a\n    action: enforce\n    allowed_domains:\n      - "*"\n',
      6,
      /must not match everything/,
    ],
    [
      'a glob in the middle',
      'version: v1\nservices: []\nglobal_deny_list:\n  - a.*.example.com\n',
      4,
      /whole leading label/,
    ],
    [
      'a service twice',
      'version: v1\nservices:\n  - name: a\n    action: open\n  - name: a\n    action: open\n',
      5,
      /rule already exists for service a/,
    ],
    ['YAML syntax', 'version: v1\nservices: [\n', 3, /YAML syntax/],
  ])('refuses %s, naming the line', (_name, text, line, message) => {
    const result = importSmokescreen('acl.yaml', text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]).toMatchObject({
      location: { file: 'acl.yaml', line },
      message: expect.stringMatching(message),
    });
  });
});
