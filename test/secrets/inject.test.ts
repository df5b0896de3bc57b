// Injection: the value goes exactly where the secret says, replacing the agent's placeholder, and nowhere else.

import { describe, expect, it } from 'vitest';
import { injectSecrets, type RequestHeaders } from '../../src/secrets/inject.js';
import type { CompiledSecret, SecretTarget } from '../../src/secrets/spec.js';

const P = 'leash-ph-openai-0123456789abcdef0123456789abcdef';
const VALUE = 'sk-real-value-XYZ';
const secret = (target: SecretTarget): CompiledSecret => ({
  name: 'openai',
  source: { kind: 'env', ref: 'K' },
  hosts: [],
  target,
  location: { file: 'p.yaml', line: 1, column: 1 },
});
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

interface Row {
  name: string;
  target: SecretTarget;
  headers: RequestHeaders;
  path?: string;
  expectHeaders: RequestHeaders;
  expectPath?: string;
  injected: boolean;
}

const ROWS: Row[] = [
  {
    name: 'a named header with a format',
    target: { kind: 'header', name: 'authorization', format: 'Bearer {}' },
    headers: { authorization: P },
    expectHeaders: { authorization: `Bearer ${VALUE}` },
    injected: true,
  },
  {
    name: 'a named header, in place',
    target: { kind: 'header', name: 'x-api-key', format: null },
    headers: { 'x-api-key': `key=${P}`, 'x-other': P },
    expectHeaders: { 'x-api-key': `key=${VALUE}`, 'x-other': P },
    injected: true,
  },
  {
    name: 'a named header that does not carry it',
    target: { kind: 'header', name: 'authorization', format: 'Bearer {}' },
    headers: { 'x-api-key': P },
    expectHeaders: { 'x-api-key': P },
    injected: false,
  },
  {
    name: 'any header',
    target: { kind: 'headers' },
    headers: { authorization: `Bearer ${P.toUpperCase()}`, host: 'api.openai.com' },
    expectHeaders: { authorization: `Bearer ${VALUE}`, host: 'api.openai.com' },
    injected: true,
  },
  {
    name: 'Basic credentials',
    target: { kind: 'headers' },
    headers: { authorization: basic('user', P) },
    expectHeaders: { authorization: basic('user', VALUE) },
    injected: true,
  },
  {
    name: 'a query parameter',
    target: { kind: 'query', name: 'key' },
    headers: { authorization: P },
    path: `/v1/x?q=1&key=${P}#f`,
    expectHeaders: { authorization: P },
    expectPath: `/v1/x?q=1&key=${VALUE}#f`,
    injected: true,
  },
  {
    name: 'a query parameter of another name',
    target: { kind: 'query', name: 'key' },
    headers: {},
    path: `/v1/x?other=${P}`,
    expectHeaders: {},
    expectPath: `/v1/x?other=${P}`,
    injected: false,
  },
];

describe('injectSecrets', () => {
  it.each(ROWS)('$name', ({ target, headers, path = '/v1/x', expectHeaders, expectPath = path, injected }) => {
    const before = structuredClone(headers);
    const out = injectSecrets(headers, path, [{ secret: secret(target), placeholder: P, value: VALUE }]);
    expect(out.headers).toEqual(expectHeaders);
    expect(out.path).toBe(expectPath);
    expect(out.injected).toEqual(injected ? ['openai'] : []);
    expect(headers).toEqual(before);
  });
});
