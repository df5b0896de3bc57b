// The host side of kernel rules, against a scripted host: which tools run with which input, what --apply records
// for unprivileged processes, and when `leash serve` warns that its own uid is restricted. The real tools and a
// real kernel are exercised by e2e.test.ts.

import { describe, expect, it } from 'vitest';
import { LeashError } from '../../src/errors.js';
import { applyRules, loadedRestrictions, removeRules, warnIfRestricted } from '../../src/kernel/loaded.js';
import type { KernelHost, RulesRecord, ToolResult } from '../../src/kernel/system.js';
import { goldenRuleset } from './cases.js';

const ok = (stdout = ''): ToolResult => ({ code: 0, stdout, stderr: '', missing: false });
const fail = (stderr: string, code = 1): ToolResult => ({ code, stdout: '', stderr, missing: false });
const MISSING: ToolResult = { code: null, stdout: '', stderr: 'spawn nft ENOENT', missing: true };

const NFT_LOADED_1001 = JSON.stringify({
  nftables: [
    { table: { family: 'inet', name: 'leash' } },
    {
      rule: {
        family: 'inet',
        table: 'leash',
        chain: 'output',
        comment: 'uid 1001',
        expr: [{ match: { left: { meta: { key: 'skuid' } }, right: 1001 } }, { counter: { packets: 0, bytes: 0 } }],
      },
    },
  ],
});
const NOT_PERMITTED = fail('Error: Could not process rule: Operation not permitted');
const IPT_NOT_ROOT = fail(
  'iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)',
  4,
);

interface Call {
  command: string;
  args: readonly string[];
  input?: string;
}

function fakeHost(
  opts: { uid?: number; tools?: (call: Call) => ToolResult; records?: RulesRecord[]; netns?: string } = {},
): KernelHost & { calls: Call[]; records: RulesRecord[] } {
  const calls: Call[] = [];
  const records = [...(opts.records ?? [])];
  return {
    platform: 'linux',
    calls,
    records,
    uid: () => opts.uid ?? 0,
    async run(command, args, options) {
      const call = { command, args, input: options?.input };
      calls.push(call);
      return (opts.tools ?? (() => ok()))(call);
    },
    lookupUser: async () => undefined,
    netns: async () => opts.netns ?? 'net:[4026531840]',
    readRecords: async () => records,
    async writeRecord(record) {
      records.push(record);
    },
    async removeRecord(format, netns) {
      const i = records.findIndex((r) => r.format === format && r.netns === netns);
      if (i >= 0) records.splice(i, 1);
    },
  };
}

describe('applyRules and removeRules', () => {
  it('nft: one `nft -f` with the rendered file, then a record for unprivileged readers', async () => {
    const host = fakeHost();
    const lines = await applyRules(goldenRuleset('one-agent'), 'nft', host);
    expect(host.calls).toEqual([
      { command: 'nft', args: ['-f', '/dev/stdin'], input: expect.stringContaining('table inet leash {') },
    ]);
    expect(host.records).toEqual([{ format: 'nft', uids: [1001], netns: 'net:[4026531840]' }]);
    expect(lines[0]).toMatch(/^applied: nft table inet leash now restricts uid 1001/);
  });

  it('iptables: saves then restores IPv6 first, then IPv4, each with --noflush', async () => {
    const host = fakeHost();
    await applyRules(goldenRuleset('one-agent'), 'iptables', host);
    expect(host.calls.map((c) => [c.command, ...c.args].join(' '))).toEqual([
      'ip6tables-save -t filter',
      'ip6tables-restore --noflush',
      'iptables-save -t filter',
      'iptables-restore --noflush',
    ]);
  });

  it('stops at the first failing family and quotes the tool, leaving IPv4 untouched when IPv6 fails', async () => {
    const host = fakeHost({
      tools: (c) => (c.command === 'ip6tables-restore' ? fail('ip6tables-restore: line 5 failed') : ok()),
    });
    const err = await applyRules(goldenRuleset('one-agent'), 'iptables', host).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeashError);
    expect(err).toMatchObject({
      code: 'LEASH_KERNEL',
      message: expect.stringContaining('ip6tables-restore --noflush failed: ip6tables-restore: line 5 failed'),
    });
    expect(host.calls.some((c) => c.command === 'iptables-restore')).toBe(false);
    expect(host.records).toEqual([]);
  });

  it('names the package when a tool is not installed', async () => {
    const host = fakeHost({ tools: () => MISSING });
    await expect(applyRules(goldenRuleset('one-agent'), 'nft', host)).rejects.toMatchObject({
      code: 'LEASH_KERNEL',
      message: expect.stringMatching(/not installed \(Debian: apt-get install nftables iptables\)/),
    });
  });

  it('remove: deletes the table and the record, and says whether anything was loaded', async () => {
    const host = fakeHost({
      tools: (c) => (c.args.includes('list') ? ok(NFT_LOADED_1001) : ok()),
      records: [{ format: 'nft', uids: [1001], netns: 'net:[4026531840]' }],
    });
    expect(await removeRules('nft', host)).toEqual(['removed: nft table inet leash']);
    expect(host.calls.at(-1)).toEqual({
      command: 'nft',
      args: ['-f', '/dev/stdin'],
      input: 'table inet leash\ndelete table inet leash\n',
    });
    expect(host.records).toEqual([]);
    const empty = fakeHost({
      tools: (c) => (c.args.includes('list') ? fail('Error: No such file or directory') : ok()),
    });
    expect(await removeRules('nft', empty)).toEqual(['nft table inet leash: not loaded; nothing to remove']);
  });

  it('remove: still removes when the table cannot be read first (an nft without JSON support)', async () => {
    const host = fakeHost({
      tools: (c) => (c.args.includes('-j') ? fail('Error: JSON support not compiled-in') : ok()),
    });
    expect(await removeRules('nft', host)).toEqual(['removed: nft table inet leash (if it was loaded)']);
    expect(host.calls.at(-1)?.input).toBe('table inet leash\ndelete table inet leash\n');
  });
});

describe('warnIfRestricted (leash serve at start)', () => {
  it.each<[name: string, opts: Parameters<typeof fakeHost>[0], warning: RegExp | null]>([
    [
      'root reads the kernel: the nft rules restrict this uid',
      { uid: 1001, tools: (c) => (c.command === 'nft' ? ok(NFT_LOADED_1001) : ok('')) },
      /^leash: warning: this process runs as uid 1001, which the loaded leash nft rules restrict.*will be refused/,
    ],
    [
      'the kernel restricts other uids only',
      { uid: 1002, tools: (c) => (c.command === 'nft' ? ok(NFT_LOADED_1001) : ok('')) },
      null,
    ],
    [
      'unprivileged: the kernel is unreadable, the record of --apply in this namespace says so',
      {
        uid: 1001,
        tools: (c) => (c.command === 'nft' ? NOT_PERMITTED : IPT_NOT_ROOT),
        records: [{ format: 'iptables', uids: [1001], netns: 'net:[4026531840]' }],
      },
      /^leash: warning: this process runs as uid 1001, which the loaded leash iptables rules restrict .*\(as recorded by leash rules --apply\)/,
    ],
    [
      'a record from another network namespace does not apply here',
      { uid: 1001, tools: () => NOT_PERMITTED, records: [{ format: 'nft', uids: [1001], netns: 'net:[999]' }] },
      null,
    ],
    [
      'the kernel is readable and has no leash rules: a stale record is ignored',
      {
        uid: 1001,
        tools: (c) => (c.command === 'nft' ? fail('Error: No such file or directory') : ok('')),
        records: [{ format: 'nft', uids: [1001], netns: 'net:[4026531840]' }],
      },
      null,
    ],
    ['no tools installed, no records: silent', { uid: 1001, tools: () => MISSING }, null],
  ])('%s', async (_name, opts, warning) => {
    const lines: string[] = [];
    await warnIfRestricted((l) => lines.push(l), fakeHost(opts));
    if (warning === null) expect(lines).toEqual([]);
    else expect(lines).toEqual([expect.stringMatching(warning)]);
  });

  it('never throws, whatever the host does', async () => {
    const host = fakeHost();
    const broken: KernelHost = {
      ...host,
      uid: () => 1001,
      run: () => Promise.reject(new Error('boom')),
      readRecords: () => Promise.reject(new Error('boom')),
      netns: () => Promise.reject(new Error('boom')),
    };
    const lines: string[] = [];
    await expect(warnIfRestricted((l) => lines.push(l), broken)).resolves.toBeUndefined();
    expect(lines).toEqual([]);
    expect(await loadedRestrictions(broken)).toEqual([]);
  });
});
