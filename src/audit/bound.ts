// The size cap on an audit record: a string field longer than MAX_FIELD_CHARS keeps its first MAX_FIELD_CHARS
// characters and ends in `…[truncated from N chars]`, N being the length of the value leash was given (before
// redaction); a list longer than MAX_LIST_ITEMS keeps its first items and ends in one `…[truncated from N items]`.
// Why: the path, the User-Agent and the message come from the agent; without a cap one request (or a crafted 64 KiB
// header) writes a record of any size, fills the disk and pushes real records out through rotation (issue 19).
// It runs on the REDACTED record: every redaction decision was made on the full value, so a cut can never split a
// secret and leave a recognisable prefix of it behind. It never cuts inside [REDACTED] or a surrogate pair.
// PURE: no I/O, no clock, no state.

import { REDACTED } from './redact.js';

export const MAX_FIELD_CHARS = 2048;
export const MAX_LIST_ITEMS = 64;

/** `redacted` with every over-long string and list cut; `original` (the record before redaction) gives the lengths. */
export function boundRecord<T extends object>(redacted: T, original: T): T {
  return boundValue(redacted, original) as T;
}

/** Copy on write: a value with nothing over the limits comes back as the same object, at the cost of one walk. */
function boundValue(value: unknown, original: unknown): unknown {
  if (typeof value === 'string') {
    if (value.length <= MAX_FIELD_CHARS) return value;
    return cut(value, typeof original === 'string' ? original.length : value.length);
  }
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const from = Array.isArray(original) ? original : [];
    const items = value.slice(0, MAX_LIST_ITEMS).map((item, i) => boundValue(item, from[i]));
    if (value.length <= MAX_LIST_ITEMS && items.every((item, i) => item === value[i])) return value;
    if (value.length > MAX_LIST_ITEMS) items.push(`…[truncated from ${value.length} items]`);
    return items;
  }
  const from = (typeof original === 'object' && original !== null ? original : {}) as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const bounded = boundValue(item, from[key]);
    if (bounded === item) continue;
    out ??= copyOf(value);
    define(out, key, bounded);
  }
  return out ?? value;
}

function copyOf(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) define(out, key, item);
  return out;
}

// defineProperty, not assignment: a key named "__proto__" must stay a plain field.
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function cut(text: string, originalLength: number): string {
  let end = MAX_FIELD_CHARS;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--; // a high surrogate without its pair
  const marker = text.lastIndexOf('[', end - 1);
  if (marker >= 0 && marker > end - REDACTED.length && text.startsWith(REDACTED, marker)) end = marker;
  return `${text.slice(0, end)}…[truncated from ${originalLength} chars]`;
}
