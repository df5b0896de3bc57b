// The admission step for secrets (README "Credentials the agent never holds"): after the decision, before grants,
// rate limits and the address guard. It looks for placeholders in what the request carries (headers, target, host)
// and either refuses the request, with reason secret_misuse naming the secret and the host (never a value), or
// says which secrets' values go into it on the way upstream (inject.ts, applied by the caller just before
// forwarding). Request bodies are scanned as they stream (body-scan.ts), since they arrive after admission.
// A policy without secrets costs nothing here: there is no placeholder to find.

import type { KeyObject } from 'node:crypto';
import type { Injection } from '../secrets/inject.js';
import { judgeSecrets } from '../secrets/judge.js';
import type { SecretsRuntime } from '../secrets/runtime.js';
import { findIn, findInHeaders, type Found } from '../secrets/scan.js';

export interface SecretCheckInput {
  readonly agent: string;
  /** The normalised host the request was decided for. */
  readonly host: string;
  /** https: a request inside an intercepted tunnel; http: plain HTTP; tunnel: a CONNECT. */
  readonly transport: 'https' | 'http' | 'tunnel';
  /** Node's rawHeaders: name, value, name, value, ... */
  readonly rawHeaders: readonly string[];
  /** The request target as received: path and query, an absolute URL, or a CONNECT's host:port. */
  readonly target: string;
}

export type SecretCheck =
  | { readonly ok: true; readonly injections: readonly Injection[] }
  | {
      readonly ok: false;
      readonly reason: 'secret_misuse' | 'secret_unavailable';
      readonly secret: string | null;
      readonly message: string;
    };

const NOTHING: SecretCheck = { ok: true, injections: [] };

/**
 * @param caKey leash's CA key, from which placeholders are derived; undefined where no interception has been set
 *   up (plain HTTP, CONNECT): no placeholder can be used there anyway.
 */
export function checkSecrets(
  secrets: SecretsRuntime,
  caKey: KeyObject | undefined,
  input: SecretCheckInput,
): SecretCheck {
  if (!secrets.any) return NOTHING;
  const found = [
    ...findInHeaders(input.rawHeaders),
    ...findIn(input.target, input.transport === 'tunnel' ? 'the CONNECT target' : 'the request target'),
  ];
  if (found.length === 0) return NOTHING;
  const judged = judgeSecrets(secrets.view(caKey), {
    agent: input.agent,
    host: input.host,
    transport: input.transport,
    found,
  });
  if (!judged.ok) return { ok: false, reason: 'secret_misuse', secret: judged.secret, message: judged.message };
  // judge.ts accepts a placeholder only when its MAC checks out, which needs the key.
  if (judged.secrets.length === 0 || !caKey) return NOTHING;
  const injections = secrets.injections(caKey, input.agent, judged);
  if (!injections.ok) {
    return {
      ok: false,
      reason: 'secret_unavailable',
      secret: injections.secret,
      message: `secret ${injections.secret} could not be read when this policy revision was loaded (leash said why on stderr); the request is refused rather than sent with a placeholder`,
    };
  }
  return { ok: true, injections: injections.injections };
}

/**
 * What a request body's placeholders mean (body-watch.ts): an objection (secret_misuse) or undefined. Undefined
 * as a whole when the policy has no secrets: the body is then not watched at all.
 */
export function bodyCheck(
  secrets: SecretsRuntime,
  caKey: KeyObject | undefined,
  input: Pick<SecretCheckInput, 'agent' | 'host' | 'transport'>,
): ((found: readonly Found[]) => { readonly secret: string | null; readonly message: string } | undefined) | undefined {
  if (!secrets.any) return undefined;
  return (found) => {
    const judged = judgeSecrets(secrets.view(caKey), { ...input, found });
    return judged.ok ? undefined : { secret: judged.secret, message: judged.message };
  };
}
