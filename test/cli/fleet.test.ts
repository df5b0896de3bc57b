// A fleet: two `leash serve` processes sharing one real redis-server through `--store` (one by the flag, one by
// LEASH_STORE), the way replicas behind one Service run. What the README promises for it:
//   - a rateLimit is one budget for the fleet, not one per replica, and the rest get 429 with Retry-After;
//   - a grant earned through one replica is honoured by the other, and expires on both at its TTL;
//   - with Redis gone, what needs the store is refused 503 store_unavailable (audited), what does not is still
//     decided by the policy, and each replica says so once on stderr;
//   - with Redis back on the same port, service resumes without restarting leash;
//   - the Redis password never reaches stderr or the audit log.

import http from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readAuditLines, tempDir, waitFor } from '../helpers/audit-sink.js';
import { leashProcess, type LeashProcess } from '../helpers/leash-process.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { describeWithRedis, startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const SECRET = 'fleet-secret-8c1f2a';
/** Long enough for a grant to be earned on one replica and used on the other on a loaded machine. */
const GRANT_TTL_MS = 4_000;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
}

/** An absolute-form request through the proxy on `port`, body read. */
function proxied(port: number, target: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: target, agent: false, headers: { host: new URL(target).host } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describeWithRedis('a fleet of two leash replicas sharing Redis', () => {
  let redis: RedisServer;
  let origin: TestOrigin;
  let api: TestOrigin;
  let dir: string;
  const replicas: { p: LeashProcess; port: number; audit: string }[] = [];
  const [A, B] = [0, 1];

  const url = (host: string, port: number, p = '/') => `http://${host}:${port}${p}`;
  const get = (replica: number, target: string, method?: string) => proxied(replicas[replica]!.port, target, method);
  const records = (replica: number) =>
    readAuditLines(replicas[replica]!.audit).catch(() => [] as Record<string, unknown>[]);
  const limited = () => url('limited.test', origin.port, '/x');
  const cdn = () => url('cdn.test', origin.port, '/asset.png');

  beforeAll(async () => {
    redis = await startRedisServer(undefined, ['--requirepass', SECRET]);
    origin = await startHttpOrigin();
    api = await startHttpOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ results: [{ image: cdn() }] }));
    });
    dir = await tempDir('leash-fleet-');
    await mkdir(path.join(dir, 'policies'));
    await writeFile(
      path.join(dir, 'policies', 'fleet.yaml'),
      `version: 1
settings:
  dns: { hosts: { api.test: 127.0.0.1, cdn.test: 127.0.0.1, limited.test: 127.0.0.1, open.test: 127.0.0.1, nowhere.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  grants: { ttl: ${GRANT_TTL_MS}ms }
rules:
  - { name: api, domain: api.test, ports: [${api.port}], inspect: [json], effect: allow }
  - { name: limited, domain: limited.test, ports: [${origin.port}], rateLimit: 5/1m, effect: allow }
  - { name: open, domain: open.test, ports: [${origin.port}], effect: allow }
  - { name: blocked, domain: blocked.test, ports: "*", effect: deny }
`,
    );
    // One CA for the fleet, made before the replicas start (as an operator would, on the shared certs volume):
    // two replicas creating it at the same instant would race.
    const ca = leashProcess(['ca', 'init', '--certs', path.join(dir, 'certs')]);
    ca.listening.catch(() => {});
    expect(await ca.exited).toBe(0);
    const store = `redis://:${SECRET}@127.0.0.1:${redis.port}/0`;
    const common = [
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--policy',
      path.join(dir, 'policies'),
      '--certs',
      path.join(dir, 'certs'),
    ];
    const a = leashProcess([...common, '--audit', path.join(dir, 'a.log'), '--store', store, '--admin', '127.0.0.1:0']);
    const b = leashProcess([...common, '--audit', path.join(dir, 'b.log')], { LEASH_STORE: store });
    replicas.push(
      { p: a, port: await a.listening, audit: path.join(dir, 'a.log') },
      { p: b, port: await b.listening, audit: path.join(dir, 'b.log') },
    );
    for (const r of replicas)
      await waitFor(() => r.p.stderr().includes(`store redis://127.0.0.1:${redis.port}/0 connected`), {
        timeoutMs: 10_000,
      });
  }, 60_000);

  afterAll(async () => {
    for (const r of replicas) {
      r.p.child.kill('SIGTERM');
      await Promise.race([r.p.exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      r.p.child.kill('SIGKILL');
    }
    await redis?.stop();
    await origin?.close();
    await api?.close();
  });

  it('a rateLimit of 5/1m allows exactly 5 requests across both replicas; the rest get 429 with Retry-After', async () => {
    const replies: Reply[] = [];
    for (let i = 0; i < 8; i++) replies.push(await get(i % 2, limited()));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    for (const r of replies.slice(5)) {
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(r.headers['x-leash-decision']).toBe('deny; rule=limited; reason=rate_limited');
    }
  });

  it('a grant earned through one replica is used through the other', async () => {
    expect((await get(B, cdn())).status).toBe(403);
    expect((await get(A, url('api.test', api.port, '/search'))).status).toBe(200);
    expect((await get(B, cdn())).status).toBe(200);
    const used = await waitFor(async () =>
      (await records(B)).find((r) => r.host === 'cdn.test' && r.reason === 'granted'),
    );
    expect(used).toMatchObject({ effect: 'allow', rule: 'grant', status: 200 });
  });

  it('a grant expires on both replicas at its TTL', async () => {
    expect((await get(A, url('api.test', api.port, '/search'))).status).toBe(200);
    const earned = Date.now();
    expect((await get(B, cdn())).status).toBe(200);
    expect((await get(A, cdn())).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, earned + GRANT_TTL_MS + 300 - Date.now())));
    expect((await get(A, cdn())).status).toBe(403);
    expect((await get(B, cdn())).status).toBe(403);
  });

  it('with Redis down, what needs the store is refused 503 store_unavailable (audited); the rest is decided by the policy', async () => {
    const admin = `http://127.0.0.1:${/^admin on 127\.0\.0\.1:(\d+)/m.exec(replicas[A]?.p.stderr() ?? '')?.[1]}`;
    expect((await adminGet(`${admin}/readyz`)).status).toBe(200);
    await redis.stop();
    for (const r of replicas)
      await waitFor(() => /store redis:\/\/127\.0\.0\.1:\d+\/0 unavailable/.test(r.p.stderr()), { timeoutMs: 10_000 });
    // /readyz turns not-ready while the store is down; the metrics count the refusals by reason.
    expect(await adminGet(`${admin}/readyz`)).toEqual({
      status: 503,
      body: 'not ready:\n- the shared store does not answer\n',
    });
    const cases: { name: string; replica: number; target: string; method?: string; status: number; reason: string }[] =
      [
        { name: 'rate-limited rule', replica: A, target: limited(), status: 503, reason: 'store_unavailable' },
        {
          name: 'rate-limited rule, other replica',
          replica: B,
          target: limited(),
          status: 503,
          reason: 'store_unavailable',
        },
        { name: 'host reachable only by a grant', replica: B, target: cdn(), status: 503, reason: 'store_unavailable' },
        {
          name: 'plain allowed rule',
          replica: A,
          target: url('open.test', origin.port),
          status: 200,
          reason: 'allowed_by_rule',
        },
        {
          name: 'deny rule',
          replica: B,
          target: url('blocked.test', origin.port),
          status: 403,
          reason: 'denied_by_rule',
        },
        {
          name: 'a POST no rule allows (no grant is ever for a POST)',
          replica: A,
          target: url('nowhere.test', origin.port),
          method: 'POST',
          status: 403,
          reason: 'no_rule',
        },
        {
          name: 'the inspected API itself (its grants cannot be stored)',
          replica: A,
          target: url('api.test', api.port, '/search'),
          status: 200,
          reason: 'allowed_by_rule',
        },
      ];
    for (const c of cases) {
      const reply = await get(c.replica, c.target, c.method);
      expect({ name: c.name, status: reply.status, decision: reply.headers['x-leash-decision'] }).toMatchObject({
        name: c.name,
        status: c.status,
      });
      if (c.status !== 200) expect(reply.headers['x-leash-decision']).toContain(`reason=${c.reason}`);
    }
    const refused = (await waitFor(async () => {
      const all = [...(await records(A)), ...(await records(B))].filter((r) => r.reason === 'store_unavailable');
      return all.length >= 3 ? all : undefined;
    })) as Record<string, unknown>[];
    const requests = refused.filter((r) => r.event === 'request');
    for (const r of requests) expect(r).toMatchObject({ effect: 'deny', status: 503 });
    expect(requests.map((r) => r.host).sort()).toEqual(['cdn.test', 'limited.test', 'limited.test']);
    // The grant the API response would have made is audited as not made.
    const skipped = await waitFor(async () =>
      (await records(A)).find((r) => r.event === 'grant' && r.reason === 'grant_skipped' && r.host === 'cdn.test'),
    );
    expect(skipped).toMatchObject({ effect: 'deny', grant: { skipped: 'store_unavailable' } });
    // One line when the store went down, not one per request.
    for (const r of replicas) expect(r.p.stderr().match(/unavailable \(/g)).toHaveLength(1);
    const metrics = (await adminGet(`${admin}/metrics`)).body;
    expect(metrics).toMatch(
      /^leash_requests_total\{event="request",effect="deny",reason="store_unavailable",rule="limited"\} [1-9]/m,
    );
    // Store trouble is counted per operation, and the operations that worked were timed.
    expect(metrics).toMatch(/^leash_store_errors_total\{operation="rate_take"\} [1-9]/m);
    expect(metrics).toMatch(/^leash_store_operation_seconds_count\{operation="rate_take",outcome="ok"\} [1-9]/m);
  }, 30_000);

  it('with Redis back on the same port, service resumes without restarting leash', async () => {
    await redis.restart();
    for (const r of replicas)
      await waitFor(() => r.p.stderr().includes(`store redis://127.0.0.1:${redis.port}/0 is back`), {
        timeoutMs: 15_000,
      });
    // This Redis keeps nothing on disk (--save ''): it came back empty, so the budget and the grant start afresh.
    expect((await get(B, limited())).status).toBe(200);
    expect((await get(B, cdn())).status).toBe(403);
    expect((await get(A, url('api.test', api.port, '/search'))).status).toBe(200);
    expect((await get(B, cdn())).status).toBe(200);
    for (const r of replicas) expect(r.p.child.exitCode).toBeNull();
  }, 30_000);

  it('the Redis password is never printed or audited', async () => {
    for (const r of replicas) {
      expect(r.p.stderr()).not.toContain(SECRET);
      expect(r.p.stdout()).not.toContain(SECRET);
      expect(JSON.stringify(await readAuditLines(r.audit))).not.toContain(SECRET);
    }
  });
});

function adminGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}
