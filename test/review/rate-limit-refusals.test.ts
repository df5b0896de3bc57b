// Review probes: "only what is still allowed takes a token" (admission.ts, limit step). The limit step runs before
// the resolve step, so a request the address guard or DNS refuses has already spent one of the agent's tokens:
// refused requests count against the limit, and one bad name under a wildcard rule starves the good ones.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { rawRequest } from '../helpers/clients.js';
import { startHttpOrigin, startTcpSink, type TcpSink, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let origin: TestOrigin;
let closedPort: TcpSink;
let leash: TestLeash;
let deadPort: number;

beforeAll(async () => {
  origin = await startHttpOrigin();
  // A port with nothing listening: take one from a sink and close it.
  closedPort = await startTcpSink();
  deadPort = closedPort.port;
  await closedPort.close();
  leash = await startLeash(
    policy(`
settings:
  dns: { hosts: { good.rl.test: 127.0.0.1, private.rl.test: 10.1.2.3, good.cx.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
rules:
  - { name: rl, domain: "*.rl.test", ports: [${origin.port}], rateLimit: 2/1m, effect: allow }
  - { name: cx, domain: "*.cx.test", ports: [${deadPort}, ${origin.port}], methods: [CONNECT], connections: 2/1m, effect: allow }
`),
  );
});

afterAll(async () => {
  await leash?.stop();
  await origin?.close();
});

const get = async (host: string) => {
  const r = await rawRequest(
    leash.port,
    `GET http://${host}:${origin.port}/ HTTP/1.1\r\nHost: ${host}:${origin.port}\r\nConnection: close\r\n\r\n`,
    { timeoutMs: 3000 },
  );
  return /^HTTP\/1\.1 (\d{3})/.exec(r.text)?.[1];
};

it('requests the address guard refuses take no rate-limit token', async () => {
  expect([await get('private.rl.test'), await get('private.rl.test')]).toEqual(['403', '403']);
  const records = await leash.records();
  expect(records.filter((r) => r.host === 'private.rl.test').map((r) => r.reason)).toEqual([
    'address_denied',
    'address_denied',
  ]);
  // Both refused: the agent's budget of two requests a minute is untouched.
  expect(await get('good.rl.test')).toBe('200');
});

it('a tunnel whose upstream refuses the connection took its connections token: it was a connection attempt (rate-limit.ts)', async () => {
  const connect = async (port: number) => {
    const r = await rawRequest(
      leash.port,
      `CONNECT good.cx.test:${port} HTTP/1.1\r\nHost: good.cx.test:${port}\r\n\r\n`,
      { timeoutMs: 1500 },
    );
    return /^HTTP\/1\.1 (\d{3})/.exec(r.text)?.[1];
  };
  expect([await connect(deadPort), await connect(deadPort)]).toEqual(['502', '502']);
  expect(await connect(origin.port)).toBe('429');
});
