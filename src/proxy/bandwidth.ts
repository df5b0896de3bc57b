// Upload budgets (`bandwidth: 10MB/1h` on a rule): the bytes an agent sends upstream through that rule, per
// window. Counted on the way out, chunk by chunk, before the chunk is forwarded, so a budget is never overrun by
// more than nothing: the chunk that would exceed it is dropped and the exchange is cut.

import { Transform } from 'node:stream';
import { StoreUnavailableError } from '../errors.js';
import type { CompiledRule } from '../policy/rule.js';
import type { ProxyState } from './state.js';

/** `store_unavailable`: the shared store could not check the budget, and the exchange is cut all the same. */
export type BudgetReason = 'bandwidth' | 'store_unavailable';

/**
 * The request line and headers a request carries upstream count against the budget too, before anything is
 * forwarded: a GET loop can carry data out in its target and headers as well as a POST in its body.
 * Undefined when the budget has room (or the rule has none); otherwise why the request is refused.
 */
export async function chargeRequestHead(
  state: ProxyState,
  rule: CompiledRule,
  agent: string,
  bytes: number,
): Promise<{ message: string; reason: BudgetReason } | undefined> {
  const budget = rule.bandwidth;
  if (!budget || bytes <= 0) return undefined;
  try {
    const outcome = await state.rateLimits.take(
      `bandwidth\u0000${rule.name}\u0000${agent}`,
      budget,
      state.now(),
      bytes,
    );
    return outcome.ok
      ? undefined
      : {
          message: `agent ${agent} exceeded rule ${rule.name}'s upload budget of ${budget.text} (the request line and headers count too)`,
          reason: 'bandwidth',
        };
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    return {
      message: `rule ${rule.name}'s upload budget of ${budget.text} cannot be checked: ${err.message}`,
      reason: 'store_unavailable',
    };
  }
}

/** The size of a request line and headers as they go upstream (HTTP/1.1 framing). */
export function requestHeadBytes(
  method: string,
  path: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): number {
  let bytes = method.length + path.length + 12; // "M P HTTP/1.1\r\n" and the closing "\r\n"
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) bytes += name.length + String(v).length + 4;
  }
  return bytes;
}

export function uploadBudget(
  state: ProxyState,
  rule: CompiledRule,
  agent: string,
  onExceeded: (message: string, reason: BudgetReason) => void,
): Transform | undefined {
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
          onExceeded(
            `rule ${rule.name}'s upload budget of ${budget.text} cannot be checked: ${err.message}`,
            'store_unavailable',
          );
          callback();
        },
      );
    },
  });
}
