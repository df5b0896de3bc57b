// Approvals on real sockets: a real leash in-process, a real origin on loopback, requests through the proxy, and
// `leash approvals list|allow|deny` over the real control socket. A request no rule allows becomes a pending
// approval whose 403 names the command that approves it; identical requests coalesce; an answer turns the retry
// into an allowed request (once, for a time, always with the rule written to approved.yaml and reloaded); a held
// request (wait) is let through when the answer comes. Every step is in the audit log and in --summary.

import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/policy/load.js';
import { readPolicySources } from '../../src/policy/read.js';
import { startLeash, type TestLeash } from '../helpers/leash.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { leashCli, viaProxy } from '../helpers/through-leash.js';

const TOKENS = { LEASH_T_APPROVE_OPS: 'ops-token-5d3a' };
const ops = { 'Proxy-Authorization': `Basic ${Buffer.from(`ops:${TOKENS.LEASH_T_APPROVE_OPS}`).toString('base64')}` };

const policyText = (port: number, wait = '0s') => `version: 1
settings:
  dns:
    hosts: { once.example.test: 127.0.0.1, for.example.test: 127.0.0.1, always.example.test: 127.0.0.1, denied.example.test: 127.0.0.1, held.example.test: 127.0.0.1 }
  network: { allowCidrs: ["127.0.0.0/8"] }
  approvals: { agents: [ops], wait: ${wait}, expire: 1h }
agents:
  ops: { token: env:LEASH_T_APPROVE_OPS }
rules:
  - { name: listed, domain: listed.example.test, ports: [${port}], effect: allow }
`;

/** The approval id a pending refusal names, from its reason phrase (what curl -v and git show). */
function idOf(reply: { statusMessage: string }): string {
  const m = /leash approvals allow ([a-z0-9]+)\)$/.exec(reply.statusMessage);
  if (!m) throw new Error(`no approval command in "${reply.statusMessage}"`);
  return m[1] as string;
}

describe('approvals through a real leash', () => {
  let origin: TestOrigin;
  let leash: TestLeash;
  const url = (host: string, p = '/') => `http://${host}:${origin.port}${p}`;
  const control = () => ['--control', leash.running.control.path];

  beforeAll(async () => {
    Object.assign(process.env, TOKENS);
    origin = await startHttpOrigin();
    leash = await startLeash(policyText(origin.port));
  });

  afterAll(async () => {
    await leash?.stop();
    await origin?.close();
    for (const key of Object.keys(TOKENS)) delete process.env[key];
  });

  it('a request no rule allows is 403 pending_approval: the reason phrase and body carry the command; identical requests coalesce', async () => {
    const first = await viaProxy(leash.port, url('once.example.test', '/a'), ops);
    expect(first.status).toBe(403);
    expect(first.headers['x-leash-decision']).toBe('deny; reason=pending_approval');
    const id = idOf(first);
    expect(id).toMatch(/^[a-z2-9]{12}$/);
    expect(first.body).toContain(`leash approvals allow ${id}`);
    expect(first.headers['proxy-status']).toContain('retrying later may help');
    const second = await viaProxy(leash.port, url('once.example.test', '/b'), ops);
    expect(idOf(second)).toBe(id);
    const listed = JSON.parse(
      (await leashCli(['approvals', 'list', '--format', 'json', ...control()])).out.join(''),
    ) as { id: string; requests: number; state: string }[];
    expect(listed).toEqual([expect.objectContaining({ id, requests: 2, state: 'pending', host: 'once.example.test' })]);
    const table = await leashCli(['approvals', 'list', ...control()]);
    expect(table.out[0]).toMatch(/^ID\s+STATE\s+AGENT\s+HOST/);
    expect(origin.seen.filter((r) => r.url === '/a' || r.url === '/b')).toEqual([]);
  });

  it('--once: exactly the next request goes through (reason approved), then it asks again', async () => {
    const id = idOf(await viaProxy(leash.port, url('once.example.test'), ops));
    const allowed = await leashCli(['approvals', 'allow', id, ...control()]);
    expect(allowed.code).toBe(0);
    expect(allowed.out.join('\n')).toContain(`allowed ${id} once`);
    const retry = await viaProxy(leash.port, url('once.example.test', '/retry'), ops);
    expect(retry.status).toBe(200);
    const records = await leash.records();
    expect(records.at(-1)).toMatchObject({
      event: 'request',
      effect: 'allow',
      reason: 'approved',
      rule: null,
      approval: { id, grant: 'once' },
    });
    const next = await viaProxy(leash.port, url('once.example.test'), ops);
    expect(next.status).toBe(403);
    expect(idOf(next)).not.toBe(id);
  });

  it('--for 1h: every request goes through while it lasts', async () => {
    const id = idOf(await viaProxy(leash.port, url('for.example.test'), ops));
    expect((await leashCli(['approvals', 'allow', id, '--for', '1h', ...control()])).code).toBe(0);
    for (const p of ['/1', '/2', '/3'])
      expect((await viaProxy(leash.port, url('for.example.test', p), ops)).status).toBe(200);
  });

  it('deny: refused at once with approval_denied, and no new question', async () => {
    const id = idOf(await viaProxy(leash.port, url('denied.example.test'), ops));
    expect((await leashCli(['approvals', 'deny', id, ...control()])).code).toBe(0);
    const refused = await viaProxy(leash.port, url('denied.example.test'), ops);
    expect(refused.status).toBe(403);
    expect(refused.headers['x-leash-decision']).toBe('deny; reason=approval_denied');
  });

  it('--always: a reviewed rule in approved.yaml (with who approved what and when), reloaded; requests are allowed by it', async () => {
    const before = leash.running.proxy.policy.revision;
    const id = idOf(await viaProxy(leash.port, url('always.example.test'), ops));
    const answered = await leashCli(['approvals', 'allow', id, '--always', ...control()]);
    expect(answered.code).toBe(0);
    expect(answered.out.join('\n')).toContain('policy reloaded: the rule is in force');
    const file = path.join(leash.dir, 'policies', 'approved.yaml');
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(
      new RegExp(
        `# approved by .+ \\(uid \\d+\\).* at \\S+: approval ${id}, agent ops asked GET always\\.example\\.test:${origin.port}`,
      ),
    );
    expect(text).toContain(
      `- { name: approved-${id}, domain: "always.example.test", ports: [${origin.port}], agents: [ops], effect: allow`,
    );
    // The file the next start loads, loads.
    expect(compilePolicy(await readPolicySources([path.join(leash.dir, 'policies')])).policy).toBeDefined();
    expect(leash.running.proxy.policy.revision).not.toBe(before);
    const reply = await viaProxy(leash.port, url('always.example.test', '/x'), ops);
    expect(reply.status).toBe(200);
    expect((await leash.records()).at(-1)).toMatchObject({ reason: 'allowed_by_rule', rule: `approved-${id}` });
  });

  it('an unknown id is a clear error, exit 1', async () => {
    const r = await leashCli(['approvals', 'allow', 'nosuchid2345', ...control()]);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain('no approval nosuchid2345 in force');
  });

  it('every step is in the audit log and in leash audit --summary', async () => {
    const records = await leash.records();
    const requested = records.filter((r) => r.event === 'approval' && r.reason === 'approval_requested');
    const decided = records.filter((r) => r.event === 'approval' && r.reason === 'approval_decided');
    expect(requested.length).toBeGreaterThanOrEqual(5);
    expect(decided.map((r) => (r.approval as { grant: string | null; state: string }).state)).toEqual([
      'allowed',
      'allowed',
      'denied',
      'allowed',
    ]);
    expect(decided.every((r) => /\(uid \d+\)/.test(String((r.approval as { by: string }).by)))).toBe(true);
    const summary = (await leashCli(['audit', leash.auditFile, '--summary'])).out.join('\n');
    expect(summary).toMatch(/approvals \(\d+\)/);
    // The first question was asked three times (two coalesced, one more before --once), then used by one request.
    expect(summary).toMatch(
      /agent ops {2}once\.example\.test:\d+ {2}asked \S+; refused pending 3; once by .+?\(uid \d+\).*?; 1 approved request /,
    );
    expect(summary).toMatch(/for\.example\.test:\d+ .*; for by .+?; 3 approved requests/);
    expect(summary).toMatch(
      /denied\.example\.test:\d+ .*; deny by .+?; 0 approved requests \(bytes out 0\); refused denied 1/,
    );
    expect(summary).toMatch(/always\.example\.test:\d+ .*always by .+?\(uid \d+\).*? \(rule approved-[a-z0-9]+\)/);
  });
});

describe('approvals with wait: the request is held for the answer', () => {
  let origin: TestOrigin;
  let leash: TestLeash;

  beforeAll(async () => {
    Object.assign(process.env, TOKENS);
    origin = await startHttpOrigin();
    leash = await startLeash(policyText(origin.port, '20s'));
  });

  afterAll(async () => {
    await leash?.stop();
    await origin?.close();
    for (const key of Object.keys(TOKENS)) delete process.env[key];
  });

  it('held, then let through the moment a human allows it', async () => {
    const started = performance.now();
    const held = viaProxy(leash.port, `http://held.example.test:${origin.port}/wait`, ops);
    const pending = await (async () => {
      for (let i = 0; i < 100; i++) {
        const listed = JSON.parse(
          (await leashCli(['approvals', 'list', '--format', 'json', '--control', leash.running.control.path])).out.join(
            '',
          ),
        ) as { id: string }[];
        if (listed[0]) return listed[0];
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('no approval appeared');
    })();
    expect((await leashCli(['approvals', 'allow', pending.id, '--control', leash.running.control.path])).code).toBe(0);
    const reply = await held;
    expect(reply.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(origin.seen.some((r) => r.url === '/wait')).toBe(true);
  });

  it('a client that goes away releases the held request (no upstream request, one record)', async () => {
    const req = http.request({
      host: '127.0.0.1',
      port: leash.port,
      method: 'GET',
      path: `http://held.example.test:${origin.port}/gone`,
      headers: { ...ops, Connection: 'close' },
      agent: false,
    });
    req.on('error', () => {});
    req.end();
    await new Promise((r) => setTimeout(r, 400));
    req.destroy();
    const record = await (async () => {
      for (let i = 0; i < 100; i++) {
        const found = (await leash.records()).find((r) => r.event === 'request' && r.path === '/gone');
        if (found) return found;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('no record for the released request');
    })();
    expect(record.effect).toBe('deny');
    expect(origin.seen.some((r) => r.url === '/gone')).toBe(false);
  });
});
