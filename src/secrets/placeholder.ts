// Placeholders: what an agent holds instead of a secret. `leash-ph-NAME-MAC`, where MAC is the first 128 bits of
// HMAC-SHA256(key, agent NUL secret name) in hex, and the key is derived with HKDF-SHA256 from leash's CA private
// key. Why this shape:
//  - unguessable: without the CA key nobody can compute an agent's placeholder, so a forged one is recognised;
//  - tied to the agent: another agent's placeholder for the same secret differs, and is refused as misuse;
//  - the same on every replica of a fleet and across restarts, with no state to share: replicas share the CA
//    (README "Running a fleet"), so they derive the same key; nothing is stored, nothing to keep in sync;
//  - never a function of the secret's value: a placeholder derived from the value would be an offline oracle for
//    a weak value (a password in a file), and would change whenever the key is rotated;
//  - a recognisable prefix: the misuse scan (scan.ts) finds `leash-ph-` cheaply in headers, targets and bodies,
//    also under percent-encoding, JSON escapes and base64, before checking the MAC.
// Rotating the CA (leash ca init --force) changes every placeholder; agents then need their new ones.
// PURE: node:crypto only; no I/O, no clock, no state.

import { createHmac, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';

export const PLACEHOLDER_PREFIX = 'leash-ph-';
const MAC_HEX = 32;
// The name is lazy so that `leash-ph-open-ai-<mac>` reads as secret `open-ai`; the MAC is the 32 hex digits after
// it, whatever follows (an agent may glue text to it). Case-insensitive: header values and hosts are case-folded
// by some clients and proxies on the way.
export const PLACEHOLDER_PATTERN = /leash-ph-([a-z][a-z0-9_-]{0,62}?)-([0-9a-f]{32})/gi;

/** The key placeholders are derived with, from the CA's private key (HKDF-SHA256, RFC 5869). */
export function placeholderKey(caKey: KeyObject): Buffer {
  const ikm = caKey.export({ type: 'pkcs8', format: 'der' });
  return Buffer.from(hkdfSync('sha256', ikm, 'leash placeholders', 'leash-ph v1', 32));
}

/** The placeholder of secret `secret` for agent `agent`. */
export function placeholderFor(key: Buffer, agent: string, secret: string): string {
  return `${PLACEHOLDER_PREFIX}${secret}-${mac(key, agent, secret)}`;
}

export interface ParsedPlaceholder {
  /** The whole token, lower-cased. */
  readonly token: string;
  readonly secret: string;
  readonly mac: string;
}

/** A placeholder-shaped token's parts, or undefined. */
export function parsePlaceholder(text: string): ParsedPlaceholder | undefined {
  const m = new RegExp(`^${PLACEHOLDER_PATTERN.source}$`, 'i').exec(text);
  if (!m) return undefined;
  const token = text.toLowerCase();
  return { token, secret: (m[1] as string).toLowerCase(), mac: (m[2] as string).toLowerCase() };
}

/** Is `placeholder` this agent's placeholder of its secret? Constant time in the MAC. */
export function isPlaceholderOf(key: Buffer, agent: string, placeholder: ParsedPlaceholder): boolean {
  const expected = Buffer.from(mac(key, agent, placeholder.secret));
  const given = Buffer.from(placeholder.mac);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function mac(key: Buffer, agent: string, secret: string): string {
  return createHmac('sha256', key).update(`${agent}\u0000${secret}`).digest('hex').slice(0, MAC_HEX);
}
