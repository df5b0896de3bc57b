// What a policy revision needs to handle secrets at run time: the values (read once, values.ts), and the
// placeholders, derived from leash's CA key when first needed. Built with the revision's runtime
// (proxy/policy-runtime.ts) and dropped with it; nothing here is in module scope.

import type { KeyObject } from 'node:crypto';
import type { CompiledPolicy } from '../policy/policy.js';
import type { Injection } from './inject.js';
import type { SecretJudgement, SecretsView } from './judge.js';
import { isPlaceholderOf, placeholderFor, placeholderKey } from './placeholder.js';
import { readSecretValues } from './values.js';

export class SecretsRuntime {
  readonly values: ReadonlyMap<string, string>;
  readonly problems: readonly string[];
  // One HKDF per CA key (there is one per process; a WeakMap so a test's many CAs do not pile up).
  readonly #keys = new WeakMap<KeyObject, Buffer>();

  constructor(
    readonly policy: CompiledPolicy,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const read = readSecretValues(policy, env);
    this.values = read.values;
    this.problems = read.problems;
  }

  get any(): boolean {
    return this.policy.secrets.size > 0;
  }

  /** The view judge.ts decides with; without the CA key (not loaded yet) no placeholder is anyone's own. */
  view(caKey: KeyObject | undefined): SecretsView {
    const key = caKey && this.#key(caKey);
    return {
      secrets: this.policy.secrets,
      isOwn: (agent, placeholder) => key !== undefined && isPlaceholderOf(key, agent, placeholder),
    };
  }

  /**
   * What to put in for the secrets a request may carry (judge.ts said so), or the first secret whose value could
   * not be read (then the request is refused: forwarding a placeholder would only look like a broken key).
   */
  injections(
    caKey: KeyObject,
    agent: string,
    judged: Extract<SecretJudgement, { ok: true }>,
  ): { ok: true; injections: Injection[] } | { ok: false; secret: string } {
    const key = this.#key(caKey);
    const injections: Injection[] = [];
    for (const secret of judged.secrets) {
      const value = this.values.get(secret.name);
      if (value === undefined) return { ok: false, secret: secret.name };
      injections.push({ secret, placeholder: placeholderFor(key, agent, secret.name), value });
    }
    return { ok: true, injections };
  }

  #key(caKey: KeyObject): Buffer {
    let key = this.#keys.get(caKey);
    if (!key) {
      key = placeholderKey(caKey);
      this.#keys.set(caKey, key);
    }
    return key;
  }
}
