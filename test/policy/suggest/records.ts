// Test helper: audit records as leash writes them, for `leash policy suggest` specifications. `at(m, s)` is a time
// m minutes and s seconds into the log; each builder fills in what a real record of that kind carries.

export const BASE = Date.parse('2026-11-22T00:00:00.000Z');
export const at = (minutes: number, seconds = 0): string =>
  new Date(BASE + minutes * 60_000 + seconds * 1000).toISOString();

export type Rec = Record<string, unknown>;

/** A plain HTTP request record; report mode's would-deny by default (reason no_rule, effect allow). */
export function request(host: string, fields: Rec = {}): Rec {
  return {
    v: 2,
    time: at(0),
    event: 'request',
    agent: 'research',
    identity: 'token',
    client: { address: '127.0.0.1', port: 40000 },
    method: 'GET',
    scheme: 'http',
    host,
    port: 80,
    path: '/',
    effect: 'allow',
    wouldDeny: true,
    rule: null,
    reason: 'no_rule',
    status: 200,
    bytesIn: 10,
    bytesOut: 10,
    durationMs: 1,
    resolved: '93.184.215.14',
    policyRevision: 'rev',
    ...fields,
  };
}

/** A spliced CONNECT tunnel record. */
export function tunnel(host: string, fields: Rec = {}): Rec {
  return request(host, { event: 'tunnel', method: 'CONNECT', scheme: 'tunnel', port: 443, path: null, ...fields });
}

/** A request inside an intercepted tunnel. */
export function intercepted(host: string, path: string, fields: Rec = {}): Rec {
  return request(host, {
    scheme: 'https',
    tls: 'intercepted',
    port: 443,
    path,
    effect: 'allow',
    wouldDeny: undefined,
    reason: 'allowed_by_rule',
    rule: 'r',
    ...fields,
  });
}

/** The `event: grant` record of a grant made by inspect rule `rule` from a response of `sourceUrl`. */
export function grant(
  host: string,
  rule: string,
  sourceUrl: string,
  found = '$.results[0].image',
  fields: Rec = {},
): Rec {
  return request(host, {
    event: 'grant',
    method: null,
    scheme: 'https',
    port: 443,
    path: null,
    effect: 'allow',
    wouldDeny: undefined,
    wouldGrant: true,
    rule,
    reason: 'granted',
    status: null,
    grant: { source: 'req-1', sourceRule: rule, sourceUrl, found, expiresAt: at(1) },
    ...fields,
  });
}

/** A request allowed by a grant. */
export function grantUse(host: string, rule: string, fields: Rec = {}): Rec {
  return intercepted(host, '/img.png', {
    rule: 'grant',
    reason: 'granted',
    grant: {
      source: 'req-1',
      sourceRule: rule,
      sourceUrl: 'https://api.search.test/q',
      found: '$.results[0].image',
      expiresAt: at(1),
    },
    ...fields,
  });
}

export const times = <T>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i));
