// What leash rules a kernel has loaded, read back from `nft -j list` or `iptables-save -c` (parsed in nft.ts and
// iptables.ts), in one shape: loaded or not, the uids restricted, and each rule's counters with its comment.
// Why: `leash rules --status` shows the operator whether the rules are in force and whether they are being hit,
// and `leash serve` uses the same reading to warn when it runs as a uid the rules restrict.
// PURE.

export interface LoadedRule {
  readonly chain: string;
  readonly comment: string;
  readonly packets: number;
  readonly bytes: number;
}

export interface LoadedStatus {
  readonly loaded: boolean;
  /** Uids the loaded rules send to a leash chain, ascending. */
  readonly uids: readonly number[];
  readonly rules: readonly LoadedRule[];
}

export const NOT_LOADED: LoadedStatus = { loaded: false, uids: [], rules: [] };

/** `what` names the place, e.g. "nft table inet leash" or "iptables (IPv4) chain LEASH". */
export function formatStatus(what: string, status: LoadedStatus): string[] {
  if (!status.loaded) return [`${what}: not loaded`];
  const uids = status.uids.length > 0 ? status.uids.join(', ') : 'none';
  const lines = [`${what}: loaded; restricts uid ${uids}`];
  const width = Math.max(5, ...status.rules.map((r) => r.chain.length));
  lines.push(`  ${'chain'.padEnd(width)}  ${'packets'.padStart(10)}  ${'bytes'.padStart(12)}  rule`);
  for (const rule of status.rules) {
    lines.push(
      `  ${rule.chain.padEnd(width)}  ${String(rule.packets).padStart(10)}  ${String(rule.bytes).padStart(12)}  ${rule.comment}`,
    );
  }
  return lines;
}
