// `leash serve` as a separate process, the way an operator runs it: for tests about signals, exit codes and what
// goes to stdout versus stderr. Also a plain proxied GET for driving it.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface LeashProcess {
  readonly child: ChildProcess;
  /** Resolves with the port once leash prints `listening on 127.0.0.1:PORT`; rejects if it exits first. */
  readonly listening: Promise<number>;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<number | null>;
}

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
// By URL, so a child started in another working directory still finds the checkout's tsx.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Each process gets a control socket of its own (LEASH_CONTROL, unless `env` names one): run as root, every leash
 * would otherwise share /run/leash/admin.sock and the second to start would refuse to.
 */
export function leashProcess(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): LeashProcess {
  const control = path.join(os.tmpdir(), `leash-test-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
  const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LEASH_CONTROL: control, ...env },
    cwd,
  });
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
