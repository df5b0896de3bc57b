// The host side of kernel rules: running nft and iptables, looking up users, knowing which uid and network
// namespace this process is in, and the small record `leash rules --apply` leaves in /run/leash.
// Why a separate module: every generator in src/kernel is pure; this is the one place that touches processes and
// files, behind an interface that tests replace. The record exists because reading the kernel ruleset needs
// CAP_NET_ADMIN: an unprivileged `leash serve` (the case worth warning about) can read /run/leash but not nft.
// Never: run a tool through a shell, or pass it a user-supplied string that was not validated first.

import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { USER_NAME } from './model.js';

export type KernelFormat = 'nft' | 'iptables';

export interface ToolResult {
  /** Exit code; null when the tool could not be started or was killed. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The executable is not installed (ENOENT). */
  readonly missing: boolean;
}

/** What `--apply` records for processes that cannot read the kernel ruleset. */
export interface RulesRecord {
  readonly format: KernelFormat;
  readonly uids: readonly number[];
  /** The network namespace the rules were loaded in, e.g. `net:[4026531840]`; rules apply there only. */
  readonly netns: string;
}

export interface KernelHost {
  readonly platform: NodeJS.Platform;
  /** The uid this process runs as; undefined where there are no uids (Windows). */
  uid(): number | undefined;
  run(command: string, args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<ToolResult>;
  /** The uid of a user name, or undefined when there is no such user. */
  lookupUser(name: string): Promise<number | undefined>;
  /** This process's network namespace, or undefined when /proc does not say. */
  netns(): Promise<string | undefined>;
  readRecords(): Promise<RulesRecord[]>;
  writeRecord(record: RulesRecord): Promise<void>;
  removeRecord(format: KernelFormat, netns: string): Promise<void>;
}

export const RECORD_DIR = '/run/leash';
const DEFAULT_TIMEOUT_MS = 15_000;

function recordFile(format: KernelFormat, netns: string): string {
  const inode = /\d+/.exec(netns)?.[0] ?? 'unknown';
  return path.join(RECORD_DIR, `rules-${format}-net${inode}.json`);
}

function runTool(
  command: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let missing = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => {}); // a tool that exits without reading its input is reported by its exit code
    child.on('error', (e: NodeJS.ErrnoException) => {
      missing = e.code === 'ENOENT';
      err.push(Buffer.from(e.message));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8').trim(),
        missing,
      });
    });
    child.stdin.end(options.input ?? '');
  });
}

async function lookupUser(name: string): Promise<number | undefined> {
  if (!USER_NAME.test(name)) return undefined;
  try {
    for (const line of (await readFile('/etc/passwd', 'utf8')).split('\n')) {
      const [user, , uid] = line.split(':');
      if (user === name && uid !== undefined && /^\d+$/.test(uid)) return Number(uid);
    }
  } catch {
    // No /etc/passwd (or unreadable): ask the name service below.
  }
  // NSS users (LDAP, sssd) and macOS accounts are not in /etc/passwd; `id` asks the same service login does.
  const id = await runTool('id', ['-u', '--', name], { timeoutMs: 5_000 });
  const text = id.stdout.trim();
  return id.code === 0 && /^\d+$/.test(text) ? Number(text) : undefined;
}

export const systemHost: KernelHost = {
  platform: process.platform,
  uid: () => process.getuid?.(),
  run: runTool,
  lookupUser,
  async netns() {
    try {
      return await readlink('/proc/self/ns/net');
    } catch {
      return undefined;
    }
  },
  async readRecords() {
    let names: string[];
    try {
      names = await readdir(RECORD_DIR);
    } catch {
      return [];
    }
    const records: RulesRecord[] = [];
    for (const name of names.filter((n) => /^rules-.*\.json$/.test(n))) {
      try {
        const value = JSON.parse(await readFile(path.join(RECORD_DIR, name), 'utf8')) as Partial<RulesRecord>;
        if (
          (value.format === 'nft' || value.format === 'iptables') &&
          Array.isArray(value.uids) &&
          typeof value.netns === 'string'
        ) {
          records.push({
            format: value.format,
            uids: value.uids.filter((u): u is number => Number.isInteger(u)),
            netns: value.netns,
          });
        }
      } catch {
        // A half-written or foreign file is no record.
      }
    }
    return records;
  },
  async writeRecord(record) {
    await mkdir(RECORD_DIR, { recursive: true, mode: 0o755 });
    await writeFile(recordFile(record.format, record.netns), `${JSON.stringify(record)}\n`, { mode: 0o644 });
  },
  async removeRecord(format, netns) {
    await rm(recordFile(format, netns), { force: true });
  },
};
