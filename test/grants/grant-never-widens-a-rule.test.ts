// FINDING: a grant is consulted whenever the verdict is `no_rule`, which also covers "the most specific allow rule
// for this host does not allow this request". So a grant widens a rule that decides for the host:
//  (a) a broad `*` allow limited to paths/methods is skipped by ruleNaming() (select.ts), so hosts it covers are
//      granted, and the grant then allows the paths the `*` rule refuses;
//  (b) a grant made before a reload keeps working after the reload adds a narrow rule for that host.
// README: a grant "never overrides a rule"; "a host any other rule names (its rules decide ...)" is never granted.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let api: TestOrigin;
let cdn: TestOrigin;
let leash: TestLeash;
let base: string;

beforeAll(async () => {
  cdn = await startHttpOrigin();
  api = await startHttpOrigin((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        results: [
          { image: `http://img.cdn.test:${cdn.port}/cat.png` },
          { image: `http://late.cdn.test:${cdn.port}/dog.png` },
        ],
      }),
    );
  });
  base = `
settings:
  dns: { hosts: { search.test: 127.0.0.1, img.cdn.test: 127.0.0.1, late.cdn.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: search, domain: search.test, ports: [${api.port}], inspect: [json], effect: allow }
  - { name: public-read, domain: "*", broad: true, ports: [${cdn.port}], methods: [GET], paths: ["/public/**"], effect: allow }
`;
  leash = await startLeash(policy(base));
});

afterAll(async () => {
  await leash?.stop();
  await api?.close();
  await cdn?.close();
});

it('(a) a grant does not widen a `*` rule limited to /public/** (GET /private on a granted host stays 403)', async () => {
  expect((await curl({ url: `http://search.test:${api.port}/search?q=cats`, proxy: leash.url })).status).toBe(200);
  const r = await curl({ url: `http://img.cdn.test:${cdn.port}/private/keys`, proxy: leash.url });
  const rec = (await leash.records()).filter((x) => x.path === '/private/keys').map((x) => `${x.reason} ${x.rule}`);
  expect({ status: r.status, rec }).toEqual({ status: 403, rec: ['no_rule null'] });
});

it('(b) after a reload adds a narrow rule for a granted host, that rule decides, not the grant', async () => {
  expect((await curl({ url: `http://search.test:${api.port}/search?q=dogs`, proxy: leash.url })).status).toBe(200);
  await leash.rewritePolicy(
    policy(
      `${base}  - { name: late-narrow, domain: late.cdn.test, ports: [${cdn.port}], paths: ["/img/**"], effect: allow }\n`,
    ),
  );
  const r = await curl({ url: `http://late.cdn.test:${cdn.port}/not-img/x`, proxy: leash.url });
  expect(r.status).toBe(403);
});
