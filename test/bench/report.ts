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
  pass?: boolean;
}

export function formatValue(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Prints the lines as an aligned table on stdout. */
export function printBench(lines: readonly BenchLine[], write: (text: string) => void = (text) => process.stdout.write(text)): void {
  const header = ['suite', 'measurement', 'value', 'ratio', 'target', 'result'];
  const rows = lines.map((line) => [
    line.suite,
    line.name,
    `${formatValue(line.value)} ${line.unit}`,
    line.ratio === undefined ? '' : `${line.ratio.toFixed(2)}x ${line.ratioOf ? `of ${line.ratioOf}` : ''}`.trim(),
    line.target ?? '',
    line.pass === undefined ? '' : line.pass ? 'pass' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 2 ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  write(`${[format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(format)].join('\n')}\n`);
}
