// --always writes exactly the approved question as a rule, under a comment naming who approved what and when, and
// never a file the loader would refuse: the whole policy is compiled with it first.

import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { approvedRule, writeApprovedRule } from '../../src/approvals/approved-file.js';
import type { Approval } from '../../src/approvals/store.js';
import { compilePolicy } from '../../src/policy/load.js';
import { readPolicySources } from '../../src/policy/read.js';
import { tempDir } from '../helpers/audit-sink.js';

const approval = (over: Partial<Approval> = {}): Approval => ({
  id: 'k7c2mq4rtx9a',
  agent: 'dev',
  host: 'api.new.example',
  port: 443,
  first: { requestId: 'req-1', method: 'CONNECT', path: null },
  requests: 3,
  createdAt: 0,
  state: 'pending',
  grant: null,
  expiresAt: 60_000,
  decidedBy: null,
  decidedAt: null,
  ...over,
});
const AT = new Date('2026-12-03T17:00:00.000Z');
const POLICY = 'version: 1\nagents:\n  dev: { token: env:T_DEV }\n';

async function policyDir(files: Record<string, string>): Promise<string> {
  const dir = path.join(await tempDir('leash-approved-'), 'policies');
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

describe('the approved rule', () => {
  it('is exactly the question: this agent, this host, this port, allow; with who approved what and when', () => {
    expect(approvedRule(approval(), 'alice (uid 1000) (control socket)', AT)).toEqual({
      name: 'approved-k7c2mq4rtx9a',
      text:
        '  # approved by alice (uid 1000) (control socket) at 2026-12-03T17:00:00.000Z: approval k7c2mq4rtx9a, agent dev asked CONNECT api.new.example:443 (request req-1, 3 requests)\n' +
        '  - { name: approved-k7c2mq4rtx9a, domain: "api.new.example", ports: [443], agents: [dev], effect: allow, reason: "approved (k7c2mq4rtx9a) by alice (uid 1000) (control socket)" }\n',
    });
  });

  it('a caller name with a newline cannot write YAML of its own', () => {
    const { text } = approvedRule(approval(), 'eve\n  - { name: evil, domain: "*", broad: true, effect: allow }', AT);
    expect(text.split('\n').filter(Boolean)).toHaveLength(2);
    expect(text).not.toContain('\n  - { name: evil');
  });

  it('an IPv6 host is quoted, and the policy loads', async () => {
    const dir = await policyDir({ 'policy.yaml': POLICY });
    const written = await writeApprovedRule([dir], approval({ host: '2001:db8::1' }), 'alice', AT);
    expect(written).toMatchObject({ ok: true, rule: 'approved-k7c2mq4rtx9a' });
    expect(compilePolicy(await readPolicySources([dir])).policy?.rules.map((r) => r.name)).toEqual([
      'approved-k7c2mq4rtx9a',
    ]);
  });
});

describe('writing approved.yaml', () => {
  it('creates it with a header, then appends; every version loads', async () => {
    const dir = await policyDir({ 'policy.yaml': POLICY });
    expect(await writeApprovedRule([dir], approval(), 'alice', AT)).toMatchObject({
      ok: true,
      file: path.join(dir, 'approved.yaml'),
    });
    expect(
      await writeApprovedRule([dir], approval({ id: 'second234567', host: 'b.example' }), 'bob', AT),
    ).toMatchObject({ ok: true });
    const text = await readFile(path.join(dir, 'approved.yaml'), 'utf8');
    expect(text).toMatch(/^# Rules approved with `leash approvals allow ID --always`/);
    expect(text.match(/# approved by/g)).toHaveLength(2);
    const loaded = compilePolicy(await readPolicySources([dir]));
    expect(loaded.policy?.rules.map((r) => r.name)).toEqual(['approved-k7c2mq4rtx9a', 'approved-second234567']);
    // No temporary file is left behind.
    expect((await readdir(dir)).sort()).toEqual(['approved.yaml', 'policy.yaml']);
  });

  it('refuses, writing nothing, when the policy would not load with it (an approved.yaml someone broke)', async () => {
    const dir = await policyDir({ 'policy.yaml': POLICY, 'approved.yaml': 'version: 1\nrules: []\n' });
    const written = await writeApprovedRule([dir], approval(), 'alice', AT);
    expect(written.ok).toBe(false);
    expect(!written.ok && written.message).toContain('the policy would not load with the approved rule');
    expect(await readFile(path.join(dir, 'approved.yaml'), 'utf8')).toBe('version: 1\nrules: []\n');
  });

  it('refuses when leash serves files, not a directory', async () => {
    const dir = await policyDir({ 'policy.yaml': POLICY });
    const written = await writeApprovedRule([path.join(dir, 'policy.yaml')], approval(), 'alice', AT);
    expect(written).toEqual({ ok: false, message: expect.stringContaining('not a directory') });
  });

  it('refuses an agent the policy no longer defines (the rule would not load)', async () => {
    const dir = await policyDir({ 'policy.yaml': POLICY });
    const written = await writeApprovedRule([dir], approval({ agent: 'gone' }), 'alice', AT);
    expect(!written.ok && written.message).toContain('"gone" is not a defined agent');
  });
});
