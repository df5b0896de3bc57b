// `scopes:`, an agent's `scope:` and `settings.approvals`: what loads, what it compiles to, and one case per
// validation rule with the field, a fragment of the message and the line it is reported on.

import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../src/errors.js';
import { compile, issuesOf } from './compile.js';

const AGENTS = `agents:
  dev: { token: env:T_DEV }
  ops: { token: env:T_OPS }
`;

describe('scopes and approvals that load', () => {
  it('compiles a scope with its defaults, and an agent that always has it', () => {
    const policy = compile(`version: 1
agents:
  dev: { token: env:T_DEV, scope: sandbox }
  ops: { token: env:T_OPS }
scopes:
  sandbox: { agents: [dev, ops], ttl: 24h }
  wide: { agents: [ops], ttl: 30m, maxHosts: 5, ports: [443, 8443] }
`);
    expect(policy.scopes.get('sandbox')).toMatchObject({
      ttlMs: 86_400_000,
      maxHosts: 50,
      ports: new Set([443]),
      agents: new Set(['dev', 'ops']),
    });
    expect(policy.scopes.get('wide')).toMatchObject({ ttlMs: 1_800_000, maxHosts: 5, ports: new Set([443, 8443]) });
    expect(policy.agents.get('dev')?.scope).toBe('sandbox');
    expect(policy.agents.get('ops')?.scope).toBeNull();
    expect(policy.approvals).toBeNull();
  });

  it('compiles settings.approvals with its defaults', () => {
    const policy = compile(`version: 1
${AGENTS}settings:
  approvals: { agents: [dev, anonymous] }
`);
    expect(policy.approvals).toEqual({ agents: new Set(['dev', 'anonymous']), waitMs: 0, expireMs: 3_600_000 });
    expect(
      compile(`version: 1\n${AGENTS}settings:\n  approvals: { agents: [ops], wait: 30s, expire: 2h }\n`).approvals,
    ).toMatchObject({ waitMs: 30_000, expireMs: 7_200_000 });
  });

  it('scopes from two files merge', () => {
    const a = `version: 1\n${AGENTS}scopes:\n  one: { agents: [dev], ttl: 1h }\n`;
    const b = 'version: 1\nscopes:\n  two: { agents: [ops], ttl: 1h }\n';
    return import('../../src/policy/load.js').then(({ compilePolicy: load }) => {
      const { policy, issues } = load([
        { file: 'a.yaml', text: a },
        { file: 'b.yaml', text: b },
      ]);
      expect(issues.map(formatIssue)).toEqual([]);
      expect([...(policy?.scopes.keys() ?? [])]).toEqual(['one', 'two']);
    });
  });
});

interface Case {
  rule: string;
  text: string;
  field: string;
  message: string;
  line: number;
}

const cases: Case[] = [
  {
    rule: "an agent's scope: names no scope",
    text: `version: 1\nagents:\n  dev: { token: env:T, scope: sandbx }\nscopes:\n  sandbox: { agents: [dev], ttl: 1h }\n`,
    field: 'agents.dev.scope',
    message: '"sandbx" is not a defined scope; defined: sandbox',
    line: 3,
  },
  {
    rule: "an agent's scope: names a scope that does not list it",
    text: `version: 1\nagents:\n  dev: { token: env:T, scope: sandbox }\n  ops: { token: env:U }\nscopes:\n  sandbox: { agents: [ops], ttl: 1h }\n`,
    field: 'agents.dev.scope',
    message: 'scope sandbox (t.yaml:6:3) does not list agent dev in its agents',
    line: 3,
  },
  {
    rule: 'a scope lists an undefined agent',
    text: `version: 1\n${AGENTS}scopes:\n  sandbox: { agents: [dev, qa], ttl: 1h }\n`,
    field: 'scopes.sandbox.agents[1]',
    message: '"qa" is not a defined agent; defined: dev, ops',
    line: 6,
  },
  {
    rule: 'a scope lists anonymous',
    text: `version: 1\n${AGENTS}scopes:\n  sandbox: { agents: [anonymous], ttl: 1h }\n`,
    field: 'scopes.sandbox.agents[0]',
    message: '"anonymous" cannot activate a scope',
    line: 6,
  },
  {
    rule: 'a ttl of zero',
    text: `version: 1\n${AGENTS}scopes:\n  sandbox: { agents: [dev], ttl: 0s }\n`,
    field: 'scopes.sandbox.ttl',
    message: '"0s" is not allowed; allowed: a duration from 1s to 720h',
    line: 6,
  },
  {
    rule: 'a ttl over 30 days',
    text: `version: 1\n${AGENTS}scopes:\n  sandbox: { agents: [dev], ttl: 721h }\n`,
    field: 'scopes.sandbox.ttl',
    message: '"721h" is not allowed',
    line: 6,
  },
  {
    rule: 'a ttl that is not a duration',
    text: `version: 1\n${AGENTS}scopes:\n  sandbox: { agents: [dev], ttl: 1d }\n`,
    field: 'scopes.sandbox.ttl',
    message: 'allowed: a duration such as 500ms, 30s, 1m or 1h',
    line: 6,
  },
  {
    rule: 'a scope without ttl',
    text: `version: 1\n${AGENTS}scopes:\n  sandbox: { agents: [dev] }\n`,
    field: 'scopes.sandbox.ttl',
    message: 'is required',
    line: 6,
  },
  {
    rule: 'maxHosts of zero',
    text: `version: 1\n${AGENTS}scopes:\n  sandbox: { agents: [dev], ttl: 1h, maxHosts: 0 }\n`,
    field: 'scopes.sandbox.maxHosts',
    message: 'allowed: an integer from 1 to 10000',
    line: 6,
  },
  {
    rule: 'a port twice',
    text: `version: 1\n${AGENTS}scopes:\n  sandbox: { agents: [dev], ttl: 1h, ports: [443, 443] }\n`,
    field: 'scopes.sandbox.ports',
    message: 'lists a port twice',
    line: 6,
  },
  {
    rule: 'an unknown key in a scope',
    text: `version: 1\n${AGENTS}scopes:\n  sandbox: { agents: [dev], ttl: 1h, maxHost: 3 }\n`,
    field: 'scopes.sandbox.maxHost',
    message: 'unknown key "maxHost"; did you mean "maxHosts"?',
    line: 6,
  },
  {
    rule: 'a scope name that is not a name',
    text: `version: 1\n${AGENTS}scopes:\n  Sand Box: { agents: [dev], ttl: 1h }\n`,
    field: 'scopes["Sand Box"]',
    message: 'is not a valid name',
    line: 6,
  },
  {
    rule: 'approvals for an undefined agent',
    text: `version: 1\n${AGENTS}settings:\n  approvals: { agents: [qa] }\n`,
    field: 'settings.approvals.agents[0]',
    message: '"qa" is not a defined agent',
    line: 6,
  },
  {
    rule: 'approvals wait over 10m',
    text: `version: 1\n${AGENTS}settings:\n  approvals:\n    agents: [dev]\n    wait: 11m\n`,
    field: 'settings.approvals.wait',
    message: '"11m" is not allowed; allowed: a duration from 0s to 10m',
    line: 8,
  },
  {
    rule: 'approvals wait not shorter than expire',
    text: `version: 1\n${AGENTS}settings:\n  approvals:\n    agents: [dev]\n    wait: 5m\n    expire: 5m\n`,
    field: 'settings.approvals.wait',
    message: 'is not shorter than settings.approvals.expire',
    line: 8,
  },
  {
    rule: 'approvals without agents',
    text: `version: 1\n${AGENTS}settings:\n  approvals: { wait: 1s }\n`,
    field: 'settings.approvals.agents',
    message: 'is required',
    line: 6,
  },
];

describe('scopes and approvals that do not load', () => {
  it.each(cases)('$rule', ({ text, field, message, line }) => {
    // A name that breaks propertyNames is also reported on its parent by the schema (as for agents): look for ours.
    const errors = issuesOf(text).filter((i) => i.severity === 'error' && i.field === field);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toContain(message);
    expect(errors[0]?.location.line).toBe(line);
  });

  it('a scope defined in two files names both places', async () => {
    const { compilePolicy } = await import('../../src/policy/load.js');
    const a = `version: 1\n${AGENTS}scopes:\n  sandbox: { agents: [dev], ttl: 1h }\n`;
    const b = 'version: 1\nscopes:\n  sandbox: { agents: [ops], ttl: 2h }\n';
    const { issues } = compilePolicy([
      { file: 'a.yaml', text: a },
      { file: 'b.yaml', text: b },
    ]);
    expect(issues.map(formatIssue)).toEqual(['b.yaml:3:3: scopes.sandbox: is defined twice; first at a.yaml:6:3']);
  });
});
