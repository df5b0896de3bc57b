// Durations and rates as operators write them: `500ms`, `30s`, `1m`, `1h`; rates as `60/1m` or `10/s`.

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

export interface Rate {
  readonly limit: number;
  readonly windowMs: number;
  readonly text: string;
}

export function parseRate(text: string): Rate | undefined {
  const m = /^([1-9]\d*)\/(\d*)(ms|s|m|h)$/.exec(text);
  if (!m) return undefined;
  const count = m[2] === '' ? 1 : Number(m[2]);
  const windowMs = count * UNIT_MS[m[3] as keyof typeof UNIT_MS];
  const limit = Number(m[1]);
  if (windowMs <= 0 || !Number.isSafeInteger(windowMs) || !Number.isSafeInteger(limit)) return undefined;
  return { limit, windowMs, text };
}

const BYTE_UNITS = { B: 1, KB: 1000, MB: 1000 ** 2, GB: 1000 ** 3, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as const;

/** A byte budget such as `10MB/1h`: `limit` is in bytes. */
export function parseBandwidth(text: string): Rate | undefined {
  const m = /^([1-9]\d*)(B|KB|MB|GB|KiB|MiB|GiB)?\/(\d*(?:ms|s|m|h))$/.exec(text);
  if (!m) return undefined;
  const limit = Number(m[1]) * BYTE_UNITS[(m[2] ?? 'B') as keyof typeof BYTE_UNITS];
  const window = parseRate(`1/${m[3]}`);
  if (!window || !Number.isSafeInteger(limit)) return undefined;
  return { limit, windowMs: window.windowMs, text };
}
