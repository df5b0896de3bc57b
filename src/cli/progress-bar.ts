// A progress bar on the terminal for the commands that read long audit logs (`leash audit`, `audit verify`,
// `audit report`): bytes read of the total, records read, and what the command adds (matched records).
// Only when stderr is a terminal (io.progress is set only then): never in pipes, files or tests, where the bar's
// control sequences would be noise in what someone reads or parses. Drawn by cli-progress at most every 200 ms.
// Never keeps the process alive: the library redraws on a timer, which is unref'd; stop() ends it at once.

import cliProgress from 'cli-progress';
import type { Progress } from '../audit/read.js';
import type { CommandIo } from './io.js';

export interface ProgressBar {
  (progress: Progress): void;
  /** Removes the bar from the terminal and stops its timer (safe to call twice, or when there is no bar). */
  stop(): void;
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

class UnrefBar extends cliProgress.SingleBar {
  override render(): void {
    super.render();
    (this as unknown as { timer?: NodeJS.Timeout | null }).timer?.unref();
  }
}

export function progressBar(io: CommandIo, label: string, extra: () => string = () => ''): ProgressBar {
  const none = Object.assign((_p: Progress) => {}, { stop: () => {} });
  if (!io.progress) return none;
  let bar: UnrefBar | undefined;
  const update = (p: Progress) => {
    const payload = {
      read: mb(p.bytesRead),
      size: mb(p.bytesTotal),
      lines: p.lines.toLocaleString('en-US'),
      extra: extra(),
    };
    if (!bar) {
      bar = new UnrefBar({
        stream: process.stderr,
        format: `${label} [{bar}] {percentage}% {read} of {size}, {lines} records{extra}`,
        barsize: 30,
        // Leave the terminal's cursor and line wrapping alone: a command ended by an error must not leave it changed.
        hideCursor: false,
        linewrap: true,
        clearOnComplete: true,
        gracefulExit: false,
        // Not in @types/cli-progress 3.11, read by cli-progress 3.12: the redraw interval.
        ...{ throttleTime: 200 },
      });
      bar.start(Math.max(1, p.bytesTotal), 0, payload);
    }
    bar.update(Math.min(p.bytesRead, Math.max(1, p.bytesTotal)), payload);
  };
  return Object.assign(update, {
    stop: () => {
      bar?.stop();
      bar = undefined;
      io.progress?.('');
    },
  });
}
