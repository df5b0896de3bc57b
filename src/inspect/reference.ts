// A reference: one http(s) URL that an inspected response points at, in the form the grants store and policy
// use. Every inspector (headers, JSON, HTML) produces this one shape, through resolveReference in urls.ts, so
// what is granted is exactly what the policy will later match.

import type { HostKind } from '../policy/host.js';

export interface Reference {
  /** Absolute URL as resolved (WHATWG href). */
  readonly url: string;
  readonly scheme: 'http' | 'https';
  /** Normalised with normalizeHost: lower case, punycode, canonical IP addresses. */
  readonly host: string;
  /** IP literals are references too, so that the caller can refuse (and audit) them. */
  readonly hostKind: HostKind;
  /** Explicit, or the scheme's default. */
  readonly port: number;
  /** Where it was found: `$.results[3].url`, `html a[href]`, `html meta[refresh]`, `header Location`. */
  readonly found: string;
}
