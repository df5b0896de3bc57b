// One entry point for `leash policy import`: the source format's importer, then the writer. Pure: the command
// reads the file and writes the result.

import type { ImportFormat, ImportIssue } from './model.js';
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
  return { ok: true, yaml: writePolicy(result.policy, file) };
}
