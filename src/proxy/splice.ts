// The data path of a spliced (not intercepted) CONNECT tunnel, once it is admitted and dialled: bytes both ways with
// back-pressure, the idle timeout on both sockets, one side's close ending the other after a moment to flush, and
// the tunnel's record finished with the byte totals when both are gone. It decides nothing: the upload budget, when
// the rule has one, is a stream the caller hands in, through which every byte to the upstream passes.
//
// Downloads are most of what tunnels carry, so the upstream socket reads into a buffer of its own (net's `onread`)
// and hands each read straight to the client: no stream machinery per chunk, and the buffer is read into again
// whenever the client took the previous read whole (the usual case on a fast client), so a busy tunnel allocates
// nothing per read. The buffer starts small, so an idle tunnel holds little, and grows while reads fill it.
// Never: hold more than SPLICE_MAX_BUFFERED (plus one read) per direction for a client or upstream that does not
// read; hand a buffer to a write and then read into it before that write is done.

import net from 'node:net';
import type { Duplex, Transform, Writable } from 'node:stream';
import type { Exchange } from './exchange.js';

/**
 * Bytes one direction may hold in leash's buffers before it stops reading from its source. Node's pipe() stops at
 * the socket's 16 KiB high-water mark, below one 64 KiB read, so a busy tunnel paused and resumed its reading (two
 * more system calls) on every chunk; this lets a few reads queue first.
 */
export const SPLICE_MAX_BUFFERED = 256 * 1024;
/** The upstream read buffer: its first size, and the most it grows to while reads fill it. */
const READ_BUFFER_MIN = 4 * 1024;
const READ_BUFFER_MAX = 256 * 1024;

export interface SpliceOptions {
  readonly idleMs: number;
  /** Bytes the client sent before the splice began (the ClientHello read for the SNI check): forwarded first. */
  readonly first: Buffer;
  /** The rule's upload budget: client bytes pass through it on their way upstream. */
  readonly budget?: Transform;
}

/** An upstream connection for a spliced tunnel: dialled now, spliced to the client once the tunnel is open. */
export interface TunnelUpstream {
  readonly socket: net.Socket;
  splice(exchange: Exchange, client: net.Socket, options: SpliceOptions): void;
}

/** `family` when the address is known to be IPv4 or IPv6 (net.connect then does no lookup of its own). */
export function dialTunnelUpstream(host: string, port: number, family: number | undefined): TunnelUpstream {
  let to: Writable | undefined;
  /** What the upstream sent before the splice began (a server that speaks first): a copy, held until then. */
  let early: Buffer[] = [];
  let buffer: Buffer | undefined;
  let reusable = false;
  let size = READ_BUFFER_MIN;
  const socket = net.connect({
    host,
    port,
    ...(family === undefined ? {} : { family }),
    onread: {
      // Called once at connect and after every read: the buffer the next read goes into.
      buffer: () => {
        if (!buffer || !reusable) buffer = Buffer.allocUnsafeSlow(size);
        return buffer;
      },
      callback: (bytes: number, into: Buffer) => {
        const chunk = into.subarray(0, bytes);
        // A full read means a busy tunnel: the next buffer is larger.
        if (bytes === into.length) size = Math.min(READ_BUFFER_MAX, size * 4);
        if (!to) {
          early.push(Buffer.from(chunk));
          reusable = into.length === size;
          socket.pause();
          return false;
        }
        if (to.destroyed) {
          reusable = into.length === size;
          return true;
        }
        to.write(chunk);
        // Nothing left queued: the write went to the kernel at once and the buffer is free to read into again.
        reusable = into.length === size && to.writableLength === 0;
        if (to.writableLength >= SPLICE_MAX_BUFFERED) {
          socket.pause();
          const target = to;
          target.once('drain', () => socket.resume());
          return false;
        }
        return true;
      },
    },
  });
  return {
    socket,
    splice(exchange, client, options) {
      spliceTunnel(exchange, client, socket, options);
      to = client;
      for (const chunk of early) client.write(chunk);
      early = [];
      // 'end' (the upstream finished sending) is emitted once the socket flows.
      socket.once('end', () => client.end());
      socket.resume();
    },
  };
}

/** Everything but the upstream-to-client bytes, which the upstream's own reads hand over (dialTunnelUpstream). */
function spliceTunnel(exchange: Exchange, client: net.Socket, upstream: net.Socket, options: SpliceOptions): void {
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
  if (budget) forward(budget, upstream);
  if (options.first.length > 0) toUpstream.write(options.first);
  forward(client, toUpstream);
}

/** What pipe() does for a tunnel (ends `to` when `from` ends), with reading paused only past SPLICE_MAX_BUFFERED. */
function forward(from: Duplex, to: Writable): void {
  let waiting = false;
  const resume = () => {
    waiting = false;
    from.resume();
  };
  from.on('data', (chunk: Buffer) => {
    // A destination already gone: its close tears the tunnel down; nothing more to hand it.
    if (to.destroyed) return;
    to.write(chunk);
    // Past the high-water mark write() returned false, so 'drain' follows once the buffer is flushed.
    if (!waiting && to.writableLength >= SPLICE_MAX_BUFFERED) {
      waiting = true;
      from.pause();
      to.once('drain', resume);
    }
  });
  from.once('end', () => to.end());
  // The SNI check leaves the client paused; a 'data' listener alone does not resume a stream paused on purpose.
  from.resume();
}
