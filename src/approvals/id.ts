// Approval ids: what `leash approvals allow ID` names, so short enough to type and read aloud, and unguessable so
// that knowing one approval's id tells nothing about another's. 12 characters of a 32-letter alphabet without
// look-alikes (no 0/o, 1/l) from the CSPRNG: 60 bits.

import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
export const APPROVAL_ID = /^[a-z2-9]{12}$/;

export function newApprovalId(): string {
  const bytes = randomBytes(12);
  let id = '';
  // 256 is a multiple of 32: every letter is equally likely.
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length];
  return id;
}
