// The admin listener: Prometheus metrics that move with the traffic (parsed by a real exposition-format parser),
// /healthz and /readyz, on a second socket that is never the proxy port.

import http from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
// @ts-expect-error: the package ships no types; it returns the metric families of a text exposition.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
}

let origin: TestOrigin;
let leash: TestLeash;
let admin: string;

beforeAll(async () => {
  origin = await startHttpOrigin();
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: api, domain: api.test, ports: "*", effect: allow }
  - { name: blocked, domain: blocked.test, effect: deny }
`),
    { admin: '127.0.0.1:0' },
  );
  const port = leash.running.admin?.port;
  if (!port) throw new Error('no admin listener');
  admin = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

function get(url: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
      })
      .on('error', reject);
  });
}

async function scrape(): Promise<Family[]> {
  const r = await get(`${admin}/metrics`);
  expect(r.status).toBe(200);
  expect(r.type).toContain('text/plain');
  return parsePrometheusTextFormat(r.body) as Family[];
}

function value(families: Family[], name: string, labels: Record<string, string>): number {
  const family = families.find((f) => f.name === name);
  const metric = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return Number(metric?.value ?? 0);
}

it('leash_requests_total moves with the traffic, labelled by effect, reason and rule (never host or path)', async () => {
  const before = await scrape();
  for (let i = 0; i < 3; i++)
    expect((await curl({ url: `http://api.test:${origin.port}/${i}`, proxy: leash.url })).status).toBe(200);
  expect((await curl({ url: `http://blocked.test:${origin.port}/`, proxy: leash.url })).status).toBe(403);
  await leash.running.audit.flush();
  const after = await scrape();
  const allowed = { event: 'request', effect: 'allow', reason: 'allowed_by_rule', rule: 'api' };
  const denied = { event: 'request', effect: 'deny', reason: 'denied_by_rule', rule: 'blocked' };
  expect(value(after, 'leash_requests_total', allowed) - value(before, 'leash_requests_total', allowed)).toBe(3);
  expect(value(after, 'leash_requests_total', denied) - value(before, 'leash_requests_total', denied)).toBe(1);
  expect(value(after, 'leash_policy_info', { revision: leash.running.proxy.policy.revision })).toBe(1);
  expect(value(after, 'leash_bytes_total', { direction: 'down', rule: 'api' })).toBeGreaterThan(0);
  const labels = after.flatMap((f) => f.metrics.flatMap((m) => Object.values(m.labels ?? {})));
  expect(labels.some((l) => l.includes('api.test') || l.startsWith('/'))).toBe(false);
});

it('times the decision and the upstream apart: every decided request is timed, only forwarded ones reach upstream', async () => {
  // The parser keeps neither labels nor counts of histograms: read their _count lines from the text itself.
  const count = (text: string, name: string) =>
    Number(new RegExp(`^${name}_count\\{event="request"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const text = async () => (await get(`${admin}/metrics`)).body;
  const before = await text();
  for (let i = 0; i < 2; i++)
    expect((await curl({ url: `http://api.test:${origin.port}/t${i}`, proxy: leash.url })).status).toBe(200);
  expect((await curl({ url: `http://blocked.test:${origin.port}/`, proxy: leash.url })).status).toBe(403);
  await leash.running.audit.flush();
  const after = await text();
  expect(count(after, 'leash_decision_seconds') - count(before, 'leash_decision_seconds')).toBe(3);
  expect(count(after, 'leash_upstream_seconds') - count(before, 'leash_upstream_seconds')).toBe(2);
  expect(after).toMatch(/^leash_grants_active 0$/m);
  // Everything above was flushed: whatever waits for the file now has waited no time to speak of.
  expect(Number(/^leash_audit_write_lag_seconds (\S+)$/m.exec(after)?.[1])).toBeLessThan(1);
});

it('/healthz says the process is alive; /readyz that it can do its job', async () => {
  expect(await get(`${admin}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
  expect(await get(`${admin}/readyz`)).toMatchObject({ status: 200, body: 'ready\n' });
});

it('is not the proxy: the admin paths are not served on the proxy port', async () => {
  const r = await get(`${leash.url}/metrics`);
  expect(r.status).toBe(400);
  expect(r.body).not.toContain('leash_requests_total');
});
