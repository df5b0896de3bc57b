// Test helper for the importers: import a fixture, load the result with leash's own loader (it must load with no
// error; warnings are returned for the test to check), and decide requests written the way the source tool's users
// write them.

import { readFileSync } from 'node:fs';
import { formatIssue } from '../../../src/errors.js';
import { decide } from '../../../src/policy/evaluate.js';
import { compilePolicy } from '../../../src/policy/load.js';
import type { CompiledPolicy } from '../../../src/policy/policy.js';
import { importPolicy } from '../../../src/policy/import/formats.js';
import type { ImportFormat } from '../../../src/policy/import/model.js';

/** What the source tool does with a request: let it through, refuse it, or let it through and report it. */
export type SourceVerdict = 'allow' | 'deny' | 'report';

export interface Imported {
  readonly yaml: string;
  readonly policy: CompiledPolicy;
  /** The loader's warnings, as `leash check` prints them. */
  readonly warnings: readonly string[];
}

export function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/import/${name}`, import.meta.url), 'utf8');
}

export function importFixture(format: ImportFormat, name: string): Imported {
  const result = importPolicy(format, name, fixture(name));
  if (!result.ok)
    throw new Error(
      `import of ${name} failed:\n${result.issues.map((i) => `${i.location.file}:${i.location.line}: ${i.message}`).join('\n')}`,
    );
  const loaded = compilePolicy([{ file: `${name}.leash.yaml`, text: result.yaml }]);
  if (!loaded.policy) {
    throw new Error(
      `the imported policy does not load cleanly:\n${loaded.issues.map(formatIssue).join('\n')}\n---\n${result.yaml}`,
    );
  }
  return { yaml: result.yaml, policy: loaded.policy, warnings: loaded.issues.map(formatIssue) };
}

/**
 * How leash decides `request`: `CONNECT host:port` (a tunnel), or `METHOD URL` (a plain request, or with https://
 * a request inside an intercepted tunnel). Report mode lets a denied request through, flagged.
 */
export function leashVerdict(policy: CompiledPolicy, request: string, agent?: string): SourceVerdict {
  const [method = '', target = ''] = request.split(' ');
  let facts;
  if (method === 'CONNECT') {
    const at = target.lastIndexOf(':');
    facts = { method, host: target.slice(0, at), port: Number(target.slice(at + 1)), agent };
  } else {
    const url = new URL(target);
    facts = {
      method,
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      path: url.pathname + url.search,
      agent,
    };
  }
  const decision = decide(policy, facts);
  if (decision.effect === 'allow') return 'allow';
  return policy.settings.mode === 'report' ? 'report' : 'deny';
}
