// Review regressions for `leash policy replay`: policy changes that turn allowed traffic into refused traffic without
// a rule changing (the address guard's settings), and records that must never make replay throw.

import { describe, expect, it } from 'vitest';
import { Replay, type AuditLine } from '../../src/policy/replay.js';
import { compile } from '../policy/compile.js';

const OLD = `version: 1
settings:
  network: { allowCidrs: ["10.0.0.0/8"] }
rules:
  - { name: internal, domain: git.corp.test, ports: [443], effect: allow }
`;
// The change under review drops the guard exception: every request to git.corp.test (10.0.0.5) is now refused
// with address_denied, though the same rule still allows it.
const NEW_NO_EXCEPTION = `version: 1
rules:
  - { name: internal, domain: git.corp.test, ports: [443], effect: allow }
`;
const NEW_DENY_CIDR = `version: 1
settings:
  network: { allowCidrs: ["10.0.0.0/8"], denyCidrs: ["10.0.0.0/24"] }
rules:
  - { name: internal, domain: git.corp.test, ports: [443], effect: allow }
`;

const allowed: AuditLine = {
  event: 'tunnel',
  agent: 'anonymous',
  method: 'CONNECT',
  scheme: 'tunnel',
  host: 'git.corp.test',
  port: 443,
  path: null,
  effect: 'allow',
  rule: 'internal',
  reason: 'allowed_by_rule',
  resolved: '10.0.0.5',
};

describe('replay reports allowed traffic the new settings would refuse', () => {
  it.each([
    { name: 'allowCidrs exception removed', policy: NEW_NO_EXCEPTION },
    { name: 'denyCidrs added over the resolved address', policy: NEW_DENY_CIDR },
  ])('$name', ({ policy }) => {
    compile(OLD);
    const replay = new Replay(compile(policy));
    replay.add(allowed);
    expect(replay.result().tightened).toBe(1);
  });
});

describe('replay never throws on hostile records', () => {
  const hosts = [
    '',
    '*',
    '..',
    'a b',
    '[::1',
    '::1',
    '[::1]',
    '%00',
    'a'.repeat(5000),
    '1.2.3.4.5',
    'xn--',
    '\u0000',
    '💥.test',
    'a..b',
    '-a.test',
  ];
  const paths = ['', 'x', '/%', '/%zz', '/../../etc', '/' + 'a/'.repeat(5000), '\u0000', '//x', '/?a=%'];
  it.each(hosts.flatMap((host) => paths.map((path) => ({ host, path }))))('host $host path $path', ({ host, path }) => {
    const replay = new Replay(compile(NEW_NO_EXCEPTION));
    for (const tls of ['intercepted', null])
      for (const method of ['GET', 'CONNECT', 'G ET', '']) {
        replay.add({
          event: 'request',
          agent: 'anonymous',
          method,
          scheme: tls ? 'https' : 'http',
          tls,
          host,
          port: 443,
          path,
          effect: 'allow',
          rule: 'internal',
          reason: 'allowed_by_rule',
        });
        replay.add({
          event: 'tunnel',
          agent: 'x',
          method: 'CONNECT',
          host,
          port: 99999,
          path: null,
          effect: 'deny',
          rule: null,
          reason: 'no_rule',
        });
      }
    expect(() => replay.result()).not.toThrow();
  });
});
