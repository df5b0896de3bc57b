// One entry point for `leash policy import`: the source format's importer, then the writer. Pure: the command
// reads the file and writes the result.

import { withNoOne, type ImportFormat, type ImportIssue } from './model.js';
import { NO_ONE } from './regions.js';
import { importSafeClaw } from './safeclaw.js';
import { importSmokescreen } from './smokescreen.js';
import { importSquid } from './squid.js';
import { importSrt } from './srt.js';
import { writePolicy } from './write.js';

const IMPORTERS = {
  safeclaw: importSafeClaw,
  srt: importSrt,
  squid: importSquid,
  smokescreen: importSmokescreen,
} as const;

export function importPolicy(
  format: ImportFormat,
  file: string,
  text: string,
): { ok: true; yaml: string } | { ok: false; issues: readonly ImportIssue[] } {
  const result = IMPORTERS[format](file, text);
  if (!result.ok) return result;
  const policy = { ...result.policy, agents: withNoOne(result.policy.agents, result.policy.rules, NO_ONE) };
  return { ok: true, yaml: writePolicy(policy, file) };
}
