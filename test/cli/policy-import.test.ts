// `leash policy import`: the command around the pure importers. It prints the policy (or writes -o FILE), and the
// result is one `leash check` accepts; a source it cannot carry over exits 1 naming the source's line, and writes
// nothing.

import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/audit-sink.js';
import { run } from './run.js';

const fixture = (name: string) => fileURLToPath(new URL(`../policy/fixtures/import/${name}`, import.meta.url));

describe('leash policy import', () => {
  it.each([
    ['srt', 'srt-settings.json'],
    ['squid', 'squid.conf'],
    ['smokescreen', 'smokescreen-acl.yaml'],
    ['safeclaw', 'safeclaw.yaml'],
  ])('--from %s %s -o FILE writes a policy leash check accepts', async (from, name) => {
    const dir = await tempDir();
    const out = path.join(dir, 'imported.yaml');
    const imported = await run('policy', 'import', '--from', from, fixture(name), '-o', out);
    expect(imported.code).toBe(0);
    expect(imported.out).toEqual([]);
    expect(imported.err.at(-1)).toMatch(/^wrote .*imported\.yaml: \d+ rules/);
    const checked = await run('check', '--policy', out);
    expect(checked.code).toBe(0);
    expect(checked.out.at(-1)).toMatch(/^ok: \d+ rules from 1 file/);
  });

  it('prints to stdout without -o', async () => {
    const { code, out } = await run('policy', 'import', '--from', 'srt', fixture('srt-settings.json'));
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/^# Imported by `leash policy import --from srt`/);
    expect(out.join('\n')).toMatch(/\nversion: 1\n/);
  });

  it('names the line of what it cannot carry over, exits 1 and writes nothing', async () => {
    const dir = await tempDir();
    const source = path.join(dir, 'squid.conf');
    const out = path.join(dir, 'imported.yaml');
    await writeFile(
      source,
      'acl ok dstdomain .example.com\nacl q url_regex secret\nhttp_access deny q\nhttp_access allow ok\n',
    );
    const { code, err } = await run('policy', 'import', '--from', 'squid', source, '-o', out);
    expect(code).toBe(1);
    expect(err[0]).toMatch(
      new RegExp(
        `^${source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:1: http_access deny uses acl q of type url_regex`,
      ),
    );
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    [['policy', 'import', '--from', 'iptables', 'x'], 2, /argument 'iptables' is invalid/],
    [['policy', 'import', 'x'], 2, /--from <format>' not specified/],
    [['policy', 'import', '--from', 'srt', '/nonexistent/settings.json'], 1, /cannot read: no such file/],
  ])('leash %j exits %i', async (argv, status, message) => {
    const { code, err } = await run(...argv);
    expect(code).toBe(status);
    expect(err.join('\n')).toMatch(message);
  });

  it('answers --help with the formats and an example', async () => {
    const { code, out } = await run('policy', 'import', '--help');
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/^Usage: leash policy import /);
    expect(out.join('\n')).toMatch(/\nExample:\n {2}leash policy import --from squid /);
    expect(await readFile(new URL('../../README.md', import.meta.url), 'utf8')).toContain('### leash policy import');
  });
});
