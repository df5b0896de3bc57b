// `leash rules`: prints the kernel ruleset for the agent's user, refuses to restrict the user running it, and
// rejects command lines that would load something other than what the operator meant. Loading into a real
// kernel (--apply, --remove, --status) is tested in test/kernel/e2e.test.ts.

import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from './run.js';
import { rulesCommand } from '../../src/cli/rules.js';
import type { KernelHost } from '../../src/kernel/system.js';

const GOLDEN = fileURLToPath(new URL('../kernel/golden/', import.meta.url));
const selfUid = process.getuid?.() ?? 0;
/** A uid that is not this process's, so the own-uid refusal does not get in the way. */
const otherUid = String(selfUid === 1001 ? 1002 : 1001);

describe('leash rules: printing', () => {
  it.each<[format: string, file: string]>([
    ['nft', 'one-agent.nft'],
    ['iptables', 'one-agent.rules'],
    ['pf', 'one-agent.pf.conf'],
  ])('--format %s prints exactly the golden ruleset', async (format, file) => {
    if (selfUid === 1001) return; // the golden ruleset restricts uid 1001, which this command refuses for its own user
    const { code, out, err } = await run('rules', '--user', '1001', '--proxy', '127.0.0.1:3128', '--format', format);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    // The golden names the user "agent"; by uid, the comment has no name.
    expect(`${out.join('\n')}\n`).toBe(
      (await readFile(`${GOLDEN}${file}`, 'utf8')).replaceAll('uid 1001 (agent)', 'uid 1001'),
    );
  });

  it('resolves a user name from /etc/passwd and names it in the comments', async () => {
    const { code, out } = await run('rules', '--user', 'nobody', '--proxy', '127.0.0.1:3128', '--format', 'nft');
    expect(code).toBe(0);
    expect(out.join('\n')).toContain(
      'meta skuid 65534 counter jump uid_65534 comment "uid 65534 (nobody): only the proxy and --allow endpoints"',
    );
  });

  it('several --user flags share one proxy; --allow, --action drop and --no-log reach the output', async () => {
    const { code, out } = await run(
      'rules',
      '--user',
      otherUid,
      '--user',
      'nobody',
      '--proxy',
      '127.0.0.1:3128',
      '--allow',
      '127.0.0.1:11434',
      '--action',
      'drop',
      '--no-log',
      '--format',
      'iptables',
    );
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toContain(`-A LEASH -m owner --uid-owner ${otherUid} `);
    expect(text).toContain('-A LEASH -m owner --uid-owner 65534 ');
    expect(text).toContain('--dport 11434');
    expect(text).toContain('-j DROP');
    expect(text).not.toContain('-j LOG');
    expect(text).not.toContain('REJECT');
  });

  it('--log is the default and may be given explicitly', async () => {
    const explicit = await run('rules', '--user', otherUid, '--proxy', '127.0.0.1:3128', '--format', 'nft', '--log');
    const implicit = await run('rules', '--user', otherUid, '--proxy', '127.0.0.1:3128', '--format', 'nft');
    expect(explicit.out).toEqual(implicit.out);
    expect(explicit.out.join('\n')).toContain(`log prefix "leash-deny uid=${otherUid} "`);
  });
});

describe('leash rules: refusals', () => {
  it.each<[name: string, user: string]>([
    ['by uid', String(selfUid)],
    ['by name', userInfo().username],
  ])('refuses to restrict the uid running the command (%s), exit 1', async (_name, user) => {
    const { code, out, err } = await run('rules', '--user', user, '--proxy', '127.0.0.1:3128', '--format', 'nft');
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err).toEqual([
      expect.stringMatching(
        new RegExp(`^leash rules: refusing to restrict uid ${selfUid}\\b.*it is the user running this command`),
      ),
    ]);
  });

  it('refuses an unknown user name, exit 1, suggesting a uid', async () => {
    const { code, err } = await run(
      'rules',
      '--user',
      'no-such-user-leash',
      '--proxy',
      '127.0.0.1:3128',
      '--format',
      'nft',
    );
    expect(code).toBe(1);
    expect(err).toEqual([expect.stringMatching(/^leash rules: --user no-such-user-leash: no such user .*give a uid/)]);
  });

  it.each<[name: string, args: string[], message: RegExp]>([
    ['no --format', ['--user', otherUid, '--proxy', '127.0.0.1:3128'], /--format is needed: nft, iptables, pf/],
    [
      'an unknown format',
      ['--user', otherUid, '--proxy', '127.0.0.1:3128', '--format', 'ipfw'],
      /--format must be one of nft, iptables, pf, k8s, got "ipfw"/,
    ],
    ['no --user', ['--proxy', '127.0.0.1:3128', '--format', 'nft'], /at least one --user/],
    ['no --proxy', ['--user', otherUid, '--format', 'nft'], /--proxy HOST:PORT is needed/],
    [
      'a proxy host name',
      ['--user', otherUid, '--proxy', 'localhost:3128', '--format', 'nft'],
      /--proxy "localhost:3128": give an IP address, not a name/,
    ],
    [
      'a malformed --allow',
      ['--user', otherUid, '--proxy', '127.0.0.1:3128', '--allow', '11434', '--format', 'nft'],
      /--allow needs IP:PORT/,
    ],
    [
      'an unknown action',
      ['--user', otherUid, '--proxy', '127.0.0.1:3128', '--action', 'allow', '--format', 'nft'],
      /--action must be reject or drop, got "allow"/,
    ],
    [
      '--log with --no-log',
      ['--user', otherUid, '--proxy', '127.0.0.1:3128', '--log', '--no-log', '--format', 'nft'],
      /--log and --no-log cannot both be given/,
    ],
    [
      'a user name with shell characters',
      ['--user', 'a;b', '--proxy', '127.0.0.1:3128', '--format', 'nft'],
      /"a;b" is neither a uid nor a valid user name/,
    ],
    ['--apply with --remove', ['--apply', '--remove', '--format', 'nft'], /--apply and --remove cannot be combined/],
    [
      '--apply for pf',
      ['--user', otherUid, '--proxy', '127.0.0.1:3128', '--format', 'pf', '--apply'],
      /--apply drives nft and iptables on Linux; for pf, follow the pfctl commands/,
    ],
    ['--status for pf', ['--status', '--format', 'pf'], /--status drives nft and iptables/],
    ['a positional argument', ['nft'], /rules takes no arguments, got "nft"/],
  ])('exits 2 on %s, with usage', async (_name, args, message) => {
    const { code, out, err } = await run('rules', ...args);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err[0]).toMatch(message);
    expect(err.join('\n')).toContain('usage: leash rules [options]');
  });

  it('lists the command in the usage text', async () => {
    const { out } = await run('help');
    expect(out.join('\n')).toMatch(
      /^ {2}rules {4}--user NAME\|UID\.\.\. --proxy HOST:PORT --format nft\|iptables\|pf/m,
    );
  });
});

describe('--remove and --status accept the flags --apply takes', () => {
  // A host that records what would run, so the flag handling is tested without a kernel (the real kernel is in
  // test/kernel/e2e.test.ts).
  const ran: string[] = [];
  const fakeHost: KernelHost = {
    platform: 'linux',
    uid: () => 0,
    run: async (command, args) => {
      ran.push([command, ...args].join(' '));
      return { code: 0, stdout: '', stderr: '', missing: false };
    },
    lookupUser: async () => 4242,
    netns: async () => undefined,
    readRecords: async () => [],
    writeRecord: async () => {},
    removeRecord: async () => {},
  };
  it.each(['remove', 'status'] as const)(
    'the command that loaded the rules, with --apply replaced by --%s, runs and ignores the rest',
    async (mode) => {
      ran.length = 0;
      const out: string[] = [];
      const flags = {
        user: ['4242'],
        proxy: ['127.0.0.1:3128'],
        allow: ['127.0.0.1:11434'],
        action: 'drop',
        'no-log': true,
        format: 'nft',
        [mode]: true,
      };
      const code = await rulesCommand(flags, { out: (l) => out.push(l), err: () => {}, env: {} }, fakeHost);
      // --remove removes; --status reports (exit 1: this fake host has nothing loaded). Neither is a usage error.
      expect(code).toBe(mode === 'remove' ? 0 : 1);
      expect(ran.some((line) => line.startsWith('nft'))).toBe(true);
      expect(out.length).toBeGreaterThan(0);
    },
  );
});
