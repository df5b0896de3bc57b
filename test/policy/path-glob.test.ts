// Path globs and path normalisation. Globs are deliberately small (`*` within a segment, `**` across segments,
// everything else literal), and every path is normalised the way origins read it before a glob sees it, so a
// deny rule cannot be stepped around by re-encoding the path.

import { describe, expect, it } from 'vitest';
import { compilePathGlob, normalizePath, type PathGlob } from '../../src/policy/path-glob.js';

function glob(text: string): PathGlob {
  const compiled = compilePathGlob(text);
  if ('error' in compiled) throw new Error(compiled.error);
  return compiled;
}

describe('compilePathGlob: matching', () => {
  it.each<[glob: string, path: string, matches: boolean]>([
    ['/v1/models', '/v1/models', true],
    ['/v1/models', '/v1/models/', false],
    ['/v1/models', '/v1/model', false],
    ['/v1/models', '/V1/models', false],
    ['/v1/*', '/v1/models', true],
    ['/v1/*', '/v1/', true],
    ['/v1/*', '/v1', false],
    ['/v1/*', '/v1/models/list', false],
    ['/v1/**', '/v1', true],
    ['/v1/**', '/v1/', true],
    ['/v1/**', '/v1/models', true],
    ['/v1/**', '/v1/models/list/all', true],
    ['/v1/**', '/v10', false],
    ['/v1/**', '/v1beta/models', false],
    ['/v1/**', '/api/v1/models', false],
    ['/**', '/', true],
    ['/**', '/anything/at/all', true],
    ['/*', '/', true],
    ['/*', '/a', true],
    ['/*', '/a/b', false],
    ['/a/**/b', '/a/x/b', true],
    ['/a/**/b', '/a/x/y/b', true],
    ['/a/**/b', '/a/b', false],
    ['/**/x.json', '/a/b/x.json', true],
    ['/docs/*.html', '/docs/index.html', true],
    ['/docs/*.html', '/docs/index.htm', false],
    ['/docs/*.html', '/docs/a/index.html', false],
    ['/a.b', '/a.b', true],
    ['/a.b', '/axb', false],
    ['/a+b', '/a+b', true],
    ['/a+b', '/aab', false],
    ['/(x)', '/(x)', true],
    ['/$x', '/$x', true],
    ['/a[bc]', '/a[bc]', true],
    ['/a[bc]', '/ab', false],
    ['/{a,b}', '/a', false],
    ['/{a,b}', '/{a,b}', true],
  ])('%s against %s: %s', (text, path, matches) => {
    expect(glob(text).regex.test(path)).toBe(matches);
  });
});

describe('compilePathGlob: rejected globs', () => {
  it.each<[name: string, text: string, error: string]>([
    ['relative path', 'v1/**', 'must start with "/"'],
    ['empty', '', 'must start with "/"'],
    ['a query string', '/search?q=*', 'the query string is not part of it'],
    ['a fragment', '/page#top', 'the query string is not part of it'],
    ['three stars', '/v1/***', 'not "***"'],
  ])('%s: %s', (_name, text, error) => {
    const compiled = compilePathGlob(text);
    expect('error' in compiled && compiled.error).toContain(error);
  });
});

describe('normalizePath', () => {
  it.each<[name: string, target: string, path: string]>([
    ['plain', '/v1/models', '/v1/models'],
    ['root', '/', '/'],
    ['empty target', '', '/'],
    ['query dropped', '/v1/models?limit=10', '/v1/models'],
    ['fragment dropped', '/v1/models#top', '/v1/models'],
    ['query holding a path dropped', '/search?next=/admin/x', '/search'],
    ['no leading slash', 'v1/models', '/v1/models'],
    ['percent-encoded letter', '/%61dmin', '/admin'],
    ['percent-encoded letters, mixed case hex', '/ad%6Din/%75sers', '/admin/users'],
    ['percent-encoded upper-case letter', '/%41dmin', '/Admin'],
    ['percent-encoded digit', '/v%31', '/v1'],
    ['percent-encoded hyphen, dot, underscore, tilde', '/%2d%2e%5f%7e', '/-._~'],
    ['encoded slash, upper case', '/admin%2Fx', '/admin/x'],
    ['encoded slash, lower case', '/admin%2fx', '/admin/x'],
    ['encoded backslash', '/admin%5cx', '/admin/x'],
    ['backslashes', '\\admin\\x', '/admin/x'],
    ['doubled slashes', '//admin//x', '/admin/x'],
    ['dot segment', '/./admin', '/admin'],
    ['dot-dot segment', '/a/../admin', '/admin'],
    ['encoded dot-dot segment', '/a/%2e%2e/admin', '/admin'],
    ['encoded dot-dot, upper case', '/a/%2E%2E/admin', '/admin'],
    ['half-encoded dot-dot', '/a/.%2e/admin', '/admin'],
    ['dot-dot cannot climb above the root', '/../../admin', '/admin'],
    ['trailing dot segment keeps the slash', '/admin/.', '/admin/'],
    ['trailing dot-dot keeps the slash', '/admin/x/..', '/admin/'],
    ['query is dropped before dot segments are resolved', '/a?b/../c', '/a'],
    // Reserved and non-ASCII escapes keep their meaning and stay encoded.
    ['encoded question mark stays encoded', '/a%3Fb', '/a%3Fb'],
    ['encoded percent stays encoded (no double decoding)', '/admin%252fx', '/admin%252fx'],
    ['encoded NUL stays encoded', '/%00admin', '/%00admin'],
    ['encoded space stays encoded', '/a%20b', '/a%20b'],
  ])('%s: %s → %s', (_name, target, path) => {
    expect(normalizePath(target)).toBe(path);
  });
});
