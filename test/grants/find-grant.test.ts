// findGrant, the one question every request asks of the grants, plain or inside an intercepted tunnel: a GET or
// HEAD without a body, within the TTL, to the exact URL with scope url; for a CONNECT, the grant that lasts
// longest on the host, whose expiresAt is when a tunnel opened by it must close.

import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { MemoryGrantStore } from '../../src/grants/memory-store.js';
import type { Grant } from '../../src/grants/store.js';
import type { NormalizedRequest } from '../../src/policy/evaluate.js';
import { findGrant } from '../../src/proxy/grants.js';
import type { ProxyState } from '../../src/proxy/state.js';

const grant = (over: Partial<Grant>): Grant => ({
  agent: 'a',
  scheme: 'https',
  host: 'cdn.example',
  port: 443,
  expiresAt: 30_000,
  source: { requestId: 'r1', rule: 'search', url: 'https://api.example/s', found: '$.x' },
  url: null,
  ...over,
});

async function stateWith(grants: Grant[], nowMs: number): Promise<ProxyState> {
  const store = new MemoryGrantStore();
  for (const g of grants) await store.add(g);
  return { grants: store, now: () => nowMs } as unknown as ProxyState;
}

const request = (method: string, path: string | undefined): NormalizedRequest =>
  ({ method, host: 'cdn.example', hostKind: 'name', port: 443, path, agent: 'a' }) as NormalizedRequest;

describe('findGrant', () => {
  type Row = [
    name: string,
    grants: Partial<Grant>[],
    now: number,
    method: string,
    target: string | undefined,
    headers: IncomingHttpHeaders | undefined,
    expected: number | undefined,
  ];
  it.each<Row>([
    ['GET within the TTL', [{}], 29_999, 'GET', '/a', {}, 30_000],
    ['HEAD within the TTL', [{}], 0, 'HEAD', '/a', {}, 30_000],
    ['at expiry: gone', [{}], 30_000, 'GET', '/a', {}, undefined],
    ['POST never', [{}], 0, 'POST', '/a', {}, undefined],
    ['GET with a body never', [{}], 0, 'GET', '/a', { 'content-length': '5' }, undefined],
    ['GET with chunked encoding never', [{}], 0, 'GET', '/a', { 'transfer-encoding': 'chunked' }, undefined],
    ['scope url: the exact URL', [{ url: 'https://cdn.example/a?v=1' }], 0, 'GET', '/a?v=1', {}, 30_000],
    ['scope url: another query', [{ url: 'https://cdn.example/a?v=1' }], 0, 'GET', '/a?v=2', {}, undefined],
    ['scope url: another path', [{ url: 'https://cdn.example/a' }], 0, 'GET', '/b', {}, undefined],
    [
      'scope url: each URL its own expiry',
      [
        { url: 'https://cdn.example/a', expiresAt: 10_000 },
        { url: 'https://cdn.example/b', expiresAt: 50_000 },
      ],
      20_000,
      'GET',
      '/a',
      {},
      undefined,
    ],
    [
      'CONNECT: the longest-lasting grant on the host',
      [
        { url: 'https://cdn.example/a', expiresAt: 10_000 },
        { url: 'https://cdn.example/b', expiresAt: 50_000 },
      ],
      0,
      'CONNECT',
      undefined,
      undefined,
      50_000,
    ],
    ['CONNECT: none in force', [{ expiresAt: 10_000 }], 10_000, 'CONNECT', undefined, undefined, undefined],
  ])('%s', async (_name, grants, now, method, target, headers, expected) => {
    const state = await stateWith(grants.map(grant), now);
    const found = await findGrant(
      state,
      request(method, method === 'CONNECT' ? undefined : target),
      'https',
      target,
      headers,
    );
    expect(found?.expiresAt).toBe(expected);
  });
});
