// Response-aware allowlisting at the proxy: reading the responses of `inspect` rules and granting the agent that
// received them short-lived GET access to the hosts they reference, and honouring those grants on later requests.
// Grants found in a chunk are in force before that chunk reaches the client, so an agent acting on a URL the
// instant it reads it is never refused. Grants never override a rule: they are consulted only when no rule
// matched, and the address guard still applies at use time.

import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { newRecord, type AuditRecord } from '../audit/record.js';
import { newResponseGrants, selectReference, type Selection } from '../grants/select.js';
import type { Grant } from '../grants/store.js';
import { inspectResponse } from '../inspect/body.js';
import { headerReferences } from '../inspect/headers.js';
import type { Reference } from '../inspect/reference.js';
import type { NormalizedRequest } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { CompiledRule } from '../policy/rule.js';
import type { Exchange } from './exchange.js';
import type { Verdict } from './verdict.js';
import type { ProxyState } from './state.js';

/** At most this many grant_skipped records per response; the rest are counted in one summary record. */
const MAX_SKIP_RECORDS = 64;

export interface InspectedResponse {
  readonly exchange: Exchange;
  readonly rule: CompiledRule;
  readonly agent: string;
  /** The URL the response answers (relative references resolve against it). */
  readonly responseUrl: string;
  readonly host: string;
  readonly port: number;
}

/**
 * Sets up inspection of one response: grants from its headers at once, and a Transform for its body that holds
 * each chunk until the grants it contains are stored. Undefined when the body needs no inspection.
 */
export async function inspectForGrants(state: ProxyState, response: InspectedResponse, proxyRes: IncomingMessage): Promise<Transform | undefined> {
  const policy = response.exchange.policy;
  const grantsState = newResponseGrants(response.host, response.port);
  let skipped = 0;
  const apply = async (references: readonly Reference[]) => {
    for (const reference of references) {
      const selection = selectReference(policy, response.agent, reference, grantsState);
      if (!selection || selection.kind === 'none') continue;
      if (selection.kind === 'skip' && ++skipped > MAX_SKIP_RECORDS) continue;
      await grantOrSkip(state, policy, response, selection);
    }
  };
  await apply(headerReferences(proxyRes.headers, response.responseUrl));
  const inspector = inspectResponse({
    kinds: response.rule.inspect,
    contentType: proxyRes.headers['content-type'],
    contentEncoding: proxyRes.headers['content-encoding'],
    responseUrl: response.responseUrl,
    maxBytes: policy.settings.grants.maxInspectBytes,
  });
  const summarize = () => {
    if (skipped > MAX_SKIP_RECORDS) writeGrantRecord(state, policy, response, { kind: 'skip', reference: undefined, why: 'over_limit' }, `${skipped - MAX_SKIP_RECORDS} further references skipped (not recorded one by one)`);
  };
  if (!inspector) {
    summarize();
    return undefined;
  }
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      inspector.write(chunk).then(apply).then(
        () => callback(null, chunk),
        // Inspection must never break delivery: on any failure the chunk still goes through.
        () => callback(null, chunk),
      );
    },
    flush(callback) {
      inspector.end().then(apply).then(
        () => {
          summarize();
          callback();
        },
        () => callback(),
      );
    },
  });
}

async function grantOrSkip(state: ProxyState, policy: CompiledPolicy, response: InspectedResponse, selection: Exclude<Selection, { kind: 'none' }>): Promise<void> {
  if (selection.kind === 'grant') {
    const { reference } = selection;
    const grant: Grant = {
      agent: response.agent,
      scheme: reference.scheme,
      host: reference.host,
      port: reference.port,
      expiresAt: state.now() + policy.settings.grants.ttlMs,
      source: { requestId: response.exchange.id, rule: response.rule.name, url: response.responseUrl, found: reference.found },
      urls: policy.settings.grants.scope === 'url' ? [requestableUrl(reference.url)] : null,
    };
    await state.grants.add(grant);
  }
  writeGrantRecord(state, policy, response, selection);
}

/** What a client would send for a referenced URL: no fragment, no userinfo (scope url compares these). */
function requestableUrl(url: string): string {
  const u = new URL(url);
  u.hash = '';
  u.username = '';
  u.password = '';
  return u.href;
}

function writeGrantRecord(
  state: ProxyState,
  policy: CompiledPolicy,
  response: InspectedResponse,
  selection: { kind: 'grant' | 'skip'; reference: Reference | undefined; why?: string; rule?: string },
  note?: string,
): void {
  const reference = selection.reference;
  const granted = selection.kind === 'grant';
  const ttlMs = policy.settings.grants.ttlMs;
  const record: AuditRecord = newRecord(randomUUID(), 'grant', policy.revision, {
    agent: response.agent,
    identity: response.exchange.record.identity,
    scheme: reference?.scheme ?? null,
    host: reference?.host ?? null,
    port: reference?.port ?? null,
    effect: granted ? 'allow' : 'deny',
    rule: response.rule.name,
    reason: granted ? 'granted' : 'grant_skipped',
    message: note ?? (granted
      ? `${response.agent} may GET ${reference?.scheme}://${reference?.host}:${reference?.port} for ${ttlMs / 1000} s: referenced by the response to request ${response.exchange.id} (${reference?.found})`
      : `not granted: ${reference?.host ?? 'references'} (${skipText(selection.why, selection.rule)})`),
    grant: {
      source: response.exchange.id,
      sourceRule: response.rule.name,
      sourceUrl: response.responseUrl,
      found: reference?.found ?? '',
      expiresAt: new Date(state.now() + ttlMs).toISOString(),
      ...(granted ? { ttlMs } : { skipped: selection.why ?? 'unknown' }),
    },
  });
  if (granted && policy.settings.mode === 'report') record.wouldGrant = true;
  state.audit.write(record);
}

function skipText(why: string | undefined, rule: string | undefined): string {
  switch (why) {
    case 'ip_literal':
      return 'an IP literal is never granted';
    case 'deny_rule':
      return `deny rule ${rule} names this host`;
    case 'over_limit':
      return 'more hosts than settings.grants.maxPerResponse in one response';
    default:
      return why ?? 'skipped';
  }
}

/**
 * The grant that lets this request through when no rule matched: GET/HEAD (or the CONNECT carrying them) to a
 * host a trusted response referenced for this agent, still in force; with scope url, only the exact URLs seen.
 */
export async function findGrant(state: ProxyState, policy: CompiledPolicy, request: NormalizedRequest, scheme: 'http' | 'https', target: string | undefined): Promise<Grant | undefined> {
  const tunnel = request.method === 'CONNECT' && request.path === undefined;
  if (!tunnel && request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  const grant = await state.grants.find(request.agent, scheme, request.host, request.port, state.now());
  if (!grant || tunnel || !grant.urls) return grant;
  const host = request.hostKind === 'ipv6' ? `[${request.host}]` : request.host;
  // The exact URL as forwarded (query included), not the path normalised for rule matching.
  const wanted = new URL(`${scheme}://${host}:${request.port}${target ?? '/'}`).href;
  return grant.urls.some((url) => new URL(url).href === wanted) ? grant : undefined;
}

/**
 * When no rule matched, a grant may still let the request through; returns the verdict to enforce and names the
 * grant in the record. `scheme` undefined: this request cannot use a grant (an opaque tunnel to a non-TLS port).
 */
export async function withGrant(state: ProxyState, exchange: Exchange, verdict: Verdict, scheme: 'http' | 'https' | undefined, target?: string, headers?: IncomingHttpHeaders): Promise<Verdict> {
  const request = verdict.request;
  if (verdict.reason !== 'no_rule' || !request || !scheme) return verdict;
  // A grant is for reading: a GET or HEAD that carries a body could carry data out.
  if (headers && (headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0')) return verdict;
  const grant = await findGrant(state, exchange.policy, request, scheme, target);
  if (!grant) return verdict;
  const granted: Verdict = {
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
  };
  exchange.applyVerdict(granted);
  Object.assign(exchange.record, { rule: 'grant', grant: grantAuditFields(grant) });
  return granted;
}

export function grantAuditFields(grant: Grant): AuditRecord['grant'] {
  return { source: grant.source.requestId, sourceRule: grant.source.rule, sourceUrl: grant.source.url, found: grant.source.found, expiresAt: new Date(grant.expiresAt).toISOString() };
}
