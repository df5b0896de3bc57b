// The misuse check: a placeholder on its way anywhere but its secret's hosts is an exfiltration attempt. Given the
// placeholders found in a request (scan.ts), where the request goes and who sends it, either every placeholder is
// the agent's own, for a secret of this host, on an intercepted TLS request (then they may be replaced by their
// values, inject.ts), or the request is refused with reason secret_misuse, naming the secret (never its value) and
// the host. Decided, in order, for each placeholder:
//   1. it names no secret of this policy (forged, or of an older policy): misuse;
//   2. the host is not one of its secret's hosts: misuse (the attack this exists for);
//   3. the request is plain HTTP or a CONNECT: misuse; leash never sends a secret in clear, and a CONNECT's own
//      headers go nowhere leash could inject into;
//   4. it is not this agent's placeholder (another agent's, or a forged MAC): misuse; a placeholder is as good as
//      the secret on its own hosts, so one agent must not use another's. Checked last: only an intercepted request
//      needs the key (from leash's CA), which is loaded by then.
// PURE: no I/O, no clock, no state.

import type { ParsedPlaceholder } from './placeholder.js';
import type { Found } from './scan.js';
import { belongsTo, type CompiledSecret } from './spec.js';

export interface SecretFacts {
  readonly agent: string;
  /** Normalised, as decided on. */
  readonly host: string;
  /** https: inside an intercepted tunnel; http: plain HTTP; tunnel: the CONNECT request itself. */
  readonly transport: 'https' | 'http' | 'tunnel';
  readonly found: readonly Found[];
}

export interface SecretsView {
  readonly secrets: ReadonlyMap<string, CompiledSecret>;
  /** Is this the agent's own placeholder of the secret it names (its MAC checks out)? */
  isOwn(agent: string, placeholder: ParsedPlaceholder): boolean;
}

export type SecretJudgement =
  | { readonly ok: true; readonly secrets: readonly CompiledSecret[] }
  | { readonly ok: false; readonly secret: string | null; readonly message: string };

export function judgeSecrets(view: SecretsView, facts: SecretFacts): SecretJudgement {
  const usable = new Map<string, CompiledSecret>();
  for (const { placeholder, where } of facts.found) {
    const secret = view.secrets.get(placeholder.secret);
    const refuse = (why: string): SecretJudgement => ({
      ok: false,
      secret: secret?.name ?? null,
      message: `${why}; refused as an attempt to send a credential where it does not belong`,
    });
    if (!secret)
      return refuse(`a placeholder (in ${where}) names no secret of this policy; it was on its way to ${facts.host}`);
    if (!belongsTo(secret, facts.host)) {
      return refuse(
        `the placeholder of secret ${secret.name} (in ${where}) was on its way to ${facts.host}, which is not one of its hosts (${hostList(secret)})`,
      );
    }
    if (facts.transport === 'http') {
      return refuse(
        `the placeholder of secret ${secret.name} (in ${where}) was on its way to ${facts.host} over plain HTTP, and leash sends secrets only inside TLS it intercepts (use https://)`,
      );
    }
    if (facts.transport === 'tunnel') {
      return refuse(
        `the placeholder of secret ${secret.name} (in ${where}) was sent with a CONNECT request, which goes no further than leash; send it in the requests inside the tunnel`,
      );
    }
    if (!view.isOwn(facts.agent, placeholder)) {
      return refuse(
        `a placeholder of secret ${secret.name} (in ${where}) that is not agent ${facts.agent}'s (another agent's, or forged) was on its way to ${facts.host}`,
      );
    }
    usable.set(secret.name, secret);
  }
  return { ok: true, secrets: [...usable.values()] };
}

function hostList(secret: CompiledSecret): string {
  return secret.hosts.map((h) => h.pattern.text).join(', ');
}
