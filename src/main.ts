#!/usr/bin/env node
// The `leash` command: parses the command line, runs one command, and maps errors to exit codes (0 ok, 1 the
// command found a problem, 2 the command line itself is wrong). Stack traces are for bugs only.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { AuditOptions } from './cli/audit.js';
import { processIo, type CommandIo } from './cli/io.js';
import { LeashError } from './errors.js';

// Each command loads its own code when it runs: `leash audit` or `leash check` should not pay for the proxy, TLS
// and policy engine modules at start.

const USAGE = `usage: leash <command> [options]

commands:
  serve    [--policy PATH]... [--listen HOST:PORT] [--audit PATH|-]   run the proxy (default policies/, 127.0.0.1:3128, audit to stdout)
           [--audit-max-size SIZE [--audit-keep N]]                    rotate the audit file by size (100M), keeping N files (5)
           [--certs DIR]                                               where leash's CA for TLS interception lives (certs/)
  check    [--policy PATH]...                                          validate policy files
  explain  [--policy PATH]... [--agent NAME] METHOD URL                show which rule decides a request, and why
  rules    --user NAME|UID... --proxy HOST:PORT --format nft|iptables|pf [--allow HOST:PORT]... [--action reject|drop] [--no-log]
           [--apply|--remove|--status]                                 kernel rules: the agent's user may reach only the proxy
  audit    [FILE|DIR]... [--effect allow|deny] [--host GLOB] [--agent NAME] [--rule NAME] [--reason CODE]
           [--since 24h|ISO] [--until 24h|ISO] [--format table|json|csv] [--summary] [--follow]
                                                                       read the audit log (default $LEASH_AUDIT, else ./leash-audit.log)
  audit verify [FILE]...                                               check the audit log's hash chain; exit 1 at the first break
  audit report [FILE|DIR]... [filters as for audit] [--policy PATH]... -o FILE.html   one self-contained HTML report with charts
  ca init  [--certs DIR] [--force]                                     create leash's CA for TLS interception
  ca trust [--certs DIR]                                               how to make agents trust it
  help                                                                 this text`;

const COMMANDS: Record<string, { options: ParseArgsConfig['options']; run: (values: Record<string, unknown>, positionals: string[], io: CommandIo) => Promise<number> }> = {
  check: {
    options: { policy: { type: 'string', multiple: true } },
    run: (v, p, io) => (p.length > 0 ? usage(`check takes no arguments, got "${p[0]}"`) : import('./cli/check.js').then((m) => m.checkCommand(v as { policy?: string[] }, io))),
  },
  explain: {
    options: { policy: { type: 'string', multiple: true }, agent: { type: 'string' } },
    run: async (v, p, io) => (await import('./cli/explain.js')).explainCommand(v as { policy?: string[]; agent?: string }, p, io),
  },
  rules: {
    options: {
      user: { type: 'string', multiple: true },
      proxy: { type: 'string', multiple: true },
      format: { type: 'string' },
      allow: { type: 'string', multiple: true },
      action: { type: 'string' },
      log: { type: 'boolean' },
      'no-log': { type: 'boolean' },
      apply: { type: 'boolean' },
      remove: { type: 'boolean' },
      status: { type: 'boolean' },
    },
    // Imported here rather than at the top so this entry is the whole of the command's wiring in this file.
    run: async (v, p, io) => (p.length > 0 ? usage(`rules takes no arguments, got "${p[0]}"`) : (await import('./cli/rules.js')).rulesCommand(v, io)),
  },
  ca: {
    options: { certs: { type: 'string' }, force: { type: 'boolean' } },
    run: async (v, p, io) => (await import('./cli/ca.js')).caCommand(v as { certs?: string; force?: boolean }, p, io),
  },
  serve: {
    options: { policy: { type: 'string', multiple: true }, listen: { type: 'string' }, audit: { type: 'string' }, 'audit-max-size': { type: 'string' }, 'audit-keep': { type: 'string' }, certs: { type: 'string' } },
    run: (v, p, io) => (p.length > 0 ? usage(`serve takes no arguments, got "${p[0]}"`) : import('./cli/serve.js').then(({ serveCommand }) => serveCommand({ ...(v as { policy?: string[]; listen?: string; audit?: string; certs?: string }), auditMaxSize: v['audit-max-size'] as string | undefined, auditKeep: v['audit-keep'] as string | undefined }, io))),
  },
  audit: {
    options: {
      effect: { type: 'string' }, host: { type: 'string', multiple: true }, agent: { type: 'string', multiple: true }, rule: { type: 'string', multiple: true },
      reason: { type: 'string', multiple: true }, since: { type: 'string' }, until: { type: 'string' }, format: { type: 'string' }, summary: { type: 'boolean' }, follow: { type: 'boolean' },
      output: { type: 'string', short: 'o' }, policy: { type: 'string', multiple: true },
    },
    run: async (v, p, io) => (await import('./cli/audit.js')).auditCli(v as AuditOptions, p, io),
  },
};

function usage(message: string): never {
  throw new LeashError('LEASH_USAGE', message);
}

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command) usage(`unknown command "${name}"`);
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
    } catch (err) {
      usage((err as Error).message);
    }
    return await command.run(parsed.values, parsed.positionals, io);
  } catch (err) {
    if (err instanceof LeashError) {
      io.err(`leash ${name}: ${err.message}`);
      if (err.code === 'LEASH_USAGE') io.err(USAGE);
      return err.code === 'LEASH_USAGE' ? 2 : 1;
    }
    throw err;
  }
}

function isEntryPoint(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`leash: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 70;
    },
  );
}
