// ESLint for leash: the recommended JavaScript and typescript-eslint rules (syntax only, no type information, so a
// full run takes seconds), and the layout rules of the house style (README "Development"): PURE modules import no
// I/O module, read no clock and keep no module-level state; a lower layer never imports a higher one. The layout
// is the architecture: a PURE module that imports node:net is a bug even if every test passes. No stylistic rules:
// Prettier formats (.prettierrc.json), and neither recommended set contains a rule that fights it.
//
// no-restricted-imports does not merge across config objects (the last object that matches a file wins), so every
// file gets its layout rule from exactly one object below; test/lint/layout.test.ts checks that each one fires.

import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Node modules that do I/O: files, sockets, name lookups, processes. Bare and `node:` forms, and subpaths
// (fs/promises, dns/promises). node:crypto (hashing), node:path, node:url, node:buffer and node:zlib stay allowed.
const IO_MODULES = ['fs', 'net', 'http', 'https', 'http2', 'dns', 'tls', 'child_process', 'dgram'];
const ioBan = {
  regex: `^(node:)?(${IO_MODULES.join('|')})(/.*)?$`,
  message: 'A PURE module does no I/O (README "Development"): take the data or a callback as a parameter.',
};

// A relative import of a top-level folder of src/ from a file one or more folders down, e.g. '../proxy/server.js'.
const layer = (names, why) => ({ regex: `^(\\.\\./)+(${names.join('|')})(/|$)`, message: why });
// The files that do I/O in folders that are otherwise PURE: policy/read.ts and watch.ts (files), kernel/system.ts
// and loaded.ts (processes, files), inspect/body.ts (zlib streams), audit/logger.ts, file-sink.ts and read.ts (files).
const IO_FILES = {
  policy: ['read', 'watch'],
  kernel: ['system', 'loaded'],
  inspect: ['body'],
  audit: ['logger', 'file-sink', 'read'],
};
// For a PURE module in folder `here`, the relative imports that would pull one of those files' I/O in: './read.js'
// from the same folder, '../policy/read.js' from any folder.
const ioFileImports = (here) =>
  Object.entries(IO_FILES).map(([dir, files]) => ({
    regex: `^(${dir === here ? '\\./|' : ''}(\\.\\./)+${dir}/)(${files.join('|')})(\\.js)?$`,
    message: `${files.map((f) => `${dir}/${f}.ts`).join(', ')} do I/O; a PURE module must not import them (hand it the data).`,
  }));

// PURE modules, as their headers and README "Development" say, by folder. audit/record.ts is not declared PURE.
const PURE = {
  policy: { files: ['src/policy/**/*.ts'], ignores: ['src/policy/read.ts', 'src/policy/watch.ts'] },
  inspect: { files: ['src/inspect/{json,html,urls,reference,headers}.ts'] }, // the scanners
  grants: { files: ['src/grants/select.ts'] },
  kernel: { files: ['src/kernel/{model,nft,iptables,pf,endpoint,status,k8s}.ts'] }, // the generators and parsers
  limits: { files: ['src/limits/token-bucket.ts'] },
  audit: { files: ['src/audit/{chain,verify,redact,query,format}.ts'] },
  secrets: { files: ['src/secrets/{spec,reach,placeholder,scan,judge,inject,environment}.ts'] },
  run: { files: ['src/run/{environment,summary}.ts'] }, // leash run: the command's environment, the summary line
  lockdown: { files: ['src/lockdown/{state,step}.ts'] }, // what a lockdown is, and the admission step that reads it
};
// The layers a PURE module may not import: policy/ is the bottom layer; proxy/, tls/ and cli/ do I/O.
const higherLayers = (here) =>
  here === 'policy'
    ? layer(
        ['proxy', 'tls', 'cli', 'audit'],
        'policy/ is the bottom layer: it never imports proxy/, tls/, cli/ or audit/.',
      )
    : layer(['proxy', 'tls', 'cli'], 'proxy/, tls/ and cli/ do I/O; a PURE module must not import them.');

// What a PURE module must not do beyond its imports, where a selector sees it cheaply. Not seen: state hidden in
// a `const` object or array that is mutated later, or a clock read through an alias.
const atTopLevel = (selector) => `Program > ${selector}, Program > ExportNamedDeclaration > ${selector}`;
const notReadonly = ':not([id.typeAnnotation.typeAnnotation.typeName.name=/^Readonly(Set|Map)$/])';
const collection = '[callee.name=/^(Map|Set|WeakMap|WeakSet|WeakRef|LRUCache)$/]';
const pureSyntax = [
  'error',
  {
    selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
    message: 'A PURE module never reads the clock: take the time as a parameter.',
  },
  {
    selector: "NewExpression[callee.name='Date'][arguments.length=0]",
    message: 'A PURE module never reads the clock: take the time as a parameter.',
  },
  {
    selector:
      "MemberExpression[object.name='performance'][property.name='now'], MemberExpression[object.name='process'][property.name='hrtime']",
    message: 'A PURE module never reads the clock: take the time as a parameter.',
  },
  {
    selector: atTopLevel("VariableDeclaration[kind!='const']"),
    message: 'A PURE module keeps no module-level state: no top-level let or var.',
  },
  {
    selector: atTopLevel(`VariableDeclaration > VariableDeclarator${notReadonly} > NewExpression.init${collection}`),
    message:
      'A PURE module keeps no module-level state (README "Development"): a cache belongs to an object built per ' +
      'policy or per process. A constant set or map is typed ReadonlySet / ReadonlyMap.',
  },
  {
    selector: 'ImportExpression',
    message: 'A PURE module imports statically, so the layout rules can see what it depends on.',
  },
];

// proxy/ does I/O, but its state is visible too: per process (ProxyState), per policy revision (PolicyRuntime), per
// request (the exchange, the request object). Nothing lives in module scope, where a newcomer cannot see it.
const moduleState = [
  'error',
  {
    selector: atTopLevel("VariableDeclaration[kind!='const']"),
    message:
      'proxy/ keeps no module-level state: no top-level let or var (put it on ProxyState, PolicyRuntime or the exchange).',
  },
  {
    selector: atTopLevel(`VariableDeclaration > VariableDeclarator${notReadonly} > NewExpression.init${collection}`),
    message:
      'proxy/ keeps no module-level state: a map or cache belongs to ProxyState, PolicyRuntime or the exchange; a constant set or map is typed ReadonlySet / ReadonlyMap.',
  },
];

export default defineConfig([
  globalIgnores(['dist/', 'coverage/', 'test/kernel/golden/', 'test/policy/fixtures/'], 'leash/ignores'),

  {
    name: 'leash/recommended',
    files: ['**/*.{ts,js,mjs,cjs}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: { globals: globals.node },
    rules: {
      // Off: the terminal sanitiser (src/audit/format.ts) and the header and protocol checks match control
      // characters on purpose; this rule flags exactly those defences.
      'no-control-regex': 'off',
      // House style: a leading underscore marks a deliberately unused name (an ignored parameter kept for the
      // signature, `const { time: _time, ...rest } = record` to drop a field).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // House style: `let socket;` declared before the closures that clean it up (an abort handler reads it) and
      // assigned once later. That read-before-assign is deliberate, so only flag lets that could simply be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },

  // PURE modules: no I/O modules, no I/O files of their folders, no layer above them, no clock, no module state.
  ...Object.entries(PURE).map(([dir, { files, ignores = [] }]) => ({
    name: `leash/layout/pure-${dir}`,
    files,
    ignores,
    rules: {
      'no-restricted-imports': ['error', { patterns: [ioBan, higherLayers(dir), ...ioFileImports(dir)] }],
      'no-restricted-syntax': pureSyntax,
    },
  })),

  {
    name: 'leash/layout/proxy-state',
    files: ['src/proxy/**/*.ts'],
    rules: { 'no-restricted-syntax': moduleState },
  },

  // tls/ knows certificates, ClientHellos and TLS termination; it is handed what it needs (a secure-context lookup,
  // a callback) and never imports proxy/: a lower layer never calls back into a higher one.
  {
    name: 'leash/layout/tls',
    files: ['src/tls/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [layer(['proxy'], 'tls/ never imports proxy/: hand it what it needs (a callback, a lookup).')] },
      ],
    },
  },
]);
