// What the commands that talk to a running leash share: where to find it (--control, --admin, LEASH_ADMIN, else the
// default socket beside the default audit log) and how a refused call is reported (one line, exit 1).

import { callControl, controlEndpoint, defaultControlPath, replyError, type ControlReply } from '../control/client.js';
import type { ControlMethod } from '../control/api.js';
import { LeashError } from '../errors.js';
import { defaultAuditPath } from './audit-path.js';
import type { CommandIo } from './io.js';

export interface EndpointOptions {
  readonly control?: string;
  readonly admin?: string;
}

/** One call; a reply that is not 2xx is a LeashError (exit 1) with the API's message. */
export async function control(
  options: EndpointOptions,
  io: CommandIo,
  method: ControlMethod,
  route: string,
  body?: unknown,
): Promise<ControlReply> {
  const endpoint = controlEndpoint(options, io.env, defaultControlPath(defaultAuditPath(io.env), process.getuid?.()));
  const reply = await callControl(endpoint, method, route, body);
  if (reply.status < 200 || reply.status > 299) throw new LeashError('LEASH_CONTROL', replyError(reply));
  return reply;
}

/** `in 23h 59m`, `in 42s`: how long until `iso`, for a person. */
export function until(iso: unknown, now: number): string {
  const ms = Date.parse(String(iso)) - now;
  if (!Number.isFinite(ms)) return '-';
  if (ms <= 0) return 'now';
  const s = Math.round(ms / 1000);
  if (s < 60) return `in ${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `in ${m}m`;
  return `in ${Math.floor(m / 60)}h ${m % 60}m`;
}

/** Aligned columns; every cell already terminal-safe. */
export function table(header: readonly string[], rows: readonly string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  return [header, ...rows].map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - [...cell].length)))
      .join('  ')
      .trimEnd(),
  );
}
