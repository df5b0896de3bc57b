// `leash run --isolate uid`, in a real kernel: the test makes a network namespace, and inside it a helper
// (uid-ns-helper.ts) runs `leash run --user 65534 --isolate uid` as root. The command, as uid 65534, reaches an
// allowed origin through leash (identified by its uid), while a direct connection is refused at once by the nft
// rules leash run loaded; after the command the rules are gone.
//
// Needs root, ip, nft and curl; skipped with the reason without them, except under CI=true where that fails.
// Never: a link out of the namespace; it is deleted in afterAll whatever happened.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NS = `leash-run-${randomBytes(4).toString('hex')}`;
const ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

function missingPrerequisite(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root: network namespaces and nft need root';
  const tools = ['ip', 'nft', 'curl'].filter(
    (t) => spawnSync('sh', ['-c', `command -v ${t}`], { env: ENV }).status !== 0,
  );
  if (tools.length > 0) return `missing ${tools.join(', ')} (Debian: apt-get install iproute2 nftables curl)`;
  return null;
}

const missing = missingPrerequisite();
const inCi = process.env.CI === 'true';
// Each case starts a leash and real processes (a namespace, tsx for the relay); on two busy cores that can take
// longer than the suite's default.
vi.setConfig({ testTimeout: 60_000 });

interface HelperResult {
  code: number;
  ms: number;
  lines: string[];
  origin: string[];
  sink: number;
  rulesLeft: boolean;
}

function inNamespace(probe: 'proxy' | 'direct'): HelperResult {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', NS, process.execPath, '--import', 'tsx', 'test/run/uid-ns-helper.ts', probe],
    { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 60_000 },
  );
  const line = /^RESULT (.*)$/m.exec(r.stdout ?? '');
  if (!line)
    throw new Error(`the helper in the namespace printed no result (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line[1] as string) as HelperResult;
}

describe.skipIf(missing !== null && !inCi)(`leash run --isolate uid${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(() => {
    if (missing) throw new Error(`leash run --isolate uid cannot be tested here: ${missing}`);
    const add = spawnSync('ip', ['netns', 'add', NS], { env: ENV, encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`cannot create a network namespace: ${add.stderr}`);
    spawnSync('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up'], { env: ENV });
  });

  afterAll(() => {
    spawnSync('ip', ['netns', 'del', NS], { env: ENV });
  });

  it('the command, as --user, reaches the allowed origin through leash, identified by its uid; the rules go afterwards', () => {
    const r = inNamespace('proxy');
    expect(r.lines.join('\n')).toMatch(/curl exited with 0; 1 requests allowed, 0 denied/);
    expect(r.code).toBe(0);
    expect(r.origin).toEqual(['/uid']);
    expect(r.rulesLeft).toBe(false);
  });

  it('a direct connection, ignoring the proxy variables, is refused at once by the kernel rules', () => {
    const r = inNamespace('direct');
    expect(r.code).toBe(7); // curl: could not connect
    expect(r.sink).toBe(0);
    expect(r.rulesLeft).toBe(false);
  });
});
