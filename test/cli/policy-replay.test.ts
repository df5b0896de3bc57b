// `leash policy replay --policy NEW [AUDIT]...`: re-decides what a real leash recorded and prints exactly the
// decisions a change makes different, grouped by host and rule; exit 1 when something allowed would be denied
// (unless --allow-tightening) or when the log cannot be read whole. Fixtures: a log written by a real leash serving
// real requests, and hand-written logs (plain and gzip-rotated, hostile, broken).

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/audit-sink.js';
import { curl } from '../helpers/clients.js';
import { policy as withVersion, startLeash } from '../helpers/leash.js';
import { startHttpOrigin, type TestOrigin } from '../helpers/origin.js';
import { run } from './run.js';

const SETTINGS = `
settings:
  dns: { hosts: { allowed.test: 127.0.0.1, unlisted.test: 127.0.0.1, banned.test: 127.0.0.1, reads.test: 127.0.0.1 } }
  network: { allowCidrs: ["127.0.0.0/8"] }`;
const OLD = withVersion(`${SETTINGS}
rules:
  - { name: banned, domain: banned.test, ports: "*", effect: deny }
  - { name: allowed, domain: allowed.test, ports: "*", effect: allow }
  - { name: reads, domain: reads.test, ports: "*", methods: [GET, POST], effect: allow }
`);
// The change: reads.test becomes read-only, unlisted.test gets a rule.
const NEW = withVersion(`${SETTINGS}
rules:
  - { name: banned, domain: banned.test, ports: "*", effect: deny }
  - { name: allowed, domain: allowed.test, ports: "*", effect: allow }
  - { name: reads, domain: reads.test, ports: "*", methods: [GET], effect: allow }
  - { name: unlisted, domain: unlisted.test, ports: "*", effect: allow }
`);

let dir: string;
let newPolicy: string;

beforeAll(async () => {
  dir = await tempDir('leash-replay-cli-');
  newPolicy = path.join(dir, 'new.yaml');
  await writeFile(newPolicy, NEW);
});

describe('a log written by a real leash', () => {
  let origin: TestOrigin;
  let auditFile: string;
  let port: number;

  beforeAll(async () => {
    origin = await startHttpOrigin();
    port = origin.port;
    const leash = await startLeash(OLD);
    try {
      for (const [method, host] of [
        ['GET', 'allowed.test'],
        ['GET', 'unlisted.test'],
        ['GET', 'unlisted.test'],
        ['GET', 'banned.test'],
        ['POST', 'reads.test'],
        ['GET', 'reads.test'],
        ['DELETE', 'reads.test'],
      ] as const) {
        await curl({
          url: `http://${host}:${port}/x`,
          proxy: leash.url,
          method,
          ...(method === 'POST' ? { data: 'x' } : {}),
        });
      }
      await leash.waitForRecords(7);
      auditFile = leash.auditFile;
    } finally {
      await leash.stop();
    }
  });

  afterAll(async () => {
    await origin?.close();
  });

  it('shows exactly the changed decisions, grouped by host and rule; exit 1 for the tightening', async () => {
    const { code, out, err } = await run('policy', 'replay', '--policy', newPolicy, auditFile);
    expect(code).toBe(1);
    expect(err).toEqual([
      'leash policy replay: 1 request allowed before would now be denied (--allow-tightening accepts that)',
    ]);
    const text = out.join('\n');
    expect(out.slice(1, 11)).toEqual([
      '',
      'allow → deny: 1 request',
      `        1  reads.test:${port}  was rule reads (allowed_by_rule), now no_rule`,
      '           agents: anonymous',
      `           e.g. POST http://reads.test:${port}/x`,
      '',
      'deny → allow: 2 requests',
      `        2  unlisted.test:${port}  was no_rule, now rule unlisted (allowed_by_rule, ${newPolicy}:10)`,
      '           agents: anonymous',
      `           e.g. GET http://unlisted.test:${port}/x`,
    ]);
    expect(text).toContain('7 requests and tunnels replayed: 4 unchanged, 1 allow → deny, 2 deny → allow');
  });

  it('--allow-tightening: the same report, exit 0', async () => {
    const { code, err } = await run('policy', 'replay', '--policy', newPolicy, '--allow-tightening', auditFile);
    expect(code).toBe(0);
    expect(err).toEqual([]);
  });

  it('--format json: the same figures for a bot', async () => {
    const { code, out } = await run('policy', 'replay', '--policy', newPolicy, '--format', 'json', auditFile);
    expect(code).toBe(1);
    const result = JSON.parse(out.join('\n')) as Record<string, unknown>;
    expect(result).toMatchObject({
      replayed: 7,
      unchanged: 4,
      tightened: 1,
      loosened: 2,
      unreadableLines: 0,
      inputs: [auditFile],
    });
    expect(
      (result.groups as { host: string; direction: string; count: number }[]).map((g) => [
        g.direction,
        g.host,
        g.count,
      ]),
    ).toEqual([
      ['loosened', 'unlisted.test', 2],
      ['tightened', 'reads.test', 1],
    ]);
  });

  it('under the policy that wrote it: nothing changes, exit 0', async () => {
    const same = path.join(dir, 'old.yaml');
    await writeFile(same, OLD);
    const { code, out } = await run('policy', 'replay', '--policy', same, auditFile);
    expect(code).toBe(0);
    expect(out.join('\n')).toContain('7 requests and tunnels replayed: 7 unchanged, 0 allow → deny, 0 deny → allow');
  });
});

const line = (fields: Record<string, unknown>) =>
  JSON.stringify({
    event: 'request',
    agent: 'research',
    method: 'GET',
    scheme: 'http',
    port: 80,
    path: '/',
    effect: 'allow',
    rule: null,
    reason: 'allowed_by_rule',
    ...fields,
  });

describe('hand-written logs', () => {
  it('reads rotated files, gzip ones too, in time order', async () => {
    const d = await tempDir('leash-replay-rotated-');
    await writeFile(
      path.join(d, 'audit.log.2.gz'),
      gzipSync(`${line({ time: '2026-11-22T00:00:00.000Z', host: 'reads.test', method: 'POST', rule: 'reads' })}\n`),
    );
    await writeFile(
      path.join(d, 'audit.log.1'),
      `${line({ time: '2026-11-22T01:00:00.000Z', host: 'unlisted.test', effect: 'deny', reason: 'no_rule' })}\n`,
    );
    await writeFile(
      path.join(d, 'audit.log'),
      `${line({ time: '2026-11-22T02:00:00.000Z', host: 'allowed.test', rule: 'allowed' })}\n`,
    );
    const { code, out } = await run('policy', 'replay', '--policy', newPolicy, '--format', 'json', d);
    expect(code).toBe(1);
    expect(JSON.parse(out.join('\n'))).toMatchObject({
      records: 3,
      replayed: 3,
      unchanged: 1,
      tightened: 1,
      loosened: 1,
    });
  });

  it('a line that is not a record: named on stderr, and exit 1 even with --allow-tightening (the replay is incomplete)', async () => {
    const file = path.join(await tempDir('leash-replay-broken-'), 'audit.log');
    await writeFile(
      file,
      `${line({ host: 'allowed.test', rule: 'allowed' })}\nnot json\n[1,2]\n${line({ host: 'allowed.test', rule: 'allowed' }).slice(0, 20)}`,
    );
    const { code, out, err } = await run('policy', 'replay', '--policy', newPolicy, '--allow-tightening', file);
    expect(code).toBe(1);
    expect(out.join('\n')).toContain('1 requests and tunnels replayed: 1 unchanged');
    expect(err).toEqual([
      `leash policy replay: ${file}:2: not a JSON record, not replayed`,
      `leash policy replay: ${file}:3: not a JSON object, not replayed`,
      `leash policy replay: ${file}:4: incomplete last line (no newline), not replayed`,
      'leash policy replay: 3 lines could not be read as records, so this replay is incomplete; run `leash audit verify` on the same files',
    ]);
  });

  it('hostile strings from the log cannot repaint the terminal', async () => {
    const file = path.join(await tempDir('leash-replay-hostile-'), 'audit.log');
    await writeFile(
      file,
      `${line({ host: 'reads.test', method: 'POST', rule: 'reads', agent: 'a\u001b]0;pwned\u0007', path: '/\u001b[2J\u202e' })}\n`,
    );
    const { out } = await run('policy', 'replay', '--policy', newPolicy, file);
    const text = out.join('\n');
    expect(text).not.toMatch(/[\u001b\u0007\u202e]/);
    expect(text).toContain('agents: a\\x1b]0;pwned\\x07');
    expect(text).toContain('e.g. POST http://reads.test/\\x1b[2J\\u{202e}');
  });

  it('a new policy in report mode: the denials are still shown as what the policy decides, with a note', async () => {
    const d = await tempDir('leash-replay-report-');
    const report = path.join(d, 'report.yaml');
    await writeFile(report, 'version: 1\nsettings: { mode: report }\n');
    const file = path.join(d, 'audit.log');
    await writeFile(file, `${line({ host: 'allowed.test', rule: 'allowed' })}\n`);
    const { code, out } = await run('policy', 'replay', '--policy', report, file);
    expect(code).toBe(1);
    expect(out[1]).toBe(
      'note: the new policy is in report mode: leash would let its denials through, recorded with wouldDeny; they are shown as what the policy decides',
    );
    expect(out).toContain('allow → deny: 1 request');
  });

  it.each<[name: string, args: string[], code: number, err: RegExp]>([
    ['an unknown format', ['--format', 'csv'], 2, /--format needs text or json, got "csv"/],
    ['no audit log where the default points', [], 1, /no audit log at /],
    [
      'an audit path that does not exist',
      ['/nonexistent/leash-audit.log'],
      1,
      /cannot read \/nonexistent\/leash-audit\.log/,
    ],
  ])('%s', async (_name, args, code, err) => {
    const result = await run('policy', 'replay', '--policy', newPolicy, ...args);
    expect(result.code).toBe(code);
    expect(result.err.join('\n')).toMatch(err);
  });

  it('--help: usage, flags and an example', async () => {
    const { code, out } = await run('policy', 'replay', '--help');
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(
      /^Usage: leash policy replay \[--policy NEW\]\.\.\. \[--format text\|json\] \[--allow-tightening\] \[AUDIT\]\.\.\./,
    );
    expect(text).toContain('--allow-tightening');
    expect(text).toMatch(/\nExample:\n {2}leash policy replay /);
  });
});
