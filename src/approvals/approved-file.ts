// `leash approvals allow ID --always`: the approval becomes a reviewed rule in `approved.yaml` of the policy
// directory leash serves, created if missing, each rule under a comment naming who approved what and when, so
// the file reads as the record of what humans promoted out of the sandbox. The rule is exactly the approved
// question: this agent, this host, this port, allow (no wider: not every agent, not every port).
//
// What it must never do: write a file the loader would refuse, or one that breaks the running policy. The whole
// policy, with the new file in place, is compiled before anything is written; the file is then replaced
// atomically (a hidden temporary file renamed over it, which the loader never reads). A policy served from a
// single file (no directory) or the policy shipped with leash has no place for it: refused, with the reason.

import { randomBytes } from 'node:crypto';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatIssue } from '../errors.js';
import { compilePolicy, type PolicySource } from '../policy/load.js';
import { embeddedPolicyDir, readPolicySources } from '../policy/read.js';
import type { Approval } from './store.js';

export const APPROVED_FILE = 'approved.yaml';

const HEADER = `# Rules approved with \`leash approvals allow ID --always\`. leash appends to this file and reloads; review,
# edit or move these rules like any other policy file.
version: 1
rules:
`;

/** The rule an approval becomes, under a comment naming who approved what and when. PURE. */
export function approvedRule(approval: Approval, by: string, at: Date): { name: string; text: string } {
  const name = `approved-${approval.id}`;
  // The comment is one line whatever the caller's name holds (a newline there would write YAML of its own).
  const who = by.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
  const asked = `${approval.first.method} ${approval.host}:${approval.port}`;
  const comment = `  # approved by ${who} at ${at.toISOString()}: approval ${approval.id}, agent ${approval.agent} asked ${asked} (request ${approval.first.requestId}, ${approval.requests} request${approval.requests === 1 ? '' : 's'})`;
  const reason = JSON.stringify(`approved (${approval.id}) by ${who}`.slice(0, 200));
  const rule = `  - { name: ${name}, domain: ${JSON.stringify(approval.host)}, ports: [${approval.port}], agents: [${approval.agent}], effect: allow, reason: ${reason} }`;
  return { name, text: `${comment}\n${rule}\n` };
}

export type WriteOutcome = { ok: true; file: string; rule: string } | { ok: false; message: string };

/** Appends the approval's rule to approved.yaml in the first policy directory of `paths`, after checking the result loads. */
export async function writeApprovedRule(
  paths: readonly string[],
  approval: Approval,
  by: string,
  at: Date,
): Promise<WriteOutcome> {
  let dir: string | undefined;
  for (const p of paths) {
    if (
      await stat(p).then(
        (s) => s.isDirectory(),
        () => false,
      )
    ) {
      dir = p;
      break;
    }
  }
  if (dir === undefined)
    return {
      ok: false,
      message:
        'leash serves policy files, not a directory, so there is no policy directory to write approved.yaml in: add the rule yourself, or serve a directory (--policy DIR)',
    };
  if (path.resolve(dir) === path.resolve(embeddedPolicyDir()))
    return {
      ok: false,
      message:
        'leash serves the policy shipped with leash; give leash serve --policy DIR to have --always write approved.yaml there',
    };
  const file = path.join(dir, APPROVED_FILE);
  let existing: string;
  try {
    existing = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      return { ok: false, message: `${file}: cannot read: ${(err as Error).message}` };
    existing = HEADER;
  }
  const rule = approvedRule(approval, by, at);
  const text = `${existing}${existing.endsWith('\n') ? '' : '\n'}${rule.text}`;

  // The policy leash would load after the write, compiled now: nothing is written that it would refuse.
  const sources: PolicySource[] = (await readPolicySources(paths)).filter((s) => s.file !== file);
  sources.push({ file, text });
  sources.sort(
    (a, b) => order(paths, a.file) - order(paths, b.file) || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0),
  );
  const result = compilePolicy(sources);
  if (!result.policy) {
    const errors = result.issues
      .filter((i) => i.severity === 'error')
      .slice(0, 3)
      .map(formatIssue);
    return {
      ok: false,
      message: `the policy would not load with the approved rule in ${file}, so nothing was written: ${errors.join('; ')}`,
    };
  }

  const temporary = path.join(dir, `.${APPROVED_FILE}.${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(temporary, text, { mode: 0o644, flag: 'wx' });
    await rename(temporary, file);
  } catch (err) {
    await unlink(temporary).catch(() => {});
    return { ok: false, message: `${file}: cannot write: ${(err as Error).message}` };
  }
  return { ok: true, file, rule: rule.name };
}

/** Sources load path by path in the order given; within a directory, by name (read.ts). */
function order(paths: readonly string[], file: string): number {
  const i = paths.findIndex((p) => file === p || path.dirname(file) === path.normalize(p).replace(/\/+$/, ''));
  return i === -1 ? paths.length : i;
}
