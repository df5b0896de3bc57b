// Appends audit lines to a file: one write in flight at a time, lines batched in the order they came, rotation by
// size only ever between two lines, and a reopen (after logrotate moved the file) between two writes. Why its own
// writer rather than pino's: a rotation must fall exactly between two records and every line must land once, in
// order, in the file the chain says; that needs the writer to own the queue.
// Durability: every line handed to write() is in the kernel once flush() resolves; fsync follows within
// `syncIntervalMs`, and always before a rotation, a reopen and close() return.
// Permissions: the audit log names hosts, paths and agents, so it is created mode 0600 (rotated files are the same
// file renamed, and a new file after a rotation takes the mode the old one had, so an operator's 0640 for a reader
// group carries over). Whatever creates it (leash, logrotate's `create`, an operator), it is never left readable or
// writable by others: an agent running as another user must not read it (issue 19). Others' bits found on the file
// or on its rotated siblings are removed and reported through onError; if they cannot be removed, that is reported.
// Never: drop, duplicate, reorder or split a line; rewrite bytes already written (a failed write resumes at the
// first byte not written).

import fs, {
  chmodSync,
  closeSync,
  fchmodSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';

export interface FileSinkOptions {
  /** Rotate before a line would take the file past this many bytes; undefined: never rotate by size. */
  readonly maxBytes?: number;
  /** Rotated files kept, `PATH.1` (newest) to `PATH.keep`; older ones are deleted. Default 5. */
  readonly keep?: number;
  /** fsync at most this long after a write. Default 1000 ms. */
  readonly syncIntervalMs?: number;
  /** Operational problems (a failed write, a failed rotation): the sink retries and reports here. */
  readonly onError?: (err: Error) => void;
}

/** Mode of a new audit file; the process umask can only narrow it. */
export const AUDIT_FILE_MODE = 0o600;
/** Permission bits for users other than the owner and the group: never left on an audit file. */
const OTHERS = 0o007;

/** Largest batch handed to one write(2). */
const BATCH_BYTES = 1 << 20;
/** How far back from the end of an existing file to look for its last line. */
const TAIL_BYTES = 1 << 20;

interface Waiter {
  readonly upTo: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class FileSink {
  readonly path: string;
  /** The last complete line the file held when it was opened (undefined if empty or none found). */
  readonly tail: string | undefined;
  /** True when the file ended in a partial line at open; the sink terminated it with a newline. */
  readonly repairedTail: boolean;
  private fd: number;
  private size: number;
  private readonly maxBytes: number | undefined;
  /** After a failed rotation: the size at which to try again. */
  private retryRotationAt = 0;
  private readonly keep: number;
  private readonly syncIntervalMs: number;
  private readonly onError: (err: Error) => void;
  private readonly lines: string[] = [];
  private readonly lengths: number[] = [];
  /** When each queued line was handed over (performance.now), for the write lag. */
  private readonly queuedAt: number[] = [];
  private enqueued = 0;
  private written = 0;
  private waiters: Waiter[] = [];
  private reopenWaiters: (() => void)[] = [];
  private running = false;
  private closing = false;
  private failure: Error | undefined;
  private dirty = false;
  private syncWanted = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private rotations = 0;
  /** Mode for the file a rotation creates: the current file's, without others' bits. */
  private mode = AUDIT_FILE_MODE;

  constructor(file: string, options: FileSinkOptions = {}) {
    this.path = file;
    this.keep = options.keep ?? 5;
    this.syncIntervalMs = options.syncIntervalMs ?? 1000;
    this.onError = options.onError ?? (() => {});
    this.maxBytes = options.maxBytes;
    mkdirSync(path.dirname(file), { recursive: true });
    this.fd = openSync(file, 'a+', AUDIT_FILE_MODE);
    const stat = fstatSync(this.fd);
    this.size = stat.size;
    this.mode = this.closeToOthers(this.fd, stat.mode, file);
    for (let i = 1; i <= this.keep; i++) this.closeSiblingToOthers(`${file}.${i}`);
    const { tail, partial } = readTail(this.fd, this.size);
    this.tail = tail;
    this.repairedTail = partial;
    if (partial) {
      // A crash (or power loss) cut the last line short; end it so the next record starts on a line of its own.
      writeSync(this.fd, '\n');
      this.size++;
    }
  }

  /** Rotations done by size since open. */
  get rotated(): number {
    return this.rotations;
  }

  /** Queues one line (without its newline). */
  write(line: string): void {
    if (this.closing) return;
    const text = `${line}\n`;
    this.lines.push(text);
    this.lengths.push(Buffer.byteLength(text));
    this.queuedAt.push(performance.now());
    this.enqueued++;
    this.pump();
  }

  /** How long the oldest line still queued has waited, in ms (0 when everything is written): the write lag. */
  lagMs(): number {
    const oldest = this.queuedAt[0];
    return oldest === undefined ? 0 : performance.now() - oldest;
  }

  /** Resolves once every line queued before the call is written to the file (in the kernel, not yet fsynced). */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const upTo = this.enqueued;
    if (this.written >= upTo) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ upTo, resolve, reject }));
  }

  /** Closes and reopens the path (after logrotate renamed the file); lines queued before the call go to the old file. */
  reopen(): Promise<void> {
    if (this.closing) return Promise.resolve();
    return this.flush().then(
      () =>
        new Promise<void>((resolve) => {
          this.reopenWaiters.push(resolve);
          this.pump();
        }),
    );
  }

  /** Writes everything queued, fsyncs and closes. Lines written after close are ignored. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.syncTimer);
    try {
      await this.flush();
      while (this.running) await new Promise((resolve) => setImmediate(resolve));
      await fsyncFd(this.fd).catch(() => {}); // some targets (a pipe, /dev/null) cannot fsync; nothing to lose there
    } finally {
      closeSync(this.fd);
    }
  }

  private pump(): void {
    if (this.running || this.failure) return;
    this.running = true;
    this.loop().then(
      () => {
        this.running = false;
        // Work may have arrived between the loop's last check and here.
        if (this.lines.length > 0 || this.reopenWaiters.length > 0 || this.syncWanted) this.pump();
      },
      (err: Error) => {
        this.running = false;
        this.failure = err;
        for (const w of this.waiters.splice(0)) w.reject(err);
      },
    );
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.reopenWaiters.length > 0) {
        await this.reopenNow();
      } else if (this.syncWanted) {
        this.syncWanted = false;
        this.dirty = false;
        await fsyncFd(this.fd).catch((err: Error) => this.onError(err));
      } else if (this.lines.length > 0) {
        const count = this.batchSize();
        if (count === 0) await this.rotate();
        else await this.writeBatch(count);
      } else {
        return;
      }
    }
  }

  /** Lines that fit in the next write; 0 when the file must rotate before the first of them. */
  private batchSize(): number {
    const limit = this.maxBytes === undefined ? Infinity : Math.max(this.maxBytes, this.retryRotationAt);
    let bytes = 0;
    let count = 0;
    for (const length of this.lengths) {
      if (this.size + bytes > 0 && this.size + bytes + length > limit) break;
      if (bytes > 0 && bytes + length > BATCH_BYTES) break;
      bytes += length;
      count++;
    }
    return count;
  }

  private async writeBatch(count: number): Promise<void> {
    const buffer = Buffer.from(this.lines.slice(0, count).join(''));
    let offset = 0;
    let delay = 100;
    while (offset < buffer.length) {
      try {
        const bytesWritten = await writeFd(this.fd, buffer, offset);
        offset += bytesWritten;
        this.size += bytesWritten;
      } catch (err) {
        this.onError(new Error(`cannot write the audit log ${this.path}: ${(err as Error).message}`, { cause: err }));
        if (this.closing) throw err;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
    this.lines.splice(0, count);
    this.lengths.splice(0, count);
    this.queuedAt.splice(0, count);
    this.written += count;
    if (this.waiters.length > 0) {
      const done = this.waiters.filter((w) => w.upTo <= this.written);
      this.waiters = this.waiters.filter((w) => w.upTo > this.written);
      for (const w of done) w.resolve();
    }
    this.scheduleSync();
  }

  private scheduleSync(): void {
    this.dirty = true;
    if (this.syncTimer !== undefined || this.closing) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      if (!this.dirty || this.closing) return;
      this.syncWanted = true;
      this.pump();
    }, this.syncIntervalMs);
    this.syncTimer.unref();
  }

  /** PATH.(keep-1) → PATH.keep, …, PATH → PATH.1, then a new empty PATH. */
  private async rotate(): Promise<void> {
    await fsyncFd(this.fd).catch(() => {});
    try {
      // Shift only the files there are (PATH.1 … PATH.n); the rename onto PATH.keep drops the oldest.
      let n = 0;
      while (n < this.keep && (await exists(`${this.path}.${n + 1}`))) n++;
      for (let i = Math.min(n, this.keep - 1); i >= 1; i--) await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      await rename(this.path, `${this.path}.1`);
    } catch (err) {
      // Keep writing to the same file rather than lose records; try again after another maxBytes.
      this.onError(new Error(`cannot rotate the audit log ${this.path}: ${(err as Error).message}`, { cause: err }));
      this.retryRotationAt = this.size + (this.maxBytes ?? 0);
      return;
    }
    await this.swapFd();
    this.rotations++;
    await syncDirectory(path.dirname(this.path));
  }

  private async reopenNow(): Promise<void> {
    const waiters = this.reopenWaiters.splice(0);
    await fsyncFd(this.fd).catch(() => {});
    try {
      await this.swapFd();
    } catch (err) {
      this.onError(
        new Error(
          `cannot reopen the audit log ${this.path}: ${(err as Error).message}; still writing to the old file`,
          { cause: err },
        ),
      );
    }
    for (const resolve of waiters) resolve();
  }

  /** Removes others' bits from an open file's mode, reporting it; returns the mode the file now has. */
  private closeToOthers(fd: number, mode: number, file: string): number {
    const bits = mode & 0o777;
    if ((bits & OTHERS) === 0) return bits;
    const closed = bits & ~OTHERS;
    try {
      fchmodSync(fd, closed);
      this.onError(
        new Error(
          `the audit log ${file} was open to other users (mode ${octal(bits)}); leash removed their access ` +
            `(now ${octal(closed)})`,
        ),
      );
    } catch (err) {
      const [can, does] = bits & 0o004 ? ['readable', 'read'] : ['writable', 'alter'];
      this.onError(
        new Error(
          `the audit log ${file} is ${can} by other users (mode ${octal(bits)}) and leash cannot change that ` +
            `(${(err as Error).message}): an agent running as another user can ${does} it; run chmod o-rwx ${file}`,
        ),
      );
    }
    return closed;
  }

  private closeSiblingToOthers(file: string): void {
    let bits: number;
    try {
      bits = statSync(file).mode & 0o777;
    } catch {
      return; // no such rotated file
    }
    if ((bits & OTHERS) === 0) return;
    try {
      chmodSync(file, bits & ~OTHERS);
      this.onError(
        new Error(`the rotated audit log ${file} was open to other users (mode ${octal(bits)}); leash removed that`),
      );
    } catch (err) {
      this.onError(
        new Error(
          `the rotated audit log ${file} is open to other users (mode ${octal(bits)}) and leash cannot change that ` +
            `(${(err as Error).message}); run chmod o-rwx ${file}`,
        ),
      );
    }
  }

  private async swapFd(): Promise<void> {
    const open = (flags: string) =>
      new Promise<number>((resolve, reject) =>
        fs.open(this.path, flags, this.mode, (err, fd) => (err ? reject(err) : resolve(fd))),
      );
    // A file we create takes the old one's mode whatever the umask; one that logrotate created keeps its own.
    const created = await open('ax').catch((err: NodeJS.ErrnoException) =>
      err.code === 'EEXIST' ? undefined : Promise.reject(err),
    );
    const fd = created ?? (await open('a'));
    if (created !== undefined) fchmodSync(fd, this.mode);
    const old = this.fd;
    this.fd = fd;
    const stat = fstatSync(fd);
    this.size = stat.size;
    this.mode = this.closeToOthers(fd, stat.mode, this.path);
    this.retryRotationAt = 0;
    await closeFd(old).catch(() => {});
  }
}

const octal = (mode: number) => `0${mode.toString(8).padStart(3, '0')}`;

/** The last complete line of the file (up to TAIL_BYTES back), and whether the file ends in a partial line. */
function readTail(fd: number, size: number): { tail: string | undefined; partial: boolean } {
  if (size === 0) return { tail: undefined, partial: false };
  const length = Math.min(size, TAIL_BYTES);
  const buffer = Buffer.alloc(length);
  readSync(fd, buffer, 0, length, size - length);
  const partial = buffer[length - 1] !== 0x0a;
  const end = partial ? buffer.lastIndexOf(0x0a) : length - 1;
  if (end < 0) return { tail: undefined, partial };
  const start = buffer.lastIndexOf(0x0a, end - 1) + 1;
  if (start === 0 && length < size) return { tail: undefined, partial }; // the line is longer than we looked
  return { tail: buffer.subarray(start, end).toString('utf8'), partial };
}

function exists(file: string): Promise<boolean> {
  return new Promise((resolve) => fs.access(file, (err) => resolve(!err)));
}

function writeFd(fd: number, buffer: Buffer, offset: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.write(fd, buffer, offset, buffer.length - offset, null, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())));
}

async function syncDirectory(dir: string): Promise<void> {
  // The rename is durable only once the directory is; not every platform lets a directory be fsynced.
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => {});
  await handle.close();
}
