// Reloads: a valid change swaps in whole (requests already in flight finish under the revision they started
// with); an invalid change leaves the running policy in force and reports every error with file:line.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/audit-sink.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let origin: TestOrigin;

const settings = `
settings:
  dns: { hosts: { a.test: 127.0.0.1, b.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
`;
const allowOnly = (host: string) =>
  policy(`${settings}rules:\n  - { name: only-${host.split('.')[0]}, domain: ${host}, ports: "*", effect: allow }\n`);

beforeAll(async () => {
  origin = await startHttpOrigin((req, res) => {
    const delay = req.url === '/slow' ? 400 : 0;
    setTimeout(() => res.end(`ok ${req.url}`), delay);
  });
});

afterAll(async () => {
  await origin?.close();
});

describe('reload (SIGHUP path)', () => {
  let leash: TestLeash;
  beforeAll(async () => {
    leash = await startLeash(allowOnly('a.test'));
  });
  afterAll(async () => leash?.stop());

  it('a valid change takes effect for new requests and is audited', async () => {
    expect((await curl({ url: `http://b.test:${origin.port}/`, proxy: leash.url })).status).toBe(403);
    const before = leash.running.proxy.policy.revision;
    await leash.rewritePolicy(allowOnly('b.test'));
    const after = leash.running.proxy.policy.revision;
    expect(after).not.toBe(before);
    expect((await curl({ url: `http://b.test:${origin.port}/`, proxy: leash.url })).status).toBe(200);
    expect((await curl({ url: `http://a.test:${origin.port}/`, proxy: leash.url })).status).toBe(403);
    const record = (await leash.records()).find((r) => r.event === 'policy' && r.reason === 'policy_loaded');
    expect(record).toMatchObject({ policyRevision: after, previousRevision: before });
  });

  it('an invalid change keeps the running policy and reports file:line', async () => {
    const running = leash.running.proxy.policy.revision;
    await leash.rewritePolicy(policy(`${settings}rules:\n  - { name: broken, domain: "*.com", effect: allow }\n`));
    expect(leash.running.proxy.policy.revision).toBe(running);
    expect((await curl({ url: `http://b.test:${origin.port}/`, proxy: leash.url })).status).toBe(200);
    expect(leash.stderr.join('\n')).toMatch(/policy\.yaml:7:\d+: rules\[0\]\.domain: "\*\.com" is too broad/);
    const record = (await leash.records()).find((r) => r.event === 'policy' && r.reason === 'policy_invalid');
    expect(record).toMatchObject({ effect: 'deny', policyRevision: running });
    expect((record?.errors as string[])[0]).toContain('is too broad');
  });

  it('requests in flight finish under the revision they started with', async () => {
    await leash.rewritePolicy(allowOnly('a.test'));
    const old = leash.running.proxy.policy.revision;
    const pending = curl({ url: `http://a.test:${origin.port}/slow`, proxy: leash.url });
    await waitFor(() => leash.running.proxy.openExchanges > 0);
    await leash.rewritePolicy(allowOnly('b.test'));
    expect((await pending).status).toBe(200);
    const record = (await leash.records()).filter((r) => r.path === '/slow').at(-1);
    expect(record?.policyRevision).toBe(old);
  });
});

describe('reload on file change', () => {
  it('editing the policy file reloads it without a signal', async () => {
    const leash = await startLeash(allowOnly('a.test'), { watch: true });
    try {
      const before = leash.running.proxy.policy.revision;
      await writeFile(path.join(leash.dir, 'policies', 'policy.yaml'), allowOnly('b.test'));
      await waitFor(() => leash.running.proxy.policy.revision !== before, { timeoutMs: 5000 });
      expect((await curl({ url: `http://b.test:${origin.port}/`, proxy: leash.url })).status).toBe(200);
    } finally {
      await leash.stop();
    }
  });
});
