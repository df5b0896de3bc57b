// When the shared store cannot answer, leash fails closed: each request is decided as the table says. No Redis is
// needed here: the store points at a loopback port nothing listens on, which is what an outage looks like from
// leash (a real Redis going down and coming back is test/cli/fleet.test.ts).

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type RunningServe } from '../../src/cli/serve.js';
import { readAuditLines, tempDir, waitFor } from '../helpers/audit-sink.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { freePort } from '../helpers/redis-server.js';

let origin: TestOrigin;

beforeAll(async () => {
  origin = await startHttpOrigin();
});
afterAll(async () => {
  await origin?.close();
});

async function serveWithDeadStore(rules: string): Promise<{ running: RunningServe; stderr: string[]; audit: string }> {
  const dir = await tempDir('leash-store-');
  await mkdir(path.join(dir, 'policies'));
  await writeFile(
    path.join(dir, 'policies', 'p.yaml'),
    `version: 1
settings:
  dns: { hosts: { limited.test: 127.0.0.1, open.test: 127.0.0.1, upload.test: 127.0.0.1, cdn.test: 127.0.0.1, api.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
${rules}`,
  );
  const stderr: string[] = [];
  const audit = path.join(dir, 'audit.log');
  const running = await startServe(
    {
      policy: [path.join(dir, 'policies')],
      listen: '127.0.0.1:0',
      audit,
      certs: path.join(dir, 'certs'),
      control: path.join(dir, 'leash-admin.sock'),
      store: `redis://leash:s3cr3t-pw@127.0.0.1:${await freePort()}/3`,
      storeTimeout: '100ms',
    },
    { out: (l) => stderr.push(l), err: (l) => stderr.push(l), env: {} },
  );
  running.watcher.stop();
  return { running, stderr, audit };
}

const RULES = `  - { name: limited, domain: limited.test, ports: "*", rateLimit: 5/1m, effect: allow }
  - { name: open, domain: open.test, ports: "*", effect: allow }
  - { name: upload, domain: upload.test, ports: "*", bandwidth: 10KB/1h, effect: allow }
`;

describe.each([
  { policyHas: 'no inspect rule (no grant can exist)', rules: RULES, noRule: { status: 403, reason: 'no_rule' } },
  {
    policyHas: 'an inspect rule (the agent may hold a grant)',
    rules: `${RULES}  - { name: api, domain: api.test, ports: "*", inspect: [json], effect: allow }\n`,
    noRule: { status: 503, reason: 'store_unavailable' },
  },
])('with the store unreachable and a policy with $policyHas', ({ rules, noRule }) => {
  let leash: Awaited<ReturnType<typeof serveWithDeadStore>>;
  beforeAll(async () => {
    leash = await serveWithDeadStore(rules);
  });
  afterAll(async () => {
    await leash?.running.stop();
  });

  it.each([
    {
      name: 'a request under a rateLimit',
      url: () => `http://limited.test:${origin.port}/`,
      status: 503,
      reason: 'store_unavailable',
    },
    {
      name: 'a plain allowed request',
      url: () => `http://open.test:${origin.port}/`,
      status: 200,
      reason: 'allowed_by_rule',
    },
    {
      name: 'an upload under a bandwidth budget',
      url: () => `http://upload.test:${origin.port}/up`,
      data: 'x'.repeat(100),
      status: 503,
      reason: 'store_unavailable',
    },
    {
      name: 'a GET no rule allows',
      url: () => `http://cdn.test:${origin.port}/img`,
      status: noRule.status,
      reason: noRule.reason,
    },
  ])('$name: $status', async ({ url, data, status, reason }) => {
    const reply = await curl({ url: url(), proxy: leash.running.proxy.url, ...(data ? { method: 'POST', data } : {}) });
    expect(reply.status).toBe(status);
    if (status !== 200) expect(reply.headers['x-leash-decision']).toContain(`reason=${reason}`);
    const record = await waitFor(async () =>
      (await readAuditLines(leash.audit).catch(() => [])).find(
        (r) => r.url === url() || r.host === new URL(url()).hostname,
      ),
    );
    expect(record).toMatchObject({ reason, effect: status === 200 ? 'allow' : 'deny' });
  });

  it('nothing reached the origin that needed the store', () => {
    expect(origin.seen.filter((s) => s.url === '/up' || s.headers.host?.toString().startsWith('limited.test'))).toEqual(
      [],
    );
  });

  it('stderr says once that the store is unavailable, naming it without its credentials', () => {
    const lines = leash.stderr.filter((l) => l.includes('unavailable'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^leash: store redis:\/\/127\.0\.0\.1:\d+\/3 unavailable \(/);
    expect(leash.stderr.join('\n')).not.toContain('s3cr3t-pw');
  });
});
