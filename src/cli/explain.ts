// `leash explain [--policy PATH]... [--agent NAME] METHOD URL`: which rule decides a request and why, as one JSON
// object. An https:// URL is explained as the CONNECT tunnel leash actually sees, since without interception the
// method and path inside HTTPS are invisible to it.

import { LeashError, PolicyInvalidError } from '../errors.js';
import type { RequestFacts } from '../policy/evaluate.js';
import { explain } from '../policy/explain.js';
import { splitAuthority } from '../policy/host.js';
import { compilePolicy } from '../policy/load.js';
import { readPolicySources } from '../policy/read.js';
import type { CommandIo } from './io.js';
import { policyPaths } from './policy-paths.js';

export async function explainCommand(options: { policy?: string[]; agent?: string }, args: readonly string[], io: CommandIo): Promise<number> {
  if (args.length !== 2) throw new LeashError('LEASH_USAGE', 'usage: leash explain [--policy PATH]... [--agent NAME] METHOD URL   (or CONNECT host:port)');
  const [method, target] = args as [string, string];
  const { facts, seenAs } = requestFacts(method.toUpperCase(), target, options.agent);
  const result = compilePolicy(await readPolicySources(policyPaths(options.policy)));
  if (!result.policy) throw new PolicyInvalidError(result.issues);
  const { decision, trace, omitted } = explain(result.policy, facts);
  const rule = decision.rule;
  const request = decision.request;
  io.out(JSON.stringify({
    effect: decision.effect,
    rule: rule ? { name: rule.name, at: `${rule.location.file}:${rule.location.line}` } : null,
    reason: decision.reason,
    message: decision.message,
    host: request?.host ?? null,
    port: request?.port ?? facts.port,
    method: request?.method ?? facts.method,
    path: request?.path ?? null,
    agent: request?.agent ?? facts.agent ?? 'anonymous',
    ...(seenAs ? { seenAs } : {}),
    revision: decision.revision,
    trace,
    ...(omitted > 0 ? { omitted: `${omitted} rules whose host pattern cannot match are not listed` } : {}),
  }, null, 2));
  return 0;
}

function requestFacts(method: string, target: string, agent: string | undefined): { facts: RequestFacts; seenAs?: string } {
  if (method === 'CONNECT') {
    const authority = splitAuthority(target);
    if (!authority) throw new LeashError('LEASH_USAGE', `CONNECT needs host:port, got "${target}"`);
    return { facts: { method, host: authority.host, port: authority.port, agent } };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new LeashError('LEASH_USAGE', `"${target}" is not an absolute http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LeashError('LEASH_USAGE', `"${target}": only http:// and https:// URLs can be explained`);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const host = url.hostname;
  if (url.protocol === 'https:') {
    return {
      facts: { method: 'CONNECT', host, port, agent },
      seenAs: `CONNECT ${host}:${port}: HTTPS travels in a tunnel, so leash decides on host and port only`,
    };
  }
  return { facts: { method, host, port, path: `${url.pathname}${url.search}`, agent } };
}
