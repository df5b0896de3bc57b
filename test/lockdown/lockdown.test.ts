// The kill switch end to end, on real sockets: `leash lockdown` through the control socket refuses the locked
// agent's new requests and cuts its open tunnel and kept-alive connection within a second, while another agent
// keeps working; every step is in the audit log and in `leash audit --summary`; lockdown survives a restart; the
// control API over --admin refuses a missing or wrong token and is not reachable through the proxy port.

import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/main.js';
import { tempDir, waitFor } from '../helpers/audit-sink.js';
import {
  defaultOriginHandler,
  startHttpOrigin,
  startTcpSink,
  type TcpSink,
  type TestOrigin,
} from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

const TOKENS = { LEASH_TEST_LOCKDOWN_RESEARCH: 'research-tok-71c2a9', LEASH_TEST_LOCKDOWN_MAIL: 'mail-tok-3e8f05' };
const AUTH = {
  research: `Basic ${Buffer.from(`research:${TOKENS.LEASH_TEST_LOCKDOWN_RESEARCH}`).toString('base64')}`,
  mail: `Basic ${Buffer.from(`mail:${TOKENS.LEASH_TEST_LOCKDOWN_MAIL}`).toString('base64')}`,
};
type Agent = keyof typeof AUTH;

const POLICY = policy(`
settings:
  requireAgent: true
  dns: { hosts: { api.test: 127.0.0.1, raw.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }
agents:
  research: { token: env:LEASH_TEST_LOCKDOWN_RESEARCH }
  mail: { token: env:LEASH_TEST_LOCKDOWN_MAIL }
rules:
  - { name: api, domain: api.test, ports: "*", effect: allow }
  - { name: raw, domain: raw.test, ports: "*", methods: [CONNECT], effect: allow }
`);

let origin: TestOrigin;
let sink: TcpSink;

beforeAll(async () => {
  Object.assign(process.env, TOKENS);
  // `/slow` starts its answer and never finishes it: a request still in flight when the lockdown comes.
  origin = await startHttpOrigin((req, res) => {
    if (req.url !== '/slow') return defaultOriginHandler(req, res, Buffer.alloc(0));
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial');
  });
  sink = await startTcpSink();
});
afterAll(async () => {
  await origin?.close();
  await sink?.close();
  for (const key of Object.keys(TOKENS)) delete process.env[key];
});

async function cli(env: NodeJS.ProcessEnv, ...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, out, err };
}

async function openTunnel(leash: TestLeash, agent: Agent): Promise<net.Socket> {
  const socket = net.connect(leash.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`CONNECT raw.test:${sink.port} HTTP/1.1\r\nProxy-Authorization: ${AUTH[agent]}\r\n\r\n`);
  const head = await new Promise<string>((resolve) => socket.once('data', (c: Buffer) => resolve(c.toString())));
  expect(head).toBe('HTTP/1.1 200 Connection Established\r\n\r\n');
  return socket;
}

interface Reply {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  socket: net.Socket;
}

function get(leash: TestLeash, agent: Agent, keepAlive?: http.Agent, path = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: leash.port,
        path: `http://api.test:${origin.port}${path}`,
        agent: keepAlive,
        headers: { 'Proxy-Authorization': AUTH[agent] },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? '',
            headers: res.headers,
            body,
            socket: req.socket as net.Socket,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const closedAt = (socket: net.Socket) =>
  new Promise<number>((resolve) =>
    socket.destroyed ? resolve(performance.now()) : socket.once('close', () => resolve(performance.now())),
  );

describe('leash lockdown on one agent', () => {
  let leash: TestLeash;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    leash = await startLeash(POLICY);
    env = {};
  });
  afterAll(async () => leash?.stop());

  it('refuses its new requests and cuts its open tunnel and kept-alive connection within a second; the other agent keeps working', async () => {
    const control = leash.running.control.path;
    const researchTunnel = await openTunnel(leash, 'research');
    const mailTunnel = await openTunnel(leash, 'mail');
    const researchPool = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const mailPool = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const researchKept = await get(leash, 'research', researchPool);
    const mailKept = await get(leash, 'mail', mailPool);
    expect([researchKept.status, mailKept.status]).toEqual([200, 200]);
    const tunnelCut = closedAt(researchTunnel);
    const keptCut = closedAt(researchKept.socket);

    const t0 = performance.now();
    const on = await cli(
      env,
      'lockdown',
      'on',
      '--agent',
      'research',
      '--reason',
      'exfiltrating to pastebin',
      '--control',
      control,
    );
    expect(on).toMatchObject({ code: 0, err: [] });
    expect(on.out[0]).toBe(
      'lockdown on: agent research: new requests are refused (403 lockdown), open connections were cut',
    );
    expect((await tunnelCut) - t0).toBeLessThan(1000);
    expect((await keptCut) - t0).toBeLessThan(1000);

    // A new request: 403 lockdown, the operator's reason in the body, the status line and Proxy-Status.
    const refused = await get(leash, 'research');
    expect(refused.status).toBe(403);
    expect(refused.headers['x-leash-decision']).toBe('deny; reason=lockdown');
    expect(refused.body).toContain('exfiltrating to pastebin');
    expect(refused.statusMessage).toContain('exfiltrating to pastebin');
    expect(refused.headers['proxy-status']).toContain('exfiltrating to pastebin');
    // A new tunnel too.
    const socket = net.connect(leash.port, '127.0.0.1');
    socket.write(`CONNECT raw.test:${sink.port} HTTP/1.1\r\nProxy-Authorization: ${AUTH.research}\r\n\r\n`);
    const head = await new Promise<string>((resolve) => socket.once('data', (c: Buffer) => resolve(c.toString())));
    expect(head).toMatch(
      /^HTTP\/1\.1 403 Blocked by leash \(agent research is locked down since .*: exfiltrating to pastebin\)\r\n/,
    );
    socket.destroy();

    // The other agent: its tunnel and kept-alive connection are untouched, and it is served.
    expect(mailTunnel.destroyed).toBe(false);
    const before = Buffer.concat(sink.received).length;
    mailTunnel.write('still here');
    await waitFor(() => Buffer.concat(sink.received).length >= before + 10);
    const again = await get(leash, 'mail', mailPool);
    expect(again.status).toBe(200);
    expect(again.socket).toBe(mailKept.socket);

    const status = await cli(env, 'lockdown', 'status', '--control', control);
    expect(status.code).toBe(0);
    expect(status.out[0]).toMatch(/^lockdown in force \(state in .*leash-lockdown\.json\):$/);
    expect(status.out[1]).toMatch(
      /^ {2}agent research: since \S+, by \S+ \(uid \d+\) \(control socket\): exfiltrating to pastebin$/,
    );

    const off = await cli(env, 'lockdown', 'off', '--agent', 'research', '--control', control);
    expect(off).toMatchObject({
      code: 0,
      out: ['lockdown off: agent research', expect.stringMatching(/^no lockdown in force/)],
    });
    expect((await get(leash, 'research')).status).toBe(200);

    // Every step is in the audit log.
    const records = await leash.records();
    const lockdownEvents = records.filter((r) => r.event === 'lockdown');
    expect(lockdownEvents).toEqual([
      expect.objectContaining({
        agent: 'research',
        reason: 'lockdown_on',
        effect: 'deny',
        lockdown: expect.objectContaining({
          by: expect.stringMatching(/\(uid \d+\) \(control socket\)$/),
          reason: 'exfiltrating to pastebin',
          stored: true,
        }),
      }),
      expect.objectContaining({
        agent: 'research',
        reason: 'lockdown_off',
        effect: 'allow',
        lockdown: expect.objectContaining({ by: expect.stringMatching(/\(control socket\)$/) }),
      }),
    ]);
    const cut = records.filter((r) => r.reason === 'lockdown');
    expect(cut).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'tunnel', agent: 'research', host: 'raw.test', status: 200, effect: 'deny' }),
        expect.objectContaining({ event: 'connection', agent: 'research', host: 'api.test', effect: 'deny' }),
        expect.objectContaining({ event: 'request', agent: 'research', status: 403 }),
        expect.objectContaining({ event: 'tunnel', agent: 'research', status: 403 }),
      ]),
    );
    expect(cut.every((r) => r.agent === 'research' && r.host !== null)).toBe(true);

    // And in leash audit --summary.
    const summary = await cli({}, 'audit', leash.auditFile, '--summary', '--format', 'table');
    const text = summary.out.join('\n');
    expect(text).toMatch(
      /agent research\n.*\n {2}rate-limited 0; grants issued 0, used 0; refused or cut by lockdown 4\n/,
    );
    expect(text).toMatch(
      /lockdowns switched \(2\):\n {2}\S+ {2}on {3}agent research {2}by .*\(control socket\): exfiltrating to pastebin\n {2}\S+ {2}off {2}agent research {2}by /,
    );
    researchPool.destroy();
    mailPool.destroy();
    mailTunnel.destroy();
  });

  it('a request still in flight is cut too, audited lockdown', async () => {
    const control = leash.running.control.path;
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: leash.port,
          path: `http://api.test:${origin.port}/slow`,
          agent: false,
          headers: { 'Proxy-Authorization': AUTH.research },
        },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
    expect(response.statusCode).toBe(200);
    const cut = new Promise<number>((resolve) => response.once('close', () => resolve(performance.now())));
    response.on('error', () => {});
    response.resume();
    const t0 = performance.now();
    expect((await cli(env, 'lockdown', 'on', '--agent', 'research', '--control', control)).code).toBe(0);
    expect((await cut) - t0).toBeLessThan(1000);
    expect(response.complete).toBe(false);
    const record = await waitFor(async () =>
      (await leash.records()).find((r) => r.event === 'request' && r.path === '/slow'),
    );
    expect(record).toMatchObject({
      agent: 'research',
      effect: 'deny',
      reason: 'lockdown',
      message: expect.stringContaining('agent research is locked down since'),
    });
    expect(leash.stderr.join('\n')).toMatch(
      /leash: lockdown on for research, asked by .*\(control socket\): locked down by an operator/,
    );
    expect((await cli(env, 'lockdown', 'off', '--control', control)).code).toBe(0);
  });

  it('without --agent every agent is locked down, and lockdown off lifts it', async () => {
    const control = leash.running.control.path;
    expect((await cli(env, 'lockdown', 'on', '--control', control)).code).toBe(0);
    const [research, mail] = await Promise.all([get(leash, 'research'), get(leash, 'mail')]);
    expect([research.status, mail.status]).toEqual([403, 403]);
    expect(mail.body).toContain('every agent is locked down');
    expect((await cli(env, 'lockdown', 'off', '--control', control)).code).toBe(0);
    expect((await get(leash, 'mail')).status).toBe(200);
  });

  it('when leash is not running there, the command says so in one line and exits 1', async () => {
    const dir = await tempDir('leash-none-');
    const reply = await cli({}, 'lockdown', 'on', '--control', `${dir}/leash-admin.sock`);
    expect(reply).toEqual({
      code: 1,
      out: [],
      err: [
        `leash lockdown on: leash is not running at ${dir}/leash-admin.sock (no control socket there); start leash serve, or point to its socket with --control PATH (or its --admin listener with --admin URL)`,
      ],
    });
  });
});

describe('lockdown survives a restart', () => {
  it('a leash restarted on the same audit directory keeps refusing, and says so at start', async () => {
    const first = await startLeash(POLICY);
    const on = await cli(
      {},
      'lockdown',
      'on',
      '--agent',
      'mail',
      '--reason',
      'incident 42',
      '--control',
      first.running.control.path,
    );
    expect(on.code).toBe(0);
    await first.stop();
    const second = await startLeash(POLICY, { dir: first.dir });
    try {
      expect(second.stderr.join('\n')).toContain('leash: lockdown in force');
      const refused = await get(second, 'mail');
      expect(refused.status).toBe(403);
      expect(refused.body).toContain('incident 42');
      expect((await get(second, 'research')).status).toBe(200);
    } finally {
      await second.stop();
    }
  });
});

describe('the control API over --admin', () => {
  const TOKEN = 'adm-9c41e07b5f2a';
  let leash: TestLeash;
  let admin: string;
  beforeAll(async () => {
    leash = await startLeash(POLICY, { admin: '127.0.0.1:0', env: { LEASH_ADMIN_TOKEN: TOKEN } });
    admin = `http://127.0.0.1:${leash.running.admin?.port}`;
  });
  afterAll(async () => leash?.stop());

  it.each([
    {
      name: 'no token',
      env: {},
      code: 1,
      err: /lockdown on: this call needs Authorization: Bearer with the token in LEASH_ADMIN_TOKEN \(unauthorized, HTTP 401\)$/,
    },
    {
      name: 'a wrong token',
      env: { LEASH_ADMIN_TOKEN: `${TOKEN}-wrong` },
      code: 1,
      err: /lockdown on: the bearer token is wrong \(unauthorized, HTTP 401\)$/,
    },
  ])('refuses a lockdown with $name, and nothing is locked', async ({ env, code, err }) => {
    const reply = await cli(env, 'lockdown', 'on', '--admin', admin);
    expect(reply.code).toBe(code);
    expect(reply.err.join('\n')).toMatch(err);
    expect(reply.err.join('\n')).not.toContain(TOKEN);
    expect((await get(leash, 'research')).status).toBe(200);
  });

  it('with the token (from LEASH_ADMIN_TOKEN, the address from LEASH_ADMIN), locks down, audited as admin-token', async () => {
    const reply = await cli({ LEASH_ADMIN: admin, LEASH_ADMIN_TOKEN: TOKEN }, 'lockdown', 'on', '--agent', 'research');
    expect(reply.code).toBe(0);
    expect((await get(leash, 'research')).status).toBe(403);
    expect((await cli({ LEASH_ADMIN: admin, LEASH_ADMIN_TOKEN: TOKEN }, 'lockdown', 'off')).code).toBe(0);
    const records = await leash.records();
    expect(records.filter((r) => r.event === 'lockdown').map((r) => (r.lockdown as { by: string }).by)).toEqual([
      'admin-token',
      'admin-token',
    ]);
    expect(JSON.stringify(records)).not.toContain(TOKEN);
    expect(leash.stderr.join('\n')).not.toContain(TOKEN);
  });

  it('is not reachable through the proxy port', async () => {
    // Origin-form on the proxy port: leash is a forward proxy, not the control API.
    const direct = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: leash.port,
          path: '/v1/lockdown/off',
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    expect(direct).toBe(400);
    // Through the proxy to the admin address: the policy and the address guard decide, as for any host.
    const proxied = await new Promise<{ status: number; decision: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: leash.port,
          path: `${admin}/v1/lockdown/off`,
          method: 'POST',
          headers: {
            'Proxy-Authorization': AUTH.research,
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/json',
          },
        },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, decision: String(res.headers['x-leash-decision']) });
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    expect(proxied).toEqual({ status: 403, decision: 'deny; reason=no_rule' });
  });
});
