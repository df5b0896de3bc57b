// The data path of a spliced (not intercepted) CONNECT tunnel, once it is admitted and dialled: bytes both ways with
// back-pressure, the idle timeout on both sockets, one side's close ending the other after a moment to flush, and
// the tunnel's record finished with the byte totals when both are gone. It decides nothing: the upload budget, when
// the rule has one, is a stream the caller hands in, through which every byte to the upstream passes.

import type { Socket } from 'node:net';
import type { Transform } from 'node:stream';
import type { Exchange } from './exchange.js';

export interface SpliceOptions {
  readonly idleMs: number;
  /** Bytes the client sent before the splice began (the ClientHello read for the SNI check): forwarded first. */
  readonly first: Buffer;
  /** The rule's upload budget: client bytes pass through it on their way upstream. */
  readonly budget?: Transform;
}

export function spliceTunnel(exchange: Exchange, client: Socket, upstream: Socket, options: SpliceOptions): void {
  client.setTimeout(options.idleMs, () => exchange.abort());
  upstream.setTimeout(options.idleMs, () => exchange.abort());
  let closed = 0;
  const onClose = () => {
    if (++closed < 2) {
      // One side is gone: give the other a moment to flush, then tear down.
      setTimeout(() => exchange.abort(), 1000).unref();
      return;
    }
    exchange.finish({ bytesOut: upstream.bytesWritten, bytesIn: upstream.bytesRead });
  };
  client.once('close', onClose);
  upstream.once('close', onClose);
  // Upload passes the budget (when the rule has one) from the very first byte, ClientHello included.
  const budget = options.budget;
  const toUpstream = budget ?? upstream;
  if (budget) budget.pipe(upstream);
  if (options.first.length > 0) toUpstream.write(options.first);
  client.pipe(toUpstream);
  upstream.pipe(client);
}
