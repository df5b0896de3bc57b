// The proxy benchmark's load generator, run as a process of its own (forked by proxy.ts) so that the figures
// measure leash and the origin, not a generator competing with them on one event loop. It speaks HTTP/1.1 on raw
// sockets with pre-built request bytes and a minimal response reader: node:http's client costs several times
// more CPU per request, and on a two-core machine a slow generator would cap the direct baseline and flatter
// every ratio.
//
// Jobs arrive over the IPC channel, one at a time; each answers with one result message.
// Never: connect anywhere but 127.0.0.1; run a loop that is not bounded both in count and in time; keep running
// once the parent is gone.

import net from 'node:net';
import tls from 'node:tls';

/** How the generator reaches the origin: straight to it, or through a CONNECT tunnel opened on leash. */
export interface Route {
  mode: 'direct' | 'tunnel';
  /** The origin's port (direct) or leash's port (tunnel). */
  port: number;
  /** Tunnel only: the CONNECT target, host:port. */
  authority?: string;
  /** When set, TLS to the origin with this SNI, verified against `ca`. */
  tls?: { servername: string; ca: string };
}

export interface HttpJob {
  kind: 'http';
  /** Plain TCP to 127.0.0.1:port, unless `route` is set. */
  port: number;
  /** When set (and no `route`), connections go round-robin to these ports instead: replicas behind no balancer. */
  ports?: readonly number[];
  /** When set, each connection is opened along this route (TLS, a CONNECT tunnel, or both) instead of `port`. */
  route?: Route;
  /** The full request head, sent as is on every request. */
  request: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
  maxRequests: number;
}

export interface HttpResult {
  /** Responses in the measured window. */
  requests: number;
  /** Responses in the whole job, warm-up included (to divide CPU time by). */
  totalRequests: number;
  seconds: number;
  /** Responses by status code, measured window only. */
  statuses: Record<string, number>;
  errors: number;
  connectionsOpened: number;
  p50Ms: number;
  p99Ms: number;
}

/** New connections, each with a TLS handshake and one request, `concurrency` at a time. */
export interface HandshakeJob {
  kind: 'handshake';
  route: Route;
  /** Request head for the one request (should ask for Connection: close). */
  request: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  maxConnections: number;
}

export interface HandshakeResult {
  /** Completed in the measured window. */
  connections: number;
  /** Completed in the whole job, warm-up included (to divide CPU time by). */
  totalConnections: number;
  seconds: number;
  errors: number;
  firstError?: string;
  p99Ms: number;
}

export interface DownloadJob {
  kind: 'download';
  route: Route;
  request: string;
  expectBytes: number;
  timeoutMs: number;
}

export interface DownloadResult {
  bytes: number;
  seconds: number;
}

/** Opens `count` tunnels (each with one request answered) and keeps them open until a release job. */
export interface HoldJob {
  kind: 'hold';
  route: Route;
  request: string;
  count: number;
  concurrency: number;
  timeoutMs: number;
}

export interface HoldResult {
  open: number;
  errors: number;
  firstError?: string;
}

export interface ReleaseJob {
  kind: 'release';
}

export type Job = HttpJob | HandshakeJob | DownloadJob | HoldJob | ReleaseJob;
export type JobMessage = Job & { id: number };
export type ResultMessage = { id: number; result?: unknown; error?: string };

const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 64 * 1024;

interface Response {
  status: number;
  /** The server said it will close the connection after this response. */
  close: boolean;
  bodyBytes: number;
}

/**
 * Reads one HTTP/1.1 response at a time from a byte stream: head, then a Content-Length or chunked body (or a
 * body up to the end of the stream). Bodies are counted, never kept, so a 64 MiB download costs no memory.
 */
class ResponseReader {
  private pending: Buffer | null = null;
  private head: { status: number; close: boolean; chunked: boolean; length: number } | null = null;
  private remaining = 0;
  private bodyBytes = 0;
  /** Chunked bodies: waiting for a chunk-size line (true) or inside chunk data (false). */
  private atSizeLine = true;
  private chunkEnded = false;

  /** Feeds bytes; returns a response when one completes (a reader handles one request in flight at a time). */
  feed(chunk: Buffer): Response | 'more' {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    if (!this.head) {
      const end = buf.indexOf(HEADER_END);
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) throw new Error('response head too large');
        this.pending = buf;
        return 'more';
      }
      const text = buf.toString('latin1', 0, end);
      const status = Number(text.slice(9, 12));
      if (!text.startsWith('HTTP/1.') || !Number.isInteger(status))
        throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 60))}`);
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(text);
      this.head = {
        status,
        close: /\r\nconnection:[^\r\n]*close/i.test(text) || text.startsWith('HTTP/1.0'),
        chunked: /\r\ntransfer-encoding:[^\r\n]*chunked/i.test(text),
        length: length ? Number(length[1]) : -1,
      };
      this.remaining = this.head.length;
      this.bodyBytes = 0;
      this.atSizeLine = true;
      this.chunkEnded = false;
      buf = buf.subarray(end + HEADER_END.length);
      if (status === 204 || status === 304 || (status >= 100 && status < 200)) this.remaining = 0;
    }
    const head = this.head;
    if (head.chunked) return this.feedChunked(buf);
    if (this.remaining < 0) {
      // No length: the body runs to the end of the stream; the caller finishes it on close.
      this.bodyBytes += buf.length;
      return 'more';
    }
    const take = Math.min(this.remaining, buf.length);
    this.remaining -= take;
    this.bodyBytes += take;
    if (this.remaining > 0) return 'more';
    if (buf.length > take) throw new Error('bytes after the response (pipelining is not expected)');
    return this.complete();
  }

  /** The stream ended: completes a body that runs to the end of the stream. */
  end(): Response | undefined {
    if (this.head && !this.head.chunked && this.head.length < 0) return this.complete();
    return undefined;
  }

  private feedChunked(input: Buffer): Response | 'more' {
    let buf = input;
    while (buf.length > 0) {
      if (this.atSizeLine) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) {
          this.pending = buf;
          return 'more';
        }
        const size = parseInt(buf.toString('latin1', 0, eol), 16);
        buf = buf.subarray(eol + 2);
        if (this.chunkEnded) {
          // Trailer section: an empty line ends the message.
          if (eol === 0) return this.complete();
          continue;
        }
        if (size === 0) {
          this.chunkEnded = true;
          continue;
        }
        this.remaining = size + 2; // data and its CRLF
        this.atSizeLine = false;
      } else {
        const take = Math.min(this.remaining, buf.length);
        this.remaining -= take;
        this.bodyBytes += take;
        buf = buf.subarray(take);
        if (this.remaining === 0) {
          this.bodyBytes -= 2;
          this.atSizeLine = true;
        }
      }
    }
    return 'more';
  }

  private complete(): Response {
    const head = this.head as NonNullable<ResponseReader['head']>;
    this.head = null;
    return { status: head.status, close: head.close, bodyBytes: this.bodyBytes };
  }
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))] as number;
}

/** Keep-alive (or reconnecting, when the server closes) request loops on `connections` sockets. */
function runHttp(job: HttpJob): Promise<HttpResult> {
  return new Promise((resolve) => {
    const request = Buffer.from(job.request, 'latin1');
    const latencies = new Float64Array(job.maxRequests);
    const statuses = new Map<number, number>();
    const sockets = new Set<net.Socket>();
    /** Routed connections: every socket each one is made of (TCP, TLS), including those still being opened. */
    const layerSets = new Set<Set<net.Socket>>();
    const started = performance.now();
    const hardDeadline = started + job.warmupMs + job.durationMs + 5000;
    let measuring = false;
    let stopping = false;
    let windowStart = 0;
    let windowEnd = 0;
    let count = 0;
    let total = 0;
    let errors = 0;
    let opened = 0;
    let inFlight = 0;

    const finish = () => {
      if (windowEnd === 0) windowEnd = performance.now();
      stopping = true;
      clearTimeout(warmupTimer);
      clearTimeout(windowTimer);
      clearTimeout(deadlineTimer);
      for (const socket of sockets) socket.destroy();
      for (const layers of layerSets) destroyAll(layers);
      const sorted = latencies.subarray(0, count).sort();
      resolve({
        requests: count,
        totalRequests: total,
        seconds: (windowEnd - windowStart) / 1000,
        statuses: Object.fromEntries(statuses),
        errors,
        connectionsOpened: opened,
        p50Ms: quantile(sorted, 0.5),
        p99Ms: quantile(sorted, 0.99),
      });
    };
    const stopMeasuring = () => {
      if (stopping) return;
      windowEnd = performance.now();
      stopping = true;
      // Let requests in flight finish (they would otherwise be counted as errors by the server's log), briefly.
      const wait = setInterval(() => {
        if (inFlight === 0 || performance.now() > windowEnd + 1000) {
          clearInterval(wait);
          finish();
        }
      }, 5);
    };
    const warmupTimer = setTimeout(() => {
      measuring = true;
      windowStart = performance.now();
      windowTimer = setTimeout(stopMeasuring, job.durationMs);
    }, job.warmupMs);
    let windowTimer: NodeJS.Timeout | undefined;
    const deadlineTimer = setTimeout(finish, hardDeadline - started);

    const connect = () => {
      if (stopping) return;
      if (errors > 10_000) return stopMeasuring();
      opened++;
      if (job.route) {
        const layers = new Set<net.Socket>();
        layerSets.add(layers);
        const dropLayers = () => {
          destroyAll(layers);
          layerSets.delete(layers);
        };
        openRoute(job.route, layers).then(
          (socket) => {
            if (stopping) return dropLayers();
            socket.once('close', dropLayers);
            drive(socket, true);
          },
          () => {
            dropLayers();
            if (stopping) return;
            errors++;
            connect();
          },
        );
        return;
      }
      const port = job.ports && job.ports.length > 0 ? (job.ports[opened % job.ports.length] as number) : job.port;
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      drive(socket, false);
    };
    /** The request loop on one connection; `ready` when the connection is already established (routed). */
    const drive = (socket: net.Socket, ready: boolean) => {
      sockets.add(socket);
      const reader = new ResponseReader();
      let sentAt = 0;
      let busy = false;
      let replaced = false;
      const send = () => {
        if (stopping) return socket.destroy();
        busy = true;
        inFlight++;
        sentAt = performance.now();
        socket.write(request);
      };
      const done = (response: Response) => {
        busy = false;
        inFlight--;
        const now = performance.now();
        total++;
        if (measuring && !stopping) {
          latencies[count++] = now - sentAt;
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          if (count >= job.maxRequests) stopMeasuring();
        }
        if (response.close) {
          replaced = true;
          socket.destroy();
          connect();
        } else {
          send();
        }
      };
      socket.on('data', (chunk: Buffer) => {
        let result: Response | 'more';
        try {
          result = reader.feed(chunk);
        } catch {
          errors++;
          socket.destroy();
          return;
        }
        if (result !== 'more') done(result);
      });
      socket.on('end', () => {
        const result = reader.end();
        if (result && busy) done(result);
      });
      socket.on('error', () => {
        if (!stopping) errors++;
      });
      socket.on('close', () => {
        sockets.delete(socket);
        if (busy) {
          busy = false;
          inFlight--;
          if (!stopping) errors++;
        }
        if (!replaced) connect();
      });
      if (ready) send();
      else socket.on('connect', send);
    };
    for (let i = 0; i < job.connections; i++) connect();
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout();
        reject(new Error(`${what} timed out after ${ms} ms`));
      }, ms);
    }),
  ]);
}

function once(socket: net.Socket, event: 'connect' | 'secureConnect'): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.once(event, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/** Reads the proxy's answer to CONNECT; the tunnel is open only on 200 with no bytes after the head. */
function readConnectAnswer(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('proxy closed the connection before answering CONNECT'));
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf(HEADER_END);
      if (end < 0) return;
      cleanup();
      socket.pause();
      const head = buf.toString('latin1', 0, end);
      if (!/^HTTP\/1\.[01] 200 /.test(head)) return reject(new Error(`CONNECT refused: ${head.split('\r\n')[0]}`));
      if (buf.length > end + 4) return reject(new Error('bytes after the CONNECT answer'));
      resolve();
    };
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

/** A connection to the origin along `route`, TLS-established when the route asks for TLS. */
async function openRoute(route: Route, track: Set<net.Socket>): Promise<net.Socket> {
  let raw: net.Socket | undefined;
  if (route.mode === 'tunnel' || !route.tls) {
    raw = net.connect({ host: '127.0.0.1', port: route.port });
    raw.setNoDelay(true);
    track.add(raw);
    await once(raw, 'connect');
    if (route.mode === 'tunnel') {
      const authority = route.authority ?? '';
      raw.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nUser-Agent: leash-bench\r\n\r\n`);
      await readConnectAnswer(raw);
    }
    if (!route.tls) {
      raw.resume();
      return raw;
    }
  }
  const options = route.tls as NonNullable<Route['tls']>;
  const secure = raw
    ? tls.connect({ socket: raw, servername: options.servername, ca: options.ca })
    : tls.connect({ host: '127.0.0.1', port: route.port, servername: options.servername, ca: options.ca });
  track.add(secure);
  secure.setNoDelay(true);
  await once(secure, 'secureConnect');
  return secure;
}

/** Sends one request and resolves with its response (body counted, not kept). */
function exchange(socket: net.Socket, request: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const reader = new ResponseReader();
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      let result: Response | 'more';
      try {
        result = reader.feed(chunk);
      } catch (err) {
        cleanup();
        return reject(err);
      }
      if (result !== 'more') {
        cleanup();
        resolve(result);
      }
    };
    const onEnd = () => {
      const result = reader.end();
      cleanup();
      if (result) resolve(result);
      else reject(new Error('connection ended mid-response'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('connection closed mid-response'));
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.write(request);
  });
}

/** Outermost layer first (TLS before the TCP socket under it): a TCP handle closed under a live TLS layer is
 * the one suspect we have for the generator's occasional SIGSEGV inside intercepted tunnels. */
function destroyAll(sockets: Set<net.Socket>): void {
  for (const socket of [...sockets].reverse()) socket.destroy();
  sockets.clear();
}

async function runHandshakes(job: HandshakeJob): Promise<HandshakeResult> {
  const started = performance.now();
  const warmupEnd = started + job.warmupMs;
  const windowEndAt = warmupEnd + job.durationMs;
  const latencies = new Float64Array(job.maxConnections);
  let count = 0;
  let total = 0;
  let errors = 0;
  let firstError: string | undefined;
  let windowStart = 0;
  let windowEnd = 0;
  const measuring = () => performance.now() >= warmupEnd;
  const done = () => count >= job.maxConnections || performance.now() >= windowEndAt || errors > 1000;
  const worker = async () => {
    while (!done()) {
      const t0 = performance.now();
      const inWindow = measuring();
      if (inWindow && windowStart === 0) windowStart = t0;
      const sockets = new Set<net.Socket>();
      try {
        await withTimeout(
          (async () => {
            const socket = await openRoute(job.route, sockets);
            const response = await exchange(socket, job.request);
            if (response.status !== 200) throw new Error(`status ${response.status}`);
          })(),
          5000,
          'handshake and request',
          () => destroyAll(sockets),
        );
        total++;
        if (inWindow && count < job.maxConnections) latencies[count++] = performance.now() - t0;
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      } finally {
        destroyAll(sockets);
      }
      if (count >= job.maxConnections && windowEnd === 0) windowEnd = performance.now();
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  if (windowEnd === 0) windowEnd = performance.now();
  const sorted = latencies.subarray(0, count).sort();
  return {
    connections: count,
    totalConnections: total,
    seconds: windowStart === 0 ? 0 : (windowEnd - windowStart) / 1000,
    errors,
    ...(firstError ? { firstError } : {}),
    p99Ms: quantile(sorted, 0.99),
  };
}

async function runDownload(job: DownloadJob): Promise<DownloadResult> {
  const sockets = new Set<net.Socket>();
  try {
    return await withTimeout(
      (async () => {
        const socket = await openRoute(job.route, sockets);
        const t0 = performance.now();
        const response = await exchange(socket, job.request);
        const seconds = (performance.now() - t0) / 1000;
        if (response.status !== 200 || response.bodyBytes !== job.expectBytes) {
          throw new Error(`download: status ${response.status}, ${response.bodyBytes} of ${job.expectBytes} bytes`);
        }
        return { bytes: response.bodyBytes, seconds };
      })(),
      job.timeoutMs,
      'download',
      () => destroyAll(sockets),
    );
  } finally {
    destroyAll(sockets);
  }
}

const held = new Set<net.Socket>();

async function runHold(job: HoldJob): Promise<HoldResult> {
  const deadline = performance.now() + job.timeoutMs;
  let next = 0;
  let open = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < job.count && performance.now() < deadline && errors < 100) {
      next++;
      const sockets = new Set<net.Socket>();
      try {
        const socket = await withTimeout(
          (async () => {
            const s = await openRoute(job.route, sockets);
            const response = await exchange(s, job.request);
            if (response.status !== 200 || response.close)
              throw new Error(`status ${response.status}${response.close ? ', connection: close' : ''}`);
            return s;
          })(),
          5000,
          'open tunnel',
          () => destroyAll(sockets),
        );
        for (const s of sockets) held.add(s);
        socket.on('error', () => {});
        open++;
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
        destroyAll(sockets);
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  return { open, errors, ...(firstError ? { firstError } : {}) };
}

async function run(job: Job): Promise<unknown> {
  switch (job.kind) {
    case 'http':
      return runHttp(job);
    case 'handshake':
      return runHandshakes(job);
    case 'download':
      return runDownload(job);
    case 'hold':
      return runHold(job);
    case 'release':
      destroyAll(held);
      return {};
  }
}

if (process.send) {
  process.on('message', (message: JobMessage) => {
    run(message).then(
      (result) => process.send?.({ id: message.id, result } satisfies ResultMessage),
      (err: unknown) =>
        process.send?.({ id: message.id, error: (err as Error).message ?? String(err) } satisfies ResultMessage),
    );
  });
  // The parent went away (finished, crashed or was killed): so do we, with every socket.
  process.on('disconnect', () => process.exit(0));
  process.send({ id: 0, result: 'ready' } satisfies ResultMessage);
}
