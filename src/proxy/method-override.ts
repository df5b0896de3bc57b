// Method overrides at the proxy: the ways a request asks the origin to apply another method than the one on its
// request line. The headers X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override, and a `_method` query
// parameter or form field (urlencoded or multipart; a JSON key for Laravel), are honoured by Rails, Laravel,
// Symfony, Express's method-override and many HTTP APIs. The attack: under a rule that allows GET and POST, `POST /v1/items/1` with
// `X-HTTP-Method-Override: DELETE` deletes. Leash gathers every override into the request facts and the pure engine
// holds each one to the rule's `methods` (policy/evaluate.ts, `mismatch`).
//
// A body is read for `_method` before the decision only when that can matter: a urlencoded, multipart or JSON
// content type, and a host one of whose rules limits methods. At most MAX_FORM_BYTES are read; a longer body, or
// one leash cannot parse as its type, counts as an override leash could not read (`*`, which could be any method),
// so a methods-limited rule refuses it. The bytes read are forwarded first and unchanged: leash never edits a body.

import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { Busboy } from '@fastify/busboy';
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
  const kinds = bodyKinds(policy, req, host);
  if (kinds.size === 0) return { overrides };
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > MAX_FORM_BYTES && kinds.has('form')) return { overrides: [...overrides, unreadableForm()] };
  beforeBodyRead();
  const { prefix, complete } = await readPrefix(req, MAX_FORM_BYTES);
  if (!complete && kinds.has('form')) return { overrides: [...overrides, unreadableForm()], bodyPrefix: prefix };
  const found = [...overrides];
  for (const kind of kinds) found.push(...(await bodyOverrides(kind, prefix, complete, req)));
  return { overrides: found, bodyPrefix: prefix };
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
  return unreadableBody(`a body over ${MAX_FORM_BYTES / 1024} KiB, too long for leash to check for _method`);
}

/** Bodies frameworks read `_method` from: forms (Rack, PHP), multipart forms (Rack, PHP) and JSON (Laravel). */
type BodyKind = 'form' | 'multipart' | 'json';

/**
 * The kinds of body that some rule for this host could care about. Every Content-Type header counts (Node keeps
 * only the first; an origin may read another), and any rule for the host with `methods`, whichever decides.
 */
function bodyKinds(policy: CompiledPolicy, req: IncomingMessage, rawHost: string): ReadonlySet<BodyKind> {
  const kinds = new Set<BodyKind>();
  if (req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] ?? '0') === '0') return kinds;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if ((req.rawHeaders[i] ?? '').toLowerCase() !== 'content-type') continue;
    const media = (req.rawHeaders[i + 1] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (media === 'application/x-www-form-urlencoded') kinds.add('form');
    else if (media === 'multipart/form-data') kinds.add('multipart');
    else if (media === 'application/json' || /^application\/[^/]+\+json$/.test(media)) kinds.add('json');
  }
  if (kinds.size === 0) return kinds;
  const host = normalizeHost(rawHost);
  if (
    !host.ok ||
    !candidateRules(policy.index, policy.rules, host.host, host.kind).some((i) => policy.rules[i]?.methods != null)
  )
    kinds.clear();
  return kinds;
}

/**
 * The `_method` fields of a body. A form must be read whole (a longer one is refused before this). Multipart and
 * JSON bodies are often large (uploads, prompts with images) and are checked in the part leash read: a field or
 * key past MAX_FORM_BYTES is not seen (README, Limitations).
 */
async function bodyOverrides(
  kind: BodyKind,
  body: Buffer,
  complete: boolean,
  req: IncomingMessage,
): Promise<MethodOverride[]> {
  switch (kind) {
    case 'form':
      return fieldOverrides(body.toString('utf8'), 'the _method form field');
    case 'json':
      return complete ? jsonOverrides(body) : jsonKeyOverrides(body.toString('utf8'));
    case 'multipart':
      return multipartOverrides(body, complete, req);
  }
}

/** A top-level `_method` key of a JSON object (Laravel reads JSON input as request parameters). */
function jsonOverrides(body: Buffer): MethodOverride[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    // The framework cannot parse it either: it carries no parameters, so no override.
    return [];
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return [];
  const found: MethodOverride[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (phpName(name) !== '_method') continue;
    // A value that is not a string could still be cast to one by the framework: count it as any method.
    if (typeof value !== 'string') found.push(unreadableBody('a _method JSON key whose value is not a string'));
    else if (value.trim() !== '') found.push({ method: methodOf(value), source: 'the _method JSON key' });
  }
  return found;
}

/** The start of a JSON body too long to parse here: any `_method` key in it counts, whatever its depth. */
function jsonKeyOverrides(text: string): MethodOverride[] {
  const found: MethodOverride[] = [];
  // JSON string escapes (\u005f for _) decoded first, so an escaped key is found too.
  const decoded = text.replace(/\\u([0-9a-fA-F]{4})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  for (const m of decoded.matchAll(/"([^"\\]{0,40})"\s*:\s*("([^"\\]{0,40})"|[^\s,}\]]+)/g)) {
    if (phpName(m[1] ?? '') !== '_method') continue;
    found.push(
      m[3] !== undefined
        ? { method: methodOf(m[3]), source: 'the _method JSON key' }
        : unreadableBody('a _method JSON key whose value is not a string'),
    );
  }
  return found.filter((o) => o.method !== '');
}

/** `_method` fields of a multipart form, parsed by busboy from the bytes leash read; a broken whole body is unreadable. */
function multipartOverrides(body: Buffer, complete: boolean, req: IncomingMessage): Promise<MethodOverride[]> {
  return new Promise((resolve) => {
    const found: MethodOverride[] = [];
    let parser: InstanceType<typeof Busboy>;
    try {
      parser = new Busboy({
        headers: { 'content-type': req.headers['content-type'] ?? '' },
        limits: { fieldSize: MAX_FORM_BYTES },
      });
    } catch {
      // No boundary: the framework cannot read a field from it either.
      return resolve([]);
    }
    parser.on('field', (name: string, value: string) => {
      if (phpName(name) === '_method' && value.trim() !== '')
        found.push({ method: methodOf(value), source: 'the _method multipart field' });
    });
    parser.on('file', (_name: string, stream: NodeJS.ReadableStream) => stream.resume());
    // A whole body busboy cannot parse is one the origin may still read differently: fail closed. A cut-off one
    // ends mid-part by construction: what was parsed counts.
    parser.on('error', () =>
      resolve(complete ? [...found, unreadableBody('a multipart body leash could not parse')] : found),
    );
    parser.on('finish', () => resolve(found));
    parser.end(body);
  });
}

function unreadableBody(source: string): MethodOverride {
  return { method: UNREADABLE, source };
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
    return {
      reason: 'method_override',
      message: `${facts.method} ${facts.host} asks for ${asked}; a grant allows only GET and HEAD`,
    };
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
  return {
    reason: 'method_override',
    message: `${what}: rule ${plain.rule?.name ?? '?'} does not vouch for it${limit}`,
  };
}
