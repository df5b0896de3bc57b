// `inspect.grant`: the object form of `inspect`, validated like every other field (file:line:column, the field,
// a message naming the value), and the `leash check` warning for an inspect rule that may grant any host. Then
// the place patterns of `grant.paths`, matched against the `found` values the scanners produce.

import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../src/errors.js';
import { compileFoundPattern } from '../../src/inspect/found-pattern.js';
import { issuesOf } from '../policy/compile.js';

const rule = (inspect: string) =>
  `version: 1\nrules:\n  - name: api\n    domain: api.example.com\n    inspect: ${inspect}\n    effect: allow\n`;

describe('inspect: validation of the object form', () => {
  it.each<[name: string, inspect: string, expected: string]>([
    [
      'a wildcard over a public suffix',
      '{ types: [json], grant: { hosts: ["*.com"] } }',
      't.yaml:5:48: rules[0].inspect.grant.hosts[0]: "*.com" is too broad: a wildcard must keep at least two labels',
    ],
    [
      'a private public suffix',
      '{ types: [json], grant: { hosts: ["*.github.io"] } }',
      't.yaml:5:48: rules[0].inspect.grant.hosts[0]: "*.github.io" is too broad to grant: github.io is a public suffix whose subdomains belong to different owners',
    ],
    [
      'a CIDR',
      '{ types: [json], grant: { hosts: [10.0.0.0/8] } }',
      't.yaml:5:48: rules[0].inspect.grant.hosts[0]: "10.0.0.0/8": grants are never made for IP addresses; name hosts',
    ],
    [
      'an IP address',
      '{ types: [json], grant: { hosts: [192.0.2.1] } }',
      't.yaml:5:48: rules[0].inspect.grant.hosts[0]: "192.0.2.1": grants are never made for IP addresses; name hosts',
    ],
    [
      'a path that is neither JSON, HTML nor a header',
      '{ types: [json], grant: { paths: ["results[*]"] } }',
      't.yaml:5:48: rules[0].inspect.grant.paths[0]: "results[*]" is not a JSON path ($.results[*].image), an HTML element and attribute (img[src]) or a header (header Location)',
    ],
    [
      'an unclosed bracket',
      '{ types: [json], grant: { paths: ["$.a[0"] } }',
      't.yaml:5:48: rules[0].inspect.grant.paths[0]: "$.a[0": unclosed "[" at position 4',
    ],
    [
      'an attribute leash does not read',
      '{ types: [html], grant: { paths: ["div[style]"] } }',
      't.yaml:5:48: rules[0].inspect.grant.paths[0]: "div[style]": references are read only from the attributes href, src, srcset, poster, data-src, action, formaction, cite, refresh',
    ],
    [
      'a header leash does not read',
      '{ types: [json], grant: { paths: ["header Cookie"] } }',
      't.yaml:5:48: rules[0].inspect.grant.paths[0]: "header Cookie": references are read only from the Location, Content-Location and Link headers',
    ],
    ['types missing', '{ grant: { hosts: [cdn.example] } }', 't.yaml:5:14: rules[0].inspect.types: is required'],
    [
      'an unknown key in grant, with a suggestion',
      '{ types: [json], grant: { host: [cdn.example] } }',
      't.yaml:5:40: rules[0].inspect.grant.host: unknown key "host"; did you mean "hosts"? (allowed: hosts, paths)',
    ],
    [
      'an unknown type',
      '{ types: [xml] }',
      't.yaml:5:24: rules[0].inspect.types[0]: "xml" is not allowed; allowed: json or html',
    ],
    [
      'neither a list nor a mapping',
      'json',
      't.yaml:5:14: rules[0].inspect: expected a list of json and/or html, or { types: [json, html], grant: { hosts: [...], paths: [...] } }, got "json"',
    ],
  ])('%s', (_name, inspect, expected) => {
    const issues = issuesOf(rule(inspect)).filter((i) => i.severity === 'error');
    expect(issues.length).toBeGreaterThan(0);
    expect(formatIssue(issues[0] as (typeof issues)[number])).toContain(expected);
  });

  it.each([
    ['the list form', '[json, html]'],
    [
      'the object form',
      '{ types: [json], grant: { hosts: ["*.gstatic.example", img.example.net], paths: ["$.results[*].image", "$..thumbnail", "img[src]", "*[href]", "meta[refresh]", "header Location"] } }',
    ],
    ['grant with hosts only', '{ types: [html], grant: { hosts: [cdn.example] } }'],
  ])('accepts %s', (_name, inspect) => {
    expect(issuesOf(rule(inspect)).filter((i) => i.severity === 'error')).toEqual([]);
  });
});

describe('leash check warns on an inspect rule without grant.hosts', () => {
  it.each<[name: string, inspect: string, warned: boolean]>([
    ['the list form', '[json]', true],
    ['the object form without grant', '{ types: [json] }', true],
    ['grant.paths only', '{ types: [json], grant: { paths: ["$.results[*].image"] } }', true],
    ['grant.hosts', '{ types: [json], grant: { hosts: [cdn.example] } }', false],
  ])('%s → %s', (_name, inspect, warned) => {
    const warnings = issuesOf(rule(inspect)).filter((i) => i.severity === 'warning');
    if (!warned) return expect(warnings).toEqual([]);
    expect(warnings.map(formatIssue)).toEqual([
      't.yaml:3:5: warning: rules (api).inspect: no inspect.grant.hosts: it will grant any host its responses name; list the hosts it may grant, e.g. inspect: { types: [json], grant: { hosts: ["*.cdn.example"] } }',
    ]);
  });
});

describe('grant.paths patterns against found values', () => {
  it.each<[pattern: string, found: string, matches: boolean]>([
    ['$.results[*].image', '$.results[3].image', true],
    ['$.results[*].image', '$.results[3].title', false],
    ['$.results[*].image', '$.results.image', false],
    ['$.results[0].image', '$.results[0].image', true],
    ['$.results[0].image', '$.results[3].image', false],
    ['$.*.image', '$.results.image', true],
    ['$..image', '$.a[1].b.image', true],
    ['$..image', '$.image', true],
    ['$..image', '$.a.imageX', false],
    ['$..[*].url', '$.a[1].url', true],
    ['$["content-url"]', '$["content-url"]', true],
    ['$.content-url', '$["content-url"]', true],
    ["$['k']", '$.k', true],
    ['$', '$', true],
    ['img[src]', 'html img[src]', true],
    ['html img[src]', 'html img[src]', true],
    ['IMG[SRC]', 'html img[src]', true],
    ['img[src]', 'html img[srcset]', false],
    ['*[href]', 'html a[href]', true],
    ['*[href]', 'html link[href]', true],
    ['*[href]', 'html a[src]', false],
    ['meta[refresh]', 'html meta[refresh]', true],
    ['header Location', 'header Location', true],
    ['header location', 'header Location', true],
    ['header Location', 'header Link', false],
    ['$.results[*].image', 'html img[src]', false],
    ['img[src]', '$.img', false],
  ])('%s ~ %s → %s', (pattern, found, matches) => {
    const compiled = compileFoundPattern(pattern);
    if (!compiled.ok) throw new Error(compiled.message);
    expect(compiled.pattern.matches(found)).toBe(matches);
  });

  it('many `..` stay linear in the path length (no backtracking blow-up)', () => {
    const compiled = compileFoundPattern(`$${'..a'.repeat(30)}..b`);
    if (!compiled.ok) throw new Error(compiled.message);
    expect(compiled.pattern.matches(`$${'.a'.repeat(500)}.c`)).toBe(false);
    expect(compiled.pattern.matches(`$${'.a'.repeat(500)}.b`)).toBe(true);
  });
});
