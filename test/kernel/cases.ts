// Named rulesets shared by the golden-file tests and the kernel syntax checks in the end-to-end test: each one
// exercises a different shape of the model (one agent, several agents with IPv6 endpoints, drop without logging).

import type { Endpoint } from '../../src/kernel/endpoint.js';
import { buildRuleset, type Ruleset, type RulesOptions } from '../../src/kernel/model.js';

const v4 = (address: string, port: number): Endpoint => ({ family: 4, address, port });
const v6 = (address: string, port: number): Endpoint => ({ family: 6, address, port });

export const GOLDEN_CASES: Readonly<Record<string, RulesOptions>> = {
  // The common case: one agent user, leash on IPv4 loopback, defaults (reject, log).
  'one-agent': {
    users: [{ uid: 1001, name: 'agent' }],
    proxies: [v4('127.0.0.1', 3128)],
    allow: [],
    action: 'reject',
    log: true,
  },
  // Several agents share one proxy that listens on both families, plus a local model server on each family.
  'two-agents-dual-stack': {
    users: [{ uid: 1002 }, { uid: 1001, name: 'agent' }],
    proxies: [v4('127.0.0.1', 3128), v6('::1', 3128)],
    allow: [v4('127.0.0.1', 11434), v6('::1', 8080)],
    action: 'reject',
    log: true,
  },
  // Silent drop, no log, proxy on another address of the host.
  'drop-no-log': {
    users: [{ uid: 2000, name: 'ci-agent' }],
    proxies: [v4('10.0.0.5', 8080)],
    allow: [v4('127.0.0.1', 11434)],
    action: 'drop',
    log: false,
  },
};

export function goldenRuleset(name: string): Ruleset {
  const options = GOLDEN_CASES[name];
  if (!options) throw new Error(`no golden case ${name}`);
  return buildRuleset(options);
}
