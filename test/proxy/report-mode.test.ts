// Report mode: leash decides and audits everything, blocks nothing the policy would deny, and marks each such
// record `wouldDeny`, so an operator can trial a policy on live traffic. The address guard still applies.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let origin: TestOrigin;
let leash: TestLeash;

beforeAll(async () => {
  origin = await startHttpOrigin();
  leash = await startLeash(
    policy(`
settings:
  mode: report
  dns: { hosts: { allowed.test: 127.0.0.1, unlisted.test: 127.0.0.1, banned.test: 127.0.0.1, reads.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: banned, domain: banned.test, ports: "*", effect: deny }
  - { name: allowed, domain: allowed.test, ports: "*", effect: allow }
  - { name: reads, domain: reads.test, ports: "*", methods: [GET, POST], effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

it.each([
  { host: 'allowed.test', wouldDeny: undefined, rule: 'allowed', reason: 'allowed_by_rule' },
  { host: 'unlisted.test', wouldDeny: true, rule: null, reason: 'no_rule' },
  { host: 'banned.test', wouldDeny: true, rule: 'banned', reason: 'denied_by_rule' },
])('$host is let through and audited with wouldDeny=$wouldDeny', async ({ host, wouldDeny, rule, reason }) => {
  const r = await curl({ url: `http://${host}:${origin.port}/report`, proxy: leash.url });
  expect(r.status).toBe(200);
  const record = (await leash.records()).filter((x) => x.host === host).at(-1);
  expect(record).toMatchObject({ effect: 'allow', rule, reason, status: 200 });
  expect(record?.wouldDeny).toBe(wouldDeny);
});

it('a method override the policy would refuse is let through and audited as method_override', async () => {
  const r = await curl({
    url: `http://reads.test:${origin.port}/items/1`,
    proxy: leash.url,
    method: 'POST',
    data: 'x',
    headers: { 'X-HTTP-Method-Override': 'DELETE' },
  });
  expect(r.status).toBe(200);
  expect(origin.seen.at(-1)?.headers['x-http-method-override']).toBe('DELETE');
  const record = (await leash.records()).filter((x) => x.host === 'reads.test').at(-1);
  expect(record).toMatchObject({ effect: 'allow', reason: 'method_override', wouldDeny: true, status: 200 });
});

it('the address guard is not relaxed by report mode', async () => {
  const r = await curl({ url: `http://169.254.169.254:${origin.port}/`, proxy: leash.url });
  expect(r.status).toBe(403);
  expect(r.headers['x-leash-decision']).toBe('deny; reason=address_denied');
});
