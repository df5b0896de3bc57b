// Test helper: run a leash command in-process and capture what it prints.

import { main } from '../../src/main.js';

export interface Run {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

export async function run(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line), env: {} });
  return { code, out, err };
}
