// A real leash, in-process, on 127.0.0.1:0, with its policy written to a temporary directory and its audit log in
// a file the test can read back. The same startServe() that `leash serve` runs, so tests exercise the real wiring.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startServe, type RunningServe } from '../../src/cli/serve.js';
import { readAuditLines, tempDir, waitFor } from './audit-sink.js';

export interface TestLeash {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly auditFile: string;
  readonly stderr: string[];
  readonly running: RunningServe;
  /** Audit records written so far (flushes first). */
  records(): Promise<Record<string, unknown>[]>;
  /** Waits until at least `n` records are on disk. */
  waitForRecords(n: number): Promise<Record<string, unknown>[]>;
  /** Rewrites the policy file and reloads it as SIGHUP would. */
  rewritePolicy(yaml: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startLeash(
  policyYaml: string,
  opts: {
    watch?: boolean;
    now?: () => number;
    /** `--audit-max-size` / `--audit-keep` */ auditRotation?: { maxSize: string; keep?: string };
    /** `--admin HOST:PORT` */ admin?: string;
    /** the environment leash serve sees (LEASH_ADMIN_TOKEN) */ env?: NodeJS.ProcessEnv;
    /** `--store URL` */ store?: string;
    /** reuse this directory (a restart: same audit log, same lockdown state) */ dir?: string;
  } = {},
): Promise<TestLeash> {
  const dir = opts.dir ?? (await tempDir('leash-proxy-'));
  const policyDir = path.join(dir, 'policies');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(policyDir, { recursive: true });
  const policyFile = path.join(policyDir, 'policy.yaml');
  await writeFile(policyFile, policyYaml);
  const auditFile = path.join(dir, 'audit.log');
  const stderr: string[] = [];
  const running = await startServe(
    // The CA for interception and the control socket go in the test's own directory, never in the repository's
    // certs/ or in /run/leash (where a leash run as root would put its socket, and test files run in parallel).
    {
      policy: [policyDir],
      listen: '127.0.0.1:0',
      audit: auditFile,
      now: opts.now,
      certs: path.join(dir, 'certs'),
      auditMaxSize: opts.auditRotation?.maxSize,
      auditKeep: opts.auditRotation?.keep,
      admin: opts.admin,
      store: opts.store,
      control: path.join(dir, 'leash-admin.sock'),
    },
    { out: (line) => stderr.push(line), err: (line) => stderr.push(line), env: opts.env ?? {} },
  );
  if (!opts.watch) running.watcher.stop();
  const records = async () => {
    await running.audit.flush();
    return readAuditLines(auditFile).catch((err: NodeJS.ErrnoException) =>
      err.code === 'ENOENT' ? [] : Promise.reject(err),
    );
  };
  return {
    url: running.proxy.url,
    port: running.proxy.port,
    dir,
    auditFile,
    stderr,
    running,
    records,
    waitForRecords: async (n) =>
      (await waitFor(async () => {
        const all = await records();
        return all.length >= n ? all : undefined;
      })) as Record<string, unknown>[],
    async rewritePolicy(yaml) {
      await writeFile(policyFile, yaml);
      await running.watcher.reload();
    },
    stop: () => running.stop(),
  };
}

/** A policy file: `version: 1` plus the given settings and rules, as YAML text. */
export function policy(body: string): string {
  return `version: 1\n${body}`;
}
