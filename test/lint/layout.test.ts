// The layout rules in eslint.config.js fire where they should and only there. Each row lints one snippet as if it
// were a file at `file`, with the project's own config, and checks which layout rule (if any) reports it.
// Why: an ESLint rule that silently matches nothing (a glob typo, a regex that never hits, a later config object
// that overrides an earlier one) passes `npm run lint` forever; these rows would fail instead.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const eslint = new ESLint({ cwd: root });

const LAYOUT_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);

/** The layout rules that report `code` at `file`, each once, sorted. */
async function layoutViolations(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\n`, { filePath: path.join(root, file) });
  const rules = (result?.messages ?? [])
    .map((m) => m.ruleId ?? `fatal: ${m.message}`)
    .filter((id) => LAYOUT_RULES.has(id) || id.startsWith('fatal'));
  return [...new Set(rules)].sort();
}

interface Row {
  name: string;
  file: string;
  code: string;
  /** The rules that must report it; [] means the snippet is allowed there. */
  fires: string[];
}

const IMPORTS = 'no-restricted-imports';
const SYNTAX = 'no-restricted-syntax';

const IO_IMPORTS = [
  "import fs from 'node:fs'",
  "import { readFile } from 'node:fs/promises'",
  "import { readFile } from 'fs/promises'",
  "import net from 'node:net'",
  "import http from 'node:http'",
  "import https from 'node:https'",
  "import dns from 'node:dns'",
  "import tls from 'node:tls'",
  "import { spawn } from 'node:child_process'",
  "import dgram from 'node:dgram'",
];

const PURE_FILES = [
  'src/policy/x.ts',
  'src/policy/evaluate.ts',
  'src/inspect/json.ts',
  'src/inspect/html.ts',
  'src/inspect/urls.ts',
  'src/inspect/reference.ts',
  'src/inspect/headers.ts',
  'src/grants/select.ts',
  'src/kernel/model.ts',
  'src/kernel/nft.ts',
  'src/kernel/iptables.ts',
  'src/kernel/pf.ts',
  'src/kernel/endpoint.ts',
  'src/kernel/status.ts',
  'src/kernel/k8s.ts',
  'src/limits/token-bucket.ts',
  'src/audit/redact.ts',
  'src/audit/chain.ts',
  'src/secrets/placeholder.ts',
  'src/secrets/judge.ts',
  'src/run/environment.ts',
  'src/run/summary.ts',
  'src/lockdown/state.ts',
  'src/lockdown/step.ts',
];

const rows: Row[] = [
  // PURE modules import no I/O module.
  ...IO_IMPORTS.map((code) => ({ name: `policy: ${code}`, file: 'src/policy/x.ts', code, fires: [IMPORTS] })),
  ...PURE_FILES.map((file) => ({
    name: `${file}: node:net`,
    file,
    code: "import net from 'node:net'",
    fires: [IMPORTS],
  })),
  {
    name: 'policy: a re-export counts as an import',
    file: 'src/policy/x.ts',
    code: "export { readFile } from 'node:fs/promises'",
    fires: [IMPORTS],
  },
  {
    name: 'policy: node:crypto (hashing) is fine',
    file: 'src/policy/x.ts',
    code: "import { createHash } from 'node:crypto'",
    fires: [],
  },
  { name: 'policy: node:path is fine', file: 'src/policy/x.ts', code: "import path from 'node:path'", fires: [] },
  { name: 'policy: a package is fine', file: 'src/policy/x.ts', code: "import ipaddr from 'ipaddr.js'", fires: [] },

  // The I/O files of otherwise PURE folders may do I/O; PURE modules must not import them.
  {
    name: 'policy/read.ts reads files',
    file: 'src/policy/read.ts',
    code: "import { readFile } from 'node:fs/promises'",
    fires: [],
  },
  {
    name: 'policy/watch.ts watches files',
    file: 'src/policy/watch.ts',
    code: "import { watch } from 'node:fs'",
    fires: [],
  },
  {
    name: 'kernel/system.ts runs tools',
    file: 'src/kernel/system.ts',
    code: "import { spawn } from 'node:child_process'",
    fires: [],
  },
  {
    name: 'inspect/body.ts is not a scanner',
    file: 'src/inspect/body.ts',
    code: "import zlib from 'node:zlib'",
    fires: [],
  },
  {
    name: 'policy: ./read.js pulls file I/O in',
    file: 'src/policy/load.ts',
    code: "import { readPolicySources } from './read.js'",
    fires: [IMPORTS],
  },
  {
    name: 'grants/select: ../policy/watch.js',
    file: 'src/grants/select.ts',
    code: "import { PolicyWatcher } from '../policy/watch.js'",
    fires: [IMPORTS],
  },
  {
    name: 'kernel/nft: ./system.js',
    file: 'src/kernel/nft.ts',
    code: "import { systemHost } from './system.js'",
    fires: [IMPORTS],
  },
  {
    name: 'inspect/json: ./body.js',
    file: 'src/inspect/json.ts',
    code: "import { inspectBody } from './body.js'",
    fires: [IMPORTS],
  },
  {
    name: 'audit/chain: ./read.js (audit/read.ts reads files)',
    file: 'src/audit/chain.ts',
    code: "import { readAuditFiles } from './read.js'",
    fires: [IMPORTS],
  },
  {
    name: 'audit/query: ./chain.js is fine',
    file: 'src/audit/query.ts',
    code: "import { x } from './chain.js'",
    fires: [],
  },
  {
    name: 'policy: ./rule.js is fine',
    file: 'src/policy/load.ts',
    code: "import { compileRule } from './rule.js'",
    fires: [],
  },
  {
    name: 'grants/select: ../policy/evaluate.js is fine',
    file: 'src/grants/select.ts',
    code: "import { decide } from '../policy/evaluate.js'",
    fires: [],
  },

  // policy/ is the bottom layer.
  ...['../proxy/server.js', '../tls/ca.js', '../cli/serve.js', '../audit/logger.js', '../audit/redact.js'].map(
    (from) => ({
      name: `policy: ${from}`,
      file: 'src/policy/x.ts',
      code: `import { x } from '${from}'`,
      fires: [IMPORTS],
    }),
  ),
  {
    name: 'policy: a type-only import of proxy/ still counts',
    file: 'src/policy/x.ts',
    code: "import type { ProxyState } from '../proxy/state.js'",
    fires: [IMPORTS],
  },
  {
    name: 'policy: ../errors.js is fine',
    file: 'src/policy/x.ts',
    code: "import { LeashError } from '../errors.js'",
    fires: [],
  },
  {
    name: 'kernel/model: ../proxy/ is an I/O layer',
    file: 'src/kernel/model.ts',
    code: "import { x } from '../proxy/server.js'",
    fires: [IMPORTS],
  },

  // tls/ never imports proxy/; intercept.ts is the one exception until it moves (issue 13).
  {
    name: 'tls: ../proxy/server.js',
    file: 'src/tls/x.ts',
    code: "import { x } from '../proxy/server.js'",
    fires: [IMPORTS],
  },
  {
    name: 'tls/leaf.ts: ../proxy/state.js',
    file: 'src/tls/leaf.ts',
    code: "import type { ProxyState } from '../proxy/state.js'",
    fires: [IMPORTS],
  },
  { name: 'tls: I/O is its job', file: 'src/tls/x.ts', code: "import net from 'node:net'", fires: [] },
  {
    name: 'tls/terminate.ts: no exception any more',
    file: 'src/tls/terminate.ts',
    code: "import { x } from '../proxy/server.js'",
    fires: [IMPORTS],
  },
  {
    name: 'proxy: the same import is fine',
    file: 'src/proxy/x.ts',
    code: "import { x } from '../proxy/server.js'",
    fires: [],
  },
  { name: 'proxy: I/O is fine', file: 'src/proxy/x.ts', code: "import net from 'node:net'", fires: [] },
  { name: 'cli: I/O is fine', file: 'src/cli/x.ts', code: "import { readFile } from 'node:fs/promises'", fires: [] },

  // PURE modules read no clock and keep no module-level state.
  { name: 'policy: Date.now()', file: 'src/policy/x.ts', code: 'export const f = () => Date.now();', fires: [SYNTAX] },
  { name: 'policy: new Date()', file: 'src/policy/x.ts', code: 'export const f = () => new Date();', fires: [SYNTAX] },
  {
    name: 'kernel: performance.now()',
    file: 'src/kernel/pf.ts',
    code: 'export const f = () => performance.now();',
    fires: [SYNTAX],
  },
  {
    name: 'policy: new Date(t) is a conversion',
    file: 'src/policy/x.ts',
    code: 'export const f = (t: number) => new Date(t);',
    fires: [],
  },
  { name: 'policy: top-level let', file: 'src/policy/x.ts', code: 'export let count = 0;', fires: [SYNTAX] },
  {
    name: 'policy: top-level WeakMap cache',
    file: 'src/policy/x.ts',
    code: 'const cache = new WeakMap<object, number>();\nexport { cache };',
    fires: [SYNTAX],
  },
  {
    name: 'inspect: exported Map',
    file: 'src/inspect/urls.ts',
    code: 'export const seen = new Map<string, number>();',
    fires: [SYNTAX],
  },
  {
    name: 'inspect: a ReadonlySet constant is fine',
    file: 'src/inspect/html.ts',
    code: "export const A: ReadonlySet<string> = new Set(['href']);",
    fires: [],
  },
  {
    name: 'policy: a let inside a function is fine',
    file: 'src/policy/x.ts',
    code: 'export function f() {\n  let n = 0;\n  n++;\n  return n;\n}',
    fires: [],
  },
  {
    name: 'policy: dynamic import',
    file: 'src/policy/x.ts',
    code: "export const f = () => import('node:fs');",
    fires: [SYNTAX],
  },
  {
    name: 'proxy: a module-level cache is state nobody can see',
    file: 'src/proxy/x.ts',
    code: 'export const cache = new WeakMap<object, number>();',
    fires: [SYNTAX],
  },
  { name: 'proxy: a top-level let', file: 'src/proxy/x.ts', code: 'export let inFlight = 0;', fires: [SYNTAX] },
  {
    name: 'proxy: a ReadonlySet constant and the clock are fine (proxy/ does I/O)',
    file: 'src/proxy/x.ts',
    code: 'export const S: ReadonlySet<number> = new Set([403]);\nexport const now = () => Date.now();',
    fires: [],
  },
];

describe('layout rules (eslint.config.js)', () => {
  it.each(rows)('$name', async ({ file, code, fires }) => {
    expect(await layoutViolations(file, code)).toEqual(fires);
  });
});
