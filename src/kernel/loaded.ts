// Loading, removing and reading back leash's kernel rules on Linux, and the check `leash serve` runs at start.
// Why: the generators are pure; this module feeds their output to nft or iptables-restore in one transaction
// each, reads the kernel back for --status, and records what it loaded so an unprivileged process can still
// learn that its uid is restricted.
// Never: touch a table or chain leash does not own, or let the serve-time check delay or fail a start.

import { LeashError } from '../errors.js';
import { iptablesApplyScript, iptablesRemoveScript, parseIptablesStatus } from './iptables.js';
import type { Ruleset } from './model.js';
import { NFT_REMOVE, NFT_TABLE, parseNftStatus, renderNft } from './nft.js';
import { formatStatus, NOT_LOADED, type LoadedStatus } from './status.js';
import { systemHost, type KernelFormat, type KernelHost, type ToolResult } from './system.js';

const FAMILIES = [
  { family: 6, label: 'ip6tables (IPv6)', save: 'ip6tables-save', restore: 'ip6tables-restore' },
  { family: 4, label: 'iptables (IPv4)', save: 'iptables-save', restore: 'iptables-restore' },
] as const;

export interface StatusReport {
  readonly loaded: boolean;
  readonly uids: readonly number[];
  readonly lines: readonly string[];
}

function toolFailed(what: string, result: ToolResult): LeashError {
  if (result.missing)
    return new LeashError('LEASH_KERNEL', `${what}: not installed (Debian: apt-get install nftables iptables)`);
  const detail = result.stderr.split('\n').slice(0, 8).join('\n') || `exit code ${result.code}`;
  return new LeashError('LEASH_KERNEL', `${what} failed: ${detail}`);
}

async function saveFilter(host: KernelHost, save: string, counters: boolean, timeoutMs?: number): Promise<string> {
  const result = await host.run(save, [...(counters ? ['-c'] : []), '-t', 'filter'], { timeoutMs });
  // A host whose filter table was never used has nothing to save; that is an empty table, not an error.
  if (result.code !== 0 && /table .?filter.? (does not exist|not found)|Table does not exist/i.test(result.stderr))
    return '';
  if (result.code !== 0) throw toolFailed(save, result);
  return result.stdout;
}

async function nftStatus(host: KernelHost, timeoutMs?: number): Promise<LoadedStatus> {
  const result = await host.run('nft', ['-j', 'list', 'table', ...NFT_TABLE.split(' ')], { timeoutMs });
  if (result.code === 0) return parseNftStatus(result.stdout);
  if (/No such file or directory/i.test(result.stderr)) return NOT_LOADED;
  throw toolFailed(`nft list table ${NFT_TABLE}`, result);
}

export async function applyRules(
  ruleset: Ruleset,
  format: KernelFormat,
  host: KernelHost = systemHost,
): Promise<string[]> {
  const uids = ruleset.users.map((u) => u.uid).join(', ');
  if (format === 'nft') {
    const result = await host.run('nft', ['-f', '/dev/stdin'], { input: renderNft(ruleset) });
    if (result.code !== 0) throw toolFailed('nft -f', result);
  } else {
    // IPv6 first: if it fails nothing has changed; if IPv4 then fails, the agents are restricted on IPv6 only,
    // which is never less safe than before.
    for (const f of FAMILIES) {
      const script = iptablesApplyScript(ruleset, f.family, await saveFilter(host, f.save, false));
      const result = await host.run(f.restore, ['--noflush'], { input: script });
      if (result.code !== 0) throw toolFailed(`${f.restore} --noflush`, result);
    }
  }
  const lines = [
    `applied: ${where(format)} now restricts uid ${uids}; see counters with: leash rules --status --format ${format}`,
  ];
  const note = await record(
    host,
    format,
    ruleset.users.map((u) => u.uid),
  );
  if (note) lines.push(note);
  return lines;
}

export async function removeRules(format: KernelFormat, host: KernelHost = systemHost): Promise<string[]> {
  let removed: boolean | undefined = false;
  if (format === 'nft') {
    // Only to say whether there was anything to remove; a failed read must not stop the removal.
    removed = await nftStatus(host).then(
      (s) => s.loaded,
      () => undefined,
    );
    const result = await host.run('nft', ['-f', '/dev/stdin'], { input: NFT_REMOVE });
    if (result.code !== 0) throw toolFailed('nft -f', result);
  } else {
    for (const f of FAMILIES) {
      const script = iptablesRemoveScript(await saveFilter(host, f.save, false));
      if (script === null) continue;
      const result = await host.run(f.restore, ['--noflush'], { input: script });
      if (result.code !== 0) throw toolFailed(`${f.restore} --noflush`, result);
      removed = true;
    }
  }
  const netns = await host.netns();
  if (netns) await host.removeRecord(format, netns).catch(() => {});
  if (removed === undefined) return [`removed: ${where(format)} (if it was loaded)`];
  return [removed ? `removed: ${where(format)}` : `${where(format)}: not loaded; nothing to remove`];
}

export async function readStatus(
  format: KernelFormat,
  host: KernelHost = systemHost,
  timeoutMs?: number,
): Promise<StatusReport> {
  if (format === 'nft') {
    const status = await nftStatus(host, timeoutMs);
    return { loaded: status.loaded, uids: status.uids, lines: formatStatus(`nft table ${NFT_TABLE}`, status) };
  }
  const lines: string[] = [];
  const uids = new Set<number>();
  let loaded = true;
  const families = [...FAMILIES].reverse();
  const saved = await Promise.all(families.map((f) => saveFilter(host, f.save, true, timeoutMs)));
  for (const [i, f] of families.entries()) {
    const status = parseIptablesStatus(saved[i] ?? '');
    lines.push(...formatStatus(`${f.label} chain LEASH`, status));
    if (status.present && !status.hooked)
      lines.push('  (the chain exists but OUTPUT does not jump to it: nothing is enforced)');
    loaded &&= status.loaded;
    for (const uid of status.uids) uids.add(uid);
  }
  return { loaded, uids: [...uids].sort((a, b) => a - b), lines };
}

function where(format: KernelFormat): string {
  return format === 'nft' ? `nft table ${NFT_TABLE}` : 'iptables and ip6tables chain LEASH';
}

async function record(host: KernelHost, format: KernelFormat, uids: number[]): Promise<string | undefined> {
  const netns = await host.netns();
  if (!netns) return undefined;
  try {
    await host.writeRecord({ format, uids, netns });
    return undefined;
  } catch (err) {
    return `note: could not record the loaded rules for leash serve's check (${(err as Error).message})`;
  }
}

export interface Restriction {
  readonly format: KernelFormat;
  readonly uids: readonly number[];
  /** `kernel` when read from nft or iptables, `record` when from what --apply left in /run/leash. */
  readonly source: 'kernel' | 'record';
}

/**
 * Which uids the loaded leash rules restrict, per format, in this network namespace. The kernel is the truth
 * when this process may read it (CAP_NET_ADMIN); otherwise the record --apply wrote stands in. Never throws.
 */
export async function loadedRestrictions(host: KernelHost = systemHost): Promise<Restriction[]> {
  const timeoutMs = 2_000;
  const [netns, records] = await Promise.all([host.netns().catch(() => undefined), host.readRecords().catch(() => [])]);
  const formats: KernelFormat[] = ['nft', 'iptables'];
  const found = await Promise.all(
    formats.map(async (format): Promise<Restriction | undefined> => {
      try {
        const status = await readStatus(format, host, timeoutMs);
        return status.loaded ? { format, uids: status.uids, source: 'kernel' } : undefined;
      } catch {
        const rec = records.find((r) => r.format === format && netns !== undefined && r.netns === netns);
        return rec ? { format, uids: rec.uids, source: 'record' } : undefined;
      }
    }),
  );
  return found.filter((r): r is Restriction => r !== undefined);
}

/** `leash serve` calls this at start: a proxy restricted to reaching itself would refuse every request upstream. */
export async function warnIfRestricted(log: (line: string) => void, host: KernelHost = systemHost): Promise<void> {
  try {
    const uid = host.uid();
    if (uid === undefined || host.platform !== 'linux') return;
    for (const r of await loadedRestrictions(host)) {
      if (!r.uids.includes(uid)) continue;
      log(
        `leash: warning: this process runs as uid ${uid}, which the loaded leash ${r.format} rules restrict to the proxy and ` +
          `--allow endpoints${r.source === 'record' ? ` (as recorded by leash rules --apply)` : ''}: its upstream connections will be refused. ` +
          "Run leash serve as a user other than the agent's.",
      );
    }
  } catch {
    // The check is advice; it never stops the proxy from starting.
  }
}
