// What lives per policy revision: built when a policy is swapped in, retired when the next takes over. A retired
// revision's idle upstream connections close at once, its busy ones when their request completes (never cut
// mid-request), and a revision's runtime is found again for exchanges that started under it.

import https from 'node:https';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PolicyRuntimes } from '../../src/proxy/policy-runtime.js';
import { tempDir } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';
import { startHttpsOrigin, type TestOrigin } from '../helpers/origin.js';
import { compile } from '../policy/compile.js';

let origin: TestOrigin;
let extraCa: string;

beforeAll(async () => {
  const ca = createTestCa('runtime test CA');
  extraCa = path.join(await tempDir(), 'ca.pem');
  await writeFile(extraCa, ca.certPem);
  origin = await startHttpsOrigin(ca.issue(['origin.test']), (req, res) => {
    const delay = req.url === '/slow' ? 300 : 0;
    setTimeout(() => res.end(`ok ${req.url}`), delay);
  });
});

afterAll(async () => origin?.close());

const policyText = (name: string) => `version: 1
settings:
  tls: { extraCa: ${JSON.stringify(extraCa)} }
agents:
  a: { token: env:LEASH_RUNTIME_TEST_TOKEN }
  b: { uid: 4242 }
rules:
  - { name: ${name}, domain: origin.test, ports: [443], effect: allow }
`;

function get(agent: https.Agent, url: string): Promise<{ body: string; socket: import('node:net').Socket }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port: origin.port,
        path: url,
        servername: 'origin.test',
        headers: { host: 'origin.test' },
        agent,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ body, socket: req.socket as import('node:net').Socket }));
      },
    );
    req.on('error', reject);
  });
}

it('reads tokens and what identifies agents once per revision', () => {
  const runtimes = new PolicyRuntimes(compile(policyText('one')), { LEASH_RUNTIME_TEST_TOKEN: 's3cret' });
  expect(runtimes.current.tokens.get('a')).toBe('s3cret');
  expect(runtimes.current.identifiesByUid).toBe(true);
  expect(runtimes.current.tokenProblems).toEqual([]);
  runtimes.destroy();
});

it('a retired revision closes its idle upstream connections at once and its busy ones once they are done', async () => {
  const first = compile(policyText('one'));
  const runtimes = new PolicyRuntimes(first);
  const agent = runtimes.current.httpsAgent();
  // Two connections: one carrying a slow request, one idle in the pool after a quick one.
  const busy = get(agent, '/slow');
  const idle = await get(agent, '/idle');
  expect(idle.body).toBe('ok /idle');
  // Kept alive for reuse while its revision is in force.
  expect(idle.socket.destroyed).toBe(false);
  const second = compile(policyText('two'));
  runtimes.swap(second);
  expect(idle.socket.destroyed).toBe(true);
  const done = await busy;
  expect(done.body).toBe('ok /slow'); // the request in flight was not cut
  await new Promise((r) => setImmediate(r));
  expect(done.socket.destroyed).toBe(true);
  // An exchange that started under the first revision still finds its runtime; the new one has its own.
  expect(runtimes.of(first).httpsAgent()).toBe(agent);
  expect(runtimes.of(second)).toBe(runtimes.current);
  expect(runtimes.current.httpsAgent()).not.toBe(agent);
  runtimes.destroy();
});
