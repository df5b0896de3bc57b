// Upload budgets (`bandwidth: 10MB/1h` on a rule): the bytes an agent sends upstream through that rule, per
// window. Counted on the way out, chunk by chunk, before the chunk is forwarded, so a budget is never overrun by
// more than nothing: the chunk that would exceed it is dropped and the exchange is cut.

import { Transform } from 'node:stream';
import { StoreUnavailableError } from '../errors.js';
import type { CompiledRule } from '../policy/rule.js';
import type { ProxyState } from './state.js';

/** `store_unavailable`: the shared store could not check the budget, and the exchange is cut all the same. */
export type BudgetReason = 'bandwidth' | 'store_unavailable';

export function uploadBudget(state: ProxyState, rule: CompiledRule, agent: string, onExceeded: (message: string, reason: BudgetReason) => void): Transform | undefined {
  const budget = rule.bandwidth;
  if (!budget) return undefined;
  const key = `bandwidth\u0000${rule.name}\u0000${agent}`;
  let exceeded = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (exceeded) return callback();
      state.rateLimits.take(key, budget, state.now(), chunk.length).then(
        (outcome) => {
          if (outcome.ok) return callback(null, chunk);
          exceeded = true;
          onExceeded(`agent ${agent} exceeded rule ${rule.name}'s upload budget of ${budget.text}`, 'bandwidth');
          callback();
        },
        (err: Error) => {
          if (!(err instanceof StoreUnavailableError)) return callback(err);
          exceeded = true;
          onExceeded(`rule ${rule.name}'s upload budget of ${budget.text} cannot be checked: ${err.message}`, 'store_unavailable');
          callback();
        },
      );
    },
  });
}
