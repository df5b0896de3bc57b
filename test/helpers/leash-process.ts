// `leash serve` as a separate process, the way an operator runs it: for tests about signals, exit codes and what
// goes to stdout versus stderr. Also a plain proxied GET for driving it.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';

export interface LeashProcess {
  readonly child: ChildProcess;
  /** Resolves with the port once leash prints `listening on 127.0.0.1:PORT`; rejects if it exits first. */
  readonly listening: Promise<number>;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<number | null>;
}

export function leashProcess(args: string[], env: NodeJS.ProcessEnv = {}): LeashProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  const listening = new Promise<number>((resolve, reject) => {
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /^listening on 127\.0\.0\.1:(\d+)$/m.exec(err);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`leash exited before listening:\n${err}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, listening, stdout: () => out, stderr: () => err, exited };
}

/** An absolute-form GET through the proxy on `port`; resolves with the status once the body is read. */
export function proxiedGet(port: number, target: string, agent?: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, agent, headers: { host: 'x' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}
