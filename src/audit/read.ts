// Reads audit logs as a stream of lines, for `leash audit` and `leash audit verify`: files, directories and stdin;
// plain or gzip-compressed (told by the magic bytes, not the name); ordered by time (the first record's time, then
// its seq), so `audit.log.3.gz audit.log.2 audit.log.1 audit.log` read as one log whatever order they are named in.
// Constant memory: one chunk at a time, lines handed over as views of that chunk, a partial line carried to the
// next (at most MAX_LINE bytes of it). `follow` keeps reading the live file as it grows, across rotation.
// Never: skip a line silently. A line that is too long, or a last line with no newline, is handed over as such.

import { createReadStream, type Stats } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { LeashError } from '../errors.js';

/** Longest line kept; a longer one is reported as `too_long` and skipped to its newline. */
export const MAX_LINE = 16 << 20;
const CHUNK = 1 << 20;

export type LineState = 'complete' | 'unterminated' | 'too_long';

/** One line: its bytes without the newline (valid only during the call), where it is, and how it ended. */
export type OnLine = (bytes: Buffer, file: string, line: number, state: LineState) => void;

export interface AuditInput {
  /** As given or found; `-` is stdin. */
  readonly path: string;
  readonly size: number;
  readonly gzip: boolean;
}

export interface Inputs {
  readonly files: readonly AuditInput[];
  /** The file `--follow` keeps reading: the default path, a single FILE, or the newest file of a DIR. */
  readonly live: string | undefined;
}

export interface Progress {
  readonly bytesRead: number;
  readonly bytesTotal: number;
  readonly lines: number;
  readonly file: string;
}

export interface ReadOptions {
  /** Called after each chunk has been handed over line by line. */
  readonly onChunk?: (progress: Progress) => void | Promise<void>;
  readonly signal?: AbortSignal;
}

/**
 * Expands FILE|DIR arguments into the files to read, in time order. No arguments: `defaultPath` and its rotated
 * siblings (`NAME.1`, `NAME.2.gz`, `NAME-20261122`, …). A DIR: its regular files, not hidden, not recursive.
 */
export async function auditInputs(args: readonly string[], defaultPath: string): Promise<Inputs> {
  if (args.includes('-')) {
    if (args.length > 1) throw new LeashError('LEASH_USAGE', '"-" (stdin) cannot be combined with other inputs');
    return { files: [{ path: '-', size: 0, gzip: false }], live: undefined };
  }
  const found: string[] = [];
  let live: string | undefined;
  if (args.length === 0) {
    const siblings = await rotatedSiblings(defaultPath);
    if (siblings.length === 0) {
      throw new LeashError(
        'LEASH_AUDIT',
        `no audit log at ${defaultPath}: pass FILE or DIR, or set LEASH_AUDIT to the path leash serve --audit writes`,
      );
    }
    found.push(...siblings);
    live = defaultPath;
  } else {
    for (const arg of args) {
      const info = await statOrThrow(arg);
      if (info.isDirectory()) {
        const names = (await readdir(arg)).filter((name) => !name.startsWith('.')).sort();
        for (const name of names) {
          const file = path.join(arg, name);
          if ((await stat(file)).isFile()) found.push(file);
        }
      } else {
        found.push(arg);
      }
    }
    if (args.length === 1 && !(await statOrThrow(args[0] as string)).isDirectory()) live = args[0];
  }
  const keyed = await Promise.all(
    [...new Set(found)].map(async (file) => {
      const input = await describe(file);
      return { ...input, key: await orderKey(input) };
    }),
  );
  keyed.sort((a, b) => compareKeys(a.key, b.key) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const files = keyed.map(({ path: p, size, gzip }) => ({ path: p, size, gzip }));
  return { files, live: live ?? files.at(-1)?.path };
}

async function statOrThrow(file: string): Promise<Stats> {
  try {
    return await stat(file);
  } catch (err) {
    throw new LeashError(
      'LEASH_AUDIT',
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { cause: err },
    );
  }
}

async function rotatedSiblings(file: string): Promise<string[]> {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    if (name !== base && !name.startsWith(`${base}.`) && !name.startsWith(`${base}-`)) continue;
    const full = path.join(dir, name);
    if ((await stat(full).catch(() => undefined))?.isFile()) out.push(full);
  }
  return out;
}

async function describe(file: string): Promise<AuditInput> {
  const handle = await open(file, 'r');
  try {
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    return {
      path: file,
      size: (await handle.stat()).size,
      gzip: bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b,
    };
  } finally {
    await handle.close();
  }
}

interface OrderKey {
  /** The first record's time, or the file's mtime when it has none. */
  readonly time: string;
  readonly seq: number;
}

/** Sorts a file by its first record: time, then seq. */
async function orderKey(input: AuditInput): Promise<OrderKey> {
  let first: Buffer | undefined;
  if (input.size > 0) {
    const controller = new AbortController();
    await readInput(
      input,
      (bytes, _f, _l, state) => {
        if (first === undefined && state !== 'too_long') first = Buffer.from(bytes);
        controller.abort();
      },
      { signal: controller.signal },
    ).catch(() => {});
  }
  if (first !== undefined) {
    try {
      const record = JSON.parse(first.toString('utf8')) as { time?: unknown; seq?: unknown };
      const ms = typeof record.time === 'string' ? Date.parse(record.time) : NaN;
      if (!Number.isNaN(ms))
        return { time: new Date(ms).toISOString(), seq: typeof record.seq === 'number' ? record.seq : 0 };
    } catch {
      // not a record: ordered by mtime below
    }
  }
  return { time: (await stat(input.path)).mtime.toISOString(), seq: Number.MAX_SAFE_INTEGER };
}

function compareKeys(a: OrderKey, b: OrderKey): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : a.seq - b.seq;
}

/** Splits chunks into lines, carrying a partial line (up to MAX_LINE) from one chunk to the next. */
export class LineSplitter {
  private carry: Buffer[] = [];
  private carried = 0;
  private skipping = false;
  private line = 0;

  constructor(
    private readonly file: string,
    private readonly onLine: OnLine,
  ) {}

  get lines(): number {
    return this.line;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      if (this.skipping) {
        this.skipping = false;
      } else if (this.carried > 0) {
        this.carry.push(chunk.subarray(start, nl));
        const whole = Buffer.concat(this.carry, this.carried + nl - start);
        this.carry = [];
        this.carried = 0;
        this.onLine(whole, this.file, ++this.line, 'complete');
      } else {
        this.onLine(chunk.subarray(start, nl), this.file, ++this.line, 'complete');
      }
      start = nl + 1;
    }
    if (start < chunk.length && !this.skipping) {
      const rest = chunk.subarray(start);
      if (this.carried + rest.length > MAX_LINE) {
        this.onLine(Buffer.concat([...this.carry, rest]).subarray(0, 200), this.file, ++this.line, 'too_long');
        this.carry = [];
        this.carried = 0;
        this.skipping = true;
      } else {
        // Copied: the chunk's memory may be reused once this call returns.
        this.carry.push(Buffer.from(rest));
        this.carried += rest.length;
      }
    }
  }

  /** The input ended: a partial line left over is handed over as `unterminated`. */
  end(): void {
    if (this.carried > 0) this.onLine(Buffer.concat(this.carry, this.carried), this.file, ++this.line, 'unterminated');
    this.carry = [];
    this.carried = 0;
    this.skipping = false;
  }

  /** Drops any partial line and restarts numbering (the file was truncated or replaced). */
  reset(): void {
    this.carry = [];
    this.carried = 0;
    this.skipping = false;
    this.line = 0;
  }
}

/** Reads the inputs in order, line by line. */
export async function readAuditInputs(
  inputs: readonly AuditInput[],
  onLine: OnLine,
  options: ReadOptions = {},
): Promise<void> {
  const bytesTotal = inputs.reduce((sum, f) => sum + f.size, 0);
  let before = 0;
  let lines = 0;
  for (const input of inputs) {
    if (options.signal?.aborted) return;
    const onChunk = options.onChunk;
    await readInput(
      input,
      onLine,
      {
        signal: options.signal,
        onChunk:
          onChunk &&
          ((p) => onChunk({ bytesRead: before + p.bytesRead, bytesTotal, lines: lines + p.lines, file: input.path })),
      },
      (n) => (lines += n),
    );
    before += input.size;
  }
}

async function readInput(
  input: AuditInput,
  onLine: OnLine,
  options: ReadOptions,
  done?: (lines: number) => void,
): Promise<void> {
  const splitter = new LineSplitter(input.path, onLine);
  const raw = input.path === '-' ? process.stdin : createReadStream(input.path, { highWaterMark: CHUNK });
  let bytesRead = 0;
  const source = input.gzip ? raw.pipe(createGunzip()) : raw;
  if (input.gzip) raw.on('data', (chunk: Buffer) => (bytesRead += chunk.length));
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (!input.gzip) bytesRead += chunk.length;
      splitter.push(chunk);
      await options.onChunk?.({ bytesRead, bytesTotal: input.size, lines: splitter.lines, file: input.path });
      if (options.signal?.aborted) return;
    }
    splitter.end();
  } catch (err) {
    throw new LeashError(
      'LEASH_AUDIT',
      `cannot read ${input.path === '-' ? 'stdin' : input.path}: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    if (raw !== process.stdin) (raw as { destroy(): void }).destroy();
    if (source !== raw) (source as { destroy(): void }).destroy();
    done?.(splitter.lines);
  }
}

export interface FollowOptions {
  readonly signal: AbortSignal;
  /** How often the file is checked for growth, truncation or replacement. Default 250 ms. */
  readonly pollMs?: number;
  /** Called after each batch of new lines. */
  readonly onChunk?: () => void;
  /** Operational notes (rotation seen, truncation seen). */
  readonly note?: (text: string) => void;
  /** Start at the file's current end: only records written from now on (an alerting pipe must not re-alert). */
  readonly fromEnd?: boolean;
  /** Called once the file is open and its starting point fixed. */
  readonly onOpen?: () => void;
}

/**
 * Tails `file` until the signal aborts: first to its end, then as it grows. When the path is replaced (rotation),
 * the old file is read to its end, then the new one from its start; a truncated file is read again from the start.
 * It switches to a replacement only once the replacement has content: until then the writer may still be adding
 * to the old file (logrotate renames first, then tells leash to reopen).
 */
export async function followFile(file: string, onLine: OnLine, options: FollowOptions): Promise<void> {
  const pollMs = options.pollMs ?? 250;
  let handle: FileHandle | undefined;
  let ino = -1;
  let offset = 0;
  let splitter = new LineSplitter(file, onLine);
  let seenFile = false;
  const buffer = Buffer.alloc(CHUNK);

  const drain = async (): Promise<void> => {
    if (!handle) return;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) return;
      offset += bytesRead;
      splitter.push(buffer.subarray(0, bytesRead));
      options.onChunk?.();
      if (options.signal.aborted) return;
    }
  };

  try {
    while (!options.signal.aborted) {
      const current = await stat(file).catch(() => undefined);
      if (handle === undefined) {
        if (current) {
          handle = await open(file, 'r').catch(() => undefined);
          if (handle) {
            const opened = await handle.stat();
            ino = opened.ino;
            // Only the first file opened starts at its end; a file that appears later (rotation) is new records.
            if (options.fromEnd && offset === 0 && !seenFile) offset = opened.size;
            if (!seenFile) options.onOpen?.();
          }
          seenFile = true;
        }
      } else if (current && current.ino !== ino && current.size > 0) {
        await drain();
        splitter.end();
        await handle.close();
        options.note?.(`${file} was replaced (rotated); reading the new file`);
        handle = await open(file, 'r').catch(() => undefined);
        ino = handle ? (await handle.stat()).ino : -1;
        offset = 0;
        splitter = new LineSplitter(file, onLine);
      } else if ((await handle.stat()).size < offset) {
        options.note?.(`${file} was truncated; reading it from the start`);
        offset = 0;
        splitter.reset();
      }
      await drain();
      await sleep(pollMs, options.signal);
    }
  } finally {
    await handle?.close();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
