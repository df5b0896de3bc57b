// Test clients: drive the proxy with the clients agents really use (curl, Python urllib, undici fetch) and with
// raw bytes for input no well-behaved client would send.
//
// Why: each client speaks the proxy protocol a little differently (absolute-form vs CONNECT for http:// URLs,
// how a refused CONNECT surfaces, which headers it adds), so the proxy is tested against each of them, and the
// result is reduced to one shape: status, headers and body of the final response, plus the error text.
//
// Never: turn off certificate verification (no curl -k, no unverified SSL context, no rejectUnauthorized: false),
// inherit proxy settings from the environment (a stray NO_PROXY=127.0.0.1 would send the request straight to the
// origin and make a test pass without touching the proxy), or connect anywhere but the given proxy and loopback.

import { spawn } from 'node:child_process';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { fetch, ProxyAgent } from 'undici';

export interface ClientResult {
  /** Status of the last response received, or null when none arrived. */
  status: number | null;
  body: string;
  stderr: string;
  /** Process exit code; for in-process clients 0 when a response arrived, 1 when the request failed. */
  exitCode: number | null;
  /** Headers of the last response, names lower-cased, repeated headers joined with ", ". */
  headers: Record<string, string>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
// A spawned client gets this long past its own timeout before we kill it, so its own error message wins.
const KILL_GRACE_MS = 5_000;

const PROXY_ENV_VARS =
  /^(https?_proxy|all_proxy|no_proxy|ftp_proxy|socks_proxy|curl_ca_bundle|ssl_cert_file|ssl_cert_dir|requests_ca_bundle)$/i;

/** The parent environment minus every variable that changes where a client connects or which CAs it trusts. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!PROXY_ENV_VARS.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

interface Spawned {
  stdout: Buffer;
  stderr: string;
  exitCode: number | null;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, killAfterMs: number): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', (error) => {
      clearTimeout(killer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), exitCode: code });
    });
  });
}

function addHeader(headers: Record<string, string>, name: string, value: string): void {
  const key = name.toLowerCase();
  headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
}

const STATUS_LINE = /^HTTP\/\d(?:\.\d)? (\d{3})[^\r\n]*\r?\n/;

/**
 * Split `curl -i` output into the last response's status, headers and body. curl prints every response it
 * reads: the proxy's answer to CONNECT, any 1xx, then the origin's; only the last one is the result.
 */
export function parseCurlOutput(raw: Buffer): { status: number | null; headers: Record<string, string>; body: string } {
  let rest = raw.toString('utf8');
  let status: number | null = null;
  let headers: Record<string, string> = {};
  for (let match = STATUS_LINE.exec(rest); match; match = STATUS_LINE.exec(rest)) {
    const headEnd = /\r?\n\r?\n/.exec(rest);
    const head = headEnd ? rest.slice(0, headEnd.index) : rest;
    status = Number(match[1]);
    headers = {};
    for (const line of head.split(/\r?\n/).slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) addHeader(headers, line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    rest = headEnd ? rest.slice(headEnd.index + headEnd[0].length) : '';
  }
  return { status, headers, body: rest };
}

export interface CurlArgs {
  url: string;
  /** e.g. http://127.0.0.1:PORT */
  proxy: string;
  method?: string;
  data?: string;
  headers?: Record<string, string>;
  /** PEM file with the CA that signs the origin (or the proxy's interception CA). */
  caFile?: string;
  /** curl --resolve entries, "host:port:addr". */
  resolve?: string[];
  timeoutMs?: number;
  extra?: string[];
  /** Run curl as this uid (and gid) through setpriv; needs root. */
  asUid?: number;
}

export async function curl(args: CurlArgs): Promise<ClientResult> {
  const timeoutMs = args.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // -q must come first: it stops curl reading ~/.curlrc, which could add -k or another proxy.
  const argv = ['-q', '-sS', '-i', '--max-time', (timeoutMs / 1000).toFixed(3), '-x', args.proxy, '--noproxy', ''];
  const method = args.method?.toUpperCase();
  if (method === 'HEAD') argv.push('--head');
  else if (method) argv.push('-X', method);
  if (args.data !== undefined) argv.push('--data-binary', args.data);
  for (const [name, value] of Object.entries(args.headers ?? {})) argv.push('-H', `${name}: ${value}`);
  if (args.caFile) argv.push('--cacert', args.caFile);
  for (const entry of args.resolve ?? []) argv.push('--resolve', entry);
  argv.push(...(args.extra ?? []), '--', args.url);
  const [command, commandArgs] =
    args.asUid === undefined
      ? ['curl', argv]
      : ['setpriv', [`--reuid=${args.asUid}`, `--regid=${args.asUid}`, '--clear-groups', 'curl', ...argv]];
  const result = await run(command, commandArgs, cleanEnv(), timeoutMs + KILL_GRACE_MS);
  return { ...parseCurlOutput(result.stdout), stderr: result.stderr, exitCode: result.exitCode };
}

// Prints one JSON object {status, headers, body} for any HTTP response (HTTPError included, so a 403 from the
// proxy is a status, not a crash). URLError (refused CONNECT, TLS failure, DNS failure) goes to stderr, exit 2;
// anything else (RemoteDisconnected, socket timeout) goes to stderr as "Type: message", exit 3.
const PYTHON_URLLIB = `
import json, ssl, sys, urllib.error, urllib.request
a = json.loads(sys.argv[1])
ctx = ssl.create_default_context(cafile=a["caFile"]) if a.get("caFile") else ssl.create_default_context()
opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({"http": a["proxy"], "https": a["proxy"]}),
    urllib.request.HTTPSHandler(context=ctx),
)
req = urllib.request.Request(a["url"], method=a.get("method") or "GET")
def emit(status, headers, body):
    merged = {}
    for k, v in (headers.items() if headers is not None else []):
        k = k.lower()
        merged[k] = merged[k] + ", " + v if k in merged else v
    sys.stdout.write(json.dumps({"status": status, "headers": merged, "body": body.decode("utf-8", "replace")}))
try:
    with opener.open(req, timeout=a["timeout"]) as r:
        emit(r.status, r.headers, r.read())
except urllib.error.HTTPError as e:
    emit(e.code, e.headers, e.read())
except urllib.error.URLError as e:
    print(e.reason, file=sys.stderr)
    sys.exit(2)
except Exception as e:
    print(type(e).__name__ + ": " + str(e), file=sys.stderr)
    sys.exit(3)
`;

export interface PythonUrllibArgs {
  url: string;
  proxy: string;
  method?: string;
  caFile?: string;
  timeoutMs?: number;
}

export async function pythonUrllib(args: PythonUrllibArgs): Promise<ClientResult> {
  const timeoutMs = args.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const payload = JSON.stringify({
    url: args.url,
    proxy: args.proxy,
    method: args.method ?? null,
    caFile: args.caFile ?? null,
    timeout: timeoutMs / 1000,
  });
  const result = await run(
    'python3',
    ['-c', PYTHON_URLLIB, payload],
    cleanEnv({ PYTHONIOENCODING: 'utf-8' }),
    timeoutMs + KILL_GRACE_MS,
  );
  const base = { stderr: result.stderr, exitCode: result.exitCode };
  const stdout = result.stdout.toString('utf8');
  if (stdout === '') return { ...base, status: null, body: '', headers: {} };
  const parsed = JSON.parse(stdout) as { status: number; headers: Record<string, string>; body: string };
  return { ...base, status: parsed.status, body: parsed.body, headers: parsed.headers };
}

export interface NodeFetchArgs {
  url: string;
  proxy: string;
  method?: string;
  body?: string;
  /** CA the origin (or the proxy's interception) certificate chains to; undici's bundled roots otherwise. */
  caPem?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /**
   * undici's ProxyAgent tunnels http:// URLs through CONNECT too unless this is false, in which case it sends
   * them in absolute-form like curl and Python do. Defaults to undici's own default (tunnel).
   */
  tunnel?: boolean;
}

/** "message ← cause ← cause": undici hides the useful part (ECONNREFUSED, proxy status) in `cause`. */
function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    const { name, code, message } = e as { name?: string; code?: string; message?: string };
    parts.push([name, code, message].filter(Boolean).join(': ') || String(e));
  }
  return parts.join(' <- ');
}

export async function nodeFetch(args: NodeFetchArgs): Promise<ClientResult> {
  const agent = new ProxyAgent({
    uri: args.proxy,
    ...(args.caPem !== undefined ? { requestTls: { ca: args.caPem } } : {}),
    ...(args.tunnel !== undefined ? { proxyTunnel: args.tunnel } : {}),
  });
  try {
    const response = await fetch(args.url, {
      method: args.method ?? 'GET',
      ...(args.body !== undefined ? { body: args.body } : {}),
      ...(args.headers ? { headers: args.headers } : {}),
      dispatcher: agent,
      signal: AbortSignal.timeout(args.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    const body = await response.text();
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => addHeader(headers, name, value));
    return { status: response.status, body, stderr: '', exitCode: 0, headers };
  } catch (err) {
    return { status: null, body: '', stderr: describeError(err), exitCode: 1, headers: {} };
  } finally {
    // destroy, not close: close() waits for idle keep-alive sockets, which would keep the proxy's tunnel open.
    await agent.destroy();
  }
}

export interface RawResult {
  data: Buffer;
  /** `data` as latin1, so every byte maps to one character. */
  text: string;
  /** True when the server ended or reset the connection before the timeout. */
  closed: boolean;
  elapsedMs: number;
}

/**
 * Write `bytes` to host:port and collect everything until the server closes the connection or `timeoutMs`
 * passes. Our side never half-closes, so the server must decide on its own to answer or hang up: that is how
 * slow or truncated requests are tested. Rejects only when the connection cannot be made.
 */
export function rawRequest(
  port: number,
  bytes: string | Buffer,
  opts: { timeoutMs?: number; host?: string } = {},
): Promise<RawResult> {
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: opts.host ?? '127.0.0.1' });
    const chunks: Buffer[] = [];
    let connected = false;
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(chunks);
      resolve({ data, text: data.toString('latin1'), closed, elapsedMs: performance.now() - started });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('connect', () => {
      connected = true;
      socket.write(bytes);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (err) => {
      if (connected) {
        finish(true); // ECONNRESET and friends: the server hung up, which is an answer.
        return;
      }
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
  });
}

export interface FloodResult {
  /** Everything the server sent, as latin1. */
  text: string;
  /** When the first complete response (head and Content-Length body) had arrived; null if none did. */
  answeredMs: number | null;
  /** Body bytes the kernel took from this client (write callbacks fired): what the server read, plus socket buffers. */
  flushedBytes: number;
  /** When the server half-closed (FIN), if it did. */
  endedMs: number | null;
  /** How the connection finished: 'close', 'error:CODE' (a reset), or 'timeout'. */
  finished: string;
  finishedMs: number;
}

/**
 * Sends `head`, then writes body bytes as fast as the connection takes them until the server closes it or
 * `durationMs` passes: a client that keeps uploading while the server refuses (RFC 9112 §9.6). Reading starts after
 * `readAfterMs`, so the test can tell whether the refusal was still there to read or a reset threw it away.
 */
export interface FloodOptions {
  /** Give up after this long (default 3 s). */
  durationMs?: number;
  chunkBytes?: number;
  /** Read nothing until then, like a client blocked in a long write. */
  readAfterMs?: number;
}

export async function floodRequest(port: number, head: string, opts: FloodOptions = {}): Promise<FloodResult> {
  // Half-open: the client keeps uploading after the server's FIN, as a client busy sending would.
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return floodOn(socket, head, opts);
}

/** floodRequest on a connection already open (a TLS socket inside a tunnel; open it with allowHalfOpen). */
export function floodOn(socket: Duplex, head: string, opts: FloodOptions = {}): Promise<FloodResult> {
  const durationMs = opts.durationMs ?? 3_000;
  const chunk = Buffer.alloc(opts.chunkBytes ?? 64 * 1024, 0x61);
  const started = performance.now();
  return new Promise((resolve) => {
    let text = '';
    let answeredMs: number | null = null;
    let endedMs: number | null = null;
    let flushedBytes = 0;
    let settled = false;
    const finish = (finished: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, answeredMs, flushedBytes, endedMs, finished, finishedMs: performance.now() - started });
    };
    const timer = setTimeout(() => finish('timeout'), durationMs);
    const pump = () => {
      // Bounded by the timer above: each pass writes until the kernel pushes back, then waits for drain.
      while (!settled && !socket.destroyed) {
        if (
          !socket.write(chunk, (err) =>
            err === undefined || err === null ? (flushedBytes += chunk.length) : undefined,
          )
        ) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    socket.on('data', (data: Buffer) => {
      text += data.toString('latin1');
      if (answeredMs === null && completeResponse(text)) answeredMs = performance.now() - started;
    });
    socket.on('end', () => (endedMs = performance.now() - started));
    socket.on('close', () => finish('close'));
    socket.on('error', (err: NodeJS.ErrnoException) => finish(`error:${err.code ?? err.message}`));
    if (opts.readAfterMs) {
      socket.pause();
      setTimeout(() => socket.resume(), opts.readAfterMs).unref();
    }
    socket.write(head);
    pump();
  });
}

/** Whether `text` holds a whole response: status line, headers, and as many body bytes as Content-Length says. */
function completeResponse(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
  return text.length - (end + 4) >= Number(length?.[1] ?? 0);
}

/**
 * The client side of `Expect: 100-continue` (RFC 9110 §10.1.1) on an open connection (plain or TLS): sends `head`,
 * waits for the server's first answer, and sends `body` only if that answer is `100 Continue`; then collects until
 * a final response is complete, the server closes, or `timeoutMs` passes. Returns everything the server sent.
 */
export function expectContinue(socket: Duplex, head: string, body: string, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    let sentBody = false;
    const finish = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(text);
    };
    const timer = setTimeout(finish, timeoutMs);
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!sentBody && /^HTTP\/1\.1 100 [^\r\n]*\r\n\r\n/.test(text)) {
        sentBody = true;
        socket.write(body);
      }
      const final = text.replace(/^HTTP\/1\.1 100 [^\r\n]*\r\n\r\n/, '');
      if (final !== '' && completeResponse(final)) finish();
    };
    socket.on('data', onData);
    socket.once('close', finish);
    socket.once('end', finish);
    socket.write(head);
  });
}
