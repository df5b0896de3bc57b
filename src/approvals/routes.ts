// The control API's approval routes (`leash approvals list | allow ID [--once | --for 1h | --always] | deny ID`).
// Every answer is audited (`event: approval`, approval_decided, naming the caller). `--always` first writes the rule
// (approved-file.ts: only a file the whole policy loads with) and only then records the answer and reloads, so a
// refused write leaves the approval pending and says why. The store failing is a 503 that changed nothing.

import { randomUUID } from 'node:crypto';
import { newRecord, type AuditRecord } from '../audit/record.js';
import { controlError, ok, type ControlRequest, type ControlResponse, type ControlRoute } from '../control/api.js';
import { parseDuration } from '../policy/duration.js';
import type { CompiledPolicy } from '../policy/policy.js';
import { APPROVAL_DEFAULTS, SCOPE_TTL_MAX_MS } from '../policy/scopes.js';
import { guarded } from '../scopes/routes.js';
import { writeApprovedRule } from './approved-file.js';
import { auditFields } from './step.js';
import type { Approval, ApprovalDecision, ApprovalStore } from './store.js';

export interface ApprovalRoutesDeps {
  readonly approvals: ApprovalStore;
  readonly policy: () => CompiledPolicy;
  readonly now: () => number;
  readonly record: (record: AuditRecord) => void;
  /** The policy paths leash serves: --always writes approved.yaml into the first directory among them. */
  readonly policyPaths: readonly string[];
  /** Reloads the policy now (the watcher's reload) and resolves when the outcome is known. */
  readonly reload: () => Promise<void>;
}

export function approvalJson(a: Approval): Record<string, unknown> {
  return {
    ...a,
    createdAt: new Date(a.createdAt).toISOString(),
    expiresAt: new Date(a.expiresAt).toISOString(),
    decidedAt: a.decidedAt === null ? null : new Date(a.decidedAt).toISOString(),
  };
}

export function approvalRoutes(deps: ApprovalRoutesDeps): ControlRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/approvals',
      mutating: false,
      summary: 'approvals in force: pending, allowed or denied, with the request that asked and how many did',
      handle: () => guarded(async () => ok({ approvals: (await deps.approvals.list(deps.now())).map(approvalJson) })),
    },
    {
      method: 'POST',
      path: '/v1/approvals/:id/allow',
      mutating: true,
      summary:
        'allow: { grant: "once" } (the next request), { grant: "for", for: "1h" }, or { grant: "always" } (a rule in approved.yaml, reloaded)',
      handle: (req) => guarded(() => allow(deps, req)),
    },
    {
      method: 'POST',
      path: '/v1/approvals/:id/deny',
      mutating: true,
      summary: 'deny: its requests are refused at once (approval_denied) until it expires',
      handle: (req) => guarded(() => answer(deps, req, { grant: 'deny', by: req.caller })),
    },
  ];
}

async function allow(deps: ApprovalRoutesDeps, req: ControlRequest): Promise<ControlResponse> {
  const body = (req.body ?? { grant: 'once' }) as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body))
    return controlError('bad_request', 'the body must be a JSON object');
  const grant = body.grant ?? 'once';
  if (grant === 'once' || grant === 'always') {
    if (body.for !== undefined) return controlError('bad_request', `"for" goes only with grant "for"`);
    if (grant === 'always') return always(deps, req);
    return answer(deps, req, { grant, by: req.caller });
  }
  if (grant !== 'for') return controlError('bad_request', 'grant must be once, for or always');
  const forMs = typeof body.for === 'string' ? parseDuration(body.for) : undefined;
  if (forMs === undefined || forMs < 1000 || forMs > SCOPE_TTL_MAX_MS)
    return controlError('bad_request', 'for needs a duration from 1s to 720h, like 30m or 1h');
  return answer(deps, req, { grant: 'for', forMs, by: req.caller });
}

async function always(deps: ApprovalRoutesDeps, req: ControlRequest): Promise<ControlResponse> {
  const now = deps.now();
  const approval = await deps.approvals.get(req.params.id ?? '', now);
  if (!approval) return notFound(req);
  const written = await writeApprovedRule(deps.policyPaths, approval, req.caller, new Date(now));
  if (!written.ok) return controlError('bad_request', written.message);
  const response = await answer(
    deps,
    req,
    { grant: 'always', by: req.caller },
    { file: written.file, rule: written.rule },
  );
  await deps.reload();
  const inForce = deps.policy().rules.some((r) => r.name === written.rule);
  return ok({ ...(response.body as object), file: written.file, rule: written.rule, reloaded: inForce });
}

async function answer(
  deps: ApprovalRoutesDeps,
  req: ControlRequest,
  decision: ApprovalDecision,
  written?: { file: string; rule: string },
): Promise<ControlResponse> {
  const policy = deps.policy();
  const expireMs = policy.approvals?.expireMs ?? (parseDuration(APPROVAL_DEFAULTS.expire) as number);
  const decided = await deps.approvals.decide(req.params.id ?? '', decision, expireMs, deps.now());
  if (!decided) return notFound(req);
  const how =
    decision.grant === 'deny'
      ? 'denied'
      : decision.grant === 'for'
        ? `allowed until ${new Date(decided.expiresAt).toISOString()}`
        : decision.grant === 'once'
          ? 'allowed once'
          : `allowed always (rule ${written?.rule} in ${written?.file})`;
  deps.record(
    newRecord(randomUUID(), 'approval', policy.revision, {
      agent: decided.agent,
      host: decided.host,
      port: decided.port,
      effect: decision.grant === 'deny' ? 'deny' : 'allow',
      reason: 'approval_decided',
      message: `${req.caller} ${how} approval ${decided.id}: agent ${decided.agent} to ${decided.host}:${decided.port} (asked by request ${decided.first.requestId}, ${decided.requests} request${decided.requests === 1 ? '' : 's'})`,
      approval: { ...auditFields(decided), by: req.caller, ...(written ?? {}) },
    }),
  );
  return ok({ approval: approvalJson(decided) });
}

function notFound(req: ControlRequest): ControlResponse {
  return controlError(
    'not_found',
    `no approval ${String(req.params.id).slice(0, 40)} in force (it expired, was used, or never existed): leash approvals list`,
  );
}
