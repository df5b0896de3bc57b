// Benchmark results: one line per measurement, printed as an aligned table and written as JSON by run.ts.

export interface BenchLine {
  /** The suite that measured it, e.g. `policy`. */
  suite: string;
  name: string;
  value: number;
  unit: string;
  /** value divided by the value of the line named `ratioOf`. */
  ratio?: number;
  ratioOf?: string;
  /** The requirement, as text (`≤ 2x`, `< 2000 ms`). */
  target?: string;
  /** The target as a bound on the ratio, so that a median of several runs can be judged again. */
  want?: Want;
  pass?: boolean;
  /** After medianOfRuns: each run's figure. */
  runs?: { value: number; ratio?: number }[];
}

export interface Want {
  atLeast?: number;
  atMost?: number;
}

export function meets(ratio: number, want: Want): boolean {
  return (want.atLeast === undefined || ratio >= want.atLeast) && (want.atMost === undefined || ratio <= want.atMost);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * One line per measurement from several runs of the same suites: the median of the values and the median of the
 * ratios (each ratio is to a baseline of its own run, so ratios are combined, never recomputed from medians).
 * A target with a bound is judged on the median ratio; one without passes only when it passed in every run.
 */
export function medianOfRuns(runs: readonly (readonly BenchLine[])[]): BenchLine[] {
  const byKey = new Map<string, BenchLine[]>();
  for (const run of runs) {
    for (const line of run) {
      const key = `${line.suite}\u0000${line.name}`;
      byKey.set(key, [...(byKey.get(key) ?? []), line]);
    }
  }
  return [...byKey.values()].map((same) => {
    const first = same[0] as BenchLine;
    const ratios = same.map((l) => l.ratio).filter((r): r is number => r !== undefined);
    const ratio = ratios.length > 0 ? median(ratios) : undefined;
    const passes = same.map((l) => l.pass).filter((p): p is boolean => p !== undefined);
    const pass =
      first.want && ratio !== undefined
        ? meets(ratio, first.want)
        : passes.length > 0
          ? passes.every(Boolean)
          : undefined;
    return {
      ...first,
      value: median(same.map((l) => l.value)),
      ...(ratio === undefined ? {} : { ratio }),
      ...(pass === undefined ? {} : { pass }),
      runs: same.map((l) => ({ value: l.value, ...(l.ratio === undefined ? {} : { ratio: l.ratio }) })),
    };
  });
}

export function formatValue(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Prints the lines as an aligned table on stdout. */
export function printBench(
  lines: readonly BenchLine[],
  write: (text: string) => void = (text) => process.stdout.write(text),
): void {
  const header = ['suite', 'measurement', 'value', 'ratio', 'target', 'result'];
  const rows = lines.map((line) => [
    line.suite,
    line.name,
    `${formatValue(line.value)} ${line.unit}`,
    line.ratio === undefined ? '' : `${line.ratio.toFixed(2)}x ${line.ratioOf ? `of ${line.ratioOf}` : ''}`.trim(),
    line.target ?? '',
    line.pass === undefined ? (line.target ? 'n/a' : '') : line.pass ? 'pass' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 2 ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  write(`${[format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(format)].join('\n')}\n`);
}
