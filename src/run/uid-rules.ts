// `leash run --isolate uid`: the command runs as --user, and for as long as it runs the kernel rules `leash rules
// --apply` loads (nftables) let that uid reach leash's port and nothing else; they are removed when it ends.
// Why nft only: one transaction loads or removes the whole table, so a failed start leaves nothing half-loaded.
// Never: replace rules someone else loaded. `leash rules` owns one table for all agents; if it is loaded already,
// removing it afterwards would lift restrictions this run did not add, so the run refuses instead.

import { LeashError } from '../errors.js';
import { parseEndpoint } from '../kernel/endpoint.js';
import { applyRules, readStatus, removeRules } from '../kernel/loaded.js';
import { buildRuleset, describeUser } from '../kernel/model.js';
import type { KernelHost } from '../kernel/system.js';
import type { RunUser } from './user.js';

export interface LoadedUidRules {
  remove(): Promise<void>;
}

function refuse(reason: string, cause?: unknown): never {
  throw new LeashError('LEASH_ISOLATION', `--isolate uid: ${reason}`, { cause });
}

export async function loadUidRules(
  user: RunUser,
  proxy: { host: string; port: number },
  host: KernelHost,
): Promise<LoadedUidRules> {
  if (host.platform !== 'linux') refuse(`kernel rules need Linux (this is ${host.platform})`);
  if (host.uid() !== 0) refuse('loading kernel rules needs root');
  if (user.uid === host.uid())
    refuse(
      `the command would run as ${describeUser(user)}, the user leash runs as, which the rules must leave alone; give --user the agent's own user`,
    );
  const endpoint = parseEndpoint(
    `${proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host}:${proxy.port}`,
    '--proxy',
  );
  let loaded: boolean;
  try {
    loaded = (await readStatus('nft', host)).loaded;
  } catch (err) {
    refuse(`cannot read the kernel ruleset: ${(err as Error).message}`, err);
  }
  if (loaded)
    refuse(
      'leash rules are loaded already (leash rules --status --format nft); this run would replace them and take them away when it ends',
    );
  try {
    await applyRules(
      buildRuleset({ users: [user], proxies: [endpoint], allow: [], action: 'reject', log: true }),
      'nft',
      host,
    );
  } catch (err) {
    refuse((err as Error).message, err);
  }
  return {
    async remove() {
      await removeRules('nft', host);
    },
  };
}
