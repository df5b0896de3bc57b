// Scopes and approvals across a fleet: two real leash replicas sharing a real redis-server (--store). An access a
// scope opened through one replica is open, listed and revocable through the other, and maxHosts counts both; a
// question asked through one replica is answered through the other's control socket, and the retry passes there.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLeash, type TestLeash } from '../helpers/leash.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { describeWithRedis, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { leashCli, viaProxy } from '../helpers/through-leash.js';

const TOKENS = { LEASH_T_FLEET_DEV: 'dev-token-91ab', LEASH_T_FLEET_OPS: 'ops-token-4e0c' };
const as = (agent: 'dev' | 'ops') => ({
  'Proxy-Authorization': `Basic ${Buffer.from(`${agent}:${agent === 'dev' ? TOKENS.LEASH_T_FLEET_DEV : TOKENS.LEASH_T_FLEET_OPS}`).toString('base64')}`,
});

describeWithRedis('scopes and approvals shared by replicas through Redis', () => {
  let redis: RedisServer;
  let origin: TestOrigin;
  let a: TestLeash;
  let b: TestLeash;
  const url = (host: string) => `http://${host}:${origin.port}/`;

  beforeAll(async () => {
    Object.assign(process.env, TOKENS);
    redis = await startRedisServer();
    origin = await startHttpOrigin();
    const policy = `version: 1
settings:
  dns: { hosts: { one.example.test: 127.0.0.1, two.example.test: 127.0.0.1, three.example.test: 127.0.0.1, ask.example.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  approvals: { agents: [ops] }
agents:
  dev: { token: env:LEASH_T_FLEET_DEV }
  ops: { token: env:LEASH_T_FLEET_OPS }
scopes:
  sandbox: { agents: [dev], ttl: 1h, maxHosts: 2, ports: [${origin.port}] }
`;
    a = await startLeash(policy, { store: redis.url });
    b = await startLeash(policy, { store: redis.url });
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await origin?.close();
    await redis?.stop();
    for (const key of Object.keys(TOKENS)) delete process.env[key];
  });

  it('an access opened through one replica is open and listed through the other; maxHosts counts the fleet; revoke ends it everywhere', async () => {
    const scoped = { ...as('dev'), 'X-Leash-Scope': 'sandbox' };
    expect((await viaProxy(a.port, url('one.example.test'), scoped)).status).toBe(200);
    expect((await viaProxy(b.port, url('one.example.test'), scoped)).status).toBe(200);
    // Opened once, by the first replica only.
    expect((await a.records()).filter((r) => r.reason === 'scope_opened')).toHaveLength(1);
    expect((await b.records()).filter((r) => r.reason === 'scope_opened')).toHaveLength(0);
    expect((await viaProxy(b.port, url('two.example.test'), scoped)).status).toBe(200);
    const full = await viaProxy(a.port, url('three.example.test'), scoped);
    expect(full.headers['x-leash-decision']).toBe('deny; reason=scope_full');
    const listed = JSON.parse(
      (await leashCli(['scopes', 'list', '--format', 'json', '--control', b.running.control.path])).out.join(''),
    ) as { host: string }[];
    expect(listed.map((x) => x.host)).toEqual(['one.example.test', 'two.example.test']);
    expect(
      (await leashCli(['scopes', 'revoke', '--host', 'one.example.test', '--control', b.running.control.path])).code,
    ).toBe(0);
    // Its place is free on the other replica at once.
    expect((await viaProxy(a.port, url('three.example.test'), scoped)).status).toBe(200);
  });

  it('a question asked through one replica is answered through the other, and the retry passes through either', async () => {
    const pending = await viaProxy(a.port, url('ask.example.test'), as('ops'));
    const id = /leash approvals allow ([a-z0-9]+)\)$/.exec(pending.statusMessage)?.[1] as string;
    expect(id).toBeDefined();
    // Coalesced across replicas.
    expect((await viaProxy(b.port, url('ask.example.test'), as('ops'))).statusMessage).toContain(id);
    expect((await leashCli(['approvals', 'allow', id, '--control', b.running.control.path])).code).toBe(0);
    expect((await viaProxy(a.port, url('ask.example.test'), as('ops'))).status).toBe(200);
    // --once: used by that one request of the fleet.
    expect((await viaProxy(b.port, url('ask.example.test'), as('ops'))).status).toBe(403);
  });
});
