// The environment leash run gives its command, as a table: what is set, what is cleared, what is kept.

import { describe, expect, it } from 'vitest';
import { CA_VARIABLES, childEnvironment, proxyUrlFor, type ChildEnvironmentInput } from '../../src/run/environment.js';

const PROXY = 'http://runner:t0ken@127.0.0.1:4000';
const input = (over: Partial<ChildEnvironmentInput> = {}): ChildEnvironmentInput => ({
  base: { PATH: '/usr/bin' },
  proxyUrl: PROXY,
  placeholders: {},
  ...over,
});

interface Row {
  readonly name: string;
  readonly over: Partial<ChildEnvironmentInput>;
  readonly expected: Record<string, string | undefined>;
}

describe('childEnvironment', () => {
  it.each<Row>([
    {
      name: 'both schemes, both cases point at leash',
      over: {},
      expected: { HTTP_PROXY: PROXY, HTTPS_PROXY: PROXY, http_proxy: PROXY, https_proxy: PROXY },
    },
    {
      name: 'an inherited proxy is replaced',
      over: { base: { HTTPS_PROXY: 'http://elsewhere:8080' } },
      expected: { HTTPS_PROXY: PROXY },
    },
    {
      name: 'NO_PROXY (both cases) is cleared',
      over: { base: { NO_PROXY: '*', no_proxy: 'api.test' } },
      expected: { NO_PROXY: undefined, no_proxy: undefined },
    },
    {
      name: 'ALL_PROXY (both cases) is cleared',
      over: { base: { ALL_PROXY: 'socks5://x:1080', all_proxy: 'socks5://x:1080' } },
      expected: { ALL_PROXY: undefined, all_proxy: undefined },
    },
    {
      name: 'other variables are kept',
      over: { base: { PATH: '/bin', LANG: 'C' } },
      expected: { PATH: '/bin', LANG: 'C' },
    },
    {
      name: 'no CA variable is touched without interception',
      over: { base: { SSL_CERT_FILE: '/etc/ssl/x.pem' } },
      expected: { SSL_CERT_FILE: '/etc/ssl/x.pem', NODE_EXTRA_CA_CERTS: undefined },
    },
    { name: 'Node honours the variables itself where it can', over: {}, expected: { NODE_USE_ENV_PROXY: '1' } },
    {
      name: 'the preload is added to NODE_OPTIONS',
      over: { nodePreload: 'file:///tmp/p.mjs' },
      expected: { NODE_OPTIONS: '--import file:///tmp/p.mjs' },
    },
    {
      name: 'an existing NODE_OPTIONS is kept, the preload appended',
      over: { base: { NODE_OPTIONS: '--max-old-space-size=512' }, nodePreload: 'file:///tmp/p.mjs' },
      expected: { NODE_OPTIONS: '--max-old-space-size=512 --import file:///tmp/p.mjs' },
    },
    {
      name: 'placeholders are added',
      over: { placeholders: { OPENAI_API_KEY: 'leash-placeholder-1' } },
      expected: { OPENAI_API_KEY: 'leash-placeholder-1' },
    },
    {
      name: 'a placeholder never overrides what leash sets',
      over: { placeholders: { HTTPS_PROXY: 'http://evil:1', NO_PROXY: '*' } },
      expected: { HTTPS_PROXY: PROXY, NO_PROXY: undefined },
    },
  ])('$name', ({ over, expected }) => {
    const env = childEnvironment(input(over));
    for (const [key, value] of Object.entries(expected)) expect(env[key], key).toBe(value);
  });

  it('with interception every ecosystem trusts the one merged bundle', () => {
    const env = childEnvironment(
      input({ base: { NODE_EXTRA_CA_CERTS: '/corp.pem' }, caBundle: '/tmp/leash-run-x/ca-bundle.pem' }),
    );
    expect(CA_VARIABLES).toEqual([
      'NODE_EXTRA_CA_CERTS',
      'SSL_CERT_FILE',
      'REQUESTS_CA_BUNDLE',
      'CURL_CA_BUNDLE',
      'GIT_SSL_CAINFO',
      'PIP_CERT',
      'AWS_CA_BUNDLE',
      'DENO_CERT',
    ]);
    for (const key of CA_VARIABLES) expect(env[key], key).toBe('/tmp/leash-run-x/ca-bundle.pem');
  });
});

describe('proxyUrlFor', () => {
  it.each<{ name: string; host: string; credentials?: { agent: string; token: string }; url: string }>([
    { name: 'no credentials', host: '127.0.0.1', url: 'http://127.0.0.1:3128' },
    {
      name: 'agent and token',
      host: '127.0.0.1',
      credentials: { agent: 'research', token: 'abc' },
      url: 'http://research:abc@127.0.0.1:3128',
    },
    {
      name: 'a token with reserved characters is percent-encoded (RFC 3986 §3.2.1)',
      host: '127.0.0.1',
      credentials: { agent: 'r', token: 'a@b:c/d%' },
      url: 'http://r:a%40b%3Ac%2Fd%25@127.0.0.1:3128',
    },
    { name: 'IPv6 in brackets', host: '::1', url: 'http://[::1]:3128' },
  ])('$name', ({ host, credentials, url }) => {
    expect(proxyUrlFor(host, 3128, credentials)).toBe(url);
    expect(new URL(url).port).toBe('3128');
  });
});
