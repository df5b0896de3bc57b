// `leash explain [--policy PATH]... [--agent NAME] [--resolve] METHOD URL`: what `leash serve` would do with a
// request, and why, as one JSON object. An https:// URL is the CONNECT tunnel leash sees first; when that tunnel is
// intercepted, the request inside is decided on its own method and path, exactly as serve decides it. --resolve
// resolves the name as serve would and applies the address guard. Grants are not shown: they depend on responses
// seen at run time.

import { LeashError, PolicyInvalidError } from '../errors.js';
import { explain } from '../policy/explain.js';
import { compilePolicy } from '../policy/load.js';
import { readPolicySources } from '../policy/read.js';
import { asServed, parseRequestLine } from '../policy/request-line.js';
import { PolicyRuntime } from '../proxy/policy-runtime.js';
import { resolveTarget } from '../proxy/resolve.js';
import type { CommandIo } from './io.js';
import { policyPaths } from './policy-paths.js';

export interface ExplainOptions {
  policy?: string[];
  agent?: string;
  /** Resolve the name as leash serve would (pins, settings.dns.servers, the system) and apply the address guard. */
  resolve?: boolean;
}

export async function explainCommand(options: ExplainOptions, args: readonly string[], io: CommandIo): Promise<number> {
  if (args.length !== 2)
    throw new LeashError(
      'LEASH_USAGE',
      'usage: leash explain [--policy PATH]... [--agent NAME] [--resolve] METHOD URL   (or CONNECT host:port)',
    );
  const [method, target] = args as [string, string];
  const parsed = parseRequestLine(method, target, options.agent);
  if (!parsed.ok) throw new LeashError('LEASH_USAGE', parsed.message);
  const { facts, inner } = parsed.line;
  const result = compilePolicy(await readPolicySources(policyPaths(options.policy)));
  if (!result.policy) throw new PolicyInvalidError(result.issues);
  const policy = result.policy;
  const served = asServed(parsed.line, (f) => explain(policy, f));
  const tunnel = served.tunnel ?? served.result;
  const intercepted = served.intercepted;
  const { decision, trace, omitted } = served.result;
  const rule = decision.rule;
  const request = decision.request;
  const seenAs =
    inner === undefined
      ? undefined
      : intercepted
        ? `CONNECT ${tunnel.decision.request?.host}:${tunnel.decision.request?.port} is intercepted (rule ${tunnel.decision.rule?.name}), so this ${inner.method} is decided inside the tunnel on its own method and path`
        : `CONNECT ${facts.host}:${facts.port}: HTTPS travels in a tunnel, so leash decides on host and port only`;
  let effect = decision.effect;
  let reason: string = decision.reason;
  let message = decision.message;
  let resolved: { address: string; source: string } | undefined;
  if (options.resolve && request && effect === 'allow') {
    const resolution = await resolveTarget(
      request.host,
      request.hostKind,
      policy.settings,
      new PolicyRuntime(policy, {}).resolver,
    );
    if (resolution.ok) resolved = { address: resolution.address, source: resolution.source };
    else
      ({ reason, message, effect } = {
        reason: resolution.reason,
        message: resolution.message,
        effect: 'deny' as const,
      });
  }
  io.out(
    JSON.stringify(
      {
        effect,
        rule: rule ? { name: rule.name, at: `${rule.location.file}:${rule.location.line}` } : null,
        reason,
        message,
        host: request?.host ?? null,
        port: request?.port ?? facts.port,
        method: request?.method ?? facts.method,
        path: request?.path ?? null,
        agent: request?.agent ?? facts.agent ?? 'anonymous',
        ...(seenAs ? { seenAs } : {}),
        ...(intercepted
          ? {
              tunnel: {
                effect: tunnel.decision.effect,
                reason: tunnel.decision.reason,
                rule: tunnel.decision.rule?.name ?? null,
                message: tunnel.decision.message,
              },
            }
          : {}),
        ...(options.resolve ? { resolved: resolved ?? null } : {}),
        revision: decision.revision,
        trace,
        ...(omitted > 0 ? { omitted: `${omitted} rules whose host pattern cannot match are not listed` } : {}),
      },
      null,
      2,
    ),
  );
  return 0;
}
