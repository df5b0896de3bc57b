// Response-aware allowlisting at the proxy: reading the responses of `inspect` rules and granting the agent that
// received them short-lived GET access to what they reference, and honouring those grants on later requests.
//
// Promises:
//  - Grant before deliver: grants found in a chunk are in force before that chunk reaches the client, so an agent
//    acting on a URL the instant it reads it is never refused.
//  - Nothing the request carried is granted (grants/reflection.ts): the request's target, headers and first
//    64 KiB of body are captured as they stream upstream and every reference is checked against them.
//  - Grants never override a rule: they are consulted only when no rule matched, and the address guard still
//    applies at use time. A grant allows GET/HEAD without a body, within its TTL, and with scope url only its URL.
//  - Inspection cannot stall leash (issue 19): each chunk is scanned in slices with the event loop free between
//    them, and one response gets at most MAX_REFERENCES references and INSPECT_BUDGET_MS of inspection time;
//    past either, inspection stops (the body still passes, byte for byte) and one audit record says why.
//  - A JSON body that turns out malformed or truncated revokes the grants it produced, audited one by one.

import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { newRecord, type AuditRecord } from '../audit/record.js';
import { StoreUnavailableError } from '../errors.js';
import type { RequestMaterial } from '../grants/reflection.js';
import {
  newResponseGrants,
  selectReference,
  SKIP_REASONS,
  type ResponseGrants,
  type Selection,
  type SkipReason,
} from '../grants/select.js';
import type { Grant, GrantStore } from '../grants/store.js';
import { inspectResponse, type ResponseInspector } from '../inspect/body.js';
import { headerReferences } from '../inspect/headers.js';
import type { Reference } from '../inspect/reference.js';
import type { NormalizedRequest } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { CompiledRule } from '../policy/rule.js';
import type { Exchange } from './exchange.js';
import { grantUnknown } from './store-unavailable.js';
import type { Verdict } from './verdict.js';
import type { ProxyState } from './state.js';

/** At most this many grant_skipped (and grant_revoked) records per response; the rest are counted in one summary. */
const MAX_SKIP_RECORDS = 64;
/** References examined per response, found anywhere in it; past this, inspection stops. */
export const MAX_REFERENCES = 10_000;
/** Time spent inspecting one response (scanning and selecting, not waiting for bytes); past this, it stops. */
export const INSPECT_BUDGET_MS = 1000;
/** A chunk is scanned in slices of this many bytes, with the event loop free between them. */
export const INSPECT_SLICE = 4 * 1024;
/** References selected between two yields to the event loop. */
const REFERENCES_PER_TURN = 64;

export type InspectionStop = 'reference_budget' | 'time_budget';
export type Revocation = 'malformed' | 'truncated';

export interface InspectedResponse {
  readonly exchange: Exchange;
  readonly rule: CompiledRule;
  readonly agent: string;
  /** The URL the response answers (relative references resolve against it). */
  readonly responseUrl: string;
  readonly host: string;
  readonly port: number;
  /** What the request that produced this response carried, captured as it streamed upstream. */
  readonly reflection: RequestMaterial;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * One response's inspection: its selection state, its budgets, and the grants it made (for revocation). Exported
 * for tests; `clock` measures inspection work for the time budget (performance.now in the proxy).
 */
export class ResponseInspection {
  readonly grants: ResponseGrants;
  readonly made: Grant[] = [];
  examined = 0;
  spentMs = 0;
  stopped: InspectionStop | undefined;
  revoked = false;
  #skipped = 0;
  #sinceYield = 0;

  constructor(
    private readonly state: ProxyState,
    private readonly policy: CompiledPolicy,
    private readonly response: InspectedResponse,
    readonly clock: () => number = () => performance.now(),
  ) {
    this.grants = newResponseGrants(response.host, response.port, {
      reflection: response.reflection,
      narrowing: response.rule.grantNarrowing,
    });
  }

  /** Selects and stores the grants of some references, yielding now and then; stops at either budget. */
  async apply(references: readonly Reference[], fromBody: boolean): Promise<void> {
    for (const reference of references) {
      // Revoked (the body is broken): nothing more from it is granted, even what a chunk in flight still carries.
      if (this.stopped || (this.revoked && fromBody)) return;
      if (this.examined >= MAX_REFERENCES) return this.stop('reference_budget');
      this.examined++;
      const started = this.clock();
      const selection = selectReference(this.policy, this.response.agent, reference, this.grants);
      this.spentMs += this.clock() - started;
      if (selection && selection.kind !== 'none') await this.#grantOrSkip(selection, fromBody);
      if (++this.#sinceYield >= REFERENCES_PER_TURN) {
        this.#sinceYield = 0;
        if (this.overTime()) return;
        await yieldToLoop();
      }
    }
  }

  /** Checks the time budget; true (and stopped) once it is spent. */
  overTime(): boolean {
    if (!this.stopped && this.spentMs > INSPECT_BUDGET_MS) this.stop('time_budget');
    return this.stopped !== undefined;
  }

  stop(why: InspectionStop): void {
    if (this.stopped) return;
    this.stopped = why;
    const detail = why === 'time_budget' ? `${INSPECT_BUDGET_MS} ms of inspection` : `${MAX_REFERENCES} references`;
    this.#record({
      reason: 'inspection_stopped',
      message:
        `inspection of the response to request ${this.response.exchange.id} stopped after ${detail} ` +
        `(${this.examined} references examined); the rest of the body was delivered uninspected`,
      grant: { ...this.#sourceFields(''), stopped: why, references: this.examined },
    });
  }

  /** The body was malformed or cut short: the grants it produced go, each audited. */
  async revoke(why: Revocation): Promise<void> {
    if (this.revoked) return;
    this.revoked = true;
    let recorded = 0;
    let more = 0;
    for (const grant of this.made) {
      if (!(await this.state.grants.revoke(grant, this.response.exchange.id))) continue;
      if (++recorded > MAX_SKIP_RECORDS) {
        more++;
        continue;
      }
      this.#record({
        scheme: grant.scheme,
        host: grant.host,
        port: grant.port,
        reason: 'grant_revoked',
        message: `grant of ${grant.host}:${grant.port} revoked: the ${why === 'malformed' ? 'JSON body that referenced it turned out malformed' : 'response that referenced it was cut short'}`,
        grant: { ...this.#sourceFields(grant.source.found), ...(grant.url ? { url: grant.url } : {}), revoked: why },
      });
    }
    if (more > 0) {
      const message = `${more} further grants revoked (not recorded one by one)`;
      this.#record({ reason: 'grant_revoked', message, grant: { ...this.#sourceFields(''), revoked: why } });
    }
  }

  /** After the body: one record counting the skips that were not recorded one by one. */
  summarize(): void {
    if (this.#skipped > MAX_SKIP_RECORDS) {
      this.#record({
        reason: 'grant_skipped',
        message: `${this.#skipped - MAX_SKIP_RECORDS} further references skipped (not recorded one by one)`,
        grant: { ...this.#sourceFields(''), skipped: 'over_limit' },
      });
    }
  }

  async #grantOrSkip(selection: Exclude<Selection, { kind: 'none' }>, fromBody: boolean): Promise<void> {
    const { reference } = selection;
    const ttlMs = this.policy.settings.grants.ttlMs;
    if (selection.kind === 'skip') {
      if (++this.#skipped > MAX_SKIP_RECORDS) return;
      this.#record({
        scheme: reference.scheme,
        host: reference.host,
        port: reference.port,
        reason: 'grant_skipped',
        message: `not granted: ${reference.host} (${selection.why === 'deny_rule' ? `deny rule ${selection.rule} names this host` : SKIP_REASONS[selection.why]})`,
        grant: { ...this.#sourceFields(reference.found), skipped: selection.why satisfies SkipReason },
      });
      return;
    }
    const scopeUrl = this.policy.settings.grants.scope === 'url';
    const grant: Grant = {
      agent: this.response.agent,
      scheme: reference.scheme,
      host: reference.host,
      port: reference.port,
      expiresAt: this.state.now() + ttlMs,
      source: {
        requestId: this.response.exchange.id,
        rule: this.response.rule.name,
        url: this.response.responseUrl,
        found: reference.found,
      },
      url: scopeUrl ? requestableUrl(reference.url) : null,
    };
    try {
      await this.state.grants.add(grant);
    } catch (err) {
      // Audited as not granted, and the rest of this chunk's references are not tried (each would wait as long).
      if (err instanceof StoreUnavailableError) {
        this.#record({
          scheme: reference.scheme,
          host: reference.host,
          port: reference.port,
          reason: 'grant_skipped',
          message: `not granted: ${reference.host} (${err.message})`,
          grant: { ...this.#sourceFields(reference.found), skipped: 'store_unavailable' },
        });
      }
      throw err;
    }
    if (fromBody) {
      this.made.push(grant);
      // Revoked while this grant was being stored: it goes too (revoke() already went through the list).
      if (this.revoked) {
        await this.state.grants.revoke(grant, this.response.exchange.id);
        return;
      }
    }
    const record = this.#record({
      scheme: reference.scheme,
      host: reference.host,
      port: reference.port,
      effect: 'allow',
      reason: 'granted',
      message:
        `${this.response.agent} may GET ${scopeUrl ? 'one URL on ' : ''}${reference.scheme}://${reference.host}:${reference.port} ` +
        `for ${ttlMs / 1000} s: referenced by the response to request ${this.response.exchange.id} (${reference.found})`,
      grant: {
        ...this.#sourceFields(reference.found),
        ...(grant.url ? { url: grant.url } : {}),
        ttlMs,
        expiresAt: new Date(grant.expiresAt).toISOString(),
      },
    });
    if (this.policy.settings.mode === 'report') record.wouldGrant = true;
  }

  #sourceFields(found: string): NonNullable<AuditRecord['grant']> {
    return {
      source: this.response.exchange.id,
      sourceRule: this.response.rule.name,
      sourceUrl: this.response.responseUrl,
      found,
      expiresAt: new Date(this.state.now() + this.policy.settings.grants.ttlMs).toISOString(),
    };
  }

  #record(fields: Partial<AuditRecord>): AuditRecord {
    const record = newRecord(randomUUID(), 'grant', this.policy.revision, {
      agent: this.response.agent,
      identity: this.response.exchange.record.identity,
      effect: 'deny',
      rule: this.response.rule.name,
      ...fields,
    });
    // A later write within the same tick must not reorder: the record is written as it is built.
    this.state.audit.write(record);
    return record;
  }
}

/**
 * Sets up inspection of one response: grants from its headers at once, and a Transform for its body that holds
 * each chunk until the grants it contains are stored. Undefined when the body needs no inspection.
 */
export async function inspectForGrants(
  state: ProxyState,
  response: InspectedResponse,
  proxyRes: IncomingMessage,
): Promise<Transform | undefined> {
  const policy = response.exchange.policy;
  const inspection = new ResponseInspection(state, policy, response);
  const started = inspection.clock();
  const headers = headerReferences(proxyRes.headers, response.responseUrl);
  inspection.spentMs += inspection.clock() - started;
  await inspection.apply(headers, false);
  const inspector = inspectResponse({
    kinds: response.rule.inspect,
    contentType: proxyRes.headers['content-type'],
    contentEncoding: proxyRes.headers['content-encoding'],
    responseUrl: response.responseUrl,
    maxBytes: policy.settings.grants.maxInspectBytes,
    now: inspection.clock,
  });
  if (!inspector || inspection.stopped) {
    inspection.summarize();
    return undefined;
  }
  // An upstream that cuts a JSON body short leaves it malformed: its grants go like those of a malformed one.
  proxyRes.once('close', () => {
    if (!proxyRes.complete && inspector.kind === 'json') void inspection.revoke('truncated').catch(() => {});
  });
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      inspectChunk(inspection, inspector, chunk).then(
        () => callback(null, chunk),
        // Inspection must never break delivery: on any failure the chunk still goes through.
        () => callback(null, chunk),
      );
    },
    flush(callback) {
      finishInspection(inspection, inspector).then(
        () => callback(),
        () => callback(),
      );
    },
  });
}

async function inspectChunk(
  inspection: ResponseInspection,
  inspector: ResponseInspector,
  chunk: Buffer,
): Promise<void> {
  for (let at = 0; at < chunk.length && !inspection.stopped; at += INSPECT_SLICE) {
    if (at > 0) await yieldToLoop();
    // Scanning time is measured inside the inspector (not the wait for the decompressor or for other connections).
    const before = inspector.scanMs;
    const references = await inspector.write(chunk.subarray(at, at + INSPECT_SLICE));
    inspection.spentMs += inspector.scanMs - before;
    await inspection.apply(references, true);
    if (inspector.malformed) await inspection.revoke('malformed');
    inspection.overTime();
  }
  // A budget ran out: free the decoder; the rest of the body passes uninspected.
  if (inspection.stopped) inspector.abandon();
}

async function finishInspection(inspection: ResponseInspection, inspector: ResponseInspector): Promise<void> {
  if (!inspection.stopped) {
    await inspection.apply(await inspector.end(), true);
    if (inspector.malformed) await inspection.revoke('malformed');
  }
  inspection.summarize();
}

/** What a client would send for a referenced URL: no fragment, no userinfo (scope url compares these). */
function requestableUrl(url: string): string {
  const u = new URL(url);
  u.hash = '';
  u.username = '';
  u.password = '';
  return u.href;
}

/** A request that carries a body (or says it may): a grant is for reading, and a body could carry data out. */
function carriesBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0';
}

/** What grant lookups need: the store and the clock. */
export interface GrantLookup {
  readonly policy: CompiledPolicy;
  readonly grants: GrantStore;
  readonly now: () => number;
}

/**
 * The grant that lets this request through when no rule matched, or undefined. Usable per request anywhere,
 * inside intercepted tunnels too: a GET or HEAD without a body (`headers` given) to a host a trusted response
 * referenced for this agent, still in force at now(); with scope url, only the exact URL seen (target is the path
 * and query as forwarded). For a CONNECT, the grant that lasts longest on the host: its `expiresAt` is when a
 * tunnel opened by it must close (each request inside is then checked again by this function).
 */
export async function findGrant(
  lookup: Pick<GrantLookup, 'grants' | 'now'>,
  request: NormalizedRequest,
  scheme: 'http' | 'https',
  target: string | undefined,
  headers?: IncomingHttpHeaders,
): Promise<Grant | undefined> {
  const tunnel = request.method === 'CONNECT' && request.path === undefined;
  if (tunnel) return lookup.grants.find(request.agent, scheme, request.host, request.port, lookup.now());
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  if (headers && carriesBody(headers)) return undefined;
  const host = request.hostKind === 'ipv6' ? `[${request.host}]` : request.host;
  // The exact URL as forwarded (query included), not the path normalised for rule matching.
  const forwarded = target ?? '/';
  let url: URL;
  try {
    url = new URL(`${scheme}://${host}:${request.port}${forwarded}`);
  } catch {
    return undefined;
  }
  const grant = await lookup.grants.find(request.agent, scheme, request.host, request.port, lookup.now(), url.href);
  // A URL grant covers the URL the response named, byte for byte as it is forwarded. The URL parser resolves dot
  // segments and backslashes that the origin receives raw (`/SECRET/../img/cat.png` parses as `/img/cat.png`): a
  // target the parser rewrote is not the granted URL, however it parses.
  if (grant && grant.url !== null && `${url.pathname}${url.search}` !== forwarded) return undefined;
  return grant;
}

export type GrantOutcome =
  /** No grant applies; `message` says why one the agent holds on the host does not cover this request. */
  | { readonly kind: 'none'; readonly message?: string }
  | { readonly kind: 'granted'; readonly verdict: Verdict; readonly grant: AuditRecord['grant'] }
  /** The store could not say: a refusal (store_unavailable) when grants can exist under this policy. */
  | { readonly kind: 'unknown'; readonly verdict: Verdict };

/**
 * When no rule matched, a grant may still let the request through. `scheme` undefined: this request cannot use a
 * grant (an opaque tunnel to a non-TLS port, an upgrade).
 */
export async function grantFor(
  lookup: GrantLookup,
  verdict: Verdict,
  scheme: 'http' | 'https' | undefined,
  target?: string,
  headers?: IncomingHttpHeaders,
): Promise<GrantOutcome> {
  const request = verdict.request;
  // A grant is for hosts no rule speaks about; where an allow rule decides the host, its limits stand, whatever was
  // granted before (a reload may have added that rule since).
  if (verdict.reason !== 'no_rule' || verdict.hostHasRule || !request || !scheme) return { kind: 'none' };
  let grant: Grant | undefined;
  try {
    grant = await findGrant(lookup, request, scheme, target, headers);
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    return { kind: 'unknown', verdict: grantUnknown(lookup.policy, verdict, err) };
  }
  if (!grant) return { kind: 'none', message: await notGranted(lookup, request, scheme, target) };
  return {
    kind: 'granted',
    grant: grantAuditFields(grant),
    verdict: {
      ...verdict,
      effect: 'allow',
      wouldDeny: false,
      reason: 'granted',
      rule: null,
      // A grant is GET/HEAD, for its TTL, per request: its tunnels are intercepted so each request in them is held
      // to that (and, with scope url, to the exact URLs seen). A spliced tunnel could carry anything, for ever.
      intercept: request.method === 'CONNECT',
      // Names the source by request id: its URL may carry query secrets, and messages are only pattern-redacted.
      message: `${request.method} ${request.host}:${request.port} allowed by a grant from the response to request ${grant.source.requestId} (rule ${grant.source.rule})`,
    },
  };
}

export function grantAuditFields(grant: Grant): AuditRecord['grant'] {
  return {
    source: grant.source.requestId,
    sourceRule: grant.source.rule,
    sourceUrl: grant.source.url,
    found: grant.source.found,
    expiresAt: new Date(grant.expiresAt).toISOString(),
    ...(grant.url ? { url: grant.url } : {}),
  };
}

/**
 * A request to a host the agent holds a grant for, that the grant does not cover: says so (the URL was not among
 * those the response named, or the method or body is not a read), instead of "no rule allows it".
 */
async function notGranted(
  lookup: Pick<GrantLookup, 'grants' | 'now'>,
  request: NormalizedRequest,
  scheme: 'http' | 'https',
  target: string | undefined,
): Promise<string | undefined> {
  if (request.method === 'CONNECT') return undefined;
  const onHost = await lookup.grants
    .find(request.agent, scheme, request.host, request.port, lookup.now())
    .catch(() => undefined);
  if (!onHost) return undefined;
  const what = `${request.method} ${request.host}:${request.port}${target ?? ''}`;
  const why =
    request.method !== 'GET' && request.method !== 'HEAD'
      ? `a grant allows only GET and HEAD, and this is ${request.method}`
      : onHost.url !== null
        ? 'the grant for this host covers only the URLs its response named (scope url), and this one was not among them'
        : 'a grant allows only reads without a body';
  return `${what} not granted: ${why} (grant from the response to request ${onHost.source.requestId})`;
}
