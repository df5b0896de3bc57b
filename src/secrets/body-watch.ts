// Watching a request body for placeholders as it streams upstream. Bodies arrive after admission, so the check the
// headers and target got (proxy/secret-misuse.ts) happens here chunk by chunk, before each chunk is forwarded: the
// last HOLD bytes of what arrived are held back until the next chunk (or the end) so that a placeholder split
// across chunks, or spelled out longer by an encoding, is seen whole before any of it leaves. When `check` objects
// the stream fails with the objection and nothing more is forwarded: the origin never receives the placeholder.
// Bodies with a content coding (gzip) are not decoded here; what they hide is not seen (README says so).

import { Transform, type TransformCallback } from 'node:stream';
import { findIn, type Found } from './scan.js';

/** Enough for a placeholder percent-encoded twice, or base64 inside JSON escapes. */
export const HOLD = 512;

export class PlaceholderObjection extends Error {
  constructor(readonly objection: { readonly secret: string | null; readonly message: string }) {
    super(objection.message);
    this.name = 'PlaceholderObjection';
  }
}

export class BodyWatch extends Transform {
  #held = Buffer.alloc(0);

  /** @param check what the found placeholders mean for this request: undefined lets the body through. */
  constructor(
    private readonly check: (
      found: readonly Found[],
    ) => { readonly secret: string | null; readonly message: string } | undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const window = this.#held.length > 0 ? Buffer.concat([this.#held, chunk]) : chunk;
    const objection = this.#scan(window);
    if (objection) return callback(objection);
    const cut = Math.max(0, window.length - HOLD);
    this.#held = Buffer.from(window.subarray(cut));
    callback(null, cut > 0 ? window.subarray(0, cut) : undefined);
  }

  override _flush(callback: TransformCallback): void {
    const held = this.#held;
    this.#held = Buffer.alloc(0);
    callback(null, held.length > 0 ? held : undefined);
  }

  #scan(window: Buffer): PlaceholderObjection | undefined {
    // latin1 keeps every byte as one character, so an encoding split inside a UTF-8 sequence still lines up.
    const found = findIn(window.toString('latin1'), 'the request body');
    if (found.length === 0) return undefined;
    const objection = this.check(found);
    return objection && new PlaceholderObjection(objection);
  }
}
