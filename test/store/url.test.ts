// `--store` URLs: what is accepted, what each part becomes, and the one form any message may show.

import { describe, expect, it } from 'vitest';
import { LeashError } from '../../src/errors.js';
import { parseStoreUrl } from '../../src/store/url.js';

describe('parseStoreUrl', () => {
  it.each([
    {
      name: 'host and port',
      url: 'redis://10.0.0.5:6380',
      parsed: {
        tls: false,
        host: '10.0.0.5',
        port: 6380,
        db: 0,
        username: undefined,
        password: undefined,
        display: 'redis://10.0.0.5:6380/0',
      },
    },
    {
      name: 'default port, a database',
      url: 'redis://redis.internal/2',
      parsed: { host: 'redis.internal', port: 6379, db: 2, display: 'redis://redis.internal:6379/2' },
    },
    {
      name: 'password only (the default user)',
      url: 'redis://:pa%40ss@r:6379/0',
      parsed: { username: undefined, password: 'pa@ss', display: 'redis://r:6379/0' },
    },
    {
      name: 'ACL user and password',
      url: 'redis://leash:pw@r:6379/1',
      parsed: { username: 'leash', password: 'pw', display: 'redis://r:6379/1' },
    },
    {
      name: 'TLS',
      url: 'rediss://leash:pw@r.example.com:6380/0',
      parsed: { tls: true, host: 'r.example.com', display: 'rediss://r.example.com:6380/0' },
    },
    { name: 'IPv6', url: 'redis://[::1]:6379', parsed: { host: '::1', display: 'redis://[::1]:6379/0' } },
  ])('$name', ({ url, parsed }) => {
    expect(parseStoreUrl(url)).toMatchObject(parsed);
  });

  it.each([
    { name: 'another scheme', url: 'http://u:hunter2@r:6379/0', error: /the scheme must be redis or rediss/ },
    { name: 'not a URL', url: 'hunter2@r:6379', error: /not a URL|scheme/ },
    { name: 'a path that is not a database number', url: 'redis://u:hunter2@r:6379/db0', error: /database number/ },
    { name: 'a query string', url: 'redis://u:hunter2@r:6379/0?tls=true', error: /query strings/ },
  ])('refuses $name, without echoing the URL (it may hold a password)', ({ url, error }) => {
    let thrown: unknown;
    try {
      parseStoreUrl(url);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(LeashError);
    expect((thrown as LeashError).code).toBe('LEASH_USAGE');
    expect((thrown as Error).message).toMatch(error);
    expect((thrown as Error).message).not.toContain('hunter2');
  });
});
