// The secrets: section: what compiles, and each promise leash could not keep refused at load with the secret's
// file:line. A secret's hosts must be reached only through interception (leash cannot inject into a tunnel it
// splices), and no value is ever written in the policy file or printed back.

import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../src/errors.js';
import { compilePolicy } from '../../src/policy/load.js';

const load = (text: string) => compilePolicy([{ file: 'p.yaml', text }]);
const errors = (text: string) =>
  load(text)
    .issues.filter((i) => i.severity === 'error')
    .map(formatIssue);

const RULES = `
rules:
  - { name: openai, domain: api.openai.com, ports: [443], methods: [GET, POST], effect: allow }
  - { name: docs, domain: docs.example.com, effect: allow }
`;

describe('a secret compiles to where its value lives and where it may go, never the value', () => {
  it.each([
    {
      name: 'a header with a format',
      spec: '{ value: env:OPENAI_API_KEY, hosts: [api.openai.com], header: Authorization, format: "Bearer {}" }',
      target: { kind: 'header', name: 'authorization', format: 'Bearer {}' },
      source: { kind: 'env', ref: 'OPENAI_API_KEY' },
    },
    {
      name: 'a header, replaced where it stands',
      spec: '{ value: env:K, hosts: [api.openai.com], header: X-Api-Key }',
      target: { kind: 'header', name: 'x-api-key', format: null },
      source: { kind: 'env', ref: 'K' },
    },
    {
      name: 'anywhere in the headers',
      spec: '{ value: file:/run/keys/openai, hosts: [api.openai.com] }',
      target: { kind: 'headers' },
      source: { kind: 'file', ref: '/run/keys/openai' },
    },
    {
      name: 'a query parameter',
      spec: '{ value: env:K, hosts: [api.openai.com], query: key }',
      target: { kind: 'query', name: 'key' },
      source: { kind: 'env', ref: 'K' },
    },
  ])('$name', ({ spec, target, source }) => {
    const { policy, issues } = load(`version: 1\nsecrets:\n  openai: ${spec}\n${RULES}`);
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    const secret = policy?.secrets.get('openai');
    expect(secret?.target).toEqual(target);
    expect(secret?.source).toEqual(source);
    expect(secret?.hosts.map((h) => h.pattern.text)).toEqual(['api.openai.com']);
    expect(secret?.location).toMatchObject({ file: 'p.yaml', line: 3 });
  });
});

describe('refused at load, with file:line:column and what to do', () => {
  it.each([
    {
      name: 'a literal value (not echoed)',
      spec: '{ value: sk-proj-abcdefghijklmnopqrstuvwxyz0123456789, hosts: [api.openai.com] }',
      error:
        'p.yaml:3:20: secrets.openai.value: a literal value (not shown: it may be a secret) is not allowed; allowed: env:NAME or file:PATH (never a literal secret in the policy file)',
    },
    { name: 'no hosts', spec: '{ value: env:K }', error: 'p.yaml:3:11: secrets.openai.hosts: is required' },
    {
      name: 'every host',
      spec: '{ value: env:K, hosts: ["*"] }',
      error:
        'p.yaml:3:35: secrets.openai.hosts[0]: "*" is a whole range of hosts; a secret belongs to the hosts of one service: name them',
    },
    {
      name: 'a public suffix',
      spec: '{ value: env:K, hosts: ["*.com"] }',
      error:
        'p.yaml:3:35: secrets.openai.hosts[0]: "*.com" covers a whole public suffix, whose subdomains belong to different owners; name the service\'s hosts',
    },
    {
      name: 'header and query',
      spec: '{ value: env:K, hosts: [api.openai.com], header: X-Key, query: key }',
      error: 'p.yaml:3:74: secrets.openai.query: a secret goes in one place: a header or a query parameter, not both',
    },
    {
      name: 'a format without a header',
      spec: '{ value: env:K, hosts: [api.openai.com], format: "Bearer {}" }',
      error:
        'p.yaml:3:60: secrets.openai.format: says what leash writes into a header; name that header with header: (e.g. header: Authorization)',
    },
    {
      name: 'a format without {}',
      spec: '{ value: env:K, hosts: [api.openai.com], header: Authorization, format: "Bearer" }',
      error:
        'p.yaml:3:83: secrets.openai.format: "Bearer" is not allowed; allowed: printable text with {} once, such as "Bearer {}"',
    },
    {
      name: 'a framing header',
      spec: '{ value: env:K, hosts: [api.openai.com], header: Content-Length }',
      error:
        'p.yaml:3:60: secrets.openai.header: "Content-Length" frames the message or speaks to the proxy; a secret cannot go there',
    },
    {
      name: 'a proxy header',
      spec: '{ value: env:K, hosts: [api.openai.com], header: Proxy-Authorization }',
      error:
        'p.yaml:3:60: secrets.openai.header: "Proxy-Authorization" frames the message or speaks to the proxy; a secret cannot go there',
    },
  ])('$name', ({ spec, error }) => {
    expect(errors(`version: 1\nsecrets:\n  openai: ${spec}\n${RULES}`)).toEqual([error]);
  });
});

describe('a secret host leash would not intercept is refused at load (it cannot inject into a spliced tunnel)', () => {
  it.each([
    {
      name: 'a rule on host and port only splices',
      rules: '  - { name: openai, domain: api.openai.com, ports: [443], effect: allow }',
      error:
        'p.yaml:5:13: secrets.openai.hosts[0]: leash cannot put secret openai into requests to api.openai.com:443: rule openai (p.yaml:7:5) allows its tunnels without looking inside, so leash splices them and never sees a request; make the rule look inside requests (list its methods, e.g. methods: [GET, POST], or give it a rateLimit) so leash intercepts them',
    },
    {
      name: 'a wildcard rule covering the host splices',
      rules: '  - { name: all-openai, domain: "*.openai.com", ports: [443], effect: allow }',
      error:
        'p.yaml:5:13: secrets.openai.hosts[0]: leash cannot put secret openai into requests to api.openai.com:443: rule all-openai (p.yaml:7:5) allows its tunnels without looking inside, so leash splices them and never sees a request; make the rule look inside requests (list its methods, e.g. methods: [GET, POST], or give it a rateLimit) so leash intercepts them',
    },
    {
      name: 'an opaque CONNECT rule',
      rules:
        '  - { name: openai, domain: api.openai.com, ports: [443], methods: [GET] , effect: allow }\n  - { name: raw, domain: api.openai.com, ports: [8080], methods: [CONNECT], effect: allow }',
      error:
        'p.yaml:5:13: secrets.openai.hosts[0]: leash cannot put secret openai into requests to api.openai.com:8080: rule raw (p.yaml:8:5) allows opaque CONNECT tunnels to port 8080, which leash cannot see into; remove CONNECT from its methods, or add the port to settings.tlsPorts if it carries TLS',
    },
    {
      name: 'one agent spliced, another intercepted',
      rules:
        '  - { name: openai-a, domain: api.openai.com, ports: [443], agents: [a], rateLimit: 10/s, effect: allow }\n  - { name: openai-b, domain: api.openai.com, ports: [443], agents: [b], effect: allow }',
      error:
        'p.yaml:5:13: secrets.openai.hosts[0]: leash cannot put secret openai into requests to api.openai.com:443: rule openai-b (p.yaml:9:5) allows its tunnels for agent b without looking inside, so leash splices them and never sees a request; make the rule look inside requests (list its methods, e.g. methods: [GET, POST], or give it a rateLimit) so leash intercepts them',
    },
  ])('$name', ({ rules, error }) => {
    const text = `version: 1\nsecrets:\n  openai:\n    value: env:K\n    hosts: [api.openai.com]\nrules:\n${rules}\n`;
    const agents = rules.includes('agents:') ? 'agents: { a: {}, b: {} }\n' : '';
    const errs = errors(text.replace('rules:\n', `${agents}rules:\n`));
    expect(errs).toEqual([error]);
  });

  it.each([
    {
      name: 'methods make leash intercept',
      rules: '  - { name: openai, domain: api.openai.com, ports: [443], methods: [GET, POST], effect: allow }',
    },
    {
      name: 'a rateLimit makes leash intercept',
      rules: '  - { name: openai, domain: api.openai.com, ports: [443], rateLimit: 60/1m, effect: allow }',
    },
    {
      name: 'plain HTTP on port 80 is left to run time (refused there)',
      rules: '  - { name: openai, domain: api.openai.com, methods: [GET, POST], effect: allow }',
    },
    { name: 'no rule reaches the host', rules: '  - { name: other, domain: other.example.com, effect: allow }' },
    { name: 'a deny rule', rules: '  - { name: openai, domain: api.openai.com, effect: deny }' },
  ])('accepted: $name', ({ rules }) => {
    expect(
      errors(`version: 1\nsecrets:\n  openai:\n    value: env:K\n    hosts: [api.openai.com]\nrules:\n${rules}\n`),
    ).toEqual([]);
  });
});

describe('leash check notes where each secret goes, never its value', () => {
  it('one note per secret', async () => {
    const { policyNotes } = await import('../../src/policy/notes.js');
    const { policy } = load(
      `version: 1\nsecrets:\n  openai: { value: env:OPENAI_API_KEY, hosts: [api.openai.com], header: Authorization, format: "Bearer {}" }\n  maps: { value: file:/run/k, hosts: [api.openai.com], query: key }\n${RULES}`,
    );
    expect(policyNotes(policy!)).toEqual([
      'p.yaml:3:3: note: secrets (openai): its value (from env:OPENAI_API_KEY) goes into header authorization (as "Bearer {}") on intercepted requests to api.openai.com; the agent holds a placeholder (leash secrets placeholder openai), refused anywhere else',
      'p.yaml:4:3: note: secrets (maps): its value (from file:/run/k) goes into query parameter key on intercepted requests to api.openai.com; the agent holds a placeholder (leash secrets placeholder maps), refused anywhere else',
    ]);
  });
});
