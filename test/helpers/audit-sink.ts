// Audit sink: read the proxy's JSON-lines audit log back into objects, and wait for it to catch up.
//
// Why: tests assert on parsed records (field by field, and by searching them for planted secrets), never on
// substrings of the raw file; and the logger writes asynchronously, so tests await a condition instead of
// sleeping a guessed number of milliseconds.
//
// Never: skip or repair a line that is not JSON. A torn or non-JSON line is a bug in the logger, and must fail
// the test that sees it (waitFor retries, so a line still being written only delays the read).

import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Every line of `file` as a JSON object; throws naming the line number of the first one that is not. */
export async function readAuditLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop(); // the newline that ends the last record
  return lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not JSON (${(err as Error).message}): ${JSON.stringify(line.slice(0, 200))}`, {
        cause: err,
      });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${file}:${i + 1}: not a JSON object: ${JSON.stringify(line.slice(0, 200))}`);
    }
    return value as Record<string, unknown>;
  });
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Call `fn` until it returns a truthy value without throwing, and return that value. At the timeout, throw the
 * last error `fn` threw (so an expect() inside fn reports its own diff), or say what it last returned.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitForOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      lastError = undefined;
      lastValue = value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  if (lastError !== undefined) throw lastError;
  throw new Error(`waitFor: timed out after ${timeoutMs} ms; last value: ${String(lastValue)}`);
}

/** A fresh directory under the OS temp dir. Not removed afterwards: it is small and its contents help debugging. */
export function tempDir(prefix = 'leash-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}
