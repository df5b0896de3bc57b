// The admission pipeline: the one place that decides whether leash dials anything. Plain HTTP requests, CONNECT
// tunnels, requests inside intercepted tunnels and WebSocket upgrades all come here, with what the edge gathered
// (who is asking, what they ask for, what the tunnel already fixed) and leave with one Admission: allowed, to this
// checked address, or refused, for this reason. The steps, in the order that keeps the promises:
//
//   identify  an unidentified client under requireAgent never reaches the policy (or is fixed by the tunnel)
//   lockdown  an agent an operator locked down is refused whatever the policy says (lockdown/step.ts)
//   decide    the pure engine; a throw is a deny with reason internal_error (verdict.ts)
//   secrets   a secret's placeholder where it does not belong is refused whatever the rules say; where it
//             belongs, the secrets whose values go in are named (secret-misuse.ts)
//   override  a method asked for through X-HTTP-Method-Override & co. is held to the rules (method-override.ts)
//   grant     where no rule speaks about the host, a grant from a trusted response may allow a read (grants.ts)
//   scope     where no rule allows and no deny rule matches, the agent's active sandbox scope may open the host
//             for a while (scopes/step.ts); else, for agents under settings.approvals, the request becomes a
//   approval  pending approval a human answers (approvals/step.ts)
//   upgrade   a WebSocket needs an allowed GET under a rule with websocket: true
//   report    report mode (verdict.ts `reported`): a policy refusal becomes an allow that records wouldDeny
//   resolve   only now is the name looked up, every address checked by the guard, and one address kept to dial
//   limit     the rule's rateLimit (requests) or connections (tunnels), per agent (rate-limit.ts): last, so a
//             refused request never spends a token
//
// Refusals come in two kinds. A policy refusal (deny, override, grant store trouble, rate limit) is what report
// mode reports instead of enforcing. A hard refusal (identity, a broken upgrade, the address guard, DNS, an
// internal error, a lockdown) is enforced in every mode: report mode observes the policy, it never switches off the guards.
//
// The pipeline does no I/O of its own: stores, the clock and the resolver come in the context, so its table tests
// (test/proxy/admission.test.ts) run without sockets. It never touches an Exchange: the edge copies `notes` into
// the audit record, so the exchange stays the only writer of its record.

import type { KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AuditRecord } from '../audit/record.js';
import type { GrantStore } from '../grants/store.js';
import type { RateLimitStore } from '../limits/store.js';
import type { NormalizedRequest } from '../policy/evaluate.js';
import type { HostKind } from '../policy/host.js';
import { isSecretHost } from '../secrets/spec.js';
import { lockdownStep, type LockdownView } from '../lockdown/step.js';
import { identify, type AgentTokens, type IdentityFacts, type IdentityMethod } from '../policy/identity.js';
import type { CompiledPolicy } from '../policy/policy.js';
import type { CompiledRule } from '../policy/rule.js';
import type { SecretsRuntime } from '../secrets/runtime.js';
import type { Injection } from '../secrets/inject.js';
import type { ApprovalStore } from '../approvals/store.js';
import { approvalFor } from '../approvals/step.js';
import { scopeFor, type ScopeOpening } from '../scopes/step.js';
import type { ScopeStore } from '../scopes/store.js';
import { grantFor } from './grants.js';
import { checkSecrets } from './secret-misuse.js';
import { overrideRefusal, type MethodOverride } from './method-override.js';
import { overRateLimit } from './rate-limit.js';
import type { Reason } from './reasons.js';
import type { Resolution } from './resolve.js';
import { decideSafely, reported, reportMode, type Verdict } from './verdict.js';

/** What admission needs besides the request: the policy in force, the stores, the clock and the resolver. */
export interface AdmissionContext {
  readonly policy: CompiledPolicy;
  /** The agents' tokens, read once for this policy revision (policy-runtime.ts). */
  readonly tokens: AgentTokens;
  readonly grants: GrantStore;
  readonly rateLimits: RateLimitStore;
  readonly now: () => number;
  /** Resolves an allowed name and checks every address (resolve.ts); injected so tests need no DNS. */
  readonly resolve: (host: string, kind: HostKind) => Promise<Resolution>;
  /**
   * `secrets:` of this revision (values, placeholders), and leash's CA key placeholders derive from (loaded once
   * interception is set up; absent before, where no placeholder can be used anyway). Absent: no secrets step.
   */
  readonly secrets?: { readonly runtime: SecretsRuntime; readonly caKey: KeyObject | undefined };
  /** The lockdown in force (leash lockdown, SIGUSR1); absent: nobody is locked down. */
  readonly lockdown?: LockdownView;
  /** Sandbox-scope accesses and approvals (scopes/, approvals/). */
  readonly scopes: ScopeStore;
  readonly approvals: ApprovalStore;
  /** Writes an audit record of its own: a scope opened, an approval asked for. */
  readonly record: (record: AuditRecord) => void;
  /** A fresh approval id (approvals/id.ts), and the wait of a request held for an approval (approvals/step.ts). */
  readonly newId: () => string;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Who asks: the facts to identify the client by, or the identity an intercepted tunnel already established. */
export type Applicant = IdentityFacts | { readonly agent: string; readonly identity: IdentityMethod };

/** How the request travels, which decides what a grant may allow and whether a tunnel can be seen into. */
export type Channel = 'http' | 'tunnel' | 'intercepted';

export interface Application {
  readonly applicant: Applicant;
  readonly channel: Channel;
  readonly method: string;
  readonly host: string;
  readonly port: number;
  /** Path and query as forwarded (absent for CONNECT). */
  readonly path?: string;
  /** Methods the request asks for besides its own (method-override.ts). */
  readonly overrides?: readonly MethodOverride[];
  /** The request's headers: a grant never allows a request with a body. */
  readonly headers?: IncomingHttpHeaders;
  /** A protocol upgrade the request asks for (intercepted requests only). */
  readonly upgrade?: string;
  /** The address checked when the tunnel opened: requests inside it go there and are not resolved again. */
  readonly address?: string;
  /** The id of the request's audit record: it names the request that opened a scope access or asked for approval. */
  readonly requestId?: string;
  /** X-Leash-Scope as sent on the request (or on the CONNECT of the tunnel it travels in). */
  readonly scope?: string;
  /** Aborts when the client goes away: a request held for an approval is released. */
  readonly signal?: AbortSignal;
  /**
   * Where a secret's placeholder may hide: the raw headers (names and values) and the target as received (path
   * and query, an absolute URL, a CONNECT's host:port). Bodies are watched as they stream (secret-misuse.ts).
   */
  readonly carried?: { readonly rawHeaders: readonly string[]; readonly target: string };
}

/** What the audit record says about the decision; the edge copies it into the exchange's record. */
export type AdmissionNotes = Partial<
  Pick<
    AuditRecord,
    | 'agent'
    | 'identity'
    | 'host'
    | 'port'
    | 'effect'
    | 'reason'
    | 'rule'
    | 'message'
    | 'wouldDeny'
    | 'grant'
    | 'resolved'
    | 'scope'
    | 'approval'
    | 'secret'
  >
> & {
  /** The deciding rule's `reason:` text, for the reason phrase of a refusal. */
  ruleReason?: string | null;
};

export type Admission =
  | {
      readonly ok: true;
      readonly notes: AdmissionNotes;
      readonly request: NormalizedRequest;
      readonly rule: CompiledRule | null;
      /** The checked address to dial, and its family when leash resolved it. */
      readonly address: string;
      readonly family?: 4 | 6;
      /** Open this tunnel with TLS interception. */
      readonly intercept: boolean;
      /** Secrets whose values replace the agent's placeholders on the way upstream (inject.ts). */
      readonly injections: readonly Injection[];
    }
  | {
      readonly ok: false;
      readonly notes: AdmissionNotes;
      readonly reason: Reason;
      readonly message: string;
      readonly retryAfterSeconds?: number;
    };

interface Refusal {
  readonly reason: Reason;
  readonly message: string;
  readonly retryAfterSeconds?: number;
}

export async function admit(ctx: AdmissionContext, application: Application): Promise<Admission> {
  const { policy } = ctx;
  const notes: AdmissionNotes = {};
  const refused = (refusal: Refusal): Admission => ({
    ok: false,
    notes: { ...notes, effect: 'deny', reason: refusal.reason, message: refusal.message, wouldDeny: undefined },
    ...refusal,
  });

  // identify
  const identity =
    'agent' in application.applicant
      ? { ok: true as const, agent: application.applicant.agent, method: application.applicant.identity }
      : identify(policy, application.applicant, ctx.tokens);
  if (!identity.ok) return refused(identity);
  Object.assign(notes, { agent: identity.agent, identity: identity.method });

  // lockdown: hard, in every mode; before the policy, so nothing the policy says can let a locked agent through.
  const locked = lockdownStep(ctx.lockdown, identity.agent);
  if (locked) {
    // The policy never named the destination: record what was asked for.
    Object.assign(notes, { host: application.host.toLowerCase(), port: application.port });
    return refused(locked);
  }

  // decide
  const facts = {
    method: application.method,
    host: application.host,
    port: application.port,
    agent: identity.agent,
    ...(application.path !== undefined ? { path: application.path } : {}),
    ...(application.overrides?.length ? { methodOverrides: application.overrides.map((o) => o.method) } : {}),
  };
  let verdict = decideSafely(policy, facts);
  if (verdict.reason === 'internal_error') return refused(note(notes, verdict));

  // secrets: a placeholder where it does not belong is refused whatever the rules say, before a grant, a scope or an
  // approval is asked about it (nothing is opened or stored for it). No rule decided it, so none is named. A secret
  // whose value could not be read is refused in every mode (fail closed); misuse is reported in report mode.
  let injections: readonly Injection[] = [];
  let misuse: Refusal | undefined;
  if (ctx.secrets && application.carried && verdict.request) {
    const transport = application.channel === 'intercepted' ? 'https' : application.channel;
    const secrets = checkSecrets(ctx.secrets.runtime, ctx.secrets.caKey, {
      agent: identity.agent,
      host: verdict.request.host,
      transport,
      ...application.carried,
    });
    if (!secrets.ok) {
      note(notes, verdict);
      if (secrets.secret) notes.secret = secrets.secret;
      const refusal = { reason: secrets.reason, message: secrets.message };
      if (!reported(policy, secrets.reason)) {
        Object.assign(notes, { rule: null, ruleReason: null });
        return refused(refusal);
      }
      misuse = refusal;
    } else {
      injections = secrets.injections;
    }
  }

  // grant: the grant step looks at the raw decision, so a report-mode deny can still be granted (and then is no
  // deny at all). A grant is for reads: it never opens an upgrade.
  let policyRefusal: Refusal | undefined;
  const scheme = application.upgrade === undefined ? grantScheme(policy, application) : undefined;
  const granted = await grantFor(
    ctx,
    verdict,
    scheme,
    application.path,
    application.channel === 'tunnel' ? undefined : application.headers,
  );
  if (granted.kind === 'granted') {
    verdict = granted.verdict;
    notes.grant = granted.grant;
  } else if (granted.kind === 'unknown') {
    verdict = granted.verdict;
  } else if (granted.message) {
    verdict = { ...verdict, message: granted.message };
  }
  // scope, approval: only for what no rule allows and no deny rule matches (policy/unknown-host.ts). The scope step
  // also runs where a rule decides, only to put the scope the request asked for on its record (it changes nothing).
  let opening: ScopeOpening | undefined;
  if (granted.kind === 'none') {
    const ask = { requestId: application.requestId ?? '-', identity: identity.method };
    const scoped = await scopeFor(ctx, verdict, { ...ask, header: application.scope });
    if (scoped.scope) notes.scope = scoped.scope;
    if (scoped.kind !== 'none') {
      verdict = scoped.verdict;
      if (scoped.kind === 'allowed') opening = scoped.opening;
    } else if (verdict.effect === 'deny') {
      if (scoped.message) verdict = { ...verdict, message: scoped.message };
      const asked = await approvalFor(ctx, verdict, { ...ask, signal: application.signal });
      if (asked.kind !== 'none') {
        verdict = asked.verdict;
        if (asked.approval) notes.approval = asked.approval;
      }
    }
  }
  // An access this request opened goes on record once the request is admitted, and is undone if it is not (a name
  // that resolves to a private address is never a host the scope opened).
  const refusedAfterScope = async (refusal: Refusal): Promise<Admission> => {
    await opening?.undo();
    return refused(refusal);
  };
  note(notes, verdict);
  if (granted.kind === 'granted') notes.rule = 'grant';

  // override: refused for the method it asked for, rather than for the request line's.
  const override = application.overrides?.length
    ? overrideRefusal(
        policy,
        facts,
        { reason: verdict.reason, rule: notes.rule ?? null, ruleReason: notes.ruleReason ?? null },
        application.overrides,
      )
    : undefined;
  if (override) policyRefusal = override;
  else if (verdict.effect === 'deny') policyRefusal = verdict;
  if (!verdict.request)
    return refused(policyRefusal ?? { reason: 'internal_error', message: 'the request was not normalised' });

  // secrets (reported): misuse outranks what the rules said.
  if (misuse) policyRefusal = misuse;

  // upgrade: hard, in every mode; no allowed GET under a websocket rule, no upgrade.
  if (application.upgrade !== undefined) {
    const refusal = upgradeRefusal(application, verdict);
    // Enforced, a denied upgrade says why the GET was denied; reported, it is still no upgrade.
    if (refusal)
      return refusedAfterScope(policyRefusal && !reported(policy, policyRefusal.reason) ? policyRefusal : refusal);
  }

  // report
  if (policyRefusal) {
    if (!reported(policy, policyRefusal.reason)) return refusedAfterScope(policyRefusal);
    verdict = reportMode(policy, verdict);
    Object.assign(notes, {
      effect: 'allow',
      wouldDeny: true,
      reason: policyRefusal.reason,
      message: policyRefusal.message,
    });
  }
  const request = verdict.request;
  if (!request) return refused({ reason: 'internal_error', message: 'the request was not normalised' });

  // resolve
  let address = application.address;
  let family: 4 | 6 | undefined;
  if (address === undefined) {
    let resolution: Resolution;
    try {
      resolution = await ctx.resolve(request.host, request.hostKind);
    } catch (err) {
      return refusedAfterScope({
        reason: 'internal_error',
        message: `internal error while resolving: ${(err as Error).message}`,
      });
    }
    if (!resolution.ok) return refusedAfterScope(resolution);
    address = resolution.address;
    family = resolution.family;
  }

  // limit: last, so only what is otherwise admitted takes a token; a name the guard refuses spends none of the
  // budget its rule shares with good names. What was already refused (and reported) takes none either.
  if (!policyRefusal) {
    const limited = await overRateLimit(ctx, verdict);
    if (limited && !reported(policy, limited.reason)) return refusedAfterScope(limited);
    if (limited)
      Object.assign(notes, { effect: 'allow', wouldDeny: true, reason: limited.reason, message: limited.message });
  }
  // lockdown, again: a lockdown switched on while this request waited (a slow name, a held approval, the store) is
  // not one it slips past.
  const lockedSince = lockdownStep(ctx.lockdown, identity.agent);
  if (lockedSince) return refusedAfterScope(lockedSince);
  notes.resolved = address;
  if (opening) ctx.record(opening.record);
  return {
    ok: true,
    notes,
    request,
    rule: verdict.rule,
    address,
    ...(family ? { family } : {}),
    // A tunnel to a secret's host is always opened intercepted, whatever let it through (a rule, report mode, a
    // grant, a scope, an approval): spliced, the placeholder would reach the host and the value never would.
    intercept:
      verdict.intercept ||
      (request.method === 'CONNECT' &&
        policy.settings.tlsPorts.has(request.port) &&
        isSecretHost(policy, request.host)),
    injections,
  };
}

/** Copies what a verdict says into the notes; returns the verdict as a refusal, for a deny. */
function note(notes: AdmissionNotes, verdict: Verdict): Refusal {
  Object.assign(notes, {
    effect: verdict.effect,
    reason: verdict.reason,
    rule: verdict.rule?.name ?? null,
    ruleReason: verdict.rule?.reason ?? null,
    message: verdict.message,
  });
  if (verdict.request) Object.assign(notes, { host: verdict.request.host, port: verdict.request.port });
  return verdict;
}

/**
 * What a grant may be used for on this channel: plain HTTP reads, intercepted HTTPS reads, and tunnels to TLS
 * ports (which a grant always intercepts). A tunnel to any other port could carry any method: never granted.
 */
function grantScheme(policy: CompiledPolicy, application: Application): 'http' | 'https' | undefined {
  switch (application.channel) {
    case 'http':
      return 'http';
    case 'intercepted':
      return 'https';
    case 'tunnel':
      return policy.settings.tlsPorts.has(application.port) ? 'https' : undefined;
  }
}

function upgradeRefusal(application: Application, verdict: Verdict): Refusal | undefined {
  const upgrade = application.upgrade ?? '';
  if (application.method !== 'GET' || upgrade.toLowerCase() !== 'websocket' || !verdict.rule?.websocket) {
    return {
      reason: 'upgrade_denied',
      message: `protocol upgrade to "${upgrade.slice(0, 40)}" is allowed only for GETs allowed by a rule with websocket: true`,
    };
  }
  // An upload budget cannot be held on a spliced stream yet: refuse rather than let it go unenforced.
  if (verdict.rule.bandwidth)
    return {
      reason: 'upgrade_denied',
      message: `rule ${verdict.rule.name} has a bandwidth budget, which leash cannot enforce on a WebSocket stream`,
    };
  return undefined;
}
