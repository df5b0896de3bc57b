// How operators' commands reach a running leash's control API: `--control PATH` or $LEASH_CONTROL (its Unix
// socket), `--admin URL` or $LEASH_ADMIN (its --admin listener, with the token in $LEASH_ADMIN_TOKEN), else the
// default socket, which is
// where `leash serve` puts it when given no --control. When nothing answers there, one line says so and how to
// point the command elsewhere; the token is sent only to the endpoint and never printed.

import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { LeashError } from '../errors.js';
import { CALLER_HEADER } from './server.js';
import type { ControlMethod } from './api.js';

/** Where `leash serve` running as root opens its control socket by default. */
export const ROOT_CONTROL_SOCKET = '/run/leash/admin.sock';
/** The default socket's name beside the audit log when leash does not run as root. */
export const CONTROL_SOCKET_NAME = 'leash-admin.sock';
const CALL_TIMEOUT_MS = 10_000;

export type ControlEndpoint =
  | { readonly kind: 'socket'; readonly path: string }
  | { readonly kind: 'admin'; readonly url: URL; readonly token: string | undefined };

/**
 * The control socket's default path, shared by `leash serve` and the commands that call it: /run/leash/admin.sock
 * as root, else leash-admin.sock in the audit log's directory (the working directory when the log is stdout).
 */
export function defaultControlPath(auditPath: string, uid: number | undefined): string {
  if (uid === 0) return ROOT_CONTROL_SOCKET;
  const dir = auditPath === '-' ? '.' : path.dirname(auditPath);
  return path.join(dir, CONTROL_SOCKET_NAME);
}

export interface EndpointFlags {
  readonly control?: string;
  readonly admin?: string;
}

/** `defaultSocket`: defaultControlPath() of the audit log the command would read (the CLI knows which). */
export function controlEndpoint(flags: EndpointFlags, env: NodeJS.ProcessEnv, defaultSocket: string): ControlEndpoint {
  if (flags.control !== undefined && flags.admin !== undefined)
    throw new LeashError('LEASH_USAGE', 'give --control PATH or --admin URL, not both');
  if (flags.control !== undefined) return { kind: 'socket', path: flags.control };
  if (flags.admin === undefined && env.LEASH_CONTROL) return { kind: 'socket', path: env.LEASH_CONTROL };
  const admin = flags.admin ?? (env.LEASH_ADMIN || undefined);
  if (admin !== undefined)
    return {
      kind: 'admin',
      url: adminUrl(admin, flags.admin !== undefined ? '--admin' : 'LEASH_ADMIN'),
      token: env.LEASH_ADMIN_TOKEN || undefined,
    };
  return { kind: 'socket', path: defaultSocket };
}

/** `http://HOST:PORT` or plain `HOST:PORT`; nothing else (no path, no credentials in the URL). */
function adminUrl(text: string, source: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    url = undefined;
  }
  if (
    !url ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.username ||
    url.password ||
    (url.pathname !== '/' && url.pathname !== '') ||
    url.search
  ) {
    throw new LeashError(
      'LEASH_USAGE',
      `${source} needs the admin listener's address, like http://127.0.0.1:9090 or 127.0.0.1:9090, got "${text.slice(0, 80)}"`,
    );
  }
  return url;
}

export function describeEndpoint(endpoint: ControlEndpoint): string {
  return endpoint.kind === 'socket' ? endpoint.path : endpoint.url.origin;
}

export interface ControlReply {
  readonly status: number;
  readonly body: unknown;
}

/** Who runs this command, sent on the control socket for the audit log: `alice (uid 1000)`, `root (uid 0, sudo from alice)`. */
export function localCaller(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.getuid?.();
  let name: string;
  try {
    name = os.userInfo().username;
  } catch {
    name = 'unknown user';
  }
  const sudo = uid === 0 && env.SUDO_USER ? `, sudo from ${env.SUDO_USER}` : '';
  return uid === undefined ? name : `${name} (uid ${uid}${sudo})`;
}

/**
 * One call. Resolves with any HTTP answer the control API gave (the caller reads `status`); rejects with a
 * LeashError whose message is one line when nothing answers as leash there.
 */
export async function callControl(
  endpoint: ControlEndpoint,
  method: ControlMethod,
  route: string,
  body?: unknown,
): Promise<ControlReply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (payload !== undefined)
    Object.assign(headers, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(payload)),
    });
  if (endpoint.kind === 'socket') headers[CALLER_HEADER] = localCaller();
  else if (endpoint.token !== undefined) headers.Authorization = `Bearer ${endpoint.token}`;
  const where = describeEndpoint(endpoint);
  const options: http.RequestOptions =
    endpoint.kind === 'socket'
      ? { socketPath: endpoint.path, path: route, method, headers }
      : {
          host: endpoint.url.hostname.replace(/^\[|\]$/g, ''),
          port: endpoint.url.port || (endpoint.url.protocol === 'https:' ? 443 : 80),
          path: route,
          method,
          headers,
          protocol: endpoint.url.protocol,
        };
  const request =
    endpoint.kind === 'admin' && endpoint.url.protocol === 'https:'
      ? (await import('node:https')).request
      : http.request;
  return new Promise<ControlReply>((resolve, reject) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', (err) => reject(notRunning(endpoint, err as NodeJS.ErrnoException)));
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          return reject(
            new LeashError(
              'LEASH_NOT_RUNNING',
              `${where} answered ${res.statusCode}, but not as leash's control API (is that leash serve's --admin listener, and a leash with the control API?)`,
            ),
          );
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.setTimeout(CALL_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    req.once('error', (err: NodeJS.ErrnoException) => reject(notRunning(endpoint, err)));
    req.end(payload);
  });
}

/** The one line a command prints when leash does not answer where it looked. */
function notRunning(endpoint: ControlEndpoint, err: NodeJS.ErrnoException): LeashError {
  const hint =
    endpoint.kind === 'socket'
      ? 'start leash serve, or point to its socket with --control PATH (or its --admin listener with --admin URL)'
      : 'start leash serve with --admin, or check the address';
  const where = describeEndpoint(endpoint);
  const why =
    err.code === 'ENOENT'
      ? 'no control socket there'
      : err.code === 'ECONNREFUSED'
        ? endpoint.kind === 'socket'
          ? 'a stale control socket: nothing answers on it'
          : 'connection refused'
        : err.code === 'EACCES' || err.code === 'EPERM'
          ? 'permission denied: the socket admits only the user leash runs as, and root'
          : err.code === 'ETIMEDOUT'
            ? `no answer within ${CALL_TIMEOUT_MS / 1000} s`
            : (err.code ?? err.message);
  return new LeashError('LEASH_NOT_RUNNING', `leash is not running at ${where} (${why}); ${hint}`, { cause: err });
}

/** The message of an error body the control API sent, or a line naming the status. */
export function replyError(reply: ControlReply): string {
  const error = (reply.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.message === 'string'
    ? `${error.message} (${String(error.code)}, HTTP ${reply.status})`
    : `the control API answered HTTP ${reply.status}`;
}
