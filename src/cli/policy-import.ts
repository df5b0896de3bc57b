// `leash policy import --from safeclaw|srt|squid|smokescreen FILE [-o FILE]`: migrate another tool's egress policy
// in one command. Reads the file, hands its text to the pure importer (src/policy/import/), checks the result with
// leash's own loader, and writes it to stdout or -o FILE. A source file leash cannot read or carry over exits 1 with
// each problem as `file:line:column: message`; nothing is written then. The loader's warnings go to stderr.

import { readFile, writeFile } from 'node:fs/promises';
import { formatIssue, formatLocation, LeashError } from '../errors.js';
import { importPolicy } from '../policy/import/formats.js';
import { IMPORT_FORMATS, type ImportFormat } from '../policy/import/model.js';
import { compilePolicy } from '../policy/load.js';
import type { CommandIo } from './io.js';

export interface PolicyImportOptions {
  from: string;
  output?: string;
}

export async function policyImportCommand(options: PolicyImportOptions, file: string, io: CommandIo): Promise<number> {
  if (!(IMPORT_FORMATS as readonly string[]).includes(options.from)) {
    throw new LeashError('LEASH_USAGE', `--from needs one of ${IMPORT_FORMATS.join(', ')}, got "${options.from}"`);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LeashError(
      'LEASH_IMPORT',
      `${file}: cannot read: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      { cause: err },
    );
  }
  const result = importPolicy(options.from as ImportFormat, file, text);
  if (!result.ok) {
    for (const issue of result.issues) io.err(`${formatLocation(issue.location)}: ${issue.message}`);
    io.err(`error: ${file} was not imported; nothing was written`);
    return 1;
  }
  // The importer's output must load; a policy that does not is a bug here, never something to hand the operator.
  const outputName = options.output ?? `${file} (imported)`;
  const loaded = compilePolicy([{ file: outputName, text: result.yaml }]);
  if (!loaded.policy) {
    for (const issue of loaded.issues) io.err(formatIssue(issue));
    io.err('error: the imported policy does not load; nothing was written (please report this)');
    return 1;
  }
  for (const issue of loaded.issues) io.err(formatIssue(issue));
  if (options.output === undefined) {
    io.out(result.yaml.replace(/\n$/, ''));
    return 0;
  }
  try {
    await writeFile(options.output, result.yaml);
  } catch (err) {
    throw new LeashError('LEASH_IMPORT', `${options.output}: cannot write: ${(err as Error).message}`, { cause: err });
  }
  io.err(
    `wrote ${options.output}: ${loaded.policy.rules.length} rules (check it with leash check --policy ${options.output})`,
  );
  return 0;
}
