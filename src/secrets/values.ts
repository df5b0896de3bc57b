// Reads each secret's real value from where the policy says it lives (env:NAME or file:PATH), once per policy
// revision (policy-runtime.ts keeps the result while the revision is in use). The one place that touches the
// values: it never logs one, and a problem is described by the secret's name and source, never its content. A
// value that cannot go into a header (a line break, a control character) is refused: it would split the request.

import { readFileSync } from 'node:fs';
import type { CompiledPolicy } from '../policy/policy.js';

export interface SecretValues {
  /** Values by secret name; a secret missing here could not be read (requests needing it are refused). */
  readonly values: ReadonlyMap<string, string>;
  /** One line per secret whose value could not be read. */
  readonly problems: readonly string[];
}

// Visible ASCII, space and tab, and non-ASCII text (RFC 9110 §5.5 field-vchar, obs-text): never CR, LF or NUL.
// Printable ASCII only: Node writes other characters as single latin1 bytes (or refuses them), so the API would
// get another key than the one on file.
const FIELD_VALUE = /^[\t\x20-\x7e]+$/;

export function readSecretValues(policy: CompiledPolicy, env: NodeJS.ProcessEnv = process.env): SecretValues {
  const values = new Map<string, string>();
  const problems: string[] = [];
  for (const secret of policy.secrets.values()) {
    const { kind, ref } = secret.source;
    const from = kind === 'env' ? `environment variable ${ref}` : `file ${ref}`;
    let value: string | undefined;
    if (kind === 'env') {
      value = env[ref];
    } else {
      try {
        value = readFileSync(ref, 'utf8').trim();
      } catch (err) {
        problems.push(
          `secret ${secret.name}: cannot read ${from} (${(err as NodeJS.ErrnoException).code ?? 'error'}); requests carrying its placeholder are refused`,
        );
        continue;
      }
    }
    if (!value)
      problems.push(
        `secret ${secret.name}: ${from} is ${kind === 'env' ? 'not set' : 'empty'}; requests carrying its placeholder are refused`,
      );
    else if (!FIELD_VALUE.test(value))
      problems.push(
        `secret ${secret.name}: the value in ${from} holds a line break, a control character or a character outside printable ASCII, which cannot go into a request header as it is; requests carrying its placeholder are refused`,
      );
    else values.set(secret.name, value);
  }
  return { values, problems };
}
