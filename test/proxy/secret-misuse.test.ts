// The admission pipeline's secrets step, as a table and without sockets: which placeholder, on which channel, to
// which host, from which agent → allowed (with the secrets to put in) or refused (secret_misuse naming the secret,
// no rule named, never resolved); what report mode changes; and a secret whose value could not be read.

import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryGrantStore } from '../../src/grants/memory-store.js';
import { MemoryRateLimitStore } from '../../src/limits/memory-store.js';
import { MemoryScopeStore } from '../../src/scopes/memory-store.js';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import type { CompiledPolicy } from '../../src/policy/policy.js';
import { admit, type Admission, type AdmissionContext, type Application } from '../../src/proxy/admission.js';
import type { Resolution } from '../../src/proxy/resolve.js';
import { placeholderFor, placeholderKey } from '../../src/secrets/placeholder.js';
import { SecretsRuntime } from '../../src/secrets/runtime.js';
import { compileWithWarnings } from '../grants/compile.js';

const POLICY = `
agents:
  research: {}
  writer: {}
secrets:
  openai: { value: env:OPENAI_API_KEY, hosts: [api.example], header: Authorization, format: "Bearer {}" }
  maps: { value: env:MAPS_KEY, hosts: [api.example], query: key }
  gone: { value: env:NOT_SET_ANYWHERE, hosts: [api.example] }
rules:
  - { name: api, domain: api.example, ports: [80, 443], methods: [GET, POST], effect: allow }
  - { name: docs, domain: docs.example, ports: [80, 443], methods: [GET], effect: allow }
  - { name: bad, domain: bad.example, effect: deny }
`;
const ENFORCE = compileWithWarnings(`version: 1\n${POLICY}`);
const REPORT = compileWithWarnings(`version: 1\nsettings:\n  mode: report\n${POLICY}`);
const ENV = { OPENAI_API_KEY: 'real-openai-value', MAPS_KEY: 'real-maps-value' };
const CA_KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const ph = (agent: string, secret: string) => placeholderFor(placeholderKey(CA_KEY), agent, secret);

function context(policy: CompiledPolicy, resolved: string[]): AdmissionContext {
  const resolve = async (host: string): Promise<Resolution> => {
    resolved.push(host);
    return { ok: true, address: '192.0.2.10', family: 4, source: 'dns' };
  };
  return {
    policy,
    tokens: new Map(),
    grants: new MemoryGrantStore(),
    rateLimits: new MemoryRateLimitStore(),
    now: () => 1_000_000,
    resolve,
    scopes: new MemoryScopeStore(),
    approvals: new MemoryApprovalStore(),
    record: () => {},
    newId: () => 'id',
    sleep: async () => {},
    secrets: { runtime: new SecretsRuntime(policy, ENV), caKey: CA_KEY },
  };
}

const as = (agent: string) => ({ agent, identity: 'token' as const });
function inside(agent: string, host: string, target: string, headers: string[] = []): Application {
  return {
    applicant: as(agent),
    channel: 'intercepted',
    method: 'GET',
    host,
    port: 443,
    path: target,
    headers: {},
    address: '198.51.100.7',
    carried: { rawHeaders: headers, target },
  };
}
function plain(agent: string, url: string, headers: string[] = []): Application {
  const u = new URL(url);
  return {
    applicant: as(agent),
    channel: 'http',
    method: 'GET',
    host: u.hostname,
    port: 80,
    path: `${u.pathname}${u.search}`,
    headers: {},
    carried: { rawHeaders: headers, target: url },
  };
}
function connect(agent: string, host: string, headers: string[] = []): Application {
  return {
    applicant: as(agent),
    channel: 'tunnel',
    method: 'CONNECT',
    host,
    port: 443,
    carried: { rawHeaders: headers, target: `${host}:443` },
  };
}

function outcome(a: Admission): string {
  if (!a.ok) return `deny ${a.reason}`;
  return a.notes.wouldDeny ? `report ${a.notes.reason}` : `allow ${a.notes.reason}`;
}

describe('admission: the secrets step', () => {
  type Row = [
    name: string,
    policy: CompiledPolicy,
    application: () => Application,
    expected: string,
    secret: string | undefined,
    injected: string[],
  ];
  it.each<Row>([
    [
      'its own placeholder in its header, to its host: allowed, the value goes in',
      ENFORCE,
      () => inside('research', 'api.example', '/v1', ['Authorization', `Bearer ${ph('research', 'openai')}`]),
      'allow allowed_by_rule',
      undefined,
      ['openai'],
    ],
    [
      'a query secret in the query',
      ENFORCE,
      () => inside('research', 'api.example', `/v1?key=${ph('research', 'maps')}`),
      'allow allowed_by_rule',
      undefined,
      ['maps'],
    ],
    [
      'no placeholder: nothing to do',
      ENFORCE,
      () => inside('research', 'api.example', '/v1', ['Authorization', 'Bearer x']),
      'allow allowed_by_rule',
      undefined,
      [],
    ],
    [
      'to another allowed host',
      ENFORCE,
      () => inside('research', 'docs.example', '/', ['Authorization', `Bearer ${ph('research', 'openai')}`]),
      'deny secret_misuse',
      'openai',
      [],
    ],
    [
      'to a host no rule allows: misuse, the more telling refusal',
      ENFORCE,
      () => plain('research', `http://unknown.example/?k=${ph('research', 'openai')}`),
      'deny secret_misuse',
      'openai',
      [],
    ],
    [
      'to a host a deny rule names',
      ENFORCE,
      () => plain('research', 'http://bad.example/', ['X-K', ph('research', 'maps')]),
      'deny secret_misuse',
      'maps',
      [],
    ],
    [
      'another agent’s placeholder',
      ENFORCE,
      () => inside('research', 'api.example', '/v1', ['Authorization', `Bearer ${ph('writer', 'openai')}`]),
      'deny secret_misuse',
      'openai',
      [],
    ],
    [
      'over plain HTTP to its own host',
      ENFORCE,
      () => plain('research', 'http://api.example/v1', ['Authorization', `Bearer ${ph('research', 'openai')}`]),
      'deny secret_misuse',
      'openai',
      [],
    ],
    [
      'in a CONNECT',
      ENFORCE,
      () => connect('research', 'api.example', ['X-K', ph('research', 'openai')]),
      'deny secret_misuse',
      'openai',
      [],
    ],
    [
      'in the host of a CONNECT',
      ENFORCE,
      () => connect('research', `${ph('research', 'openai')}.docs.example`),
      'deny secret_misuse',
      'openai',
      [],
    ],
    [
      'a secret whose value could not be read',
      ENFORCE,
      () => inside('research', 'api.example', '/v1', ['X-K', ph('research', 'gone')]),
      'deny secret_unavailable',
      'gone',
      [],
    ],
    [
      'report mode: misuse is recorded and let through',
      REPORT,
      () => inside('research', 'docs.example', '/', ['X-K', ph('research', 'openai')]),
      'report secret_misuse',
      'openai',
      [],
    ],
    [
      'report mode: an unreadable value is still refused',
      REPORT,
      () => inside('research', 'api.example', '/v1', ['X-K', ph('research', 'gone')]),
      'deny secret_unavailable',
      'gone',
      [],
    ],
  ])('%s', async (_name, policy, application, expected, secret, injected) => {
    const resolved: string[] = [];
    const admission = await admit(context(policy, resolved), application());
    expect(outcome(admission)).toBe(expected);
    expect(admission.notes.secret).toBe(secret);
    expect(admission.ok ? admission.injections.map((i) => i.secret.name) : []).toEqual(injected);
    if (!admission.ok) {
      expect(admission.notes.rule).toBeNull();
      expect(resolved).toEqual([]);
    }
    expect(JSON.stringify({ ...admission, injections: undefined })).not.toMatch(/real-(openai|maps)-value/);
  });

  it('the injections carry the agent’s placeholder and the value to put in', async () => {
    const a = await admit(
      context(ENFORCE, []),
      inside('research', 'api.example', '/v1', ['Authorization', `Bearer ${ph('research', 'openai')}`]),
    );
    expect(a.ok && a.injections.map((i) => [i.placeholder, i.value])).toEqual([
      [ph('research', 'openai'), 'real-openai-value'],
    ]);
  });

  it('without a secrets context (a policy without secrets) the step does nothing', async () => {
    const ctx = { ...context(ENFORCE, []), secrets: undefined };
    const a = await admit(ctx, inside('research', 'docs.example', '/', ['X-K', ph('research', 'openai')]));
    expect(outcome(a)).toBe('allow allowed_by_rule');
  });
});
