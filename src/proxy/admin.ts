// The admin listener: a second socket, never the proxy port, for the fleet's monitoring. GET /metrics (Prometheus
// text format), GET /healthz (the process is alive) and GET /readyz (it can do its job: a policy is loaded, the
// audit log takes writes, the shared store answers). Agents must never reach it: bind it to an address the agents'
// network cannot route to, which the kernel rules and the Kubernetes NetworkPolicy keep them from anyway.

import http from 'node:http';
import { isControlPath, type ControlHandler } from '../control/server.js';
import type { ProxyMetrics } from './metrics.js';

export interface Readiness {
  readonly ok: boolean;
  /** One line per thing that is not ready. */
  readonly problems: readonly string[];
}

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: ProxyMetrics;
  readonly ready: () => Promise<Readiness>;
  /** The control API (`/v1/...`), served here with the TCP rules: a bearer token for every mutating call. */
  readonly control?: ControlHandler;
}

export interface AdminServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdmin(options: AdminOptions): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(body);
    };
    if (options.control && isControlPath((req.url ?? '').split('?')[0] ?? '')) return options.control(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(405, 'text/plain; charset=utf-8', 'method not allowed\n');
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') return send(200, 'text/plain; charset=utf-8', 'ok\n');
    if (path === '/readyz') {
      void options.ready().then(
        (r) =>
          send(
            r.ok ? 200 : 503,
            'text/plain; charset=utf-8',
            r.ok ? 'ready\n' : `not ready:\n${r.problems.map((p) => `- ${p}\n`).join('')}`,
          ),
        (err: Error) => send(503, 'text/plain; charset=utf-8', `not ready: ${err.message}\n`),
      );
      return;
    }
    if (path === '/metrics') {
      void options.metrics.registry.metrics().then(
        (text) => send(200, options.metrics.registry.contentType, text),
        (err: Error) => send(500, 'text/plain; charset=utf-8', `metrics failed: ${err.message}\n`),
      );
      return;
    }
    send(
      404,
      'text/plain; charset=utf-8',
      `leash admin: GET /metrics, /healthz or /readyz${options.control ? ', or the control API under /v1' : ''}\n`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    host: options.host,
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
