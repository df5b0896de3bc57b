// Talking to a leash under test as its users do: a plain-HTTP request through the proxy (absolute form, with the
// headers an agent sends), and a leash command run in-process as a person would type it.

import http from 'node:http';
import { runProgram } from '../../src/cli/program.js';

export interface ProxyReply {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One plain-HTTP request through the proxy (absolute form), as an agent would send it. */
export function viaProxy(
  proxyPort: number,
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<ProxyReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: proxyPort,
        method,
        path: url,
        headers: { ...headers, Connection: 'close' },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, body }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A leash command run in-process, as a person would type it. */
export async function leashCli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runProgram(args, { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
  return { code, out, err };
}
