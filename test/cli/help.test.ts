// A command line that helps: every command answers --help (and `leash help COMMAND`) with its usage, flags,
// defaults and one example, exit 0; `leash --version` prints the version; a mistyped flag gets one line naming it
// and the command's usage, not the whole manual; output into a closed pipe ends quietly with status 0.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/audit-sink.js';
import { run } from './run.js';

const COMMANDS: [argv: string[], flag: string][] = [
  [['serve'], '--listen <host:port>'],
  [['check'], '--policy <path>'],
  [['explain'], '--agent <name>'],
  [['rules'], '--format <format>'],
  [['audit'], '--effect <effect>'],
  [['audit', 'verify'], '[inputs...]'],
  [['ca', 'init'], '--force'],
  [['ca', 'trust'], '--certs <dir>'],
  [['secrets', 'placeholder'], '--agent <name>'],
];

describe('--help and leash help COMMAND', () => {
  it.each(COMMANDS)('leash %s --help: usage, flags with defaults, an example; exit 0', async (argv, flag) => {
    const { code, out, err } = await run(...argv, '--help');
    const text = out.join('\n');
    expect(code).toBe(0);
    expect(err).toEqual([]);
    expect(text).toMatch(new RegExp(`^Usage: leash ${argv.join(' ')} `));
    expect(text).toContain(flag);
    expect(text).toMatch(/\nExample:\n {2}(sudo )?leash /);
  });

  it.each(COMMANDS.filter(([argv]) => argv.length === 1))('leash help %s is the same text', async (argv) => {
    expect((await run('help', ...argv)).out).toEqual((await run(...argv, '--help')).out);
  });

  it('shows defaults', async () => {
    // commander wraps descriptions at the terminal width: compare with the wrapping undone.
    const text = (await run('serve', '--help')).out.join('\n').replace(/\s+/g, ' ');
    expect(text).toContain('(default: $LEASH_LISTEN, else 127.0.0.1:3128)');
    expect(text).toContain('$LEASH_AUDIT, else ./leash-audit.log');
  });
});

describe('the rest of the command line', () => {
  it('leash --version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await run('--version')).toEqual({ code: 0, out: [pkg.version], err: [] });
  });

  it('an unknown flag: one line naming it (with a suggestion), then the command usage; exit 2', async () => {
    const { code, out, err } = await run('serve', '--lisen', '127.0.0.1:0');
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err).toEqual([
      "leash serve: unknown option '--lisen'",
      '(Did you mean --listen?)',
      'usage: leash serve [options]   (leash help serve for the flags and an example)',
    ]);
  });

  it('output into a closed pipe (| head) ends quietly with status 0', async () => {
    const dir = await tempDir();
    const log = path.join(dir, 'audit.log');
    await writeFile(
      log,
      Array.from({ length: 20_000 }, (_, i) =>
        JSON.stringify({
          id: `r${i}`,
          event: 'request',
          effect: 'allow',
          reason: 'allowed_by_rule',
          host: 'a.test',
          agent: 'anonymous',
        }),
      ).join('\n') + '\n',
    );
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
    const result = spawnSync(
      'bash',
      [
        '-c',
        `set -o pipefail; "${process.execPath}" --import "${tsx}" "${main}" audit --format json "${log}" | head -n 1`,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.status).toBe(0);
  });
});
