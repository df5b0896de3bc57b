// Method overrides at the proxy: the ways a request asks the origin to apply another method than the one on its
// request line. The headers X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override, and a `_method` query
// parameter or urlencoded form field, are honoured by Rails, Laravel, Symfony, Express's method-override and many
// HTTP APIs. The attack: under a rule that allows GET and POST, `POST /v1/items/1` with
// `X-HTTP-Method-Override: DELETE` deletes. Leash gathers every override into the request facts and the pure engine
// holds each one to the rule's `methods` (policy/evaluate.ts, `mismatch`).
//
// A form body is read for `_method` before the decision only when that can matter: a urlencoded content type, and
// a host one of whose rules limits methods. At most MAX_FORM_BYTES are read; a longer form counts as an override
// leash could not read (`*`, which could be any method), so a methods-limited rule refuses it. The bytes read are
// forwarded first and unchanged: leash never edits a body.

import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { describeRequest, type RequestFacts } from '../policy/evaluate.js';
import { candidateRules } from '../policy/host-index.js';
import { normalizeHost } from '../policy/host.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { Reason } from './reasons.js';
import { judge } from './verdict.js';

export const OVERRIDE_HEADERS: readonly string[] = ['x-http-method-override', 'x-http-method', 'x-method-override'];
/** The most of a form body leash reads to look for `_method`. */
export const MAX_FORM_BYTES = 64 * 1024;
/** An override leash could not read: it could name any method. */
export const UNREADABLE = '*';

export interface MethodOverride {
  /** Upper-cased, as frameworks apply it; UNREADABLE when leash could not read it. */
  readonly method: string;
  /** Where it was found, for the refusal message. */
  readonly source: string;
}

export interface GatheredOverrides {
  readonly overrides: readonly MethodOverride[];
  /** Body bytes read to find them, to forward first; absent when the body was not touched. */
  readonly bodyPrefix?: Buffer;
}

/**
 * Every override the request carries. `beforeBodyRead` runs just before a form body is read (the place to send
 * 100 Continue to a client that waits for it: the decision needs the body).
 */
export async function gatherOverrides(
  policy: CompiledPolicy,
  req: IncomingMessage,
  host: string,
  path: string,
  beforeBodyRead: () => void,
): Promise<GatheredOverrides> {
  const overrides = [...headerOverrides(req.rawHeaders), ...queryOverrides(path)];
  if (!formMayMatter(policy, req, host)) return { overrides };
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > MAX_FORM_BYTES) return { overrides: [...overrides, unreadableForm()] };
  beforeBodyRead();
  const { prefix, complete } = await readPrefix(req, MAX_FORM_BYTES);
  const form = complete ? fieldOverrides(prefix.toString('utf8'), 'the _method form field') : [unreadableForm()];
  return { overrides: [...overrides, ...form], bodyPrefix: prefix };
}

export function headerOverrides(rawHeaders: readonly string[]): MethodOverride[] {
  const found: MethodOverride[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    if (!OVERRIDE_HEADERS.includes(name.toLowerCase())) continue;
    // Several values, or one header repeated: each counts, so a deny rule sees every method asked for.
    for (const value of (rawHeaders[i + 1] ?? '').split(',')) {
      if (value.trim() !== '') found.push({ method: methodOf(value), source: name });
    }
  }
  return found;
}

export function queryOverrides(path: string): MethodOverride[] {
  const q = path.indexOf('?');
  return q === -1 ? [] : fieldOverrides(path.slice(q + 1), 'the _method query parameter');
}

/** `_method` fields of urlencoded text (a query or a form body); the name is matched as PHP and Rack decode it. */
export function fieldOverrides(urlencoded: string, source: string): MethodOverride[] {
  const found: MethodOverride[] = [];
  for (const [name, value] of new URLSearchParams(urlencoded)) {
    if (phpName(name) === '_method' && value.trim() !== '') found.push({ method: methodOf(value), source });
  }
  return found;
}

/**
 * A parameter name as PHP reads it (Laravel, Symfony): leading spaces dropped, and `.`, space and the first `[`
 * turned into `_`, so `.method`, ` method` and `[method` all reach the application as `_method`. Rack reads names
 * as written; matching the wider reading keeps both.
 */
function phpName(name: string): string {
  return name.replace(/^ +/, '').replace(/[. []/g, '_').trim().toLowerCase();
}

function methodOf(value: string): string {
  return value.trim().toUpperCase().slice(0, 40);
}

function unreadableForm(): MethodOverride {
  const source = `a form body over ${MAX_FORM_BYTES / 1024} KiB, too long for leash to check for _method`;
  return { method: UNREADABLE, source };
}

/**
 * A urlencoded body that some rule for this host could care about. Every Content-Type header counts (Node keeps
 * only the first; an origin may read another), and any rule for the host with `methods`, whichever decides.
 */
function formMayMatter(policy: CompiledPolicy, req: IncomingMessage, rawHost: string): boolean {
  if (req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] ?? '0') === '0') return false;
  let form = false;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if ((req.rawHeaders[i] ?? '').toLowerCase() !== 'content-type') continue;
    const media = (req.rawHeaders[i + 1] ?? '').split(';')[0]?.trim().toLowerCase();
    if (media === 'application/x-www-form-urlencoded') form = true;
  }
  if (!form) return false;
  const host = normalizeHost(rawHost);
  if (!host.ok) return false;
  return candidateRules(policy.index, policy.rules, host.host, host.kind).some((i) => policy.rules[i]?.methods != null);
}

/** Reads up to `limit` bytes (a little more: whole chunks), then pauses; `complete` when the body ended within. */
function readPrefix(req: IncomingMessage, limit: number): Promise<{ prefix: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (complete: boolean) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.pause();
      resolve({ prefix: Buffer.concat(chunks), complete });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) done(false);
    };
    const onEnd = () => done(true);
    const onClose = () => done(req.complete);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
  });
}

/** The request body as forwarded: the prefix leash read, then the rest as it arrives. */
export function prefixedBody(req: IncomingMessage, prefix: Buffer): Readable {
  const body = new PassThrough();
  body.write(prefix);
  req.pipe(body);
  return body;
}

/** What the policy (or a grant) decided, as the proxy recorded it. */
export interface Decided {
  readonly reason: Reason;
  readonly rule: string | null;
  /** The deciding rule's `reason:` text. */
  readonly ruleReason: string | null;
}

/**
 * The refusal to give when the overrides are what the policy refused: the same request without them would have
 * been allowed. Then the reason is method_override and the message names each override and where it was found.
 * A grant (GET and HEAD only) never carries an override to another method.
 */
export function overrideRefusal(
  policy: CompiledPolicy,
  facts: RequestFacts,
  decided: Decided,
  overrides: readonly MethodOverride[],
): { reason: Reason; message: string } | undefined {
  if (overrides.length === 0) return undefined;
  const asked = overrides.map((o) => `${o.method === UNREADABLE ? 'any method' : o.method} (${o.source})`).join(', ');
  if (decided.reason === 'granted') {
    if (overrides.every((o) => o.method === 'GET' || o.method === 'HEAD')) return undefined;
    return { reason: 'method_override', message: `${facts.method} ${facts.host} asks for ${asked}; a grant allows only GET and HEAD` };
  }
  if (decided.reason !== 'no_rule' && decided.reason !== 'denied_by_rule') return undefined;
  const plain = judge(policy, { ...facts, methodOverrides: undefined });
  if (plain.effect !== 'allow' || plain.wouldDeny || !plain.request) return undefined;
  const what = `${describeRequest(plain.request)} asks for ${asked}`;
  if (decided.rule) {
    const why = decided.ruleReason ? ` (${decided.ruleReason})` : '';
    return { reason: 'method_override', message: `${what}: denied by rule ${decided.rule}${why}` };
  }
  const limit = plain.rule?.methods ? `, which allows only ${[...plain.rule.methods].join(', ')}` : '';
  return { reason: 'method_override', message: `${what}: rule ${plain.rule?.name ?? '?'} does not vouch for it${limit}` };
}
