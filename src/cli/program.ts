// The command line, declared once with commander: every command's usage, flags, defaults and an example, so
// `leash COMMAND --help`, `leash help COMMAND` and the errors for a mistyped flag all come from the same
// declaration. Each command's code is imported only when it runs (`leash audit` and `leash check` do not pay for
// the proxy and TLS modules). Exit codes: 0 ok, 1 the command found a problem, 2 the command line is wrong.

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { LeashError } from '../errors.js';
import type { AuditOptions } from './audit.js';
import type { LockdownFlags } from './lockdown.js';
import type { RulesFlags } from './rules.js';
import type { CommandIo } from './io.js';

/** The overview `leash`, `leash help` and `leash --help` print: every command on a line or two. */
export const OVERVIEW = `usage: leash <command> [options]

commands:
  serve    [--policy PATH]... [--listen HOST:PORT] [--audit PATH|-]   run the proxy (default policies/, 127.0.0.1:3128, audit to ./leash-audit.log)
           [--audit-max-size SIZE [--audit-keep N]]                    rotate the audit file by size (100M), keeping N files (5)
           [--certs DIR]                                               where leash's CA for TLS interception lives (certs/)
           [--admin HOST:PORT]                                         a second listener: GET /metrics, /healthz, /readyz, control API
           [--control PATH]                                            the control socket ($LEASH_CONTROL; /run/leash/admin.sock as root, else beside the audit log)
           [--store redis://[USER:PASS@]HOST:PORT[/DB] [--store-timeout 250ms]]  shared state for a fleet ($LEASH_STORE)
  run      [--policy PATH]... [--agent NAME] [--user USER] [--isolate netns|uid|none] [--proxy URL] -- COMMAND [ARGS]...
                                                                       run one command through leash (its own proxy, CA trust, isolation)
  check    [--policy PATH]... [--format text|github]                   validate policy files
  explain  [--policy PATH]... [--agent NAME] [--resolve] METHOD URL    what leash serve would do with a request, and why
  test     [--policy PATH]... [--format text|junit] [TESTFILE|DIR]...  policy unit tests (default policies/tests/); exit 1 on a failure
  rules    --user NAME|UID... --proxy HOST:PORT --format nft|iptables|pf [--allow HOST:PORT]... [--action reject|drop] [--no-log]
           [--apply|--remove|--status]                                 kernel rules: the agent's user may reach only the proxy
  rules    --format k8s --agent-selector KEY=VALUE [--namespace NS] [--proxy-selector KEY=VALUE]
                                                                       a NetworkPolicy: the agents' pods may reach only leash
  audit    [FILE|DIR]... [--effect allow|deny] [--host GLOB] [--agent NAME] [--rule NAME] [--reason CODE]
           [--since 24h|ISO] [--until 24h|ISO] [--format table|json|csv] [--summary] [--follow [--from-start]]
                                                                       read the audit log (default $LEASH_AUDIT, else ./leash-audit.log)
  audit verify [FILE|DIR]...                                           check the audit log's hash chain; exit 1 at the first break
  audit report [FILE|DIR]... [filters] [--policy PATH]... -o FILE.html one self-contained HTML report with charts
  secrets placeholder NAME [--agent NAME] [--policy PATH]... [--certs DIR]
                                                                       the placeholder an agent holds instead of secret NAME
  policy replay [--policy NEW]... [--format text|json] [--allow-tightening] [AUDIT]...
                                                                       re-decide the audit log under a new policy: the decisions that change
  policy suggest [AUDIT]... [--agent NAME] [--since 7d] [--min-requests N] [-o FILE]
                                                                       propose the rules that would allow what the audit log shows
  ca init  [--certs DIR] [--force]                                     create leash's CA for TLS interception
  ca trust [--certs DIR]                                               how to make agents trust it
  policy import --from safeclaw|srt|squid|smokescreen FILE [-o FILE]  another tool's policy as a leash policy, with comments
  lockdown on [--agent NAME]... [--reason TEXT] | off [--agent NAME]... | status
           [--control PATH | --admin URL]                              the kill switch: refuse an agent's (or every agent's) traffic and cut it
  scopes list [--agent NAME] [--scope NAME] [--format table|json]      open sandbox-scope accesses of the running leash, with their expiry
  scopes revoke [--agent NAME] [--scope NAME] [--host HOST[:PORT]] | --all   end them
  approvals list [--format table|json]                                 pending, allowed and denied approvals of the running leash
  approvals allow ID [--once | --for 1h | --always]                    let it through: the next request, for a while, or as a rule
  approvals deny ID                                                    refuse its requests until it expires
  help [COMMAND]                                                       this text, or one command's flags, defaults and an example

leash COMMAND --help shows a command's flags, defaults and an example; leash --version prints the version.`;

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function usage(message: string): never {
  throw new LeashError('LEASH_USAGE', message);
}

function noArguments(command: Command): void {
  if (command.args.length > 0) usage(`${command.name()} takes no arguments, got "${command.args[0]}"`);
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}

export interface Outcome {
  code: number;
}

/**
 * The program for one run: `io` receives everything it prints, `outcome.code` the exit code of the command that
 * ran. Built anew per run, so nothing is shared between runs (tests run many in one process).
 */
export function buildProgram(io: CommandIo, outcome: Outcome, argv: readonly string[] = []): Command {
  const program = new Command('leash');
  const print = (write: (line: string) => void) => (text: string) => write(text.replace(/\n$/, ''));
  program
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'this text')
    .configureOutput({ writeOut: print(io.out), writeErr: print(io.err), outputError: () => {} })
    .exitOverride()
    .helpCommand('help [command]', 'show the help of a command')
    .showSuggestionAfterError(true)
    .enablePositionalOptions(); // so `leash run -- COMMAND --flag` leaves the command's flags alone
  program.helpInformation = () => `${OVERVIEW}\n`;

  const command = (name: string, summary: string, example: string) =>
    program
      .command(name)
      .description(summary)
      .helpOption('-h, --help', 'show this help')
      .configureOutput({ writeOut: print(io.out), writeErr: print(io.err), outputError: () => {} })
      .exitOverride()
      .allowExcessArguments(true)
      .addHelpText('after', `\nExample:\n  ${example}`);
  const policyOption = new Option(
    '--policy <path>',
    'policy file or directory (repeatable; default: policies/ here, else the policy shipped with leash)',
  ).argParser(collect);
  const done = (promise: Promise<number>) =>
    promise.then((code) => {
      outcome.code = code;
    });

  command(
    'serve',
    'run the proxy',
    'leash serve --policy policies/ --listen 127.0.0.1:3128 --audit /var/log/leash/audit.log',
  )
    .addOption(policyOption)
    .option('--listen <host:port>', 'address to listen on (default: $LEASH_LISTEN, else 127.0.0.1:3128)')
    .option('--audit <path>', 'audit log file, or - for stdout (default: $LEASH_AUDIT, else ./leash-audit.log)')
    .option('--audit-max-size <size>', 'rotate the audit file before it exceeds SIZE (100M, 1G, 500K)')
    .option('--audit-keep <n>', 'rotated audit files to keep (default 5; needs --audit-max-size)')
    .option('--certs <dir>', "where leash's CA for TLS interception lives", 'certs')
    .option(
      '--admin <host:port>',
      'a second listener for GET /metrics (Prometheus), /healthz and /readyz, and the control API with LEASH_ADMIN_TOKEN; never the proxy port',
    )
    .option(
      '--control <path>',
      'the control socket (mode 0600) leash lockdown talks to (default: $LEASH_CONTROL, else /run/leash/admin.sock as root, else leash-admin.sock beside the audit log)',
    )
    .option(
      '--store <url>',
      'keep rate limits, upload budgets and grants in Redis, shared by a fleet: redis://[USER:PASS@]HOST:PORT[/DB], rediss:// for TLS (default: $LEASH_STORE, else in memory)',
    )
    .option(
      '--store-timeout <time>',
      'bound on each store operation, past which what needs it is refused (default: $LEASH_STORE_TIMEOUT, else 250ms)',
    )
    .action(function (
      this: Command,
      options: {
        policy?: string[];
        listen?: string;
        audit?: string;
        auditMaxSize?: string;
        auditKeep?: string;
        certs: string;
        store?: string;
        storeTimeout?: string;
        admin?: string;
        control?: string;
      },
    ) {
      noArguments(this);
      return done(import('./serve.js').then(({ serveCommand }) => serveCommand(options, io)));
    });

  command(
    'run',
    'run one command through leash: proxy variables, CA trust and isolation set up for it',
    'sudo leash run --agent research -- python agent.py',
  )
    .usage(
      '[--policy PATH]... [--agent NAME] [--user USER] [--isolate netns|uid|none] [--proxy URL] -- COMMAND [ARGS]...',
    )
    .argument('<command...>', 'the command and its arguments (after --)')
    .passThroughOptions()
    .addOption(
      new Option('--policy <path>', 'policy file or directory (repeatable; default as for leash serve)').argParser(
        collect,
      ),
    )
    .option('--agent <name>', 'the agent the command is: its token from the policy goes in the proxy URL')
    .option('--user <name|uid>', 'run the command as this user (needs root)')
    .option(
      '--isolate <how>',
      'netns: a network namespace whose only way out is leash (Linux, root); uid: kernel rules for --user while it runs; none: no confinement (default: uid with --user, else netns)',
    )
    .option('--proxy <url>', 'use the leash listening at http://HOST:PORT instead of starting one')
    .option('--audit <path>', 'audit log file, or - for stdout (default: $LEASH_AUDIT, else ./leash-audit.log)')
    .option('--certs <dir>', "where leash's CA for TLS interception lives", 'certs')
    .action(
      (
        command: string[],
        options: {
          policy?: string[];
          agent?: string;
          user?: string;
          isolate?: string;
          proxy?: string;
          audit?: string;
          certs: string;
        },
      ) => done(import('./run.js').then((m) => m.runCommand(options, command, io))),
    );

  command(
    'check',
    'validate policy files: every error and warning with file:line:column',
    'leash check --policy policies/ --format github',
  )
    .addOption(policyOption)
    .option('--format <format>', 'text, or github (workflow commands CI turns into annotations)', 'text')
    .action(function (this: Command, options: { policy?: string[]; format?: string }) {
      noArguments(this);
      return done(import('./check.js').then((m) => m.checkCommand(options, io)));
    });

  command(
    'explain',
    'show which rule decides a request, and why, as JSON',
    'leash explain --agent research GET https://api.openai.com/v1/models',
  )
    .usage('[--policy PATH]... [--agent NAME] [--resolve] METHOD URL   (or: CONNECT host:port)')
    .addOption(policyOption)
    .option('--agent <name>', 'the agent making the request (default: anonymous)')
    .option('--resolve', 'resolve the host as leash serve would and apply the address guard')
    .action(function (this: Command, options: { policy?: string[]; agent?: string; resolve?: boolean }) {
      return done(import('./explain.js').then((m) => m.explainCommand(options, this.args, io)));
    });

  command(
    'test',
    'run policy tests: requests and the decisions the policy must make',
    'leash test --policy policies/ policies/tests/',
  )
    .usage('[--policy PATH]... [--format text|junit] [TESTFILE|DIR]...')
    .argument('[tests...]', 'test files or directories of *.yaml test files (default: policies/tests/)')
    .addOption(policyOption)
    .option('--format <format>', 'text (each failure, then N passed, N failed), or junit (XML for CI)', 'text')
    .action((tests: string[], options: { policy?: string[]; format?: string }) =>
      done(import('./test.js').then((m) => m.testCommand(options, tests, io))),
    );

  const policyGroup = command(
    'policy',
    'policy as code: suggest rules from the audit log, replay it under a changed policy',
    'leash policy replay --policy pr/policies/ /var/log/leash/',
  );
  policyGroup
    .command('replay')
    .description('re-decide every recorded request under a new policy and print the decisions that change')
    .usage('[--policy NEW]... [--format text|json] [--allow-tightening] [AUDIT]...')
    .argument(
      '[inputs...]',
      'audit files or directories (default: $LEASH_AUDIT, else ./leash-audit.log, with rotated siblings)',
    )
    .helpOption('-h, --help', 'show this help')
    .configureOutput({ writeOut: print(io.out), writeErr: print(io.err), outputError: () => {} })
    .exitOverride()
    .addOption(
      new Option(
        '--policy <path>',
        'the new policy: file or directory (repeatable; default: policies/ here, else the policy shipped with leash)',
      ).argParser(collect),
    )
    .option('--format <format>', 'text or json', 'text')
    .option('--allow-tightening', 'exit 0 even when something allowed would now be denied')
    .addHelpText('after', '\nExample:\n  leash policy replay --policy pr/policies/ /var/log/leash/')
    .action((inputs: string[], options: { policy?: string[]; format?: string; allowTightening?: boolean }) =>
      done(import('./policy-replay.js').then((m) => m.replayCommand(options, inputs, io))),
    );

  command(
    'rules',
    "kernel rules that let the agent's user reach only the proxy",
    'sudo leash rules --user agent --proxy 127.0.0.1:3128 --format nft --apply',
  )
    .option('--user <name|uid>', "the agent's OS user (repeatable)", collect)
    .option('--proxy <host:port>', 'where leash listens (repeatable: give 127.0.0.1 and ::1)', collect)
    .option('--format <format>', "nft, iptables, pf, or k8s (a NetworkPolicy for the agents' pods)")
    .option('--allow <host:port>', 'another endpoint the agent may reach (repeatable)', collect)
    .option('--action <action>', 'reject (fail at once) or drop', 'reject')
    .option('--log', 'log each refusal (the default)')
    .option('--no-log', 'do not log refusals')
    .option('--apply', 'load the rules (Linux, root)')
    .option('--remove', "remove all of leash's rules of that format; other flags are ignored")
    .option('--status', 'whether the rules are loaded, and their counters; other flags are ignored')
    .option('--agent-selector <key=value>', "with --format k8s: the label of the agents' pods")
    .option(
      '--proxy-selector <key=value>',
      'with --format k8s: the label of the leash pods (default app.kubernetes.io/name=leash)',
    )
    .option('--namespace <ns>', "with --format k8s: the agents' namespace (default: kubectl's current one)")
    .action(function (this: Command) {
      noArguments(this);
      // commander folds --log/--no-log into one value; rules.ts wants to know which were given.
      const raw = this.opts<RulesFlags>();
      const flags: RulesFlags = {
        ...raw,
        action: this.getOptionValueSource('action') === 'cli' ? raw.action : undefined,
        log: undefined,
        'no-log': undefined,
      };
      const logFlags = argv.filter((a) => a === '--log' || a === '--no-log');
      if (logFlags.includes('--log')) flags.log = true;
      if (logFlags.includes('--no-log')) flags['no-log'] = true;
      return done(import('./rules.js').then((m) => m.rulesCommand(flags, io)));
    });

  const audit = command(
    'audit',
    'read the audit log: filter, format, sum up, follow',
    'leash audit --effect deny --since 24h --summary',
  )
    // Subcommands inherit positional options from the program (for leash run); audit's filters must be taken
    // wherever they stand, after `report` or `verify` too, so its subcommands parse them as before.
    .enablePositionalOptions(false)
    .argument(
      '[inputs...]',
      'audit files or directories (default: $LEASH_AUDIT, else ./leash-audit.log, with rotated siblings)',
    )
    .option('--effect <effect>', 'allow or deny')
    .option('--host <glob>', 'host glob (repeatable)', collect)
    .option('--agent <name>', 'agent (repeatable)', collect)
    .option('--rule <name>', 'rule (repeatable)', collect)
    .option('--reason <code>', 'reason code (repeatable)', collect)
    .option('--since <when>', 'a duration back from now (24h) or an ISO time')
    .option('--until <when>', 'a duration back from now or an ISO time')
    .option('--format <format>', 'table, json or csv (default: table on a terminal, json otherwise)')
    .option('--summary', 'per agent: requests, denials, hosts, bytes')
    .option('--follow', 'print new records as they are written, from the end of the log')
    .option('--from-start', 'with --follow: print the records already in the log first')
    .action((inputs: string[], options: AuditOptions) =>
      done(import('./audit.js').then((m) => m.auditCli(options, inputs, io))),
    );
  audit
    .command('verify')
    .description("check the audit log's hash chain; exit 1 at the first break")
    .argument('[inputs...]', 'audit files or directories (default as for leash audit)')
    .helpOption('-h, --help', 'show this help')
    .configureOutput({ writeOut: print(io.out), writeErr: print(io.err), outputError: () => {} })
    .exitOverride()
    .addHelpText('after', '\nExample:\n  leash audit verify /var/log/leash/')
    .action((inputs: string[]) => {
      // Filters are options of `leash audit`, so commander takes them wherever they stand; verify reads everything.
      const filter = Object.entries(audit.opts()).find(([, value]) => value !== undefined);
      if (filter)
        usage(`audit verify takes only files, got --${filter[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      return done(import('./audit.js').then((m) => m.auditCli({}, ['verify', ...inputs], io)));
    });

  audit
    .command('report')
    .description('one self-contained HTML report of the audit log, with charts, to open offline or attach to a ticket')
    .argument('[inputs...]', 'audit files or directories (default as for leash audit)')
    .helpOption('-h, --help', 'show this help')
    .configureOutput({ writeOut: print(io.out), writeErr: print(io.err), outputError: () => {} })
    .exitOverride()
    .requiredOption('-o, --output <file>', 'where to write the report (HTML)')
    .addOption(
      new Option(
        '--policy <path>',
        'the policy, to list the rules never hit (repeatable; default as for leash check)',
      ).argParser(collect),
    )
    .addHelpText(
      'after',
      '\nThe filters of leash audit (--effect, --host, --agent, --rule, --reason, --since, --until) apply too.\n\nExample:\n  leash audit report /var/log/leash/ --since 7d -o report.html',
    )
    .action((inputs: string[], options: { output: string; policy?: string[] }) => {
      // Filters are options of `leash audit`; commander takes them wherever they stand.
      const filters = audit.opts<AuditOptions>();
      return done(
        import('./audit.js').then((m) =>
          m.auditCli({ ...filters, output: options.output, policy: options.policy }, ['report', ...inputs], io),
        ),
      );
    });

  const secrets = command(
    'secrets',
    'credentials the agent never holds: the placeholders it holds instead',
    'leash secrets placeholder openai --agent research',
  );
  secrets
    .command('placeholder')
    .description(
      'print the placeholder an agent holds instead of a secret (derived from the CA key; the same on every replica)',
    )
    .argument('<name>', 'the secret, as named under secrets: in the policy')
    .helpOption('-h, --help', 'show this help')
    .configureOutput({ writeOut: print(io.out), writeErr: print(io.err), outputError: () => {} })
    .exitOverride()
    .addOption(
      new Option(
        '--policy <path>',
        'policy file or directory (repeatable; default: policies/ here, else the policy shipped with leash)',
      ).argParser(collect),
    )
    .option('--agent <name>', 'the agent that holds it (default: anonymous)')
    .option('--certs <dir>', "where leash's CA lives (the one leash serve uses)", 'certs')
    .addHelpText(
      'after',
      '\nExample:\n  leash secrets placeholder openai --agent research\n  export OPENAI_API_KEY=$(leash secrets placeholder openai --agent research --certs /etc/leash/certs)',
    )
    .action((name: string, options: { policy?: string[]; agent?: string; certs: string }) =>
      done(import('./secrets.js').then((m) => m.secretsCommand(options, ['placeholder', name], io))),
    );

  policyGroup
    .command('suggest')
    .description('learn mode: propose the rules that would allow what the audit log shows, each with its evidence')
    .usage('[AUDIT]... [--agent NAME] [--since 7d] [--min-requests N] [--wildcard-min N] [--policy PATH]... [-o FILE]')
    .argument('[inputs...]', 'audit files or directories (default as for leash audit)')
    .helpOption('-h, --help', 'show this help')
    .configureOutput({ writeOut: print(io.out), writeErr: print(io.err), outputError: () => {} })
    .exitOverride()
    .option('--agent <name>', "only this agent's records (repeatable)", collect)
    .option('--since <when>', 'a duration back from now (7d) or an ISO time')
    .option('--min-requests <n>', 'requests a host and port needs to be proposed (default 1)')
    .option('--wildcard-min <n>', 'sibling subdomains seen before they become one *.parent rule (default 5)')
    .addOption(
      new Option(
        '--policy <path>',
        'the policy to check against: no host it denies, no rule it has (repeatable; default as for leash check)',
      ).argParser(collect),
    )
    .option('-o, --output <file>', 'write the suggested policy here (default: stdout)')
    .addHelpText('after', '\nExample:\n  leash policy suggest /var/log/leash/ --since 7d -o policies/50-suggested.yaml')
    .action(
      (
        inputs: string[],
        options: {
          agent?: string[];
          since?: string;
          minRequests?: string;
          wildcardMin?: string;
          policy?: string[];
          output?: string;
        },
      ) => done(import('./policy-suggest.js').then((m) => m.suggestCommand(options, inputs, io))),
    );

  policyGroup
    .command('import')
    .description(
      "write an equivalent leash policy from another tool's, with a comment on everything not carried over exactly",
    )
    .argument(
      '<file>',
      'the source file: SafeClaw YAML, sandbox-runtime settings JSON, squid.conf or a smokescreen ACL',
    )
    .helpOption('-h, --help', 'show this help')
    .configureOutput({ writeOut: print(io.out), writeErr: print(io.err), outputError: () => {} })
    .exitOverride()
    .addOption(
      new Option('--from <format>', 'the source tool')
        .choices(['safeclaw', 'srt', 'squid', 'smokescreen'])
        .makeOptionMandatory(),
    )
    .option('-o, --output <file>', 'where to write the policy (default: stdout)')
    .addHelpText(
      'after',
      '\nExample:\n  leash policy import --from squid /etc/squid/squid.conf -o policies/imported.yaml',
    )
    .action((file: string, options: { from: string; output?: string }) =>
      done(import('./policy-import.js').then((m) => m.policyImportCommand(options, file, io))),
    );

  const lockdown = command(
    'lockdown',
    "the kill switch: stop an agent's network at once (through the running leash's control API)",
    'leash lockdown on --agent research --reason "exfiltrating to pastebin"',
  );
  for (const [name, summary, example] of [
    [
      'on',
      "refuse the agents' new requests and tunnels (403 lockdown) and cut what they have open; without --agent, every agent",
      'leash lockdown on --agent research --reason "exfiltrating to pastebin"',
    ],
    ['off', 'lift the lockdown of the agents; without --agent, every lockdown', 'leash lockdown off --agent research'],
    ['status', 'the lockdown in force: who, since when, why', 'leash lockdown status'],
  ] as const) {
    const sub = lockdown
      .command(name)
      .description(summary)
      .helpOption('-h, --help', 'show this help')
      .configureOutput({ writeOut: print(io.out), writeErr: print(io.err), outputError: () => {} })
      .exitOverride()
      .option(
        '--control <path>',
        "the running leash's control socket (default: $LEASH_CONTROL, else /run/leash/admin.sock as root, else leash-admin.sock beside $LEASH_AUDIT or ./leash-audit.log)",
      )
      .option(
        '--admin <url>',
        "the running leash's --admin listener, e.g. http://127.0.0.1:9090 (default: $LEASH_ADMIN); the token comes from $LEASH_ADMIN_TOKEN",
      )
      .addHelpText('after', `\nExample:\n  ${example}`);
    if (name !== 'status') sub.option('--agent <name>', 'an agent (repeatable); without it, every agent', collect);
    if (name === 'on')
      sub.option('--reason <text>', 'why, shown to the agent in every refusal and kept in the audit log');
    sub.action(function (this: Command, options: LockdownFlags) {
      noArguments(this);
      return done(import('./lockdown.js').then((m) => m.lockdownCommand(name, options, io)));
    });
  }

  const ca = command('ca', "leash's CA for TLS interception", 'leash ca init --certs /etc/leash/certs');
  for (const [name, summary, example] of [
    ['init', "create leash's CA (refuses to replace one without --force)", 'leash ca init --certs /etc/leash/certs'],
    ['trust', 'print how to make each agent ecosystem trust the CA', 'leash ca trust --certs /etc/leash/certs'],
  ] as const) {
    const sub = ca
      .command(name)
      .description(summary)
      .helpOption('-h, --help', 'show this help')
      .configureOutput({ writeOut: print(io.out), writeErr: print(io.err), outputError: () => {} })
      .exitOverride()
      .option('--certs <dir>', 'where the CA lives', 'certs')
      .addHelpText('after', `\nExample:\n  ${example}`);
    if (name === 'init') sub.option('--force', 'replace an existing CA (every agent must trust the new one)');
    sub.action((options: { certs: string; force?: boolean }) =>
      done(import('./ca.js').then((m) => m.caCommand(options, [name], io))),
    );
  }
  // Commands that talk to a running leash: where to find it.
  const endpointOptions = (sub: Command) =>
    sub
      .option(
        '--control <path>',
        "the running leash's control socket (default: /run/leash/admin.sock as root, else leash-admin.sock beside $LEASH_AUDIT or ./leash-audit.log)",
      )
      .option(
        '--admin <url>',
        "the running leash's --admin listener, with the token in $LEASH_ADMIN_TOKEN (default: $LEASH_ADMIN)",
      );
  const subcommand = (parent: Command, name: string, summary: string, example: string) =>
    endpointOptions(
      parent
        .command(name)
        .description(summary)
        .helpOption('-h, --help', 'show this help')
        .configureOutput({ writeOut: print(io.out), writeErr: print(io.err), outputError: () => {} })
        .exitOverride()
        .addHelpText('after', `\nExample:\n  ${example}`),
    );

  const scopes = command('scopes', 'sandbox-scope accesses of the running leash', 'leash scopes list --agent dev');
  subcommand(scopes, 'list', 'open sandbox-scope accesses, with their expiry', 'leash scopes list --agent dev')
    .option('--agent <name>', 'only this agent')
    .option('--scope <name>', 'only this scope')
    .option('--format <format>', 'table or json', 'table')
    .action(function (this: Command, options) {
      noArguments(this);
      return done(import('./scopes.js').then((m) => m.scopesCommand('list', options, io)));
    });
  subcommand(
    scopes,
    'revoke',
    'end open accesses (audited as scope_revoked)',
    'leash scopes revoke --agent dev --host api.new.example:443',
  )
    .option('--agent <name>', "this agent's accesses")
    .option('--scope <name>', "this scope's accesses")
    .option('--host <host[:port]>', 'accesses to this host (and port)')
    .option('--all', 'every open access')
    .option('--format <format>', 'table or json', 'table')
    .action(function (this: Command, options) {
      noArguments(this);
      return done(import('./scopes.js').then((m) => m.scopesCommand('revoke', options, io)));
    });

  const approvals = command(
    'approvals',
    'answer the approvals the running leash asks for (settings.approvals)',
    'leash approvals allow k7c2mq4rtx9a --for 1h',
  );
  subcommand(approvals, 'list', 'pending, allowed and denied approvals', 'leash approvals list')
    .option('--format <format>', 'table or json', 'table')
    .action(function (this: Command, options) {
      noArguments(this);
      return done(import('./approvals.js').then((m) => m.approvalsCommand('list', undefined, options, io)));
    });
  subcommand(
    approvals,
    'allow',
    'let an approval through: --once (default), --for DURATION, or --always (a rule in approved.yaml)',
    'leash approvals allow k7c2mq4rtx9a --always',
  )
    .argument('<id>', 'the approval id (leash approvals list)')
    .option('--once', 'the next request only (the default)')
    .option('--for <duration>', 'every request for this long (30m, 1h, up to 720h)')
    .option('--always', 'append a rule to approved.yaml in the policy directory leash serves, and reload')
    .action((id: string, options) =>
      done(import('./approvals.js').then((m) => m.approvalsCommand('allow', id, options, io))),
    );
  subcommand(
    approvals,
    'deny',
    'refuse an approval: its requests get approval_denied until it expires',
    'leash approvals deny k7c2mq4rtx9a',
  )
    .argument('<id>', 'the approval id (leash approvals list)')
    .action((id: string, options) =>
      done(import('./approvals.js').then((m) => m.approvalsCommand('deny', id, options, io))),
    );
  return program;
}

/** Runs one command line; maps commander's and leash's errors to messages and exit codes. */
export async function runProgram(argv: readonly string[], io: CommandIo): Promise<number> {
  const outcome: Outcome = { code: 0 };
  const program = buildProgram(io, outcome, argv);
  if (argv.length === 0) {
    io.out(OVERVIEW);
    return 2;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return outcome.code;
  } catch (err) {
    const name = commandPath(program, argv);
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, help COMMAND, --version
      // A command that needs a subcommand (`leash ca`) and got none: its help went to stderr.
      if (err.code === 'commander.help') return 2;
      const [first = '', ...more] = err.message.replace(/^error: /, '').split('\n');
      io.err(`leash${name ? ` ${name}` : ''}: ${first}`);
      for (const line of more) io.err(line);
      io.err(usageLine(program, argv));
      return 2;
    }
    if (err instanceof LeashError) {
      io.err(`leash${name ? ` ${name}` : ''}: ${err.message}`);
      if (err.code === 'LEASH_USAGE') {
        io.err(usageLine(program, argv));
        return 2;
      }
      return 1;
    }
    throw err;
  }
}

/** `audit verify`, `ca init`, `serve`: the command (and subcommand) the arguments name, if any. */
function commandPath(program: Command, argv: readonly string[]): string {
  const names: string[] = [];
  let current: Command = program;
  for (const arg of argv) {
    const next = current.commands.find((c) => c.name() === arg);
    if (!next) break;
    names.push(arg);
    current = next;
  }
  return names.join(' ');
}

/** One line: the usage of the command the arguments name (or the overview's first line), and where to read more. */
function usageLine(program: Command, argv: readonly string[]): string {
  let current: Command = program;
  const names: string[] = [];
  for (const arg of argv) {
    const next = current.commands.find((c) => c.name() === arg);
    if (!next) break;
    names.push(arg);
    current = next;
  }
  if (names.length === 0) return 'usage: leash <command> [options]   (leash help lists the commands)';
  return `usage: leash ${names.join(' ')} ${current.usage()}   (leash help ${names.join(' ')} for the flags and an example)`;
}
