// Which agent is asking: a table of facts (credentials, socket owner, source address) → agent and method, or the
// 407 reason. Tokens compare exactly; a token and a uid that disagree are refused, never reconciled.

import { describe, expect, it } from 'vitest';
import { identify, parseProxyAuthorization, type IdentityFacts } from '../../src/policy/identity.js';
import { compile } from './compile.js';

const policy = (requireAgent: boolean) =>
  compile(`
version: 1
settings: { requireAgent: ${requireAgent} }
agents:
  research: { token: env:T_RESEARCH, uid: 1001 }
  mail: { token: env:T_MAIL, uid: 1002, cidrs: ["10.0.0.0/8"] }
  lab: { cidrs: ["10.1.0.0/16", "fd00::/8"] }
rules: []
`);

const tokens = new Map([
  ['research', 'research-secret'],
  ['mail', 'mail-secret'],
]);

const basic = (user: string, password: string) => ({ user, password });
const facts = (f: Partial<IdentityFacts>): IdentityFacts => ({
  credentials: undefined,
  uid: undefined,
  address: '127.0.0.1',
  ...f,
});

describe('identify', () => {
  it.each<[string, Partial<IdentityFacts>, boolean, unknown]>([
    [
      'right token',
      { credentials: basic('research', 'research-secret') },
      false,
      { ok: true, agent: 'research', method: 'token' },
    ],
    [
      "another agent's right token",
      { credentials: basic('mail', 'mail-secret') },
      false,
      { ok: true, agent: 'mail', method: 'token' },
    ],
    ['wrong token', { credentials: basic('research', 'mail-secret') }, false, { ok: false, reason: 'auth_failed' }],
    [
      'token of a prefix length',
      { credentials: basic('research', 'research') },
      false,
      { ok: false, reason: 'auth_failed' },
    ],
    ['unknown agent', { credentials: basic('nobody', 'x') }, false, { ok: false, reason: 'auth_failed' }],
    ['agent without a token source', { credentials: basic('lab', '') }, false, { ok: false, reason: 'auth_failed' }],
    ['malformed header', { credentials: 'malformed' }, false, { ok: false, reason: 'auth_failed' }],
    ['uid of an agent', { uid: 1002 }, false, { ok: true, agent: 'mail', method: 'uid' }],
    [
      'token and uid agree',
      { credentials: basic('research', 'research-secret'), uid: 1001 },
      false,
      { ok: true, agent: 'research', method: 'token+uid' },
    ],
    [
      'token and uid disagree',
      { credentials: basic('research', 'research-secret'), uid: 1002 },
      false,
      { ok: false, reason: 'identity_mismatch' },
    ],
    [
      'token with a uid of no agent',
      { credentials: basic('research', 'research-secret'), uid: 4242 },
      false,
      { ok: true, agent: 'research', method: 'token' },
    ],
    [
      'source address, most specific CIDR wins',
      { address: '10.1.2.3' },
      false,
      { ok: true, agent: 'lab', method: 'cidr' },
    ],
    ['source address, broader CIDR', { address: '10.9.9.9' }, false, { ok: true, agent: 'mail', method: 'cidr' }],
    ['IPv4-mapped source address', { address: '::ffff:10.1.2.3' }, false, { ok: true, agent: 'lab', method: 'cidr' }],
    ['IPv6 source address', { address: 'fd00::5' }, false, { ok: true, agent: 'lab', method: 'cidr' }],
    ['uid beats CIDR', { address: '10.1.2.3', uid: 1001 }, false, { ok: true, agent: 'research', method: 'uid' }],
    ['nothing identifies: anonymous', {}, false, { ok: true, agent: 'anonymous', method: 'none' }],
    ['nothing identifies under requireAgent', {}, true, { ok: false, reason: 'auth_required' }],
    ['uid of no agent under requireAgent', { uid: 4242 }, true, { ok: false, reason: 'auth_required' }],
  ])('%s', (_name, f, requireAgent, expected) => {
    expect(identify(policy(requireAgent), facts(f), tokens)).toMatchObject(expected as object);
  });
});

describe('parseProxyAuthorization', () => {
  it.each<[string, string | undefined, unknown]>([
    ['absent', undefined, undefined],
    [
      'Basic',
      `Basic ${Buffer.from('research:s3cret:with:colons').toString('base64')}`,
      { user: 'research', password: 's3cret:with:colons' },
    ],
    ['scheme in any case', `basic ${Buffer.from('a:b').toString('base64')}`, { user: 'a', password: 'b' }],
    ['Bearer', 'Bearer abc', 'malformed'],
    ['no colon', `Basic ${Buffer.from('research').toString('base64')}`, 'malformed'],
    ['empty user', `Basic ${Buffer.from(':x').toString('base64')}`, 'malformed'],
    ['not base64', 'Basic !!!', 'malformed'],
  ])('%s', (_name, header, expected) => {
    expect(parseProxyAuthorization(header)).toEqual(expected);
  });
});
