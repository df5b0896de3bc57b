// Serves the control route table (api.ts) over HTTP on two transports, with one handler:
//   - the control socket, a Unix socket of mode 0600 that `leash serve` always opens: the kernel admits only the
//     user leash runs as (and root), so no secret is needed on one host. The caller is the OS user the client says
//     it runs as (X-Leash-Caller); Node cannot read the peer's credentials (SO_PEERCRED), and the mode already
//     limits who that can be.
//   - the --admin TCP listener, where every route needs `Authorization: Bearer $LEASH_ADMIN_TOKEN`,
//     compared in constant time and never logged; without the variable the control API is off there and says so.
// Bodies are JSON of at most 64 KiB and must say Content-Type: application/json (a browser cannot send that across
// origins without a preflight, so a page an operator visits cannot drive the API). A handler that throws is
// answered 500 and logged without its body.
//
// What it must never do: accept a call on the socket before its mode is 0600, or echo the token anywhere.

import { createHash, timingSafeEqual } from 'node:crypto';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { LeashError } from '../errors.js';
import { controlError, matchRoute, type ControlResponse, type ControlRoute } from './api.js';

export const MAX_BODY_BYTES = 64 * 1024;
const BODY_TIMEOUT_MS = 5_000;
/** Where the client says who it is; the value is reduced to printable ASCII and bounded. */
export const CALLER_HEADER = 'x-leash-caller';

export type ControlTransport =
  | { readonly kind: 'socket' }
  /** `token` is LEASH_ADMIN_TOKEN; undefined turns the control API off on this transport. */
  | { readonly kind: 'tcp'; readonly token: string | undefined };

export type ControlHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** True for the paths the control API owns on a shared listener (the --admin one also serves /metrics). */
export function isControlPath(pathname: string): boolean {
  return pathname === '/v1' || pathname.startsWith('/v1/');
}

export function controlHandler(
  routes: readonly ControlRoute[],
  transport: ControlTransport,
  log: (line: string) => void = () => {},
): ControlHandler {
  const expected = transport.kind === 'tcp' && transport.token !== undefined ? digest(transport.token) : undefined;
  return (req, res) => {
    void serve(req, res).catch((err: unknown) => {
      log(`leash: control API: internal error on ${req.method} ${pathOf(req)}: ${(err as Error).message}`);
      send(res, controlError('internal_error', 'leash failed while handling the call; nothing is assumed done'));
    });
  };

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://control.invalid');
    const matched = matchRoute(routes, req.method ?? '', url.pathname);
    if ('error' in matched) {
      return send(
        res,
        controlError(
          matched.error,
          matched.error === 'not_found'
            ? `no route ${url.pathname.slice(0, 100)} (GET /v1 lists them)`
            : `${url.pathname.slice(0, 100)} does not take ${String(req.method).slice(0, 10)}`,
        ),
      );
    }
    const { route, params } = matched;
    let caller: string;
    if (transport.kind === 'tcp') {
      if (expected === undefined)
        return send(
          res,
          controlError(
            'tcp_control_off',
            'the control API over --admin is off: LEASH_ADMIN_TOKEN is not set (use the control socket)',
          ),
        );
      const presented = bearer(req.headers.authorization);
      // Over TCP every call needs the token, reads too: what the API lists (pending approvals, open scope accesses)
      // names agents, hosts and paths, and the admin port is the one a fleet's scrapers reach.
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="leash"');
        return send(
          res,
          controlError(
            'unauthorized',
            presented === undefined
              ? 'this call needs Authorization: Bearer with the token in LEASH_ADMIN_TOKEN'
              : 'the bearer token is wrong',
          ),
        );
      }
      caller = 'admin-token';
    } else {
      caller = callerOf(req.headers[CALLER_HEADER]);
    }
    const body = await readBody(req);
    if ('error' in body) return send(res, body.error);
    send(res, await route.handle({ body: body.value, caller, params, query: url.searchParams }));
  }
}

function pathOf(req: http.IncomingMessage): string {
  return (req.url ?? '').split('?')[0]?.slice(0, 100) ?? '';
}

function send(res: http.ServerResponse, response: ControlResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = `${JSON.stringify(response.body)}\n`;
  res
    .writeHead(response.status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
    })
    .end(text);
}

/** SHA-256 first, so the comparison is of equal lengths and takes the same time whatever was presented. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return m?.[1];
}

/** `alice (uid 1000)` as the client sent it, reduced to printable ASCII without quotes, at most 80 characters. */
function callerOf(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  const clean = (value ?? '')
    .replace(/[^\x20-\x7e]|["\\]/g, '?')
    .trim()
    .slice(0, 80);
  return clean === '' ? 'unknown user (control socket)' : `${clean} (control socket)`;
}

async function readBody(req: http.IncomingMessage): Promise<{ value: unknown } | { error: ControlResponse }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const outcome = await new Promise<'done' | 'too_large' | 'timeout' | 'aborted'>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), BODY_TIMEOUT_MS);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        clearTimeout(timer);
        req.pause();
        resolve('too_large');
      } else {
        chunks.push(chunk);
      }
    });
    req.once('end', () => {
      clearTimeout(timer);
      resolve('done');
    });
    req.once('error', () => {
      clearTimeout(timer);
      resolve('aborted');
    });
  });
  if (outcome === 'too_large') return { error: controlError('too_large', `the body exceeds ${MAX_BODY_BYTES} bytes`) };
  if (outcome !== 'done') return { error: controlError('bad_request', 'the body did not arrive whole') };
  if (size === 0) return { value: undefined };
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? ''))
    return { error: controlError('unsupported_media_type', 'send the body as Content-Type: application/json') };
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return { error: controlError('bad_request', 'the body is not valid JSON') };
  }
}

export interface ControlSocket {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on the Unix socket `socketPath` with mode 0600. A stale socket left by a leash that died is replaced; a
 * socket another leash still answers on, or a path that is not a socket, is refused (LEASH_LISTEN).
 */
export async function startControlSocket(socketPath: string, handler: ControlHandler): Promise<ControlSocket> {
  // sun_path holds 107 bytes on Linux (103 on macOS); a longer path would be silently truncated by some systems.
  if (Buffer.byteLength(socketPath) > 103)
    throw new LeashError(
      'LEASH_LISTEN',
      `control socket path is too long for a Unix socket (${Buffer.byteLength(socketPath)} bytes, at most 103): ${socketPath}; choose a shorter one with --control`,
    );
  await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o750 });
  await removeStale(socketPath);
  let secured = false;
  const server = http.createServer(handler);
  server.on('connection', (socket: net.Socket) => {
    // Before the mode is 0600 anyone could have connected; nothing that arrives before then is served.
    if (!secured) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The socket file is created by bind() with the process umask: create it private, not private-after-a-moment.
    const previous = setUmask(0o177);
    try {
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      if (previous !== undefined) setUmask(previous);
    }
  }).catch((err: NodeJS.ErrnoException) => {
    throw new LeashError('LEASH_LISTEN', `cannot open the control socket ${socketPath}: ${err.message}`, {
      cause: err,
    });
  });
  await chmod(socketPath, 0o600);
  const stat = await lstat(socketPath);
  if ((stat.mode & 0o077) !== 0) {
    server.close();
    throw new LeashError(
      'LEASH_LISTEN',
      `the control socket ${socketPath} could not be made private (mode ${(stat.mode & 0o777).toString(8)})`,
    );
  }
  secured = true;
  const inode = stat.ino;
  let closing: Promise<void> | undefined;
  return {
    path: socketPath,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }).then(async () => {
        // Remove the file only if it is still ours (a second leash may have replaced a socket it found stale).
        const now = await lstat(socketPath).catch(() => undefined);
        if (now?.isSocket() && now.ino === inode) await unlink(socketPath).catch(() => undefined);
      });
      return closing;
    },
  };
}

/** process.umask(mask), or undefined where it cannot be set (worker threads); chmod follows either way. */
function setUmask(mask: number): number | undefined {
  try {
    return process.umask(mask);
  } catch {
    return undefined;
  }
}

async function removeStale(socketPath: string): Promise<void> {
  const stat = await lstat(socketPath).catch((err: NodeJS.ErrnoException) =>
    err.code === 'ENOENT' ? undefined : Promise.reject(err),
  );
  if (!stat) return;
  if (!stat.isSocket())
    throw new LeashError(
      'LEASH_LISTEN',
      `${socketPath} exists and is not a socket; leash will not replace it (choose another path with --control)`,
    );
  const answered = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (answered)
    throw new LeashError(
      'LEASH_LISTEN',
      `another leash is running with its control socket at ${socketPath} (stop it, or give this one --control PATH)`,
    );
  await unlink(socketPath);
}
