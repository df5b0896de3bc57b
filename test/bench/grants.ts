// Response-aware allowlisting, end to end: the latency an inspected response adds over the same response not
// inspected (a rule without `inspect`), through a real leash on loopback, in one run. The body is JSON that
// references 200 distinct CDN hosts, so the figure includes extracting, selecting and storing the grants.
// Requests are sequential (a latency figure, not a throughput one), bounded in count and time.

import http from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startServe } from '../../src/cli/serve.js';
import { tempDir } from '../helpers/audit-sink.js';
import { startHttpOrigin } from '../helpers/origin.js';
import type { BenchLine } from './report.js';

const REQUESTS = 400;
const MAX_MS = 20_000;

export async function grantsBench(): Promise<BenchLine[]> {
  const body = JSON.stringify({ results: Array.from({ length: 200 }, (_, i) => ({ title: `result ${i}`, image: `https://img${i}.cdn.example/pic/${i}.png`, text: 'lorem ipsum '.repeat(20) })) });
  const origin = await startHttpOrigin((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  const dir = await tempDir('leash-bench-grants-');
  await mkdir(path.join(dir, 'policies'));
  await writeFile(path.join(dir, 'policies', 'p.yaml'), `version: 1
settings:
  dns: { hosts: { plain.test: 127.0.0.1, inspected.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
  grants: { maxPerResponse: 1000 }
rules:
  - { name: plain, domain: plain.test, ports: [${origin.port}], effect: allow }
  - { name: inspected, domain: inspected.test, ports: [${origin.port}], inspect: [json], effect: allow }
`);
  const running = await startServe({ policy: [path.join(dir, 'policies')], listen: '127.0.0.1:0', audit: path.join(dir, 'audit.log'), certs: path.join(dir, 'certs') }, { out: () => {}, err: () => {}, env: {} });
  running.watcher.stop();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const fetchOnce = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const req = http.request({ host: '127.0.0.1', port: running.proxy.port, path: `http://${host}:${origin.port}/search`, agent, headers: { host } }, (res) => {
        res.resume();
        res.on('end', () => resolve(performance.now() - started));
      });
      req.on('error', reject);
      req.end();
    });
  const measure = async (host: string) => {
    const times: number[] = [];
    const deadline = Date.now() + MAX_MS / 2;
    for (let i = 0; i < REQUESTS && Date.now() < deadline; i++) times.push(await fetchOnce(host));
    times.sort((a, b) => a - b);
    return { p50: times[Math.floor(times.length / 2)] ?? 0, p99: times[Math.floor(times.length * 0.99)] ?? 0 };
  };
  try {
    for (let i = 0; i < 50; i++) {
      await fetchOnce('plain.test');
      await fetchOnce('inspected.test');
    }
    const plain = await measure('plain.test');
    const inspected = await measure('inspected.test');
    const kib = Math.round(Buffer.byteLength(body) / 1024);
    return [
      { suite: 'grants', name: `response latency p50, not inspected (${kib} KiB JSON)`, value: plain.p50, unit: 'ms' },
      { suite: 'grants', name: 'response latency p50, inspected (200 hosts granted)', value: inspected.p50, unit: 'ms', ratio: inspected.p50 / plain.p50, ratioOf: `response latency p50, not inspected (${kib} KiB JSON)` },
      { suite: 'grants', name: 'added latency p50 of inspection', value: inspected.p50 - plain.p50, unit: 'ms' },
      { suite: 'grants', name: 'response latency p99, inspected', value: inspected.p99, unit: 'ms', ratio: inspected.p99 / plain.p99, ratioOf: 'response latency p99, not inspected' },
      { suite: 'grants', name: 'response latency p99, not inspected', value: plain.p99, unit: 'ms' },
    ];
  } finally {
    agent.destroy();
    await running.stop();
    await origin.close();
  }
}
