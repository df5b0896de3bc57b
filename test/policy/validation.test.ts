// One invalid fixture per validation rule, each paired with the field, a fragment of the message and the exact
// line (and column, where the column is ours to choose rather than the YAML parser's). The fixtures live in
// fixtures/invalid/ so each can be opened in an editor and read as an example of the mistake it names.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatIssue, type PolicyIssue } from '../../src/errors.js';
import { compilePolicy, type LoadResult } from '../../src/policy/load.js';
import { readPolicySources } from '../../src/policy/read.js';
import { compile, issuesOf } from './compile.js';

const INVALID = fileURLToPath(new URL('./fixtures/invalid/', import.meta.url));
const WARNINGS = fileURLToPath(new URL('./fixtures/warnings/', import.meta.url));

async function load(path: string): Promise<LoadResult> {
  return compilePolicy(await readPolicySources([path]));
}

interface Case {
  /** The validation rule the fixture breaks. */
  rule: string;
  /** A file, or a directory for rules about several files. */
  fixture: string;
  /** The file inside a directory fixture where the error is reported. */
  file?: string;
  field: string;
  /** A fragment of the message; `<dir>` stands for the fixture directory. */
  message: string;
  line: number;
  /** Omitted where the column is the YAML parser's choice. */
  column?: number;
}

const cases: Case[] = [
  // YAML itself
  {
    rule: 'YAML syntax error',
    fixture: 'yaml-syntax.yaml',
    field: '(file)',
    message: 'YAML syntax: bad indentation',
    line: 6,
  },
  {
    rule: 'duplicate YAML key',
    fixture: 'yaml-duplicate-key.yaml',
    field: '(file)',
    message: 'YAML syntax: duplicated mapping key',
    line: 6,
    column: 5,
  },
  {
    rule: 'YAML alias',
    fixture: 'yaml-alias.yaml',
    field: '(file)',
    message: 'YAML aliases (*name) are not allowed in policy files',
    line: 7,
  },
  {
    rule: 'two YAML documents in one file',
    fixture: 'yaml-two-documents.yaml',
    field: '(file)',
    message: 'a policy file holds one YAML document',
    line: 2,
    column: 1,
  },
  // The file's shape
  {
    rule: 'missing version',
    fixture: 'version-missing.yaml',
    field: 'version',
    message: 'is required',
    line: 2,
    column: 1,
  },
  {
    rule: 'version 2',
    fixture: 'version-2.yaml',
    field: 'version',
    message: '2 is not allowed; allowed: 1',
    line: 1,
    column: 10,
  },
  {
    rule: 'unknown key, with a suggestion',
    fixture: 'unknown-key.yaml',
    field: 'rules[0].reasn',
    message: 'unknown key "reasn"; did you mean "reason"? (allowed: name, domain,',
    line: 6,
    column: 5,
  },
  {
    rule: 'missing effect',
    fixture: 'effect-missing.yaml',
    field: 'rules[0].effect',
    message: 'is required',
    line: 3,
    column: 5,
  },
  // domain
  {
    rule: 'wildcard that keeps one label (the example from the issue)',
    fixture: 'wildcard-too-broad.yaml',
    field: 'rules[2].domain',
    message: '"*.com" is too broad: a wildcard must keep at least two labels',
    line: 14,
    column: 13,
  },
  {
    rule: '"*" inside a label',
    fixture: 'wildcard-inside-label.yaml',
    field: 'rules[0].domain',
    message: '"api*.example.com": "*" is only allowed as a whole leading label ("*.example.com") or alone ("*")',
    line: 4,
    column: 13,
  },
  {
    rule: 'wildcard over an ICANN public suffix',
    fixture: 'wildcard-public-suffix.yaml',
    field: 'rules[0].domain',
    message: '"*.co.uk" is too broad: co.uk is a public suffix, so the wildcard covers unrelated owners',
    line: 4,
    column: 13,
  },
  {
    rule: 'allow over a private-section public suffix',
    fixture: 'wildcard-private-suffix-allow.yaml',
    field: 'rules[0].domain',
    message:
      '"*.github.io" is too broad to allow: github.io is a public suffix whose subdomains belong to different owners (deny rules may use it)',
    line: 4,
    column: 13,
  },
  {
    rule: 'allow for "*" without broad: true',
    fixture: 'allow-star-without-broad.yaml',
    field: 'rules[0].domain',
    message:
      '"*" allows every host on the internet; leash is an allowlist. Name the hosts, or add broad: true if that is really meant',
    line: 4,
    column: 13,
  },
  {
    rule: 'deny for "*" with nothing else: leash denies by default',
    fixture: 'deny-star-everything.yaml',
    field: 'rules[0].domain',
    message: 'a deny rule for "*" with no ports, methods, paths or agents denies everything, which leash already does',
    line: 4,
    column: 13,
  },
  {
    rule: 'a URL in domain',
    fixture: 'domain-url.yaml',
    field: 'rules[0].domain',
    message: '"https://img.cdn.test/" is a URL; domain takes a host only: write domain: img.cdn.test, ports: [443]',
    line: 4,
    column: 13,
  },
  {
    rule: 'host:port in domain',
    fixture: 'domain-host-port.yaml',
    field: 'rules[0].domain',
    message:
      '"api.example.test:8080" includes a port; domain takes a host only: write domain: api.example.test, ports: [8080]',
    line: 4,
    column: 13,
  },
  {
    rule: '"*" as a middle label',
    fixture: 'domain-middle-wildcard.yaml',
    field: 'rules[0].domain',
    message: '"api.*.test": "*" is only allowed as a whole leading label',
    line: 4,
    column: 13,
  },
  {
    rule: 'wildcard over an address',
    fixture: 'wildcard-over-address.yaml',
    field: 'rules[0].domain',
    message: 'a wildcard applies to host names, not addresses; use a CIDR',
    line: 4,
    column: 13,
  },
  {
    rule: 'domain that is not a host',
    fixture: 'domain-not-a-host.yaml',
    field: 'rules[0].domain',
    message: '"docs example.com" is not a host name or address',
    line: 4,
    column: 13,
  },
  {
    rule: 'malformed CIDR in a rule',
    fixture: 'cidr-malformed.yaml',
    field: 'rules[0].domain',
    message: '"10.0.0.0/33" is not a valid CIDR (e.g. 10.0.0.0/8 or fd00::/8)',
    line: 4,
    column: 13,
  },
  {
    rule: 'CIDR with host bits set',
    fixture: 'cidr-host-bits.yaml',
    field: 'rules[0].domain',
    message: '"10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?',
    line: 4,
    column: 13,
  },
  // ports, methods, paths, rateLimit
  {
    rule: 'port 0',
    fixture: 'port-zero.yaml',
    field: 'rules[0].ports[0]',
    message: '0 is not allowed; allowed: a port number from 1 to 65535',
    line: 5,
    column: 13,
  },
  {
    rule: 'port 70000',
    fixture: 'port-too-large.yaml',
    field: 'rules[0].ports[1]',
    message: '70000 is not allowed; allowed: a port number from 1 to 65535',
    line: 5,
    column: 18,
  },
  {
    rule: 'port listed twice',
    fixture: 'port-listed-twice.yaml',
    field: 'rules[0].ports',
    message: 'lists a port twice',
    line: 5,
    column: 12,
  },
  {
    rule: 'empty methods list',
    fixture: 'methods-empty.yaml',
    field: 'rules[0].methods',
    message: 'must not be empty',
    line: 6,
    column: 14,
  },
  {
    rule: 'unknown method',
    fixture: 'method-unknown.yaml',
    field: 'rules[0].methods[1]',
    message:
      '"FETCH" is not allowed; allowed: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE or CONNECT (upper case)',
    line: 6,
    column: 20,
  },
  {
    rule: 'lower-case method',
    fixture: 'method-lower-case.yaml',
    field: 'rules[0].methods[0]',
    message: '"get" is not allowed; allowed: GET,',
    line: 6,
    column: 15,
  },
  {
    rule: 'path glob with a query string',
    fixture: 'path-with-query.yaml',
    field: 'rules[0].paths[0]',
    message: '"/search?q=*": paths match the path only',
    line: 6,
    column: 13,
  },
  {
    rule: 'rateLimit that does not parse',
    fixture: 'rate-limit-unparsable.yaml',
    field: 'rules[0].rateLimit',
    message: '"60 per minute" is not allowed; allowed: N/WINDOW such as 60/1m, 10/s or 1000/1h',
    line: 5,
    column: 16,
  },
  {
    rule: 'rateLimit with an empty window',
    fixture: 'rate-limit-zero-window.yaml',
    field: 'rules[0].rateLimit',
    message: '"60/0m" does not parse; allowed: N/WINDOW',
    line: 5,
    column: 16,
  },
  {
    rule: 'rateLimit on a rule that allows opaque CONNECT tunnels',
    fixture: 'rate-limit-on-opaque-tunnel.yaml',
    field: 'rules[0].rateLimit',
    message:
      'counts requests, and leash cannot see the requests inside the CONNECT tunnels this rule allows; limit tunnels with connections: N/WINDOW instead',
    line: 7,
    column: 16,
  },
  // Names and references
  {
    rule: 'duplicate rule name',
    fixture: 'rule-name-duplicate.yaml',
    field: 'rules[1].name',
    message: '"docs" is already the name of the rule at <dir>rule-name-duplicate.yaml:3:5; rule names must be unique',
    line: 6,
    column: 11,
  },
  {
    rule: 'agents: naming an undefined agent',
    fixture: 'agent-undefined.yaml',
    field: 'rules[0].agents[1]',
    message: '"reserach" is not a defined agent; defined: research, anonymous',
    line: 8,
    column: 24,
  },
  {
    rule: 'agent name that is not lower case',
    fixture: 'agent-name-invalid.yaml',
    field: 'agents.Research',
    message: '"Research" is not a valid name; allowed: a lower-case name',
    line: 3,
    column: 3,
  },
  {
    rule: 'agent named "anonymous"',
    fixture: 'agent-anonymous-defined.yaml',
    field: 'agents.anonymous',
    message: '"anonymous" is reserved for unidentified clients',
    line: 3,
    column: 3,
  },
  {
    rule: 'literal token',
    fixture: 'token-literal.yaml',
    field: 'agents.research.token',
    message: 'is not allowed; allowed: env:NAME or file:PATH (never a literal token in the policy file)',
    line: 4,
    column: 12,
  },
  // Several files
  {
    rule: 'a setting defined in two files',
    fixture: 'settings-defined-twice',
    file: '20-team.yaml',
    field: 'settings.grants.ttl',
    message: 'is defined twice; first at <dir>settings-defined-twice/10-base.yaml:5:5',
    line: 5,
    column: 5,
  },
  {
    rule: 'an agent defined in two files',
    fixture: 'agent-defined-twice',
    file: '20-team.yaml',
    field: 'agents.research',
    message: 'is defined twice; first at <dir>agent-defined-twice/10-base.yaml:3:3',
    line: 5,
    column: 3,
  },
  // settings
  {
    rule: 'bad duration',
    fixture: 'duration-bad.yaml',
    field: 'settings.grants.ttl',
    message: '"30 seconds" is not allowed; allowed: a duration such as 500ms, 30s, 1m or 1h',
    line: 4,
    column: 10,
  },
  {
    rule: 'malformed CIDR in settings.network.allowCidrs',
    fixture: 'settings-cidr-malformed.yaml',
    field: 'settings.network.allowCidrs',
    message: 'invalid CIDR "10.0.0.0/40" in allowCidrs',
    line: 4,
    column: 33,
  },
  {
    rule: 'dns.hosts value that is not an IP',
    fixture: 'dns-hosts-not-ip.yaml',
    field: 'settings.dns.hosts["db.example.test"]',
    message: '"db.internal" is not an IP address',
    line: 6,
    column: 7,
  },
  {
    rule: 'dns.hosts pinning one host twice',
    fixture: 'dns-hosts-pinned-twice.yaml',
    field: 'settings.dns.hosts["API.example.test."]',
    message: 'pins api.example.test a second time',
    line: 6,
    column: 7,
  },
  {
    rule: 'dns server that is not an address',
    fixture: 'dns-server-not-address.yaml',
    field: 'settings.dns.servers',
    message: '"dns.example.net" (item 2) is not a resolver address; allowed: IP or IP:PORT',
    line: 4,
    column: 5,
  },
];

describe('one invalid fixture per validation rule', () => {
  it.each(cases)('$rule ($fixture)', async ({ fixture, file, field, message, line, column }) => {
    const result = await load(`${INVALID}${fixture}`);
    expect(result.policy).toBeUndefined();
    const errors = result.issues.filter((i) => i.severity === 'error');
    const where = `${INVALID}${fixture}${file ? `/${file}` : ''}`;
    const expected = {
      file: where,
      line,
      ...(column === undefined ? {} : { column }),
      field,
      message: message.replaceAll('<dir>', INVALID),
    };
    const found = errors.map((i) => ({
      file: i.location.file,
      line: i.location.line,
      ...(column === undefined ? {} : { column: i.location.column }),
      field: i.field,
      message: i.message,
    }));
    expect(found).toContainEqual({ ...expected, message: expect.stringContaining(expected.message) });
    // Each fixture breaks one rule: every error it produces is on the expected line.
    expect(errors.map((i) => `${i.location.file}:${i.location.line}`)).toEqual(errors.map(() => `${where}:${line}`));
  });

  it('every fixture in fixtures/invalid is in the table', () => {
    expect(readdirSync(INVALID).sort()).toEqual(cases.map((c) => c.fixture).sort());
  });

  it('prints the example from the issue exactly', async () => {
    const result = await load(`${INVALID}wildcard-too-broad.yaml`);
    expect(result.issues.map(formatIssue)).toEqual([
      `${INVALID}wildcard-too-broad.yaml:14:13: rules[2].domain: "*.com" is too broad: a wildcard must keep at least two labels; name the sites, or add broad: true if that is really meant`,
    ]);
  });

  it('never echoes a literal token', async () => {
    const result = await load(`${INVALID}token-literal.yaml`);
    const printed = result.issues.map(formatIssue).join('\n');
    expect(printed).toContain('agents.research.token');
    expect(printed).not.toContain('sk-live');
  });

  it('formats every issue as file:line:col: field: message', async () => {
    const issues: PolicyIssue[] = [];
    for (const c of cases) issues.push(...(await load(`${INVALID}${c.fixture}`)).issues);
    for (const issue of issues) {
      expect(formatIssue(issue)).toMatch(/^\/.+\.ya?ml:[1-9]\d*:[1-9]\d*: (\(file\)|[A-Za-z][\w.[\]"-]*): \S.*$/);
      expect(formatIssue(issue)).toBe(
        `${issue.location.file}:${issue.location.line}:${issue.location.column}: ${issue.field}: ${issue.message}`,
      );
    }
  });
});

describe('what validation accepts', () => {
  it.each<[name: string, rule: string]>([
    ['a deny over a private-section public suffix', '{ name: pages, domain: "*.github.io", effect: deny }'],
    ['a deny over a TLD', '{ name: no-tk, domain: "*.tk", effect: deny }'],
    [
      'an allow over a public suffix that says broad: true',
      '{ name: uk, domain: "*.co.uk", broad: true, effect: allow }',
    ],
    ['an allow for "*" that says broad: true', '{ name: web, domain: "*", ports: [80], broad: true, effect: allow }'],
    ['a deny for "*" limited to a port', '{ name: no-smtp, domain: "*", ports: [25], effect: deny }'],
    ['a deny for "*" limited to agents', '{ name: quarantine, domain: "*", agents: [anonymous], effect: deny }'],
    [
      'connections on an opaque tunnel rule',
      '{ name: ssh, domain: git.example.com, ports: [22], methods: [CONNECT], connections: 10/1m, effect: allow }',
    ],
    ['an allow below a private-section public suffix', '{ name: pages, domain: "*.someone.github.io", effect: allow }'],
    [
      'methods and paths on plain HTTP',
      '{ name: docs, domain: docs.example.com, ports: [80], methods: [GET], paths: ["/v1/**"], effect: allow }',
    ],
    [
      'inspect on plain HTTP, narrowed to some hosts',
      '{ name: search, domain: search.example.com, ports: [80, 8080], inspect: { types: [json, html], grant: { hosts: ["*.cdn.example"], paths: ["$.results[*].image", "img[src]"] } }, effect: allow }',
    ],
    [
      'methods: [CONNECT] on a TLS port (visible without interception)',
      '{ name: tunnel, domain: api.example.com, ports: [443], methods: [CONNECT], effect: allow }',
    ],
    [
      'methods and paths on a TLS port (enforced by interception)',
      '{ name: api, domain: api.example.com, ports: [443], methods: [GET], paths: ["/v1/**"], effect: allow }',
    ],
    [
      'inspect on any port (enforced by interception on TLS ports)',
      '{ name: search, domain: search.example.com, ports: "*", inspect: { types: [json], grant: { hosts: [cdn.example] } }, effect: allow }',
    ],
    [
      'agents: [anonymous] without defining it',
      '{ name: public, domain: api.example.com, agents: [anonymous], effect: allow }',
    ],
    ['a CIDR for IPv6', '{ name: v6, domain: "2001:db8::/32", effect: allow }'],
    [
      'a rate limit without a count in the window',
      '{ name: slow, domain: api.example.com, rateLimit: 10/s, effect: allow }',
    ],
  ])('%s', (_name, rule) => {
    expect(() => compile(`version: 1\nrules:\n  - ${rule}\n`)).not.toThrow();
  });

  it('reports every error of a file, in line order, not only the first', () => {
    const issues = issuesOf(`version: 1
rules:
  - { name: a, domain: "*.com", effect: allow }
  - { name: b, domain: 10.0.0.1/8, effect: allow }
  - { name: a, domain: "api*.example.com", effect: allow }
`);
    expect(issues.map((i) => `${i.location.line}:${i.location.column} ${i.field}`)).toEqual([
      '3:24 rules[0].domain',
      '4:24 rules[1].domain',
      '5:13 rules[2].name',
      '5:24 rules[2].domain',
    ]);
  });

  it('network.allowCidrs, denyCidrs and tlsPorts merge across files, as dns.hosts does; a bad entry is named where it is', () => {
    const { policy } = compilePolicy([
      {
        file: 'a.yaml',
        text: 'version: 1\nsettings:\n  network: { allowCidrs: ["10.1.0.0/16"] }\n  tlsPorts: [443]\n',
      },
      {
        file: 'b.yaml',
        text: 'version: 1\nsettings:\n  network: { allowCidrs: ["10.2.0.0/16"], denyCidrs: ["10.2.9.0/24"] }\n  tlsPorts: [8443, 9443]\n',
      },
    ]);
    expect(policy?.settings.network).toEqual({
      allowCidrs: ['10.1.0.0/16', '10.2.0.0/16'],
      denyCidrs: ['10.2.9.0/24'],
    });
    expect([...(policy?.settings.tlsPorts ?? [])]).toEqual([443, 8443, 9443]);
    const { issues } = compilePolicy([
      { file: 'a.yaml', text: 'version: 1\nsettings:\n  network: { allowCidrs: ["10.1.0.0/16"] }\n' },
      { file: 'b.yaml', text: 'version: 1\nsettings:\n  network:\n    allowCidrs: ["10.2.0.0/40"]\n' },
    ]);
    expect(issues.map((i) => `${i.location.file}:${i.location.line}`)).toEqual(['b.yaml:4']);
  });

  it('reports errors from every file of a policy', () => {
    const { issues } = compilePolicy([
      { file: 'a.yaml', text: 'version: 1\nrules:\n  - { name: a, domain: "*.com", effect: allow }\n' },
      { file: 'b.yaml', text: 'version: 1\nrules:\n  - { name: b, domain: "*.co.uk", effect: allow }\n' },
    ]);
    expect(issues.map((i) => `${i.location.file}:${i.location.line}`)).toEqual(['a.yaml:3', 'b.yaml:3']);
  });
});

describe('warnings: printed, but the policy loads', () => {
  it.each<[name: string, fixture: string, field: string, message: string, line: number, column: number]>([
    [
      'a rule shadowed by an earlier rule that always matches first',
      'shadowed-rule.yaml',
      'rules (corp-payroll)',
      'never matches: rule corp (<dir>shadowed-rule.yaml:3:5) comes first and matches every request this rule would',
      7,
      5,
    ],
    [
      'methods on a port outside settings.tlsPorts: https:// tunnels to it are refused',
      'methods-on-opaque-port.yaml',
      'rules (registry)',
      'methods on port 5000: leash sees them in plain http:// requests, but an https:// client tunnels to 5000, which is not in settings.tlsPorts, so its tunnels are refused (opaque_tunnel). If 5000 carries TLS, add it to settings.tlsPorts so leash intercepts and holds each request to this rule',
      3,
      5,
    ],
    [
      'inspect on a deny rule',
      'inspect-on-deny.yaml',
      'rules (no-search)',
      'inspect on a deny rule does nothing: leash reads the responses of requests it allows, and this rule allows none',
      3,
      5,
    ],
    [
      'websocket: true without GET',
      'websocket-without-get.yaml',
      'rules (chat)',
      "websocket: true allows the upgrade of a GET, and this rule's methods [POST] do not include GET, so no WebSocket can open",
      3,
      5,
    ],
    [
      'an allow rule a deny rule covers, wherever the deny stands',
      'allow-covered-by-deny.yaml',
      'rules (openai)',
      'never allows anything: deny rule no-openai (<dir>allow-covered-by-deny.yaml:7:5) covers every request this rule would allow, and deny rules always win',
      3,
      5,
    ],
  ])('%s', async (_name, fixture, field, message, line, column) => {
    const result = await load(`${WARNINGS}${fixture}`);
    expect(result.policy).toBeDefined();
    expect(result.issues).toEqual([
      {
        severity: 'warning',
        location: { file: `${WARNINGS}${fixture}`, line, column },
        field,
        message: message.replaceAll('<dir>', WARNINGS),
      },
    ]);
    expect(formatIssue(result.issues[0] as PolicyIssue)).toMatch(
      new RegExp(`^.+:${line}:${column}: warning: ${field.replace(/[()]/g, '\\$&')}: `),
    );
  });

  it.each<[name: string, rules: string[], warned: string[]]>([
    [
      'a deny exception inside a wildcard allow: no warning (deny wins)',
      ['{ name: w, domain: "*.example.com", effect: allow }', '{ name: e, domain: a.example.com, effect: deny }'],
      [],
    ],
    [
      'a deny covering an allow, written after it',
      ['{ name: a, domain: a.example.com, effect: allow }', '{ name: d, domain: "*.example.com", effect: deny }'],
      ['a'],
    ],
    [
      'an address a deny CIDR covers',
      ['{ name: c, domain: 10.0.0.0/8, effect: deny }', '{ name: e, domain: 10.1.2.3, effect: allow }'],
      ['e'],
    ],
    [
      'a narrower CIDR a broader deny covers',
      ['{ name: c, domain: 10.0.0.0/8, effect: deny }', '{ name: n, domain: 10.1.0.0/16, effect: allow }'],
      ['n'],
    ],
    [
      'the same host denied and allowed',
      ['{ name: a, domain: a.example.com, effect: deny }', '{ name: b, domain: A.Example.com., effect: allow }'],
      ['b'],
    ],
    [
      'a deny on fewer ports: no warning',
      [
        '{ name: a, domain: a.example.com, ports: [443], effect: deny }',
        '{ name: b, domain: a.example.com, effect: allow }',
      ],
      [],
    ],
    [
      'a deny on every port (the deny default)',
      [
        '{ name: a, domain: a.example.com, effect: deny }',
        '{ name: b, domain: a.example.com, ports: [443], effect: allow }',
      ],
      ['b'],
    ],
    [
      'a deny for one agent only: no warning',
      [
        '{ name: a, domain: a.example.com, agents: [anonymous], effect: deny }',
        '{ name: b, domain: a.example.com, effect: allow }',
      ],
      [],
    ],
    [
      'a deny on every method covers an allow limited to GET',
      [
        '{ name: a, domain: a.example.com, ports: [80], methods: [GET], effect: allow }',
        '{ name: b, domain: a.example.com, ports: [80], effect: deny }',
      ],
      ['a'],
    ],
    [
      'a deny with paths: no warning',
      [
        '{ name: a, domain: a.example.com, ports: [80], paths: ["/a/**"], effect: deny }',
        '{ name: b, domain: a.example.com, ports: [80], effect: allow }',
      ],
      [],
    ],
    [
      'a wildcard does not cover its apex: no warning',
      ['{ name: w, domain: "*.example.com", effect: deny }', '{ name: e, domain: example.com, effect: allow }'],
      [],
    ],
    [
      'an equally specific allow after one covering it',
      [
        '{ name: a, domain: a.example.com, effect: allow }',
        '{ name: b, domain: a.example.com, methods: [GET], effect: allow }',
      ],
      ['b'],
    ],
    [
      'a broader allow before a narrower one: no warning (the narrower decides its host)',
      [
        '{ name: w, domain: "*.example.com", effect: allow }',
        '{ name: e, domain: a.example.com, methods: [GET], effect: allow }',
      ],
      [],
    ],
  ])('%s', (_name, rules, warned) => {
    const issues = issuesOf(`version: 1\nrules:\n${rules.map((r) => `  - ${r}\n`).join('')}`);
    expect(issues.every((i) => i.severity === 'warning')).toBe(true);
    expect(issues.map((i) => i.field)).toEqual(warned.map((name) => `rules (${name})`));
  });
});
