// A real Prometheus (Debian's package) scrapes leash's admin listener on loopback, from a generated config with a
// one-second interval, and its query API shows leash_requests_total moving with the traffic this test sends. This is
// what an operator's monitoring sees, parsed by Prometheus itself rather than by a library that might be laxer.
// Without the prometheus binary the suite is skipped with the reason outside CI, and fails under CI=true.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';
import { freePort } from '../helpers/redis-server.js';

const missing =
  spawnSync('prometheus', ['--version']).status === 0
    ? null
    : 'prometheus is not installed (Debian: apt-get install prometheus)';
const suite = missing === null ? describe : process.env.CI === 'true' ? describe : describe.skip;

suite(
  `a real Prometheus scraping /metrics${missing && process.env.CI !== 'true' ? ` (skipped: ${missing})` : ''}`,
  () => {
    let origin: TestOrigin;
    let leash: TestLeash;
    let prometheus: ChildProcess | undefined;
    let api = '';
    let log = '';

    beforeAll(async () => {
      if (missing) throw new Error(`${missing}; CI must install it (.ci/run APT_PACKAGES)`);
      origin = await startHttpOrigin();
      leash = await startLeash(
        policy(`
settings:
  dns: { hosts: { api.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: api, domain: api.test, ports: "*", effect: allow }
`),
        { admin: '127.0.0.1:0' },
      );
      const dir = await tempDir('leash-prometheus-');
      const config = path.join(dir, 'prometheus.yml');
      await writeFile(
        config,
        `global: { scrape_interval: 1s, scrape_timeout: 1s }\nscrape_configs:\n  - job_name: leash\n    static_configs: [{ targets: ["127.0.0.1:${leash.running.admin?.port}"] }]\n`,
      );
      const port = await freePort();
      api = `http://127.0.0.1:${port}`;
      prometheus = spawn(
        'prometheus',
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${path.join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      prometheus.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    }, 30_000);

    afterAll(async () => {
      prometheus?.kill('SIGTERM');
      await leash?.stop();
      await origin?.close();
    });

    async function query(expr: string): Promise<number | undefined> {
      const r = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`).catch(() => undefined);
      if (!r?.ok) return undefined;
      const body = (await r.json()) as { data: { result: { value: [number, string] }[] } };
      const first = body.data.result[0];
      return first ? Number(first.value[1]) : undefined;
    }

    it('sees leash_requests_total move with the traffic, and the target up', async () => {
      await waitFor(async () => (await query('up{job="leash"}')) === 1, { timeoutMs: 20_000 }).catch((err: Error) => {
        throw new Error(`${err.message}; prometheus said: ${log.slice(-2000)}`);
      });
      const allowed = 'sum(leash_requests_total{job="leash",effect="allow",rule="api"})';
      const before = (await query(allowed)) ?? 0;
      for (let i = 0; i < 4; i++)
        expect((await curl({ url: `http://api.test:${origin.port}/${i}`, proxy: leash.url })).status).toBe(200);
      await leash.running.audit.flush();
      await waitFor(async () => ((await query(allowed)) ?? 0) - before === 4, { timeoutMs: 20_000 });
      expect(await query('leash_policy_info{job="leash"}')).toBe(1);
    }, 60_000);
  },
);
